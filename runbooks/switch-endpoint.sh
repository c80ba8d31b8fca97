#!/bin/sh
# switch-endpoint.sh NAME NODE ADDRESS
#
# Repoints the application's endpoint NAME at ADDRESS (host:port) of the
# runbook's node NODE. understudy runs it from the runbook's directory with
# the endpoint block's switch arguments followed by NODE and ADDRESS, and
# fails the step when it exits non-zero. Pick how your application finds
# Redis:
#
#   ENDPOINT_FILE=/path   write ADDRESS to that file, atomically (file-based
#                         discovery: consul-template, envoy, a client that
#                         reads its target from a file)
#   HAPROXY_SOCKET=/path  set the address of HAPROXY_SERVER (backend/server,
#                         default redis/primary) through HAProxy's runtime
#                         API (needs socat)
#
# Anything else (DNS with nsupdate, a cloud load balancer's CLI) is a few
# lines in the same shape: exit 0 only once the change is in effect.
set -eu
if [ $# -ne 3 ]; then
	echo "usage: $0 NAME NODE ADDRESS" >&2
	exit 2
fi
name=$1 node=$2 addr=$3
if [ -n "${ENDPOINT_FILE:-}" ]; then
	tmp="$ENDPOINT_FILE.tmp.$$"
	printf '%s\n' "$addr" >"$tmp"
	mv -f "$tmp" "$ENDPOINT_FILE"
	echo "endpoint $name -> $node at $addr (written to $ENDPOINT_FILE)"
	exit 0
fi
if [ -n "${HAPROXY_SOCKET:-}" ]; then
	server=${HAPROXY_SERVER:-redis/primary}
	host=${addr%:*} port=${addr##*:}
	echo "set server $server addr $host port $port" | socat stdio "unix-connect:$HAPROXY_SOCKET"
	echo "endpoint $name -> $node at $addr (HAProxy server $server)"
	exit 0
fi
echo "switch-endpoint.sh: set ENDPOINT_FILE or HAPROXY_SOCKET to say how endpoint $name is repointed" >&2
exit 1
