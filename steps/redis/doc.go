// Package redis is what understudy knows about Redis and Valkey servers, in
// one place, for the language's static checks (package dsl) and the step
// kinds alike: versions and engines (version.go), which versions can
// replicate from or restart on which (rules.go, one table), the INFO fields
// the supported versions report (fields.go), reading and parsing INFO
// (info.go), the in-sync check (sync.go), replication commands
// (replication.go), application clients and closing them (clients.go), ACL
// users (acl.go), Sentinel's view of a deployment (sentinel.go) and the
// lossless Sentinel switchover (sentinel_failover.go, sentinel_steer.go,
// sentinel_sequence.go: steer the choice with replica-priority, time
// SENTINEL FAILOVER against Sentinel's INFO refresh, pause writes, wait
// for the offset, demote the old master while it is paused), Redis
// Cluster's view (cluster.go: CLUSTER NODES and INFO parsed, shards, a
// health check that names each problem) and the manual failover of one
// shard sent to its replica (cluster_failover.go: default, FORCE, and the
// paused TAKEOVER with its safety conditions), and the static walk of node versions and masters through a runbook's steps
// (sim.go).
//
// Nothing here knows about runbooks: it takes versions, INFO maps and
// go-redis clients.
package redis
