node "old" {
  address = "127.0.0.1:1"
}

step "assert" "a" {
  condition = node.olld.role == "master" # ERROR: Reference to undeclared node
}

step "assert" "b" {
  condition = step.c.output == "x" # ERROR: Reference to a step that has not run
}

step "assert" "c" {
  condition = var.nope == "x" # ERROR: Reference to undeclared variable
}

step "assert" "d" {
  condition = nodes.old.role == "master" # ERROR: Unknown reference
}

step "assert" "e" {
  condition = node.old.info.master_link_stat == "up" # ERROR: Unknown INFO field
}

step "assert" "f" {
  condition = node.old.rolee == "master" # ERROR: Unsupported attribute
}

step "command" "g" {
  node    = node.old
  command = ["PING"]
  when    = step.g.output == "PONG" # ERROR: Reference to a step that has not run
}
