node "a" {
  address = "127.0.0.1:6380"
  lifecycle {
    upgrade = ["./node.sh", "upgrade", "{name}", "{version}"] # ERROR: Unknown placeholder
    stop    = ["systemctl", "stop", "redis-{version}"]        # ERROR: Placeholder not available
    start   = []                                              # ERROR: Empty command
    timeout = "soon"                                          # ERROR: Invalid duration
    restart = ["systemctl", "restart", "redis"]               # ERROR: Unsupported argument
  }
  lifecycle { # ERROR: Duplicate lifecycle block in node "a"
    upgrade = ["true"]
  }
}

node "b" {
  address = "127.0.0.1:6381"
  lifecycle { # ERROR: Missing required argument
    stop = ["", "stop"]   # ERROR: Empty program
    start = "systemctl start redis" # ERROR: Incorrect value type
  }
}

node "c" {
  address = "127.0.0.1:6382"
  lifecycle {
    upgrade = ["./node.sh", node.a.address] # ERROR: Live value in a static setting
  }
}

step "assert" "ok" {
  condition = node.a.role == "master"
}
