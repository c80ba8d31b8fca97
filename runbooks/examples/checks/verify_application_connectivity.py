#!/usr/bin/python3
"""Checks that the application can use Redis through its endpoint.

Connects the way the application does, with the URL it is given, and runs
PING and a SET/GET/DEL round trip on a key of its own (which expires in a
minute should the DEL never run).

  REDIS_URL   redis://[user:password@]host:port of the endpoint (endpoint.app.url)
  EXPECT_ROLE optional: the role the server behind the endpoint must have

Exits 0 and prints what it saw (never the URL: it carries the password);
exits 1 and says why on stderr otherwise. Needs Debian's python3-redis.
"""

import os
import sys
import time
import uuid
from urllib.parse import urlsplit

import redis


def fail(message):
    print("connectivity check failed: " + message, file=sys.stderr)
    sys.exit(1)


def main():
    url = os.environ["REDIS_URL"]
    where = urlsplit(url).netloc.rpartition("@")[2]  # host:port, without credentials
    r = redis.Redis.from_url(url, socket_timeout=5, decode_responses=True)

    t0 = time.monotonic()
    if r.ping() is not True:
        fail(f"PING through {where} did not answer PONG")
    key = f"checks:connectivity:{uuid.uuid4().hex}"
    value = uuid.uuid4().hex
    if not r.set(key, value, ex=60):
        fail(f"SET {key} through {where} was refused")
    got = r.get(key)
    if got != value:
        fail(f"GET {key} through {where} returned {got!r}, not what was just written")
    if r.delete(key) != 1:
        fail(f"DEL {key} through {where} deleted nothing")
    ms = (time.monotonic() - t0) * 1000

    info = r.info("server")
    role = r.info("replication").get("role")
    engine = info.get("server_name") or "redis"
    version = info.get("valkey_version") or info.get("redis_version")
    expect = os.environ.get("EXPECT_ROLE")
    if expect and role != expect:
        fail(f"the server behind {where} is a {role}, not a {expect}")
    print(f"endpoint {where}: PING, SET/GET/DEL round trip in {ms:.1f} ms "
          f"on {engine} {version} ({role})")
    print("connectivity OK")


if __name__ == "__main__":
    try:
        main()
    except redis.RedisError as e:
        fail(f"{type(e).__name__}: {e}")
