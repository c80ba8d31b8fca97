# A rolling upgrade of a Redis Cluster from 7.0 to 7.2, replicas first: the
# first upgrade leaves 7.0 and 7.2 nodes in one cluster, a known-bad pair.
cluster "cache" {
  nodes = ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:4", "127.0.0.1:5", "127.0.0.1:6"]
  rehearsal {
    version = "7.0"
  }
}

group "replicas" {
  for_each = cluster.cache.replicas
  step "upgrade" "replica" {
    node    = each.node
    version = "7.2" # ERROR: Known-bad mixed-version cluster
  }
}

group "masters" {
  for_each = cluster.cache.masters
  step "cluster_failover" "failover" {
    master = each.node
  }
  step "upgrade" "old_master" {
    node    = each.node
    version = "7.2"
  }
}
