#!/usr/bin/python3
"""A small application for a rehearsal: writes and reads through the endpoint.

Every INTERVAL seconds it writes a key of its own (SET app:order:N) and
reads an earlier one back, the way a web application would, through one
redis-py client with the URL it is given. It runs until
understudy stops it with SIGTERM after the last step, or until it has done
MAX_OPS operations or run MAX_SECONDS, whichever comes first; either way it
then reads every acknowledged write back and prints a summary.

  REDIS_URL    redis://[user:password@]host:port of the endpoint (endpoint.app.url)
  INTERVAL     seconds between operations, default 0.01
  MAX_OPS      default 100000
  MAX_SECONDS  default 600
  MAX_ERRORS   errors tolerated before it gives up, default 50

Exits 1 when it gave up on errors or when an acknowledged write is missing
at the end (a rehearsal then fails), 0 otherwise. Never prints the URL: it
carries the password. Needs Debian's python3-redis.
"""

import os
import signal
import sys
import time

import redis

stop = False


def on_term(signum, frame):
    global stop
    stop = True


def main():
    signal.signal(signal.SIGTERM, on_term)
    url = os.environ["REDIS_URL"]
    interval = float(os.environ.get("INTERVAL", "0.01"))
    max_ops = int(os.environ.get("MAX_OPS", "100000"))
    max_seconds = float(os.environ.get("MAX_SECONDS", "600"))
    max_errors = int(os.environ.get("MAX_ERRORS", "50"))

    r = redis.Redis.from_url(url, socket_timeout=5, decode_responses=True)
    started = time.monotonic()
    acked, errors, longest = 0, 0, 0.0
    print(f"workload: writing every {interval * 1000:.0f} ms", flush=True)
    while not stop and acked < max_ops and time.monotonic() - started < max_seconds:
        t0 = time.monotonic()
        try:
            r.set(f"app:order:{acked}", f"v{acked}")
            if acked > 0 and r.get(f"app:order:{acked // 2}") != f"v{acked // 2}":
                raise redis.RedisError(f"app:order:{acked // 2} does not hold what was written")
            acked += 1
        except redis.RedisError as e:
            errors += 1
            print(f"workload: error {errors}: {type(e).__name__}: {e}", flush=True)
            if errors > max_errors:
                print(f"workload: giving up after {errors} errors", flush=True)
                sys.exit(1)
        longest = max(longest, time.monotonic() - t0)
        time.sleep(interval)

    why = "stopped by SIGTERM" if stop else "reached its bound"
    missing = 0
    for i in range(0, acked, 500):
        keys = [f"app:order:{j}" for j in range(i, min(i + 500, acked))]
        for j, v in zip(range(i, i + len(keys)), r.mget(keys)):
            if v != f"v{j}":
                missing += 1
    print(f"workload: {why} after {time.monotonic() - started:.1f} s: {acked} writes acknowledged, "
          f"{errors} errors, {missing} missing at the end, slowest operation {longest * 1000:.1f} ms",
          flush=True)
    sys.exit(1 if missing else 0)


if __name__ == "__main__":
    main()
