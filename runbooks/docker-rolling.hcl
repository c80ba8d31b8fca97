# Rolling in-place upgrade of a master and its replica run as Docker
# containers: upgrade the replica first (a newer replica can follow an older
# master), switch over to it without losing a write, then upgrade the old
# master, which comes back as a replica of the new one. Each upgrade
# replaces a container by one of the new version with the same data volume,
# port, password and arguments (docker-node.sh, next to this file: read its
# assumptions).
#
#   understudy rehearse runbooks/docker-rolling.hcl --var from=7.0 --var to=8.0
#   understudy plan     runbooks/docker-rolling.hcl --var from=7.0 --var to=8.0
#   understudy apply    runbooks/docker-rolling.hcl --var from=7.0 --var to=8.0
#
# Live, the nodes are the containers PRIMARY_CONTAINER and REPLICA_CONTAINER
# at PRIMARY_ADDRESS and REPLICA_ADDRESS, the replica already following the
# primary; the application finds the master through switch-endpoint.sh
# (ENDPOINT_FILE or HAPROXY_SOCKET) and connects at APP_ADDRESS. A rehearsal
# ignores the lifecycle blocks: it replaces its own containers.

variable "from" {
  type        = string
  default     = "7.0"
  description = "Version both nodes run: \"7.0\", or \"valkey:8.1\" for Valkey."
}

variable "to" {
  type        = string
  default     = "8.0"
  description = "Version both nodes run afterwards (the image understudy/redis:TO, or understudy/valkey:X for \"valkey:X\"; IMAGE_PREFIX changes the prefix)."
}

node "primary" {
  address  = env("PRIMARY_ADDRESS", "redis-1.internal:6379")
  password = env("REDIS_PASSWORD")
  lifecycle {
    upgrade = ["./docker-node.sh", "upgrade", env("PRIMARY_CONTAINER", "redis-primary"), "{address}", "{version}"]
    stop    = ["./docker-node.sh", "stop", env("PRIMARY_CONTAINER", "redis-primary"), "{address}"]
    start   = ["./docker-node.sh", "start", env("PRIMARY_CONTAINER", "redis-primary"), "{address}"]
    timeout = "4m"
  }
  rehearsal {
    version = var.from
  }
}

node "replica" {
  address  = env("REPLICA_ADDRESS", "redis-2.internal:6379")
  password = env("REDIS_PASSWORD")
  lifecycle {
    upgrade = ["./docker-node.sh", "upgrade", env("REPLICA_CONTAINER", "redis-replica"), "{address}", "{version}"]
    stop    = ["./docker-node.sh", "stop", env("REPLICA_CONTAINER", "redis-replica"), "{address}"]
    start   = ["./docker-node.sh", "start", env("REPLICA_CONTAINER", "redis-replica"), "{address}"]
    timeout = "4m"
  }
  rehearsal {
    version = var.from
  }
}

# Where the application connects. A rehearsal puts a proxy here; live, the
# switch command repoints service discovery or the load balancer.
endpoint "app" {
  target  = node.primary
  address = env("APP_ADDRESS", "app-redis.internal:6379")
  switch  = ["./switch-endpoint.sh", "app-redis.internal"]
}

step "assert" "primary_is_master" {
  description   = "The primary is the master the runbook expects, on the version it expects."
  condition     = node.primary.role == "master" && version_at_least(node.primary.version, trimprefix(var.from, "valkey:"))
  error_message = "primary is ${node.primary.role} running ${node.primary.engine} ${node.primary.version}; the runbook expects a master running ${var.from}"
}

step "replicate" "attach" {
  description = "Rehearsal starts from two standalone nodes; live, the replica already follows the primary and this changes nothing."
  replica     = node.replica
  master      = node.primary
}

step "wait" "replica_in_sync" {
  until   = in_sync(node.replica, node.primary)
  timeout = "10m"
}

step "upgrade" "replica" {
  description = "Replicas first: a newer replica can follow an older master. Its container is replaced; it comes back as a replica of the primary."
  node        = node.replica
  version     = var.to
  timeout     = "5m"
}

step "wait" "upgraded_replica_in_sync" {
  description = "The upgraded replica resynchronised with the primary (partially, from the offset its saved data holds)."
  until       = in_sync(node.replica, node.primary)
  timeout     = "10m"
  retry {
    interval     = "100ms"
    max_interval = "2s"
  }
}

step "copy_users" "acl" {
  description = "ACL users are not replicated, and users created at runtime do not survive a container's replacement: the upgraded replica gets the primary's users before it takes the application."
  from        = node.primary
  to          = node.replica
}

step "switchover" "to_replica" {
  description = "Lossless switchover: hold the application, wait for the replica to reach the master's offset, promote it, repoint, demote the old master."
  from        = node.primary
  to          = node.replica
  endpoint    = endpoint.app
  timeout     = "30s"

  assert {
    condition     = node.replica.role == "master"
    error_message = "replica is ${node.replica.role} after the switchover"
  }
}

step "upgrade" "old_primary" {
  description = "The old master, now a replica of the upgraded node, is upgraded in turn and comes back as its replica."
  node        = node.primary
  version     = var.to
  timeout     = "5m"
}

step "wait" "old_primary_in_sync" {
  until   = in_sync(node.primary, node.replica)
  timeout = "10m"
  retry {
    interval     = "100ms"
    max_interval = "2s"
  }
}

step "copy_users" "acl_back" {
  description = "The old primary's container was replaced too: it gets the users again, so that it can take the application back."
  from        = node.replica
  to          = node.primary
}

step "assert" "both_upgraded" {
  condition     = version_compare(node.primary.version, trimprefix(var.to, "valkey:")) >= 0 && version_compare(node.replica.version, trimprefix(var.to, "valkey:")) >= 0
  error_message = "versions after the upgrade: primary ${node.primary.version}, replica ${node.replica.version}"
}

step "verify" "same_data" {
  description = "Both nodes hold the same data: every database key by key (type, value, TTL, stream groups), function libraries and ACL users."
  a           = node.replica
  b           = node.primary
  retry {
    attempts = 5
    interval = "500ms"
  }
}
