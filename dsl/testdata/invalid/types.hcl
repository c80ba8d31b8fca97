node "old" {
  address = "127.0.0.1:1"
}

step "assert" "a" {
  condition = node.old.keyspace # ERROR: Incorrect value type
}

step "wait" "b" {
  until   = true
  timeout = "ten minutes" # ERROR: Invalid duration
}

step "wait" "c" { # ERROR: Missing until condition
}

step "switchover" "d" {
  from   = node.old
  to     = node.old # ERROR: Same node twice
}

step "switchover" "d2" {
  from   = node.old
  to     = node.old
  method = "magic" # ERROR: Invalid method
}

step "command" "e" {
  node    = "old" # ERROR: Invalid node reference
  command = ["PING"]
}

step "promote" "f" {
  node  = node.old
  extra = 1 # ERROR: Unsupported argument
}

step "promote" "g" {
  on_failure = "panic" # ERROR: Invalid on_failure
  node       = node.old
}

step "assert" "h" { # ERROR: Missing required argument
}

endpoint "app" {
  target      = node.old
  connections = "keep" # ERROR: Invalid connections
}

step "assert" "live_types" {
  condition = node.old.role + 1 > 0 # ERROR: Incorrect value type
}

step "assert" "info_is_a_string" {
  condition = node.old.info.connected_slaves > 0 # ERROR: Incorrect value type
}

step "assert" "converted" {
  condition = tonumber(node.old.info.connected_slaves) > 0 && node.old.keys + 1 > 0
}
