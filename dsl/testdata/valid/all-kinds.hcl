variable "to" {
  default = "8.0"
}

variable "admin_password" {
  default   = "not-a-real-secret"
  sensitive = true
}

locals {
  target  = var.to
  maxmem  = "${local.mb}mb"
  mb      = 256
  timeout = "45s"
}

rehearsal {
  keys       = 1000
  write_rate = 200
}

node "a" {
  address  = "127.0.0.1:6379"
  password = var.admin_password
  rehearsal {
    version = "7.0"
    seed    = true
  }
}

node "b" {
  address = "127.0.0.1:6380"
  rehearsal {
    version = "valkey:8.1"
  }
}

step "command" "ping" {
  node    = node.a
  command = ["PING"]
}

step "assert" "pong" {
  condition     = step.ping.output == "PONG"
  error_message = "got ${step.ping.output}"
}

step "command" "maxmemory" {
  node    = node.a
  command = ["CONFIG", "SET", "maxmemory", local.maxmem]
  timeout = local.timeout
  retry {
    attempts = 3
    interval = "1s"
  }
}

step "replicate" "attach" {
  replica = node.b
  master  = node.a
}

step "wait" "sync" {
  until = in_sync(node.b, node.a) && node.b.info.master_link_status == "up"
}

step "promote" "b" {
  node       = node.b
  on_failure = "abort"
}

step "upgrade" "a" {
  node    = node.a
  version = local.target
}

step "verify" "data" {
  a       = node.a
  b       = node.b
  method  = "scan"
  exclude = ["session:*"]
  db      = 0
}

step "exec" "notify" {
  command    = ["echo", "upgraded ${node.a.version}", tostring(version_compare("8.0.2", "7.0"))]
  on_failure = "continue"

  assert {
    condition = endswith(step.notify.output, "1")
  }
}
