#!/usr/bin/python3
"""Checks that a replica follows its master, from both sides.

On the master: the replica is connected and online, and its acknowledged
offset is close to the master's. On the replica: the link to the master is
up and no sync is in progress, and its offset is close to the master's.

Reads its inputs from the environment (an understudy exec step sets them
with env = { ... }):

  MASTER_ADDRESS   host:port of the master   (node.old.address)
  REPLICA_ADDRESS  host:port of the replica  (node.new.address)
  REDIS_USERNAME   optional ACL user         (node.old.username)
  REDIS_PASSWORD   optional password         (node.old.password)
  MAX_LAG_BYTES    how far behind the replica may be, default 1048576

Exits 0 and prints what it saw when replication is healthy; exits 1 and
says why on stderr otherwise. Needs Debian's python3-redis.
"""

import os
import sys

import redis


def connect(address):
    host, _, port = address.rpartition(":")
    return redis.Redis(
        host=host.strip("[]"),
        port=int(port),
        username=os.environ.get("REDIS_USERNAME") or None,
        password=os.environ.get("REDIS_PASSWORD") or None,
        socket_timeout=5,
        decode_responses=True,
    )


def fail(message):
    print("replication check failed: " + message, file=sys.stderr)
    sys.exit(1)


def main():
    master_addr = os.environ["MASTER_ADDRESS"]
    replica_addr = os.environ["REPLICA_ADDRESS"]
    max_lag = int(os.environ.get("MAX_LAG_BYTES", "1048576"))
    replica_port = int(replica_addr.rpartition(":")[2])
    master_port = int(master_addr.rpartition(":")[2])

    # The master's side first: its offset is the reference.
    minfo = connect(master_addr).info("replication")
    if minfo.get("role") != "master":
        fail(f"{master_addr} is a {minfo.get('role')}, not a master")
    master_offset = int(minfo["master_repl_offset"])
    seen = None
    for i in range(int(minfo.get("connected_slaves", 0))):
        entry = minfo.get(f"slave{i}")
        if isinstance(entry, dict) and int(entry.get("port", -1)) == replica_port:
            seen = entry
    if seen is None:
        fail(f"the master {master_addr} lists no replica on port {replica_port} "
             f"({minfo.get('connected_slaves', 0)} connected)")
    if seen.get("state") != "online":
        fail(f"the master sees the replica in state {seen.get('state')}, not online")
    acked_lag = master_offset - int(seen.get("offset", 0))

    # Then the replica's side.
    rinfo = connect(replica_addr).info("replication")
    if rinfo.get("role") != "slave":
        fail(f"{replica_addr} is a {rinfo.get('role')}, not a replica")
    if int(rinfo.get("master_port", -1)) != master_port:
        fail(f"{replica_addr} follows port {rinfo.get('master_port')}, not {master_port}")
    if rinfo.get("master_link_status") != "up":
        fail(f"the replica's link to its master is {rinfo.get('master_link_status')}")
    if int(rinfo.get("master_sync_in_progress", 0)) != 0:
        fail("the replica is still syncing")
    lag = master_offset - int(rinfo["slave_repl_offset"])
    if lag > max_lag:
        fail(f"the replica is {lag} bytes behind the master (at most {max_lag} allowed)")

    print(f"master {master_addr}: replica on port {replica_port} online, "
          f"acknowledged {max(acked_lag, 0)} bytes behind")
    print(f"replica {replica_addr}: link up, not syncing, {max(lag, 0)} bytes behind")
    print("replication OK")


if __name__ == "__main__":
    try:
        main()
    except redis.RedisError as e:
        fail(f"{type(e).__name__}: {e}")
