# Rolling upgrade of a Sentinel-managed master and its replicas, with the
# application connected through Sentinel the whole time: the sentinels
# first (a newer sentinel watches older servers), then the replicas one at
# a time, then a lossless switchover to an upgraded replica, then the old
# master, which comes back as a replica of the new one. The runbook names
# no node: it repeats its steps over the replicas the sentinels report when
# each group starts, so it serves any number of replicas and sentinels.
#
#   understudy plan     runbooks/sentinel-rolling.hcl --var from=7.0 --var to=8.0
#   understudy rehearse runbooks/sentinel-rolling.hcl --var from=7.0 --var to=8.0
#   understudy rehearse runbooks/sentinel-rolling.hcl --var from=valkey:8.1 --var to=valkey:9.1
#
# failover = "coordinated" uses Valkey 9's SENTINEL FAILOVER ... COORDINATED
# instead: lossless too, but measured here its clients waited up to 2 s and
# saw READONLY errors; the default pause sequence stays under 0.5 s.

variable "from" {
  type        = string
  default     = "7.0"
  description = "Version every node and sentinel runs now: \"7.0\", or \"valkey:8.1\" for Valkey."
}

variable "to" {
  type        = string
  default     = "8.0"
  description = "Version to upgrade to."
}

variable "data_nodes" {
  type        = list(string)
  default     = ["redis-1.internal:6379", "redis-2.internal:6379", "redis-3.internal:6379"]
  description = "The master and its replicas, in any order (a rehearsal starts the first as the master)."
}

variable "sentinels" {
  type        = list(string)
  default     = ["redis-1.internal:26379", "redis-2.internal:26379", "redis-3.internal:26379"]
  description = "Every sentinel that monitors the master."
}

variable "failover" {
  type        = string
  default     = "auto"
  description = "How the master role moves: \"auto\" or \"pause\" (steered SENTINEL FAILOVER with the old master paused and fenced), \"coordinated\" (Valkey 9 sentinels: SENTINEL FAILOVER ... COORDINATED)."
}

locals {
  to_engine  = startswith(var.to, "valkey:") ? "valkey" : "redis"
  to_version = trimprefix(var.to, "valkey:")
}

sentinel "cache" {
  master_name       = "mymaster"
  data_nodes        = var.data_nodes
  sentinels         = var.sentinels
  password          = env("REDIS_PASSWORD")
  sentinel_password = env("SENTINEL_PASSWORD", "")

  # A rehearsal: the first data node the master, the others its replicas,
  # every sentinel watching with production-like settings.
  rehearsal {
    version          = var.from
    quorum           = 2
    down_after       = "5s"
    failover_timeout = "60s"
  }
}

step "sentinel_check" "healthy" {
  description = "Before anything: every sentinel names the same master, has its quorum and sees every replica and sentinel up."
  deployment  = sentinel.cache
}

# Sentinels first: a newer sentinel watches older servers, and Valkey 9
# sentinels are what a coordinated failover needs.
group "sentinels" {
  for_each = sentinel.cache.sentinels

  step "upgrade" "sentinel" {
    description = "The sentinel restarts on the new version with its configuration file: same id, epochs and view."
    node        = each.node
    version     = var.to
  }

  step "sentinel_check" "sentinel_rejoined" {
    description = "The upgraded sentinel is back in the deployment before the next one restarts."
    deployment  = sentinel.cache
  }
}

# Then the replicas, one at a time: a newer replica can follow an older
# master.
group "replicas" {
  for_each = sentinel.cache.replicas

  step "upgrade" "replica" {
    description = "The replica restarts on the new version with its data; the master keeps serving."
    node        = each.node
    version     = var.to
  }

  step "wait" "replica_synced" {
    description = "Link up, same replication id, offset reached."
    until       = in_sync(each.node, sentinel.cache.master)
    timeout     = "10m"
  }

  step "sentinel_check" "replica_seen" {
    description = "Every sentinel sees the upgraded replica up again, so that it can be promoted."
    deployment  = sentinel.cache
  }
}

step "sentinel_switchover" "failover" {
  description = "Lossless: the sentinels' choice steered to an upgraded replica, the old master fenced and paused until the replica has its offset, demoted while still paused."
  deployment  = sentinel.cache
  method      = var.failover
  timeout     = "2m"
}

step "sentinel_check" "failed_over" {
  description = "Every sentinel has ended its failover and sees the old master as a replica of the new one."
  deployment  = sentinel.cache
}

# Last the old master, now a replica of an upgraded node.
group "old_master" {
  for_each = sentinel.cache.replicas

  step "upgrade" "old_master" {
    description = "Only the data nodes still on the old version."
    when        = !(each.node.engine == local.to_engine && version_at_least(each.node.version, local.to_version))
    node        = each.node
    version     = var.to
  }

  step "wait" "old_master_synced" {
    until   = in_sync(each.node, sentinel.cache.master)
    timeout = "10m"
  }
}

step "sentinel_check" "healthy_after" {
  description = "The deployment is whole again on the new version."
  deployment  = sentinel.cache
}

group "all_upgraded" {
  for_each = sentinel.cache.data_nodes

  step "assert" "on_new_version" {
    condition     = each.node.engine == local.to_engine && version_at_least(each.node.version, local.to_version)
    error_message = "${each.key} runs ${each.node.engine} ${each.node.version}, not ${var.to}"
  }
}
