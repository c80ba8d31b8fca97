# Rolling in-place upgrade of a master and its replica: upgrade the replica
# first (a newer replica can follow an older master), switch over to it
# without losing a write, then upgrade the old master, which comes back as a
# replica of the new one.
#
#   understudy rehearse runbooks/rolling-upgrade.hcl --var from=7.0 --var to=8.0

variable "from" {
  default = "7.0"
}

variable "to" {
  default = "8.0"
}

node "primary" {
  address  = env("PRIMARY_ADDRESS", "redis-1.internal:6379")
  password = env("REDIS_PASSWORD")
  rehearsal {
    version = var.from
  }
}

node "replica" {
  address  = env("REPLICA_ADDRESS", "redis-2.internal:6379")
  password = env("REDIS_PASSWORD")
  rehearsal {
    version = var.from
  }
}

endpoint "app" {
  target = node.primary
}

step "replicate" "attach" {
  description = "Rehearsal starts from two standalone nodes; live, this is already the topology."
  replica     = node.replica
  master      = node.primary
}

step "copy_users" "acl" {
  description = "ACL users are not replicated: the replica gets the primary's users before it can take over."
  from        = node.primary
  to          = node.replica
}

step "wait" "replica_in_sync" {
  until   = in_sync(node.replica, node.primary)
  timeout = "10m"
}

step "upgrade" "replica" {
  description = "Replicas first: a newer replica can follow an older master."
  node        = node.replica
  version     = var.to
}

step "wait" "upgraded_replica_in_sync" {
  until   = in_sync(node.replica, node.primary)
  timeout = "10m"
}

step "switchover" "to_replica" {
  from     = node.primary
  to       = node.replica
  endpoint = endpoint.app
}

step "upgrade" "old_primary" {
  description = "The old master, now a replica of the upgraded node, is upgraded in turn."
  node        = node.primary
  version     = var.to
}

step "wait" "old_primary_in_sync" {
  until   = in_sync(node.primary, node.replica)
  timeout = "10m"
}

step "assert" "both_upgraded" {
  condition     = version_compare(node.primary.version, trimprefix(var.to, "valkey:")) >= 0 && version_compare(node.replica.version, trimprefix(var.to, "valkey:")) >= 0
  error_message = "versions after the upgrade: primary ${node.primary.version}, replica ${node.replica.version}"
}

step "verify" "same_data" {
  description = "Compared value by value (SCAN), as on servers where DEBUG is disabled."
  a           = node.replica
  b           = node.primary
  method      = "scan"
}
