node "old" {
  address  = "127.0.0.1:1"
  password = "pw-of-the-old-node"
  rehearsal {
    version = "7.0"
  }
}

endpoint "app" {
  target = node.old
}

rehearsal {
  databases = [0, 16]   # ERROR: Invalid database number
  big_keys  = "sometimes" # ERROR: Incorrect value type
  workload {
    command = ["./app", step.check.output] # ERROR: Reference to a step in the workload
    env = {
      "BAD=NAME" = endpoint.app.url # ERROR: Invalid environment variable name
      PORT       = endpoint.app.port # ERROR: Unsupported attribute
    }
  }
}

step "exec" "check" {
  command = ["./check.py"]
  env = {
    AUTH  = node.old.password
    URL   = endpoint.ap.url # ERROR: Reference to undeclared endpoint
    ""    = "x"             # ERROR: Invalid environment variable name
    LATER = step.after.output # ERROR: Reference to a step that has not run
  }
}

step "assert" "after" {
  condition = node.old.password != "" && node.old.username == ""
}
