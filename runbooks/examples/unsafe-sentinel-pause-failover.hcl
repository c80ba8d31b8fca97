# UNSAFE, kept as a counter-example: the most used Helm chart's preStop
# pattern. CLIENT PAUSE WRITE on the master, SENTINEL FAILOVER, wait until
# the sentinels name the new master, CLIENT UNPAUSE. The paused writes are
# released on the old master, which still answers as a master until
# Sentinel reconfigures it: they are acknowledged and lost. A rehearsal of
# this runbook fails and counts them. Compare with
# runbooks/sentinel-rolling.hcl.
#
#   understudy rehearse runbooks/examples/unsafe-sentinel-pause-failover.hcl --var from=7.0 --var to=8.0

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

step "command" "pause" {
  description = "preStop: pause the master's writes."
  node        = sentinel.cache.master
  command     = ["CLIENT", "PAUSE", "5000", "WRITE"]
}

step "command" "failover" {
  node    = node.cache-sentinel-1
  command = ["SENTINEL", "FAILOVER", "mymaster"]
}

step "command" "new_master" {
  description = "Until a sentinel names another master (the chart polls one sentinel), then unpause at once."
  node        = node.cache-sentinel-2
  command     = ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"]
  until       = step.new_master.output[1] != node.cache-1.info.tcp_port
  timeout     = "30s"
}

step "command" "unpause" {
  description = "preStop ends: the old master's writes resume."
  node        = node.cache-1
  command     = ["CLIENT", "UNPAUSE"]
}

step "sentinel_check" "failed_over" {
  deployment = sentinel.cache
  timeout    = "2m"
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
