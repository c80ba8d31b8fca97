#!/usr/bin/env bash
# docker-node.sh upgrade NAME ADDRESS VERSION
# docker-node.sh stop    NAME ADDRESS
# docker-node.sh start   NAME ADDRESS
#
# The lifecycle commands of a Redis or Valkey server run as the Docker
# container NAME, serving ADDRESS (host:port). understudy runs it from the
# runbook's directory (lifecycle { upgrade = ["./docker-node.sh", "upgrade",
# NAME, "{address}", "{version}"] }) and fails the step when it exits
# non-zero; it then waits itself until the node answers on VERSION.
#
# upgrade replaces the container by one of VERSION's image, keeping what the
# old one was started with, read with docker inspect:
#   - the name, the command line (the server's arguments: port, password,
#     data directory, persistence ...), the volumes and bind mounts (the data
#     directory), the network mode and published ports, the restart policy,
#     the user, and the environment variables and labels the container has
#     beyond its image's;
#   - the replication role it has NOW (INFO replication): a replica comes
#     back as a replica of the master it follows (--replicaof, with its
#     masterauth/masteruser), a master comes back as a master (a --replicaof
#     of its original command line is dropped: a switchover may have
#     promoted it).
# It saves and stops the old server with SHUTDOWN SAVE (the dataset is on
# the data volume even when persistence is off), removes the old container
# (not its volumes), starts the new one, and waits until it answers PING.
# Nothing is stopped when the new image is missing, when the container does
# not serve ADDRESS, or when it already runs the new image (a resumed run).
#
# Assumptions (check them before you use it on your servers):
#   - the server's configuration is its command line (or a config file on a
#     mount that both versions accept); settings made at runtime with CONFIG
#     SET are not kept, except the replication role above;
#   - the data directory (the server's --dir, /data in the images) is a
#     volume or a bind mount, else the data is lost with the old container;
#   - ACL users created at runtime (no aclfile) are lost, as at any restart:
#     the shipped runbooks copy them again after each upgrade (copy_users);
#   - the image has redis-cli or valkey-cli, and redis-server or
#     valkey-server: when the command line starts with one of the servers and
#     the new engine is the other, the program name is switched;
#   - limits (--memory, --cpus, --ulimit), capabilities, extra networks and
#     their aliases, the hostname and healthchecks are not carried over.
#
# The password: $REDISCLI_AUTH (understudy sets it to the node's password),
# else the --requirepass of the command line; the ACL user:
# $UNDERSTUDY_USERNAME. Neither is ever printed.
#
# Images: understudy/redis:X for "X" and understudy/valkey:X for "valkey:X"
# (the project's offline images). IMAGE_PREFIX replaces "understudy/":
# IMAGE_PREFIX=registry.example.com/ops/ gives registry.example.com/ops/redis:8.0,
# IMAGE_PREFIX= (empty) the official redis:8.0. STOP_TIMEOUT (seconds,
# default 60) bounds the wait for the old server to save and exit,
# READY_TIMEOUT (default 120) the wait for the new one to answer PING.
set -euo pipefail

die() {
	echo "docker-node.sh: $*" >&2
	exit 1
}

usage() {
	echo "usage: $0 upgrade NAME ADDRESS VERSION | stop NAME ADDRESS | start NAME ADDRESS" >&2
	exit 2
}

[ $# -ge 3 ] || usage
action=$1 name=$2 addr=$3
case $action in
upgrade) [ $# -eq 4 ] || usage ;;
stop | start) [ $# -eq 3 ] || usage ;;
*) usage ;;
esac

inspect() { docker inspect --type container -f "$1" "$name"; }

# lines ARRAY TEMPLATE [IMAGE] reads what TEMPLATE prints for the container
# (or the image), one element per line, each ended by {{println}}: docker
# inspect ends with a newline of its own, which is dropped.
lines() {
	local -n out=$1
	if [ $# -eq 3 ]; then
		mapfile -t out < <(docker image inspect -f "$2" "$3")
	else
		mapfile -t out < <(inspect "$2")
	fi
	unset 'out[-1]'
}

inspect '{{.Id}}' >/dev/null 2>&1 || die "no container named $name"

case $action in
stop)
	docker stop -t "${STOP_TIMEOUT:-60}" "$name" >/dev/null
	echo "$name ($addr) stopped"
	exit 0
	;;
start)
	docker start "$name" >/dev/null
	echo "$name ($addr) started"
	exit 0
	;;
esac

version=$4
prefix=${IMAGE_PREFIX-understudy/}
case $version in
valkey:*) engine=valkey image="${prefix}valkey:${version#valkey:}" ;;
redis:*) engine=redis image="${prefix}redis:${version#redis:}" ;;
*) engine=redis image="${prefix}redis:$version" ;;
esac

# What the old container was started with.
lines cmd '{{range .Config.Cmd}}{{println .}}{{end}}'
old_image=$(inspect '{{.Config.Image}}')
old_image_id=$(inspect '{{.Image}}')
running=$(inspect '{{.State.Running}}')
network=$(inspect '{{.HostConfig.NetworkMode}}')
restart=$(inspect '{{.HostConfig.RestartPolicy.Name}}')
user=$(inspect '{{.Config.User}}')
lines ports '{{range $p, $b := .HostConfig.PortBindings}}{{range $b}}{{.HostIp}}|{{.HostPort}}|{{$p}}{{println}}{{end}}{{end}}'
lines mounts '{{range .Mounts}}{{.Type}}|{{.Name}}|{{.Source}}|{{.Destination}}|{{.RW}}{{println}}{{end}}'
lines env '{{range .Config.Env}}{{println .}}{{end}}'
lines labels '{{range $k, $v := .Config.Labels}}{{$k}}={{$v}}{{println}}{{end}}'
lines image_env '{{range .Config.Env}}{{println .}}{{end}}' "$old_image_id"
lines image_labels '{{range $k, $v := .Config.Labels}}{{$k}}={{$v}}{{println}}{{end}}' "$old_image_id"

# The server's port inside the container and its password, from its
# command line.
port=6379 requirepass=""
for ((i = 0; i < ${#cmd[@]}; i++)); do
	case ${cmd[i]} in
	--port) port=${cmd[i + 1]:-6379} ;;
	--requirepass) requirepass=${cmd[i + 1]:-} ;;
	esac
done
export REDISCLI_AUTH=${REDISCLI_AUTH:-$requirepass}

# Refuse a container that does not serve ADDRESS: the runbook names another.
addr_port=${addr##*:}
serves=no
if [ "$network" = host ] && [ "$port" = "$addr_port" ]; then
	serves=yes
fi
for p in "${ports[@]}"; do
	IFS='|' read -r _ host_port _ <<<"$p"
	[ "$host_port" = "$addr_port" ] && serves=yes
done
[ "$serves" = yes ] || die "container $name does not serve port $addr_port of $addr (network $network, server port $port): refusing to touch it"

if [ "$running" = true ] && [ "$old_image" = "$image" ]; then
	echo "$name ($addr) already runs $image"
	exit 0
fi

# The new image must be there before anything stops.
if ! docker image inspect "$image" >/dev/null 2>&1; then
	echo "pulling $image"
	docker pull -q "$image" >/dev/null || die "image $image is not available: nothing was stopped"
fi

# cli CONTAINER ARGS... runs the container's redis-cli (or valkey-cli) with
# the password from the environment.
cli() {
	local c=$1
	shift
	local auth=()
	[ -n "${UNDERSTUDY_USERNAME:-}" ] && auth=(--user "$UNDERSTUDY_USERNAME")
	docker exec -e REDISCLI_AUTH "$c" sh -c 'exec "$(command -v redis-cli || command -v valkey-cli)" "$@"' cli \
		-p "$port" "${auth[@]}" "$@"
}

# The server's arguments without the options named (and their values).
drop_options() {
	local out=() skip=0 a
	for a in "${args[@]}"; do
		if [ $skip -gt 0 ]; then
			skip=$((skip - 1))
			continue
		fi
		case $a in
		--replicaof | --slaveof) skip=2 ;;
		--masterauth | --masteruser) if [ "$1" = all ]; then skip=1; else out+=("$a"); fi ;;
		*) out+=("$a") ;;
		esac
	done
	args=("${out[@]}")
}

args=("${cmd[@]}")
case "${args[0]:-}" in
redis-server | valkey-server) args[0]="$engine-server" ;;
esac

role=unknown
if [ "$running" = true ]; then
	info=$(cli "$name" INFO replication | tr -d '\r') || die "INFO on $name failed: nothing was stopped"
	field() { sed -n "s/^$1://p" <<<"$info"; }
	if [ "$(field role)" = slave ]; then
		role="replica of $(field master_host):$(field master_port)"
		masterauth=$(cli "$name" CONFIG GET masterauth | sed -n 2p | tr -d '\r')
		masteruser=$(cli "$name" CONFIG GET masteruser | sed -n 2p | tr -d '\r')
		drop_options all
		args+=(--replicaof "$(field master_host)" "$(field master_port)")
		[ -n "$masterauth" ] && args+=(--masterauth "$masterauth")
		[ -n "$masteruser" ] && args+=(--masteruser "$masteruser")
	else
		role=master
		drop_options replicaof
	fi
fi

# The options of the new container.
opts=(--detach --name "$name")
[ -n "$network" ] && [ "$network" != default ] && opts+=(--network "$network")
[ -n "$restart" ] && [ "$restart" != no ] && opts+=(--restart "$restart")
[ -n "$user" ] && opts+=(--user "$user")
for p in "${ports[@]}"; do
	IFS='|' read -r host_ip host_port container_port <<<"$p"
	if [ -n "$host_ip" ]; then
		opts+=(--publish "$host_ip:$host_port:$container_port")
	else
		opts+=(--publish "$host_port:$container_port")
	fi
done
for m in "${mounts[@]}"; do
	IFS='|' read -r type vol src dst rw <<<"$m"
	mode=""
	[ "$rw" = false ] && mode=":ro"
	case $type in
	volume) opts+=(--volume "$vol:$dst$mode") ;;
	bind) opts+=(--volume "$src:$dst$mode") ;;
	esac
done
for e in "${env[@]}"; do
	[ -z "$e" ] && continue
	printf '%s\n' "${image_env[@]}" | grep -qxF -- "$e" || opts+=(--env "$e")
done
for l in "${labels[@]}"; do
	[ -z "$l" ] && continue
	printf '%s\n' "${image_labels[@]}" | grep -qxF -- "$l" || opts+=(--label "$l")
done

echo "$name ($addr): $old_image ($role) -> $image"
if [ "$running" = true ]; then
	# Not restarted by Docker once the server exits.
	[ "$restart" != no ] && docker update --restart=no "$name" >/dev/null
	# docker exec's own status is not reliable here (the container stops
	# under it): the container stopping, or not, says how SHUTDOWN went.
	out=$(cli "$name" SHUTDOWN SAVE 2>&1) || true
	deadline=$((SECONDS + ${STOP_TIMEOUT:-60}))
	while [ "$(inspect '{{.State.Running}}')" = true ]; do
		if [ $SECONDS -ge $deadline ]; then
			[ "$restart" != no ] && docker update --restart="$restart" "$name" >/dev/null
			die "SHUTDOWN SAVE on $name failed (${out:-no reply}): the old server still runs"
		fi
		sleep 0.1
	done
	code=$(inspect '{{.State.ExitCode}}')
	[ "$code" = 0 ] || die "the old server of $name exited with status $code after SHUTDOWN SAVE; its container is kept (docker start $name brings it back):
$(docker logs --tail 20 "$name" 2>&1)"
	echo "old server saved its data and stopped"
fi
docker rm "$name" >/dev/null
docker run "${opts[@]}" "$image" "${args[@]}" >/dev/null

deadline=$((SECONDS + ${READY_TIMEOUT:-120}))
until [ "$(cli "$name" PING 2>/dev/null | tr -d '\r')" = PONG ]; do
	if [ "$(inspect '{{.State.Running}}')" != true ]; then
		die "the new server of $name exited with status $(inspect '{{.State.ExitCode}}'):
$(docker logs --tail 20 "$name" 2>&1)
upgrade back to the old version with: $0 upgrade $name $addr OLD_VERSION"
	fi
	[ $SECONDS -lt $deadline ] || die "the new server of $name does not answer PING after ${READY_TIMEOUT:-120}s"
	sleep 0.2
done
echo "$name ($addr) runs $image and answers PING"
