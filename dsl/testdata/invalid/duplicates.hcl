variable "v" {}

node "a" {
  address = "127.0.0.1:1"
}

node "a" { # ERROR: Duplicate node "a"
  address = "127.0.0.1:2"
}

step "promote" "p" {
  node = node.a
}

rollback { # WARNING: Empty rollback block
  step "promote" "p" { # ERROR: Duplicate step "p"
    node = node.a
  }
}
# variable v has no default:
# ERROR@1: No value for required variable
