#!/usr/bin/env bash
# `make run`: a caravan dev agent running the walkthrough's Demo 2 job (examples/demo.nomad):
# three instances of an HTTP service, each answering with its host name and version.
# No image registry is reachable here, so the job's image is built locally first.
# Ctrl-C stops the job and the agent.
set -euo pipefail
cd "$(dirname "$0")/.."
CARAVAN=.venv/bin/caravan
export CARAVAN_ADDR=http://127.0.0.1:4646
log=$(mktemp -t caravan-agent.XXXXXX.log)

echo "==> building the demo images (jocatalin/kubernetes-bootcamp:v1 and :v2) locally"
.venv/bin/python - <<'PY'
from caravan_plugins.testing.images import bootcamp_image
for version in (1, 2):
    print("   ", bootcamp_image(f"jocatalin/kubernetes-bootcamp:v{version}", version))
PY

echo "==> starting caravan agent -dev (log: $log)"
# Its own session: Ctrl-C reaches this script, which stops the job before the agent.
setsid $CARAVAN agent -dev >"$log" 2>&1 &
agent=$!
cleanup() {
  trap - EXIT
  echo
  echo "==> caravan job stop demo"
  $CARAVAN job stop -detach demo >/dev/null 2>&1 || true
  # Wait for the tasks to stop: an agent that shuts down leaves its tasks running.
  for _ in $(seq 1 40); do
    running=$(curl -fsS "$CARAVAN_ADDR/v1/job/demo/allocations" 2>/dev/null |
      .venv/bin/python -c 'import json, sys; print(sum(a["ClientStatus"] == "running" for a in json.load(sys.stdin)))' 2>/dev/null || echo 0)
    [ "$running" = "0" ] && break
    sleep 0.5
  done
  kill "$agent" "${follower:-}" 2>/dev/null || true
  wait "$agent" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for _ in $(seq 1 60); do
  curl -fsS "$CARAVAN_ADDR/v1/agent/health" >/dev/null 2>&1 && break
  kill -0 "$agent" 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.5
done
sed -n '1,/Log data will stream/p' "$log"

echo "==> caravan job run examples/demo.nomad"
$CARAVAN job run examples/demo.nomad || true
echo "==> caravan status demo"
$CARAVAN status demo
echo "==> each instance answers on its published port"
for addr in $(curl -fsS "$CARAVAN_ADDR/v1/service/bootcamp-demo" |
  .venv/bin/python -c 'import json, sys; [print("%s:%s" % (s["Address"], s["Port"])) for s in json.load(sys.stdin)]'); do
  echo "    http://$addr/ -> $(curl -fsS "http://$addr/" || echo unreachable)"
done
echo "==> the agent keeps running; try: $CARAVAN status demo   (Ctrl-C to stop)"
start=$(grep -n 'Log data will stream' "$log" | cut -d: -f1)
tail -n "+$((start + 1))" -f "$log" &
follower=$!
wait "$agent"
