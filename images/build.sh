#!/usr/bin/env bash
# Builds the offline rehearsal images from Debian packages: debootstrap a suite with the
# server, sentinel and cli packages into a folder, `docker import` it, tag it under
# understudy/<engine>:<version>. An image that already exists is not rebuilt.
#
# usage: images/build.sh [engine:version ...]   (default: every image in the catalog below)
set -euo pipefail

MIRROR="${UNDERSTUDY_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
WORK="${UNDERSTUDY_IMAGE_WORKDIR:-/var/tmp/understudy-images}"

# engine:version  suite  packages  server-binary
catalog() {
  case "$1" in
    redis:6.0)  echo "bullseye redis-server,redis-sentinel,redis-tools" ;;
    redis:7.0)  echo "bookworm redis-server,redis-sentinel,redis-tools" ;;
    redis:8.0)  echo "trixie redis-server,redis-sentinel,redis-tools" ;;
    valkey:8.1) echo "trixie valkey-server,valkey-sentinel,valkey-tools" ;;
    valkey:9.1) echo "sid valkey-server,valkey-sentinel,valkey-tools" ;;
    *) return 1 ;;
  esac
}

ALL=(redis:6.0 redis:7.0 redis:8.0 valkey:8.1 valkey:9.1)
want=("$@")
[ ${#want[@]} -eq 0 ] && want=("${ALL[@]}")

build_one() {
  local ev="$1" tag="understudy/$1"
  local spec suite pkgs
  if ! spec=$(catalog "$ev"); then
    echo "images: unknown engine:version $ev (known: ${ALL[*]})" >&2
    return 2
  fi
  if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "images: $tag exists"
    return 0
  fi
  read -r suite pkgs <<<"$spec"
  command -v debootstrap >/dev/null || { echo "images: debootstrap is not installed (apt-get install debootstrap)" >&2; return 1; }
  local root="$WORK/${ev/:/-}"
  rm -rf "$root"; mkdir -p "$root"
  echo "images: debootstrap $suite with $pkgs -> $tag"
  local log="$WORK/${ev/:/-}.log"
  if ! debootstrap --variant=minbase --include="$pkgs" "$suite" "$root" "$MIRROR" >"$log" 2>&1; then
    tail -20 "$log" >&2
    echo "images: debootstrap of $suite failed (log: $log)" >&2
    return 1
  fi
  # The packages start nothing inside a rootfs; trim what a server does not need.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc "$root"/usr/share/man
  mkdir -p "$root/data"
  tar -C "$root" -c . | docker import \
    --change 'WORKDIR /data' \
    --change "LABEL org.understudy.engine=${ev%%:*} org.understudy.version=${ev#*:} org.understudy.suite=$suite" \
    - "$tag" >/dev/null
  rm -rf "$root"
  echo "images: built $tag"
}

# debootstrap is needed only when an image is missing; install it on a
# Debian machine where we are root, as a fresh CI or developer machine is.
missing=0
for ev in "${want[@]}"; do
  docker image inspect "understudy/$ev" >/dev/null 2>&1 || missing=1
done
if [ "$missing" = 1 ] && ! command -v debootstrap >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "images: installing debootstrap"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap) >/dev/null
  else
    echo "images: debootstrap is not installed (apt-get install debootstrap)" >&2
    exit 1
  fi
fi

mkdir -p "$WORK"
pids=(); names=()
for ev in "${want[@]}"; do
  build_one "$ev" & pids+=($!); names+=("$ev")
done
rc=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then echo "images: ${names[$i]} failed" >&2; rc=1; fi
done
exit $rc
