# A runbook whose check after the switchover fails on purpose: the rollback
# must switch back to the old node without losing a write.

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

step "switchover" "promote" {
  from     = node.old
  to       = node.new
  endpoint = endpoint.app
}

step "wait" "old_follows_new" {
  until = in_sync(node.old, node.new)
}

step "assert" "impossible" {
  condition     = node.new.keys > 1000000000
  error_message = "the new node holds ${node.new.keys} keys, not a billion"
}

rollback {
  step "switchover" "back" {
    from     = node.new
    to       = node.old
    endpoint = endpoint.app
  }
}
