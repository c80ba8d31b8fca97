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
// directly), Sentinel and Cluster are built; For chooses from the runbook:
//
//   - Sentinel: a Layout of KindSentinel holds the data nodes (the first is
//     the master a rehearsal starts), the sentinels (nodes of their own) and
//     the monitoring settings. Its nodes are ordinary nodes of the Topology,
//     sentinels included (their client speaks to the sentinel, Upgrade
//     restarts it on its configuration file); which data node is the master
//     is asked of the sentinels when a step starts (package steps), and
//     clients find it through them rather than through an endpoint.
//   - Cluster: a Layout of KindCluster holds the nodes and the shape a
//     rehearsal builds (ClusterSpec: masters × replicas, the masters
//     first); which node is a master, and of which slots, is read at run
//     time (CLUSTER NODES), and groups iterate over the masters and
//     replicas as they do over a Sentinel deployment's replicas; clients
//     follow the slots (MOVED).
package topology
