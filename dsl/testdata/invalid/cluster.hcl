cluster "cache" {
  nodes = ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]
  rehearsal {
    version = "7.0"
    masters = 2 # ERROR: Invalid masters
  }
}

group "shards" {
  for_each = cluster.cache.shards # ERROR: Invalid for_each
  step "assert" "a" {
    condition = true
  }
}

group "masters" {
  for_each = cluster.cache.masters
  step "cluster_failover" "both" { # ERROR: Name the replica or the master
    master  = each.node
    replica = each.node
  }
  step "cluster_check" "runtime" {
    nodes = cluster.cache.masters # ERROR: Node set known only at run time
  }
}

sentinel "also" { # ERROR: More than one deployment
  master_name = "m"
  data_nodes  = ["127.0.0.1:5"]
  sentinels   = ["127.0.0.1:6"]
}
