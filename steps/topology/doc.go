// Package topology says what a deployment is made of and how a backend
// exposes it to the interpreter.
//
// Two halves:
//
//   - Layout is data built from the runbook without touching a server: the
//     kind of deployment, its nodes (with the version a rehearsal runs and
//     whether it is seeded) and its endpoints (the node each one targets, how
//     a rehearsal proxy treats open connections, the live switch command).
//     A rehearsal starts what the layout describes; a plan prints it.
//   - Topology is the running deployment as a backend exposes it: Node(name)
//     gives a node's client, address, replication credentials and upgrade;
//     Endpoint(name) gives hold/repoint/release. The rehearsal backend
//     (package rehearsal: containers and proxies) and the live backend
//     (package live: addresses, credentials, switch commands) both implement
//     it, so every step runs the same way against both.
//
// Standalone (any number of nodes, endpoints that clients connect to
// directly) is the only kind built today. The others plug in here:
//
//   - Sentinel: a Layout of KindSentinel adds the master name and the
//     sentinels (nodes of their own role); Topology gains the sentinels' view
//     (the master by name, the replicas and sentinels they know), and
//     clients discover the master through the sentinels instead of an
//     endpoint. Built so far: the Sentinel queries and the lossless
//     switchover (package redis), the sentinel_switchover step kind with
//     sentinels given as nodes, sentinels as rehearsal containers
//     (container.RunSentinel) and a writer that finds the master through
//     Sentinel (package traffic).
//   - Cluster: a Layout of KindCluster declares the shape (masters ×
//     replicas); its nodes are discovered at run time (CLUSTER NODES), so
//     Topology gains a Discover method returning the shards, which steps
//     iterate over with for_each.
package topology
