# Nodes that apply upgrades, stops and starts with their lifecycle commands;
# a rehearsal ignores the blocks. The upgrade command replaces the server
# on its own (stop, new version, start): stop and start are never run
# around it.
variable "ssh_user" {
  default = "deploy"
}

node "primary" {
  address  = "10.0.0.11:6379"
  password = env("REDIS_PASSWORD", "lifecycle-test-password")
  lifecycle {
    upgrade = ["ssh", "${var.ssh_user}@{host}", "sudo", "apt-get", "install", "-y", "redis-server={version}*"]
    stop    = ["ssh", "${var.ssh_user}@{host}", "sudo", "systemctl", "stop", "redis-server"]
    start   = ["ssh", "${var.ssh_user}@{host}", "sudo", "systemctl", "start", "redis-server"]
    timeout = "10m"
  }
  rehearsal {
    version = "7.0"
  }
}

node "replica" {
  address = "10.0.0.12:6379"
  lifecycle {
    # A shell's own $${name} is not a placeholder.
    upgrade = ["sh", "-c", "docker-node.sh upgrade \"$${CONTAINER:-{node}}\" {address} {version}"]
  }
  rehearsal {
    version = "7.0"
  }
}

step "upgrade" "replica" {
  node    = node.replica
  version = "8.0"
}

step "upgrade" "primary" {
  node    = node.primary
  version = "8.0"
}
