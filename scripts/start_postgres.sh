#!/usr/bin/env bash
# Start a throw-away PostgreSQL server on 127.0.0.1 for the tests (installs Debian's postgresql
# when it is missing). Prints `export CX_TEXT_TEST_PG_URL=...` for the caller to eval.
set -euo pipefail
PORT="${CX_TEXT_PG_PORT:-55432}"
DIR="${CX_TEXT_PG_DIR:-/tmp/cx-text-pg}"
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
RUN_AS=()
[ "$(id -u)" = "0" ] && RUN_AS=(runuser -u postgres --)
if ! "${RUN_AS[@]}" "$BIN/pg_ctl" -D "$DIR" status > /dev/null 2>&1; then
  rm -rf "$DIR" && mkdir -p "$DIR" && chown -R postgres "$DIR" 2>/dev/null || true
  "${RUN_AS[@]}" "$BIN/initdb" -D "$DIR" -A trust -U postgres > /dev/null
  "${RUN_AS[@]}" "$BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w \
    -o "-p $PORT -h 127.0.0.1 -k $DIR" start > /dev/null
fi
"${RUN_AS[@]}" "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tc \
  "SELECT 1 FROM pg_database WHERE datname = 'cx_text_test'" | grep -q 1 \
  || "${RUN_AS[@]}" "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres cx_text_test
echo "export CX_TEXT_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:$PORT/cx_text_test"
