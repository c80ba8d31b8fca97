node "a" { # ERROR: Runbook has no steps
  address = "127.0.0.1:1"
}

# A runbook without steps does nothing.
