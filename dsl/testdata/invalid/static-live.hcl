node "a" {
  address = node.b.address # ERROR: Live value in a static setting
}

node "b" {
  address = "127.0.0.1:1"
}

step "wait" "w" {
  until   = node.a.role == "master"
  timeout = node.a.info.uptime_in_seconds # ERROR: Live value in a static setting
}

step "exec" "e" {
  command = ["echo", env()] # ERROR: Not enough function arguments
}
