# Rolling upgrade of a Redis Cluster, with the application connected through
# a cluster client the whole time (the upgrade guide's Strategy 2, done
# right): every replica first (a newer replica follows an older master),
# then, shard by shard, a lossless manual failover sent to the upgraded
# replica and the old master upgraded as its replica; the cluster's health
# checked after every node. The runbook names no node: its groups repeat
# their steps over the masters and replicas the nodes report (CLUSTER NODES)
# when each group starts, so it serves any number of shards and replicas.
#
#   understudy plan     runbooks/cluster-rolling.hcl --var from=7.0 --var to=8.0
#   understudy rehearse runbooks/cluster-rolling.hcl --var from=7.0 --var to=8.0
#   understudy rehearse runbooks/cluster-rolling.hcl --var from=7.0 --var to=valkey:8.1 --var masters=5
#
# failover = "default" sends a plain CLUSTER FAILOVER to the replica
# instead: lossless too, but measured here it stalls a shard's writes about
# 45 ms (a delayed ACK on the cluster bus); "force" loses acknowledged writes
# and is there to be shown losing them.

variable "from" {
  type        = string
  default     = "7.0"
  description = "Version every node runs now: \"7.0\", or \"valkey:8.1\" for Valkey."
}

variable "to" {
  type        = string
  default     = "8.0"
  description = "Version to upgrade to."
}

variable "nodes" {
  type        = list(string)
  default     = ["redis-1.internal:6379", "redis-2.internal:6379", "redis-3.internal:6379", "redis-4.internal:6379", "redis-5.internal:6379", "redis-6.internal:6379"]
  description = "Every node of the cluster, masters and replicas, in any order: the roles are read from the nodes."
}

variable "masters" {
  type        = number
  default     = 3
  description = "Masters of the cluster a rehearsal builds."
}

variable "replicas" {
  type        = number
  default     = 1
  description = "Replicas per master of the cluster a rehearsal builds."
}

variable "failover" {
  type        = string
  default     = "auto"
  description = "How each shard's master role moves: \"auto\" (the paused takeover on 6.2+, the default CLUSTER FAILOVER on 6.0), \"takeover\", \"default\" or \"force\"."
}

locals {
  to_engine  = startswith(var.to, "valkey:") ? "valkey" : "redis"
  to_version = trimprefix(var.to, "valkey:")
}

cluster "cache" {
  nodes    = var.nodes
  password = env("REDIS_PASSWORD")

  # A rehearsal builds masters × (1 + replicas) nodes: all 16384 slots
  # spread over the masters, each with its replicas attached.
  rehearsal {
    version  = var.from
    masters  = var.masters
    replicas = var.replicas
  }
}

step "cluster_check" "healthy" {
  description = "Before anything: every node sees cluster_state ok, all slots served, no node failing, one configuration, every replica's link up."
  nodes       = cluster.cache.nodes
}

# Replicas first: a newer replica can follow an older master.
group "replicas" {
  for_each = cluster.cache.replicas

  step "upgrade" "replica" {
    description = "The replica restarts on the new version with its data and nodes.conf: same node id, same master."
    node        = each.node
    version     = var.to
  }

  step "cluster_check" "replica_rejoined" {
    description = "The upgraded replica is known to every node again, its link is up and its offset close to its master's: it can be promoted."
    nodes       = cluster.cache.nodes
    timeout     = "10m"
  }
}

# Then each shard: its master role moves to an upgraded replica, and the
# old master, now a replica, is upgraded in its turn.
group "masters" {
  for_each = cluster.cache.masters

  step "cluster_failover" "failover" {
    description = "Sent to the master's upgraded replica: with the default method, writes paused on the master until the replica has its offset, then a takeover."
    master      = each.node
    method      = var.failover
  }

  step "cluster_check" "failed_over" {
    description = "Every node sees the new master owning the shard's slots and the old master as its replica, link up."
    nodes       = cluster.cache.nodes
  }

  step "upgrade" "old_master" {
    description = "The old master, now a replica, restarts on the new version."
    node        = each.node
    version     = var.to
  }

  step "cluster_check" "old_master_rejoined" {
    description = "The old master is back as a replica of the new one, synced, before the next shard moves."
    nodes       = cluster.cache.nodes
    timeout     = "10m"
  }
}

step "cluster_check" "upgraded" {
  description = "The cluster is whole again and every node runs the new version."
  nodes       = cluster.cache.nodes
  version     = var.to
}
