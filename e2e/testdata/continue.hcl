# A failing step with on_failure = "continue" lets the run go on and the
# run still fails; a warning-only assert fails nothing and is shown.

node "only" {
  address = "redis.internal:6379"
  rehearsal {
    version = "7.0"
  }
}

endpoint "app" {
  target = node.only
}

step "assert" "not_a_replica" {
  condition     = node.only.role == "replica"
  error_message = "only is a ${node.only.role}"
  on_failure    = "continue"
}

step "assert" "few_clients" {
  condition     = node.only.info.connected_clients == "0"
  error_message = "${node.only.info.connected_clients} clients are connected"
  severity      = "warning"
}

step "command" "still_runs" {
  node    = node.only
  command = ["PING"]
}
