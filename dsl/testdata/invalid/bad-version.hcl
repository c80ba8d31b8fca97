node "older" {
  address = "127.0.0.1:3"
  rehearsal {
    version = "redis:6.1.x" # ERROR: Invalid version
  }
}

node "other" {
  address = "127.0.0.1:4"
  rehearsal {
    version = "memcached:1.6" # ERROR: Invalid version
  }
}

step "promote" "p" {
  node = node.older
}
