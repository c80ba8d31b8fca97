# UNSAFE, kept as a counter-example: the order many wiki pages give.
# The new node is promoted first and the application is switched a second
# later; every write the old master acknowledges in between never reaches the
# new master. A rehearsal of this runbook fails and counts the lost writes.
# Compare with runbooks/replica-swap.hcl, whose switchover loses nothing.

variable "from" {
  default = "7.0"
}

variable "to" {
  default = "8.0"
}

node "old" {
  address = "redis-a.internal:6379"
  rehearsal {
    version = var.from
  }
}

node "new" {
  address = "redis-b.internal:6379"
  rehearsal {
    version = var.to
  }
}

endpoint "app" {
  target = node.old
}

step "replicate" "attach" {
  replica = node.new
  master  = node.old
}

step "wait" "initial_sync" {
  until   = in_sync(node.new, node.old)
  timeout = "10m"
}

step "promote" "new" {
  description = "REPLICAOF NO ONE on the new node while the application still writes to the old one."
  node        = node.new
}

step "exec" "sleep" {
  description = "The wiki's 'sleep 1' while someone updates DNS."
  command     = ["sleep", "1"]
}

step "repoint" "app" {
  description = "DNS now points at the new node."
  endpoint    = endpoint.app
  to          = node.new
}
