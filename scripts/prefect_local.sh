#!/usr/bin/env bash
# Start a local Prefect server on 127.0.0.1, create the process work pool, deploy every
# deployment of prefect.yaml and start a worker. Everything runs in the background; logs and
# pids go to $CX_TEXT_PREFECT_DIR (default .prefect-local/). Stop with: scripts/prefect_local.sh stop
# `scripts/prefect_local.sh resident`: the same server, and the resident runner
# (pipelines/serve.py: the same deployments, every run in one process that keeps its models
# loaded) instead of the pool and its worker.
set -euo pipefail
cd "$(dirname "$0")/.."
export CX_TEXT_HOME="$PWD"
RUN_DIR="${CX_TEXT_PREFECT_DIR:-$PWD/.prefect-local}"
PORT="${CX_TEXT_PREFECT_PORT:-4200}"
BIN="${CX_TEXT_VENV:-$PWD/.venv}/bin"
export PREFECT_HOME="$RUN_DIR/home"
export PREFECT_API_URL="http://127.0.0.1:$PORT/api"
export PREFECT_SERVER_API_HOST=127.0.0.1 PREFECT_SERVER_API_PORT="$PORT"
export DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false HF_HUB_OFFLINE=1
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=120
mkdir -p "$RUN_DIR"

if [ "${1:-start}" = "stop" ]; then
  for name in resident worker server; do
    # each was started as a session leader: kill its whole process group (uvicorn, flow runs);
    # a worker may outlive SIGTERM, so after 10 s the group gets SIGKILL
    if [ -f "$RUN_DIR/$name.pid" ]; then
      group="$(cat "$RUN_DIR/$name.pid")"
      kill -- "-$group" 2>/dev/null || true
      for _ in $(seq 1 20); do
        kill -0 -- "-$group" 2>/dev/null || break
        sleep 0.5
      done
      kill -9 -- "-$group" 2>/dev/null || true
    fi
    rm -f "$RUN_DIR/$name.pid"
  done
  exit 0
fi

export CX_TEXT_TIMEZONE="${CX_TEXT_TIMEZONE:-$("$BIN/python" -c \
  'from cx_text.settings import load_settings; print(load_settings().schedule.timezone)')}"

setsid "$BIN/prefect" server start --host 127.0.0.1 --port "$PORT" > "$RUN_DIR/server.log" 2>&1 &
echo $! > "$RUN_DIR/server.pid"
for _ in $(seq 1 120); do
  curl -fsS "$PREFECT_API_URL/health" > /dev/null 2>&1 && break
  sleep 1
done
curl -fsS "$PREFECT_API_URL/health" > /dev/null || { echo "Prefect server did not start"; exit 1; }

if [ "${1:-start}" = "resident" ]; then
  setsid "$BIN/python" -m pipelines.serve > "$RUN_DIR/resident.log" 2>&1 &
  echo $! > "$RUN_DIR/resident.pid"
  echo "Prefect UI: http://127.0.0.1:$PORT  (API $PREFECT_API_URL); resident runner log in $RUN_DIR/resident.log"
  exit 0
fi

"$BIN/prefect" work-pool inspect cx-text > /dev/null 2>&1 \
  || "$BIN/prefect" work-pool create cx-text --type process > /dev/null
"$BIN/prefect" --no-prompt deploy --all > "$RUN_DIR/deploy.log" 2>&1 \
  || { cat "$RUN_DIR/deploy.log"; exit 1; }
setsid "$BIN/prefect" worker start --pool cx-text --type process > "$RUN_DIR/worker.log" 2>&1 &
echo $! > "$RUN_DIR/worker.pid"
echo "Prefect UI: http://127.0.0.1:$PORT  (API $PREFECT_API_URL); logs in $RUN_DIR"
