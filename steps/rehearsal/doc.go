// Package rehearsal runs a runbook against containers of the real old and
// new versions, under live write traffic, and proves the result. The
// machinery only a rehearsal needs lives under it: container (nodes as
// containers, the image catalog, cleanup), proxy (the endpoint the
// application connects to) and traffic (the write probe and its ledger).
//
// A rehearsal is a sequence of phases over the runbook's layout (package
// topology), in rehearse.go:
//
//  1. check images: every version's image exists (nothing is pulled or
//     started otherwise; the refusal names the command that builds it);
//  2. start nodes: removes containers of crashed earlier runs, then one
//     container per node, with one password for the rehearsal (the
//     runbook's own, else $UNDERSTUDY_REHEARSAL_PASSWORD, else random:
//     credentials.go) and the runbook's ACL user, if any; in a Sentinel
//     layout the other data nodes become replicas of the first;
//  3. start endpoints: an in-process proxy per endpoint, at its target;
//  4. seed: data of every common type into the seeded nodes, fingerprinted;
//     then, in a Sentinel layout (sentinel.go), once every replica is in
//     sync, one container per sentinel, and a wait until every sentinel
//     knows the master, the replicas and the other sentinels;
//  5. start traffic: the write probe through the first endpoint (through
//     the sentinels in a Sentinel layout), in db0 (where applications
//     write) on its own key prefix, which every comparison leaves out,
//     measured from the run's origin; then the runbook's workload, if any
//     (workload.go), which runs until after the last step;
//  6. run steps: the interpreter over the containers (backend.go
//     implements topology.Topology; sentinels are nodes of it too), with
//     the progress, report and step-mark hooks;
//  7. check: every acknowledged write read back from the final master (the
//     endpoint's target, or the data node the sentinels name), every
//     seeded key there unchanged (keys that were not seeded are not the
//     check's business), the nodes' versions; each write stall is
//     attributed to the step it overlapped most;
//  8. clean up: every container removed, also after a failure or a signal.
//
// The rehearsal passes only when every step passed, no acknowledged write
// was lost and the data is unchanged. A signal at any moment ends it
// "interrupted" after the rollback and the checks. Every secret of the run
// is redacted from the log and the report (package redact).
//
// A Sentinel layout plugs in at phases 2, 4, 5 and 7 (sentinel.go); a
// Cluster layout at the same places (cluster.go): its nodes start in
// cluster mode and the masters form a cluster with the slots split evenly
// (phase 2), each master is seeded with the keys of its own slots and
// snapshotted, then the replicas join and sync (phase 4), the probe is
// go-redis's cluster client over every slot (phase 5), and each shard's
// snapshot is checked on the node serving its slots at the end (phase 7).
package rehearsal
