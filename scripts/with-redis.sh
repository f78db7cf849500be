#!/usr/bin/env bash
# Runs a command with REDIS_URL pointing at a throwaway redis-server on a free loopback port,
# in a temporary directory; stops the server and removes the directory afterwards, whatever
# happens. When REDIS_URL is already set, runs the command against it unchanged.
set -euo pipefail

if [ -n "${REDIS_URL:-}" ]; then
  exec "$@"
fi

dir=$(mktemp -d -t sf-redis-XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
  --dir "$dir" --logfile "$dir/redis.log" >/dev/null 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT INT TERM
for _ in $(seq 1 200); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.05
done
redis-cli -p "$port" ping >/dev/null || { echo "redis-server did not start" >&2; cat "$dir/redis.log" >&2; exit 1; }

export REDIS_URL="redis://127.0.0.1:$port"
echo "(throwaway redis-server on $REDIS_URL)"
"$@"
