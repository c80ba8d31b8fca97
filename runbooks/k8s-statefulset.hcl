# Rolling upgrade of a Kubernetes StatefulSet "redis": redis-0 the master,
# redis-1 its replica, a Service "redis-primary" that sends the application
# to the master (its selector names one pod). Replica first, a lossless
# switchover to it, then the old master.
#
#   understudy plan  runbooks/k8s-statefulset.hcl --var from=7.0 --var to=8.0
#   understudy apply runbooks/k8s-statefulset.hcl --var from=7.0 --var to=8.0
#
# understudy runs where it reaches the pods (a Job in the namespace, with a
# ServiceAccount allowed to get/patch the StatefulSet and the Service and to
# get/delete/watch the pods) and where kubectl works.
#
# The StatefulSet must use updateStrategy OnDelete: changing its pod template
# then restarts no pod by itself, and each upgrade step replaces one pod,
# with its PersistentVolumeClaim (the data), when it deletes it. The upgrade
# command sets the template's image (redis:X, or valkey/valkey:X for
# "valkey:X"; the first container), deletes the pod and waits until it is
# Ready; understudy then waits until it answers on the new version. A pod
# that Kubernetes restarts by itself in between also gets the new image.
#
# After a restart a pod takes the role its start-up configuration gives it
# (with most charts: redis-0 a master, the others replicas of redis-0). So
# once the old master has been upgraded, it is attached to the new master
# again (step rejoin). The master stays on redis-1 afterwards; a chart that
# forces redis-0 to be the master at start must not restart redis-1 until a
# switchover moved the master back.

variable "from" {
  type        = string
  default     = "7.0"
  description = "Version both pods run: \"7.0\", or \"valkey:8.1\" for Valkey."
}

variable "to" {
  type        = string
  default     = "8.0"
  description = "Version both pods run afterwards (image redis:TO, or valkey/valkey:X for \"valkey:X\")."
}

variable "namespace" {
  type    = string
  default = "default"
}

locals {
  # sh -c SCRIPT upgrade-pod NAMESPACE POD VERSION
  upgrade_pod = <<-EOT
    set -eu
    ns=$1 pod=$2 version=$3
    case $version in
    valkey:*) image=valkey/valkey:$${version#valkey:} ;;
    *) image=redis:$version ;;
    esac
    strategy=$(kubectl -n "$ns" get statefulset redis -o jsonpath='{.spec.updateStrategy.type}')
    if [ "$strategy" != OnDelete ]; then
      echo "statefulset redis uses updateStrategy $strategy, not OnDelete: a template change would restart every pod" >&2
      exit 1
    fi
    kubectl -n "$ns" patch statefulset redis --type=json -p '[{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "'"$image"'"}]'
    kubectl -n "$ns" delete pod "$pod" --wait=true
    kubectl -n "$ns" wait --for=condition=Ready "pod/$pod" --timeout=8m
  EOT

  # sh -c SCRIPT switch-service NAMESPACE SERVICE POD ADDRESS: the endpoint
  # appends the new master's node name (the pod's) and address.
  switch_service = "kubectl -n \"$1\" patch service \"$2\" -p '{\"spec\": {\"selector\": {\"statefulset.kubernetes.io/pod-name\": \"'\"$3\"'\"}}}'"
}

# The node names are the pods' names: {node} is the pod a command acts on.
node "redis-0" {
  address  = env("REDIS_0_ADDRESS", "redis-0.redis.${var.namespace}.svc.cluster.local:6379")
  password = env("REDIS_PASSWORD")
  lifecycle {
    upgrade = ["sh", "-c", local.upgrade_pod, "upgrade-pod", var.namespace, "{node}", "{version}"]
    timeout = "10m"
  }
  rehearsal {
    version = var.from
  }
}

node "redis-1" {
  address  = env("REDIS_1_ADDRESS", "redis-1.redis.${var.namespace}.svc.cluster.local:6379")
  password = env("REDIS_PASSWORD")
  lifecycle {
    upgrade = ["sh", "-c", local.upgrade_pod, "upgrade-pod", var.namespace, "{node}", "{version}"]
    timeout = "10m"
  }
  rehearsal {
    version = var.from
  }
}

# The Service the application connects to.
endpoint "app" {
  target  = node.redis-0
  address = env("APP_ADDRESS", "redis-primary.${var.namespace}.svc.cluster.local:6379")
  switch  = ["sh", "-c", local.switch_service, "switch-service", var.namespace, "redis-primary"]
}

step "assert" "topology" {
  description   = "redis-0 is the master on the version the runbook expects; live, redis-1 already follows it."
  condition     = node.redis-0.role == "master" && version_at_least(node.redis-0.version, trimprefix(var.from, "valkey:"))
  error_message = "redis-0 is ${node.redis-0.role} running ${node.redis-0.engine} ${node.redis-0.version}; the runbook expects a master running ${var.from}"
}

step "replicate" "attach" {
  description = "A rehearsal starts from two standalone nodes; live, redis-1 already follows redis-0 and this changes nothing."
  replica     = node.redis-1
  master      = node.redis-0
}

step "wait" "replica_in_sync" {
  until   = in_sync(node.redis-1, node.redis-0)
  timeout = "10m"
}

step "upgrade" "redis_1" {
  description = "Replica first: a newer replica can follow an older master."
  node        = node.redis-1
  version     = var.to
  timeout     = "12m"
}

step "wait" "redis_1_in_sync" {
  until   = in_sync(node.redis-1, node.redis-0)
  timeout = "10m"
  retry {
    interval     = "100ms"
    max_interval = "2s"
  }
}

step "copy_users" "acl" {
  description = "ACL users are not replicated: the new master gets redis-0's users before it takes the application (users of the chart's aclfile are there anyway)."
  from        = node.redis-0
  to          = node.redis-1
}

step "switchover" "to_redis_1" {
  description = "Lossless switchover: writes paused on redis-0, redis-1 catches up and is promoted, the Service selects it, redis-0 follows it."
  from        = node.redis-0
  to          = node.redis-1
  endpoint    = endpoint.app
  timeout     = "30s"

  assert {
    condition     = node.redis-1.role == "master"
    error_message = "redis-1 is ${node.redis-1.role} after the switchover"
  }
}

step "upgrade" "redis_0" {
  description = "The old master, now a replica, is upgraded in turn."
  node        = node.redis-0
  version     = var.to
  timeout     = "12m"
}

step "replicate" "rejoin" {
  description = "Its start-up configuration may have made redis-0 a master again: it follows redis-1 (a full resync when it was one)."
  replica     = node.redis-0
  master      = node.redis-1
}

step "wait" "redis_0_in_sync" {
  until   = in_sync(node.redis-0, node.redis-1)
  timeout = "10m"
  retry {
    interval     = "100ms"
    max_interval = "2s"
  }
}

step "assert" "both_upgraded" {
  condition     = version_compare(node.redis-0.version, trimprefix(var.to, "valkey:")) >= 0 && version_compare(node.redis-1.version, trimprefix(var.to, "valkey:")) >= 0
  error_message = "versions after the upgrade: redis-0 ${node.redis-0.version}, redis-1 ${node.redis-1.version}"
}

step "verify" "same_data" {
  description = "Both pods hold the same data, key by key in every database, with the same function libraries and ACL users."
  a           = node.redis-1
  b           = node.redis-0
  method      = "scan"
  retry {
    attempts = 5
    interval = "500ms"
  }
}
