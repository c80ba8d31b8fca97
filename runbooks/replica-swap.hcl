# Standalone replica-swap upgrade: a new node of the new version joins as a
# replica of the old master, catches up, takes over the master role and the
# application in one lossless switchover; the old master stays behind as its
# replica for as long as a rollback by replication is still possible.
#
#   understudy plan     runbooks/replica-swap.hcl --var from=7.0 --var to=8.0
#   understudy rehearse runbooks/replica-swap.hcl --var from=7.0 --var to=8.0

variable "from" {
  type        = string
  default     = "7.0"
  description = "Version the old master runs: \"7.0\", or \"valkey:8.1\" for Valkey."
}

variable "to" {
  type        = string
  default     = "8.0"
  description = "Version of the new node."
}

node "old" {
  address  = env("OLD_ADDRESS", "redis-a.internal:6379")
  password = env("REDIS_PASSWORD")
  rehearsal {
    version = var.from
  }
}

node "new" {
  address  = env("NEW_ADDRESS", "redis-b.internal:6379")
  password = env("REDIS_PASSWORD")
  rehearsal {
    version = var.to
  }
}

# Where the application connects. A rehearsal puts a proxy here; live, the
# switch command repoints DNS or the load balancer.
endpoint "app" {
  target  = node.old
  address = env("APP_ADDRESS", "app-redis.internal:6379")
  switch  = ["./switch-endpoint.sh", "app-redis.internal"]
}

step "assert" "source_is_master" {
  description   = "The old node is the master the runbook expects and nothing replicates from it yet."
  condition     = node.old.role == "master" && version_at_least(node.old.version, trimprefix(var.from, "valkey:"))
  error_message = "old node is ${node.old.role} running ${node.old.engine} ${node.old.version}; the runbook expects a master running ${var.from}"
}

step "assert" "target_is_empty" {
  description   = "The new node is a fresh master of the new version: attaching it replaces its data."
  condition     = node.new.role == "master" && node.new.keys == 0
  error_message = "new node holds ${node.new.keys} keys or is a ${node.new.role}: refusing to overwrite it"
}

step "replicate" "attach" {
  description = "The new node follows the old master (the versions are checked first)."
  replica     = node.new
  master      = node.old
}

step "wait" "initial_sync" {
  description = "Full sync done: link up, no sync in progress, same replication id, offset reached."
  until       = in_sync(node.new, node.old)
  timeout     = "10m"
  retry {
    interval     = "100ms"
    max_interval = "2s"
  }
}

step "copy_users" "acl" {
  description = "ACL users are not replicated: the new node gets the old master's users before it takes the application."
  from        = node.old
  to          = node.new
}

step "verify" "replica_matches" {
  description = "The new node holds what the old master holds, key by key in every database (type, value, TTL, stream groups), with the same function libraries and ACL users, under live writes: a key that differs because a write is in flight is compared again once the replica has reached the master's offset."
  a           = node.new
  b           = node.old
}

step "switchover" "promote" {
  description = "Lossless switchover: hold the application, wait for the replica to reach the master's offset, promote it, repoint, demote the old master."
  from        = node.old
  to          = node.new
  endpoint    = endpoint.app
  timeout     = "30s"

  assert {
    condition     = node.new.role == "master"
    error_message = "new node is ${node.new.role} after the switchover"
  }
}

step "wait" "old_follows_new" {
  description = "The old master is now a replica of the new one (partial resync): the rollback path stays open."
  until       = node.old.role == "replica" && node.old.info.master_link_status == "up"
  timeout     = "30s"
}

step "assert" "clients_moved" {
  description   = "The application left the old node: it is a read-only replica with no application connections."
  condition     = node.old.role == "replica" && node.old.app_clients == 0
  error_message = "old node is a ${node.old.role} with ${node.old.app_clients} application connection(s)"
}

step "verify" "same_data" {
  description = "Both nodes hold the same data: every database key by key (type, value, TTL, stream groups), function libraries and ACL users."
  a           = node.new
  b           = node.old
  retry {
    attempts = 5
    interval = "500ms"
  }
}

# The rollback undoes what happened, judged from the nodes themselves.
rollback {
  step "assert" "not_split" {
    description   = "Both nodes masters means the switchover stopped half-way: a person decides which one keeps the data."
    condition     = !(node.new.role == "master" && node.old.role == "master")
    error_message = "both nodes are masters: decide by hand which one keeps the data"
  }

  step "switchover" "back" {
    description = "The switchover happened: return the master role and the application to the old node while it still follows the new one."
    when        = node.new.role == "master" && node.old.role == "replica"
    from        = node.new
    to          = node.old
    endpoint    = endpoint.app
  }

  step "promote" "detach_new" {
    description = "The switchover did not happen: the old node is still the master; the new one stops replicating it."
    when        = step.back.status != "passed" && node.new.role == "replica"
    node        = node.new
  }
}
