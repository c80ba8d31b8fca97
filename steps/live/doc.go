// Package live is the backend for servers understudy did not start: nodes
// are the addresses, credentials and TLS settings the runbook gives
// (tls.go); endpoints are repointed by the runbook's switch command, after
// which the application's connections on the old node are closed
// (endpoint.go); a node is upgraded by its lifecycle command, then waited
// for on its new version (lifecycle.go); a dry run sends only reads
// (dryrun.go). It is the sibling of package rehearsal's container backend;
// both implement topology.Topology, so the interpreter runs a step the same
// way against either.
package live
