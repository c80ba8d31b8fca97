# UNSAFE, kept as a counter-example: the upgrade guide's Sentinel failover.
# Replicas are upgraded, then SENTINEL FAILOVER is sent and the old master
# is upgraded once the sentinels name the new one. SENTINEL FAILOVER is a
# forced failover: the old master keeps acknowledging writes until Sentinel
# reconfigures it, and those writes are lost. A rehearsal of this runbook
# fails and counts them. Compare with runbooks/sentinel-rolling.hcl.
#
#   understudy rehearse runbooks/examples/unsafe-sentinel-failover.hcl --var from=7.0 --var to=8.0

variable "from" {
  default = "7.0"
}

variable "to" {
  default = "8.0"
}

sentinel "cache" {
  master_name = "mymaster"
  data_nodes  = ["redis-1.internal:6379", "redis-2.internal:6379", "redis-3.internal:6379"]
  sentinels   = ["redis-1.internal:26379", "redis-2.internal:26379", "redis-3.internal:26379"]
  rehearsal {
    version = var.from
  }
}

step "sentinel_check" "healthy" {
  deployment = sentinel.cache
}

group "replicas" {
  for_each = sentinel.cache.replicas

  step "upgrade" "replica" {
    node    = each.node
    version = var.to
  }

  step "sentinel_check" "replica_seen" {
    deployment = sentinel.cache
  }
}

step "command" "failover" {
  description = "The guide's way: SENTINEL FAILOVER, while the application keeps writing to the old master."
  node        = node.cache-sentinel-1
  command     = ["SENTINEL", "FAILOVER", "mymaster"]
}

step "sentinel_check" "failed_over" {
  description = "Sentinel has promoted a replica and reconfigured the old master."
  deployment  = sentinel.cache
  timeout     = "2m"
}

group "old_master" {
  for_each = sentinel.cache.replicas

  step "upgrade" "old_master" {
    when    = each.node.version != sentinel.cache.master.version
    node    = each.node
    version = var.to
  }
}

step "sentinel_check" "healthy_after" {
  deployment = sentinel.cache
}
