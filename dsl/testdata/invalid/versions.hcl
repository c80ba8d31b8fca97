node "old" {
  address = "127.0.0.1:1"
  rehearsal {
    version = "8.0"
  }
}

node "new" {
  address = "127.0.0.1:2"
  rehearsal {
    version = "valkey:8.1"
  }
}

step "replicate" "attach" { # ERROR: Versions cannot replicate
  replica = node.new
  master  = node.old
}

step "upgrade" "down" {
  node    = node.old
  version = "7.0" # ERROR: Upgrade cannot keep the data
}
