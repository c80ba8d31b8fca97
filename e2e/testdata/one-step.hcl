# One step that passes at once: a signal that comes after it (while the
# probe settles and the checks run) must still end the run interrupted.

node "only" {
  address = "redis.internal:6379"
  rehearsal {
    version = "7.0"
  }
}

endpoint "app" {
  target = node.only
}

step "assert" "master" {
  condition = node.only.role == "master"
}
