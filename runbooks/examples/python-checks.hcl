# The replica swap of runbooks/replica-swap.hcl with the application team's
# own checks, written in Python, run as exec steps, and the application's
# own traffic (a small Python program) running through the endpoint for the
# whole rehearsal. The checks get the nodes' and the endpoint's addresses and
# credentials through env = { ... }: in a rehearsal, the containers' loopback
# addresses, the proxy's, and the rehearsal's password (REDIS_PASSWORD when it
# is set, as below), never printed.
#
#   REDIS_PASSWORD=... understudy rehearse runbooks/examples/python-checks.hcl
#
# The checks need Debian's python3-redis (apt-get install python3-redis) and
# run /usr/bin/python3, which has it, whatever python3 is first on the PATH.

variable "from" {
  type        = string
  default     = "7.0"
  description = "Version the old master runs."
}

variable "to" {
  type        = string
  default     = "8.0"
  description = "Version of the new node."
}

variable "python" {
  type        = string
  default     = "/usr/bin/python3"
  description = "The interpreter with the redis module (Debian's python3-redis)."
}

node "old" {
  address  = env("OLD_ADDRESS", "redis-a.internal:6379")
  username = env("REDIS_USERNAME", "default")
  password = env("REDIS_PASSWORD")
  rehearsal {
    version = var.from
  }
}

node "new" {
  address  = env("NEW_ADDRESS", "redis-b.internal:6379")
  username = env("REDIS_USERNAME", "default")
  password = env("REDIS_PASSWORD")
  rehearsal {
    version = var.to
  }
}

endpoint "app" {
  target = node.old
  switch = ["./switch-endpoint.sh", "app-redis.internal"]
}

rehearsal {
  # The application itself: writes and reads through the endpoint from
  # before the first step to after the last, then reads its writes back.
  workload {
    description  = "Orders written and read back through the endpoint every 10 ms, as the application does."
    command      = [var.python, "checks/workload.py"]
    grace_period = "20s"
    env = {
      REDIS_URL   = endpoint.app.url
      INTERVAL    = "0.01"
      MAX_SECONDS = "900"
    }
  }
}

step "assert" "source_is_master" {
  description   = "The old node is the master the runbook expects."
  condition     = node.old.role == "master" && version_at_least(node.old.version, trimprefix(var.from, "valkey:"))
  error_message = "old node is ${node.old.role} running ${node.old.version}; the runbook expects a master running ${var.from}"
}

step "assert" "target_is_empty" {
  description   = "The new node is a fresh master: attaching it replaces its data."
  condition     = node.new.role == "master" && node.new.keys == 0
  error_message = "new node holds ${node.new.keys} keys or is a ${node.new.role}: refusing to overwrite it"
}

step "exec" "app_connects" {
  description = "The application reaches Redis through its endpoint before anything changes."
  command     = [var.python, "checks/verify_application_connectivity.py"]
  env = {
    REDIS_URL   = endpoint.app.url
    EXPECT_ROLE = "master"
  }
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

step "exec" "replication_healthy" {
  description = "The team's own replication check, from both sides: the replica is online on the master, its link is up, it is not syncing, its offset is close."
  command     = [var.python, "checks/verify_replication.py"]
  env = {
    MASTER_ADDRESS  = node.old.address
    REPLICA_ADDRESS = node.new.address
    REDIS_USERNAME  = node.old.username
    REDIS_PASSWORD  = node.old.password
  }
  retry {
    attempts = 10
    interval = "500ms"
  }
}

step "verify" "replica_matches" {
  description = "The new node holds what the old master holds, key by key, under live writes."
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
  description = "The old master is now a replica of the new one: the rollback path stays open."
  until       = node.old.role == "replica" && node.old.info.master_link_status == "up"
  timeout     = "30s"
}

step "exec" "replication_reversed" {
  description = "The same check the other way round: the new node is the master, the old one follows it."
  command     = [var.python, "checks/verify_replication.py"]
  env = {
    MASTER_ADDRESS  = node.new.address
    REPLICA_ADDRESS = node.old.address
    REDIS_USERNAME  = node.new.username
    REDIS_PASSWORD  = node.new.password
  }
  retry {
    attempts = 10
    interval = "500ms"
  }
}

step "exec" "app_reaches_new_master" {
  description = "The application reaches the new master through the same endpoint."
  command     = [var.python, "checks/verify_application_connectivity.py"]
  env = {
    REDIS_URL   = endpoint.app.url
    EXPECT_ROLE = "master"
  }
}

step "verify" "same_data" {
  description = "Both nodes hold the same data."
  a           = node.new
  b           = node.old
  retry {
    attempts = 5
    interval = "500ms"
  }
}

rollback {
  step "assert" "not_split" {
    description   = "Both nodes masters means the switchover stopped half-way: a person decides."
    condition     = !(node.new.role == "master" && node.old.role == "master")
    error_message = "both nodes are masters: decide by hand which one keeps the data"
  }

  step "switchover" "back" {
    description = "The switchover happened: return the master role and the application to the old node."
    when        = node.new.role == "master" && node.old.role == "replica"
    from        = node.new
    to          = node.old
    endpoint    = endpoint.app
  }

  step "promote" "detach_new" {
    description = "The switchover did not happen: the new node stops replicating the old one."
    when        = step.back.status != "passed" && node.new.role == "replica"
    node        = node.new
  }
}
