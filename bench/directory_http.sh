#!/usr/bin/env bash
# Directory search over real HTTP (issue 16): Préau's Annuaire and the picker's search, each
# next to the floor (bench/directory_floor.py: bare Flask + one indexed query on the same
# account table), in interleaved rounds: floor, Annuaire, picker, floor, Annuaire, picker…
# Each server: gunicorn, 2 workers; each measure: wrk, 2 threads, 4 connections, BENCH_SECONDS
# (default 10) of name-prefix searches. Prints p50/p95/p99 (ms), req/s, the p95 ratio, and the
# CPU per request (ms) of the server's workers (app-cpu) and of PostgreSQL's backends (db-cpu:
# every backend of the machine, so run it on a database server nothing else uses).
# Usage: PREAU_DATABASE_URL=postgresql+psycopg://… bench/directory_http.sh [login] [rounds]
# (default: paul.durand, 3 rounds) on a `preau demo --users 500000` database of your own
# (logging in records the account's last access). Needs wrk (apt-get install wrk).
# PROFILE=prefix: after the rounds, one more measure of each side with py-spy recording
# Préau's two workers (raw stacks in prefix-annuaire, prefix-picker; top frames printed).
set -eu
here=$(cd "$(dirname "$0")" && pwd); root=$(dirname "$here"); bin="$root/.venv/bin"
login=${1:-paul.durand}; rounds=${2:-3}; seconds=${BENCH_SECONDS:-10}
port=${PORT:-5098}; floor_port=$((port + 1)); jar=$(mktemp)
export PREAU_INSTANCE_PATH=${PREAU_INSTANCE_PATH:-$(mktemp -d)}
export PREAU_FLOOR_DSN=${PREAU_DATABASE_URL/postgresql+psycopg:/postgresql:}
run=$(mktemp -d)
(cd "$root" && "$bin/gunicorn" -w 2 -b "127.0.0.1:$port" wsgi:app --daemon --pid "$run/preau.pid")
(cd "$root" && "$bin/gunicorn" -w 2 -b "127.0.0.1:$floor_port" bench.directory_floor:app \
    --daemon --pid "$run/floor.pid")
stop() { for name in preau floor; do
           pid=$(cat "$run/$name.pid" 2>/dev/null || true)
           [ -n "$pid" ] && kill "$pid" && while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
         done; rm -rf "$jar" "$run"; }
trap stop EXIT
for p in "$port" "$floor_port"; do
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$p/" && break; sleep 0.2; done
done
# One client, as a browser is: wrk sends the login's User-Agent (directory_http.lua).
export PREAU_AGENT=preau-bench
token=$(curl -s -A "$PREAU_AGENT" -c "$jar" "http://127.0.0.1:$port/connexion" | sed -n 's/.*name="csrf_token"[^>]*value="\([^"]*\)".*/\1/p' | head -1)
curl -s -A "$PREAU_AGENT" -b "$jar" -c "$jar" -o /dev/null --data-urlencode "csrf_token=$token" \
    --data-urlencode "login=$login" --data-urlencode "password=Preau-demo-2026!" \
    "http://127.0.0.1:$port/connexion"
export PREAU_COOKIE="session=$(awk '$6 == "session" {print $7}' "$jar")"

ticks() {  # CPU clock ticks (user + system) of the given processes so far
  local total=0 pid
  for pid in "$@"; do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
hz=$(getconf CLK_TCK)
measure() {  # port path → "p50 p95 p99 req/s errors app-ms db-ms" (CPU per request: the
             # server's gunicorn workers, and every PostgreSQL backend of this machine)
  local workers databases app0 db0 result
  workers=$(pgrep -P "$(cat "$run/$([ "$1" = "$port" ] && echo preau || echo floor).pid")" | xargs)
  databases=$(pgrep -f '^postgres: ' | xargs)
  app0=$(ticks $workers); db0=$(ticks $databases)
  result=$(BENCH_PATH=$2 wrk -t2 -c4 -d"${seconds}s" -s "$here/directory_http.lua" \
      "http://127.0.0.1:$1" | sed -n 's/^RESULT //p')
  awk -v r="$result" -v app=$(($(ticks $workers) - app0)) -v db=$(($(ticks $databases) - db0)) \
      -v hz="$hz" -v s="$seconds" 'BEGIN { split(r, f, " "); n = f[4] * s;
      printf "%s %.2f %.2f\n", r, app * 1000 / hz / n, db * 1000 / hz / n }'
}
measure "$port" "/annuaire/?nom=" >/dev/null      # warm both: templates, caches, pages
measure "$floor_port" "/annuaire/?nom=" >/dev/null
printf '%-6s %-9s %8s %8s %8s %8s %7s %10s %8s %8s\n' round side p50 p95 p99 req/s errors \
    "p95/floor" "app-cpu" "db-cpu"
for round in $(seq "$rounds"); do
  read -r f50 f95 f99 frps ferr fapp fdb <<<"$(measure "$floor_port" "/annuaire/?nom=")"
  printf '%-6s %-9s %8s %8s %8s %8s %7s %10s %8s %8s  load %s\n' "$round" floor "$f50" "$f95" \
      "$f99" "$frps" "$ferr" "" "$fapp" "$fdb" "$(cut -d' ' -f1 /proc/loadavg)"
  for side in annuaire picker; do
    path="/annuaire/?nom="; [ "$side" = picker ] && path="/messagerie/destinataires?nom="
    read -r p50 p95 p99 rps err app dbcpu <<<"$(measure "$port" "$path")"
    ratio=$(awk -v a="$p95" -v b="$f95" 'BEGIN {printf "%.2f", a / b}')
    printf '%-6s %-9s %8s %8s %8s %8s %7s %10s %8s %8s\n' "$round" "$side" "$p50" "$p95" "$p99" \
        "$rps" "$err" "$ratio" "$app" "$dbcpu"
  done
done

if [ -n "${PROFILE:-}" ]; then
  for side in annuaire picker; do
    path="/annuaire/?nom="; [ "$side" = picker ] && path="/messagerie/destinataires?nom="
    "$bin/py-spy" record --pid "$(cat "$run/preau.pid")" --subprocesses --nonblocking \
        --rate 250 --duration "$seconds" --format raw --output "$PROFILE-$side" \
        >/dev/null 2>&1 &
    spy=$!; sleep 1
    read -r p50 p95 p99 rps err _ _ <<<"$(measure "$port" "$path")"
    wait "$spy" || true
    echo "profiled $side: p50 $p50 p95 $p95 p99 $p99 ms, $rps req/s (py-spy running)"
    "$bin/python" "$here/profile_top.py" "$PROFILE-$side" 12 --match portal/,directory/,render,execute,compile
  done
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
