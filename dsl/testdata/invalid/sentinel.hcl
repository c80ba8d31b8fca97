sentinel "cache" {
  master_name = "my master" # ERROR: Invalid master name
  data_nodes  = ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:1"] # ERROR: Duplicate address in data_nodes
  sentinels   = ["127.0.0.1:3"]
  rehearsal {
    version = "7.0"
    quorum  = 2 # ERROR: Invalid quorum
  }
}

sentinel "other" { # ERROR: More than one deployment
  master_name = "m"
  data_nodes  = ["127.0.0.1:5"]
  sentinels   = ["127.0.0.1:6"]
}

node "extra" { # ERROR: A node block next to a sentinel deployment
  address = "127.0.0.1:4"
}

step "upgrade" "outside" {
  node    = each.node # ERROR: each outside a group
  version = "8.0"
}

group "bad_set" {
  for_each = sentinel.cache.replica # ERROR: Invalid for_each
  step "assert" "in_bad" {
    condition = true
  }
}

group "unknown_dep" {
  for_each = sentinel.cash.replicas # ERROR: Reference to undeclared sentinel deployment
  step "assert" "in_unknown" {
    condition = true
  }
}

group "replicas" {
  for_each = sentinel.cache.replicas
  step "assert" "each_attr" {
    condition = each.nodes.role == "replica" # ERROR: Unknown each attribute
  }
  step "assert" "sentinel_attr" {
    condition = sentinel.cache.replicas == [] # ERROR: Unknown sentinel attribute
  }
  step "sentinel_switchover" "runtime_list" {
    sentinels   = sentinel.cache.replicas # ERROR: Node set known only at run time
    master_name = "mymaster"
    from        = sentinel.cache.master
  }
}

group "empty" { # ERROR: Group has no steps
  for_each = sentinel.cache.sentinels
}

step "sentinel_switchover" "no_deployment" { # ERROR: Missing argument master_name, sentinels, from
  to = sentinel.cache.master
}
