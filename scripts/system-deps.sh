#!/usr/bin/env bash
# Installs and starts the real engines caravan's integration tests use: a Docker engine,
# busybox-static (test images are imported from a busybox root filesystem, since no image
# registry is reachable), nginx, haproxy and prometheus. Idempotent; needs root on Debian.
set -euo pipefail

packages=(docker.io busybox-static nginx libnginx-mod-stream haproxy prometheus iproute2)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
# Node.js and npm run the npm `consul` client in the discovery tests; use the machine's own if any.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]}"
  apt-get update -qq
  # Debian's packages start their services on install when systemd runs; tests start their own.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Docker engine: start dockerd in the background unless one already answers.
if ! docker info >/dev/null 2>&1; then
  echo "==> starting dockerd"
  mkdir -p /var/log/caravan-ci
  nohup dockerd >/var/log/caravan-ci/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/caravan-ci/dockerd.log" >&2; exit 1; }
fi
