# Waits for a condition that never holds: the process is interrupted while
# it waits, and must remove its containers.

node "only" {
  address = "redis.internal:6379"
  rehearsal {
    version = "7.0"
  }
}

step "wait" "forever" {
  until   = node.only.role == "replica"
  timeout = "5m"
}
