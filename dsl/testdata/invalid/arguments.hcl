node "old" {
  address = "127.0.0.1:1"
  rehearsal {
    version = "" # ERROR: Invalid version
  }
}

node "new" {
  address = "127.0.0.1:2"
  rehearsal {
    version = "8" # ERROR: Invalid version
  }
}

step "verify" "negative_db" {
  a  = node.old
  b  = node.new
  db = -1 # ERROR: Invalid db
}

step "verify" "fractional_db" {
  a  = node.old
  b  = node.new
  db = 1.5 # ERROR: Invalid db
}

step "verify" "bad_pattern" {
  a       = node.old
  b       = node.new
  exclude = ["session:*", "["] # ERROR: Invalid key pattern
}

step "command" "empty" {
  node    = node.old
  command = [] # ERROR: Empty command
}

step "exec" "empty_exec" {
  command = [] # ERROR: Empty command
}

step "upgrade" "no_version" {
  node    = node.old
  version = "" # ERROR: Invalid version
}

step "assert" "bad_severity" {
  condition = true
  severity  = "info" # ERROR: Invalid severity
}

step "wait" "warned" {
  until = true
  assert {
    condition = true
    severity  = "fatal" # ERROR: Invalid severity
  }
}
