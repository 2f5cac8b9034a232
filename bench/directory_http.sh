#!/usr/bin/env bash
# The Annuaire search over real HTTP, shaped like /work/shared/bench/directory_floor (2 gunicorn
# workers, wrk with 4 connections for 15 s, the same kind of prefixes), so both figures compare.
# Usage: PREAU_DATABASE_URL=… bench/directory_http.sh [login]   (default: paul.durand)
# Needs wrk (apt-get install wrk). Logging in records the account's last access: run it on a
# database of your own.
set -eu
here=$(cd "$(dirname "$0")" && pwd); root=$(dirname "$here"); bin="$root/.venv/bin"
login=${1:-paul.durand}; port=${PORT:-5098}; jar=$(mktemp)
export PREAU_INSTANCE_PATH=${PREAU_INSTANCE_PATH:-$(mktemp -d)}
(cd "$root" && "$bin/gunicorn" -w 2 -b "127.0.0.1:$port" wsgi:app --daemon \
    --pid "$PREAU_INSTANCE_PATH/gunicorn.pid")
stop() { pid=$(cat "$PREAU_INSTANCE_PATH/gunicorn.pid" 2>/dev/null || true)
         [ -n "$pid" ] && kill "$pid" && while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
         rm -f "$jar"; }
trap stop EXIT
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$port/connexion" && break; sleep 0.2; done
token=$(curl -s -c "$jar" "http://127.0.0.1:$port/connexion" | sed -n 's/.*name="csrf_token"[^>]*value="\([^"]*\)".*/\1/p' | head -1)
curl -s -b "$jar" -c "$jar" -o /dev/null --data-urlencode "csrf_token=$token" \
    --data-urlencode "login=$login" --data-urlencode "password=Preau-demo-2026!" \
    "http://127.0.0.1:$port/connexion"
export PREAU_COOKIE="session=$(awk '$6 == "session" {print $7}' "$jar")"
wrk -t2 -c4 -d15s --latency -s "$here/directory_http.lua" "http://127.0.0.1:$port" \
    | grep -E '50%|90%|99%|Requests/sec|Non-2xx' | tr -s ' ' | tr '\n' ' '; echo
