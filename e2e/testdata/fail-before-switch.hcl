# A runbook whose check before the switchover fails on purpose: the rollback
# must detach the new node and leave the old master serving.

node "old" {
  address = "redis-a.internal:6379"
  rehearsal {
    version = "7.0"
  }
}

node "new" {
  address = "redis-b.internal:6379"
  rehearsal {
    version = "8.0"
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
  until = in_sync(node.new, node.old)
}

step "assert" "impossible" {
  condition     = node.new.keys > 1000000000
  error_message = "the new node holds ${node.new.keys} keys, not a billion"
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
