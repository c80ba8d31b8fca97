// Package live is the backend for servers understudy did not start: nodes
// are the addresses and credentials the runbook gives, endpoints are
// repointed by the runbook's switch command. It is the sibling of package
// rehearsal's container backend; both implement topology.Topology, so the
// interpreter runs a step the same way against either.
//
// Not built yet (issue "apply"): lifecycle commands (stop, start, upgrade a
// node with systemctl, docker, kubectl …), which the upgrade step needs live.
package live
