#!/usr/bin/env bash
# Counts the instructions user_server executes per call (valgrind's
# callgrind), for one or more builds under the same load: a figure that,
# unlike calls/s on a shared machine, does not move with what else runs.
# Use it to compare a hot-path change with the commit before. See
# client/bench/PERFORMANCE.md.
#
# Usage: client/bench/instructions.sh NAME=BUILD_DIR [NAME=BUILD_DIR ...]
#   BUILD_DIR holds server/user_server; the first one's client/user_bench
#   drives every build, so only the server differs.
# Env: WORKLOADS (default "idle read write"), RATE (150 calls/s),
#      SECONDS_PER_RUN (10), BASE_PORT (34306), CLUSTER_DIR
#      (<repo>/.local/instructions-cluster, deleted afterwards).
# Prints one line per build and workload: calls, instructions, per call.
# The count includes what the server's other threads (pollers, health
# checks) do meanwhile, so compare builds only at the same settings; runs
# shorter than 10 s scatter widely.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CLUSTER="$REPO_ROOT/deploy/local/cluster.sh"
[ $# -ge 1 ] || { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is not installed" >&2; exit 1; }

export CLUSTER_DIR="${CLUSTER_DIR:-$REPO_ROOT/.local/instructions-cluster}"
export CLUSTER_BASE_PORT="${BASE_PORT:-34306}" CLUSTER_REPLICAS=2
rate="${RATE:-150}"
seconds="${SECONDS_PER_RUN:-10}"
out_dir="$(mktemp -d)"
server_pid=""
cleanup() {
  [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
  "$CLUSTER" stop --purge >/dev/null 2>&1 || true
  rm -rf "$out_dir"
}
trap cleanup EXIT

"$CLUSTER" stop --purge >/dev/null 2>&1 || true
"$CLUSTER" start >"$out_dir/cluster.log" 2>&1 ||
  { tail -n 20 "$out_dir/cluster.log" >&2; exit 1; }
eval "$("$CLUSTER" env)"
bench="${1#*=}/client/user_bench"
direct=(--direct --db-primary="$CLUSTER_PRIMARY" --db-replicas="$CLUSTER_REPLICA_ADDRS"
  --db-user="$CLUSTER_DB_USER" --db-password-file="$CLUSTER_DB_PASSWORD_FILE"
  --db-name="$CLUSTER_DB_NAME")
# The schema, then the rows the reads pick from.
"${1#*=}/server/user_server" --migrate-only --primary="$CLUSTER_PRIMARY" \
  --db-name="$CLUSTER_DB_NAME" --db-user="$CLUSTER_DB_USER" \
  --db-password-file="$CLUSTER_DB_PASSWORD_FILE" 2>"$out_dir/migrate.log" ||
  { tail -n 5 "$out_dir/migrate.log" >&2; exit 1; }
"$bench" "${direct[@]}" --dataset=2000 --prepare-only 2>"$out_dir/prepare.log" ||
  { tail -n 5 "$out_dir/prepare.log" >&2; exit 1; }
"$CLUSTER" sync 60 >/dev/null

# start_server BUILD_DIR OUT: user_server under callgrind, not yet counting.
start_server() {
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$2.cg" \
    "$1/server/user_server" --listen=127.0.0.1:0 --metrics-listen=127.0.0.1:0 \
    --primary="$CLUSTER_PRIMARY" --replicas="$CLUSTER_REPLICA_ADDRS" \
    --db-name="$CLUSTER_DB_NAME" --db-user="$CLUSTER_DB_USER" \
    --db-password-file="$CLUSTER_DB_PASSWORD_FILE" >"$2.log" 2>&1 </dev/null &
  server_pid=$!
  port=""
  for _ in $(seq 1 600); do
    port="$(sed -n 's/.*"message":"serving".*"port":"\([0-9]*\)".*/\1/p' "$2.log" | head -n 1)"
    [ -n "$port" ] && return 0
    sleep 0.2
  done
  echo "instructions.sh: user_server did not start; see its log:" >&2
  tail -n 20 "$2.log" >&2
  exit 1
}

# load WORKLOAD PORT DURATION [JSON]: user_bench at a fixed rate, on the
# dataset named by $prefix (the warm-up creates it; the counted run reuses
# it, so its window holds only the workload's own calls).
load() {
  "$bench" --addr="127.0.0.1:$2" --channels=4 --dataset=2000 --workload="$1" \
    --concurrency=8 --rate="$rate" --duration="$3" --warmup=0s \
    --prefix="$prefix" ${4:+--json="$4"} >/dev/null 2>&1
}

# Instructions in every dump of OUT (callgrind writes one per -d and at exit).
instructions() {
  for f in "$1".cg*; do
    sed -n 's/^totals: //p' "$f" | head -n 1
  done | awk '{ s += $1 } END { print s + 0 }'
}

for spec in "$@"; do
  name="${spec%%=*}"
  for workload in ${WORKLOADS:-idle read write}; do
    out="$out_dir/$name-$workload"
    start_server "${spec#*=}" "$out"
    prefix="i$RANDOM"
    calls=0
    if [ "$workload" = idle ]; then
      callgrind_control -i on "$server_pid" >/dev/null 2>&1
      sleep "$seconds"
    else
      load "$workload" "$port" 3s  # warms pools and caches, not counted
      callgrind_control -i on "$server_pid" >/dev/null 2>&1
      load "$workload" "$port" "${seconds}s" "$out.json"
      calls=$(python3 -c "import json,sys; j=json.load(open(sys.argv[1])); \
print(int(round(j['total']['throughput']*j['measured_s'])))" "$out.json")
    fi
    callgrind_control -i off "$server_pid" >/dev/null 2>&1
    callgrind_control -d "$server_pid" >/dev/null 2>&1
    kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=""
    ir=$(instructions "$out")
    per_call=$([ "$calls" -gt 0 ] && echo $((ir / calls)) || echo "-")
    printf '%-10s %-6s calls %6d  instructions %14d  per call %s\n' \
      "$name" "$workload" "$calls" "$ir" "$per_call"
  done
done
