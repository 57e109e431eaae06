#!/usr/bin/env bash
# Compares user_server with the physical limit under it: for each workload,
# user_bench runs the service's own SQL straight against MariaDB (--direct)
# and then the same load through the service, alternating several rounds,
# and one table shows the medians side by side with the server's CPU time
# per call and peak RSS. See client/bench/PERFORMANCE.md.
#
# Usage: client/bench/compare.sh [options]   (--help lists them)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CLUSTER="$REPO_ROOT/deploy/local/cluster.sh"
PROG="compare.sh"

usage() {
  cat <<EOF
Usage: client/bench/compare.sh [options]

Starts (or reuses) a local MariaDB primary + 2 replicas, builds Release
user_server and user_bench, starts user_server, makes the dataset once,
then for each workload runs user_bench --direct and through the service
back to back for --rounds rounds, and prints one table of medians.

Workloads: read (eventual, concurrency 32), write (CreateUser, 16),
mixed (95% reads, 32).

Options:
  --rounds N          direct/service alternations per workload (3)
  --duration D        measured time per run (8s)
  --warmup D          unmeasured load before each run (2s)
  --dataset N         rows read at random (10000)
  --only LIST         comma-separated subset of read,write,mixed
  --concurrency N     calls in flight for every workload (instead of 32/16/32)
  --rate R            open loop at R calls/s for every run (p99 at a fixed
                      load, e.g. half the saturated rate)
  --modes LIST        direct,service (default both); service alone for loads
                      direct mode cannot open (one connection per call in
                      flight: --concurrency 1000 exceeds max_connections)
  --server-arg ARG    extra user_server flag, repeatable (--server-arg=--pool-size=32)
  --cluster-dir DIR   cluster state dir (<repo>/.local/bench-cluster)
  --base-port P       primary port, replicas P+1, P+2 (33306)
  --build-dir DIR     use DIR/server/user_server and DIR/client/user_bench as
                      they are; skip the Release build into build-release/
  --out DIR           JSON results, server log, table
                      (<build dir>/bench-results/<time>)
  --keep-cluster      leave a cluster this script started running
  --purge             delete the cluster dir afterwards if this script
                      started the cluster (not with --keep-cluster)
  --smoke             pipeline check: 1 s runs, 0.5 s warmup, 1 round,
                      concurrency 4, dataset 100; fails unless every run has
                      throughput > 0 and no failed call
  -h, --help

Exit: 0 done, 1 failure (or a --smoke check failed), 2 usage error.
EOF
}

die() { echo "$PROG: ERROR: $*" >&2; exit 1; }
say() { echo "$PROG: $*" >&2; }
usage_error() { echo "$PROG: $*" >&2; echo "Run '$PROG --help' for usage." >&2; exit 2; }

# ------------------------------------------------------------ arguments ---
rounds=3
duration=8s
warmup=2s
dataset=10000
only="read,write,mixed"
modes_arg="direct,service"
concurrency=""
rate=""
server_args=()
cluster_dir="$REPO_ROOT/.local/bench-cluster"
base_port=33306
build_dir=""
out_dir=""
keep_cluster=0
purge=0
smoke=0

need_value() { [ $# -ge 2 ] || usage_error "$1 needs a value"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds|--duration|--warmup|--dataset|--only|--modes|--concurrency|--rate|\
    --server-arg|--cluster-dir|--base-port|--build-dir|--out)
      need_value "$@"; set -- "$1=$2" "${@:3}"; continue ;;
    --rounds=*) rounds="${1#*=}" ;;
    --duration=*) duration="${1#*=}" ;;
    --warmup=*) warmup="${1#*=}" ;;
    --dataset=*) dataset="${1#*=}" ;;
    --only=*) only="${1#*=}" ;;
    --modes=*) modes_arg="${1#*=}" ;;
    --concurrency=*) concurrency="${1#*=}" ;;
    --rate=*) rate="${1#*=}" ;;
    --server-arg=*) server_args+=("${1#*=}") ;;
    --cluster-dir=*) cluster_dir="${1#*=}" ;;
    --base-port=*) base_port="${1#*=}" ;;
    --build-dir=*) build_dir="${1#*=}" ;;
    --out=*) out_dir="${1#*=}" ;;
    --keep-cluster) keep_cluster=1 ;;
    --purge) purge=1 ;;
    --smoke) smoke=1 ;;
    -h|--help) usage; exit 0 ;;
    *) usage_error "unknown argument: $1" ;;
  esac
  shift
done

if [ "$smoke" -eq 1 ]; then
  rounds=1 duration=1s warmup=500ms dataset=100 concurrency="${concurrency:-4}"
fi
is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }
{ is_uint "$rounds" && [ "$rounds" -ge 1 ]; } || usage_error "--rounds: want a positive number"
{ is_uint "$dataset" && [ "$dataset" -ge 1 ]; } || usage_error "--dataset: want a positive number"
is_uint "$base_port" || usage_error "--base-port: want a port number"
[ -z "$concurrency" ] || is_uint "$concurrency" || usage_error "--concurrency: want a number"
[ -z "$rate" ] || [[ "$rate" =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage_error "--rate: want calls/s"
workloads=()
IFS=, read -r -a requested <<<"$only"
for w in "${requested[@]}"; do
  case "$w" in
    read|write|mixed) workloads+=("$w") ;;
    *) usage_error "--only: unknown workload '$w' (read, write, mixed)" ;;
  esac
done
[ "${#workloads[@]}" -gt 0 ] || usage_error "--only: no workload"
modes=()
IFS=, read -r -a requested <<<"$modes_arg"
for m in "${requested[@]}"; do
  case "$m" in
    direct|service) modes+=("$m") ;;
    *) usage_error "--modes: unknown mode '$m' (direct, service)" ;;
  esac
done
[ "${#modes[@]}" -gt 0 ] || usage_error "--modes: no mode"

# workload name -> user_bench --workload, default concurrency
bench_workload() { case "$1" in read) echo read ;; write) echo write ;; mixed) echo mixed:95 ;; esac; }
default_concurrency() { case "$1" in write) echo 16 ;; *) echo 32 ;; esac; }

started_at=$(date +%s)

# ------------------------------------------------------------ binaries ---
if [ -z "$build_dir" ]; then
  "$REPO_ROOT/deploy/local/install-deps.sh" --no-npm
  build_dir="$REPO_ROOT/build-release"
  say "building Release user_server and user_bench in $build_dir"
  cmake -S "$REPO_ROOT" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DUSERSERVICE_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build_dir" -j "$(nproc)" --target user_server user_bench >/dev/null
else
  # The binaries exist, so the build dependencies do; the cluster still needs
  # MariaDB. No apt-get when everything is there.
  "$REPO_ROOT/deploy/local/install-deps.sh" --no-npm
  build_dir="$(cd "$build_dir" && pwd)"
fi
SERVER_BIN="$build_dir/server/user_server"
BENCH_BIN="$build_dir/client/user_bench"
[ -x "$SERVER_BIN" ] || die "$SERVER_BIN not built"
[ -x "$BENCH_BIN" ] || die "$BENCH_BIN not built"
out_dir="${out_dir:-$build_dir/bench-results/$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$out_dir"
out_dir="$(cd "$out_dir" && pwd)"

# ------------------------------------------------------------- cleanup ---
server_pid=""
cluster_started=0
cluster() { "$CLUSTER" --dir "$cluster_dir" --base-port "$base_port" --replicas 2 "$@"; }
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "$cluster_started" -eq 1 ] && [ "$keep_cluster" -eq 0 ]; then
    if [ "$purge" -eq 1 ]; then
      cluster stop --purge >/dev/null 2>&1 || true
    else
      cluster stop >/dev/null 2>&1 || true
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------- cluster ---
if cluster status >/dev/null 2>&1; then
  say "reusing the running cluster in $cluster_dir"
else
  cluster_started=1
  cluster start >"$out_dir/cluster.log" 2>&1 ||
    { tail -n 30 "$out_dir/cluster.log" >&2; die "the cluster did not start (log: $out_dir/cluster.log)"; }
  say "started the cluster in $cluster_dir (ports $base_port-$((base_port + 2)))"
fi
eval "$(cluster env)"

# -------------------------------------------------------------- server ---
server_log="$out_dir/user_server.log"
"$SERVER_BIN" --listen=127.0.0.1:0 --metrics-listen=127.0.0.1:0 \
  --primary="$CLUSTER_PRIMARY" --replicas="$CLUSTER_REPLICA_ADDRS" \
  --db-name="$CLUSTER_DB_NAME" --db-user="$CLUSTER_DB_USER" \
  --db-password-file="$CLUSTER_DB_PASSWORD_FILE" \
  "${server_args[@]}" >"$server_log" 2>&1 </dev/null &
server_pid=$!
server_port=""
for _ in $(seq 1 600); do
  server_port="$(sed -n 's/.*"message":"serving".*"port":"\([0-9]*\)".*/\1/p' "$server_log" | head -n 1)"
  [ -n "$server_port" ] && break
  kill -0 "$server_pid" 2>/dev/null || { tail -n 20 "$server_log" >&2; die "user_server exited during startup"; }
  sleep 0.1
done
[ -n "$server_port" ] || { tail -n 20 "$server_log" >&2; die "user_server did not start serving within 60 s"; }
say "user_server pid $server_pid on 127.0.0.1:$server_port (log: $server_log)"

# --------------------------------------------------------------- runs ---
common=(--dataset="$dataset" --duration="$duration" --warmup="$warmup" --consistency=eventual)
[ -z "$rate" ] || common+=(--rate="$rate")
direct=(--direct --db-primary="$CLUSTER_PRIMARY" --db-replicas="$CLUSTER_REPLICA_ADDRS"
  --db-user="$CLUSTER_DB_USER" --db-password-file="$CLUSTER_DB_PASSWORD_FILE"
  --db-name="$CLUSTER_DB_NAME")
service=(--addr="127.0.0.1:$server_port" --channels=4 --sample-pid="$server_pid")

"$BENCH_BIN" "${direct[@]}" --dataset="$dataset" --prepare-only 2>>"$out_dir/bench.log" ||
  die "could not make the dataset (log: $out_dir/bench.log)"
cluster sync 60 >/dev/null
say "dataset ready: $dataset rows"

# run_one WORKLOAD MODE ROUND CONCURRENCY
run_one() {
  local workload="$1" mode="$2" round="$3" conc="$4" json extra=()
  json="$out_dir/$workload-$mode-$round.json"
  if [ "$mode" = direct ]; then
    extra=("${direct[@]}")
  else
    extra=("${service[@]}")
    # Peak RSS of this run only (Linux: 5 resets VmHWM).
    echo 5 >"/proc/$server_pid/clear_refs" 2>/dev/null || true
  fi
  kill -0 "$server_pid" 2>/dev/null || die "user_server (pid $server_pid) died; log: $server_log"
  echo "== $workload $mode round $round" >>"$out_dir/bench.log"
  if ! "$BENCH_BIN" "${extra[@]}" "${common[@]}" --workload="$(bench_workload "$workload")" \
      --concurrency="$conc" --seed="$round" --json="$json" \
      >>"$out_dir/bench.log" 2>&1; then
    tail -n 20 "$out_dir/bench.log" >&2
    die "user_bench failed ($workload, $mode, round $round); log: $out_dir/bench.log"
  fi
  python3 - "$json" <<'PY' >&2
import json, sys
r = json.load(open(sys.argv[1]))
t = r["total"]
print(f"compare.sh:   {r['target']:<7} {t['throughput']:>10.1f} calls/s"
      f"  p99 {t['latency_ms']['p99']:.3f} ms  failed {t['failed']}")
PY
}

for workload in "${workloads[@]}"; do
  conc="${concurrency:-$(default_concurrency "$workload")}"
  for round in $(seq 1 "$rounds"); do
    say "$workload, concurrency $conc${rate:+, $rate calls/s}: round $round/$rounds"
    # Alternate which goes first, so drift over time favours neither.
    if [ $((round % 2)) -eq 1 ]; then order=(direct service); else order=(service direct); fi
    for mode in "${order[@]}"; do
      [[ " ${modes[*]} " == *" $mode "* ]] || continue
      run_one "$workload" "$mode" "$round" "$conc"
    done
  done
done

# -------------------------------------------------------------- table ---
elapsed=$(( $(date +%s) - started_at ))
python3 - "$out_dir" "$smoke" "$elapsed" "${workloads[@]}" <<'PY' | tee "$out_dir/table.txt"
import glob, json, os, statistics, sys

out_dir, smoke, elapsed, workloads = sys.argv[1], sys.argv[2] == "1", sys.argv[3], sys.argv[4:]

def runs(workload, mode):
    paths = sorted(glob.glob(os.path.join(out_dir, f"{workload}-{mode}-*.json")))
    return [json.load(open(p)) for p in paths]

def median(values):
    return statistics.median(values) if values else None

def fmt(value, spec):
    return "-" if value is None else format(value, spec)

header = ("workload", "direct calls/s", "service calls/s", "service/direct",
          "p99 direct ms", "p99 service ms", "server CPU us/call",
          "server peak RSS MiB")
rows, problems = [], []
for w in workloads:
    d, s = runs(w, "direct"), runs(w, "service")
    for r in d + s:
        t = r["total"]
        if t["throughput"] <= 0 or t["failed"] > 0:
            problems.append(f"{w} {r['target']}: {t['throughput']:.1f} calls/s, "
                            f"{t['failed']} failed {t['errors']}")
    dt = median([r["total"]["throughput"] for r in d])
    st = median([r["total"]["throughput"] for r in s])
    cpu = [r["process"]["cpu_us_per_call"] for r in s if "process" in r]
    rss = [r["process"]["peak_rss_kib"] for r in s if "process" in r]
    first = (d + s)[0]
    label = f"{w} c={first['concurrency']}"
    if first["rate"] > 0:
        label += f" @{first['rate']:.0f}/s"
    rows.append((label, fmt(dt, ".0f"), fmt(st, ".0f"),
                 fmt(st / dt if dt and st is not None else None, ".2f"),
                 fmt(median([r["total"]["latency_ms"]["p99"] for r in d]), ".2f"),
                 fmt(median([r["total"]["latency_ms"]["p99"] for r in s]), ".2f"),
                 fmt(median(cpu), ".1f"),
                 fmt(max(rss) / 1024 if rss else None, ".1f")))

widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
def line(cells):
    return "| " + " | ".join(str(c).ljust(n) for c, n in zip(cells, widths)) + " |"
print(line(header))
print("|" + "|".join("-" * (n + 2) for n in widths) + "|")
for r in rows:
    print(line(r))
n = max(len(runs(workloads[0], m)) for m in ("direct", "service"))
print(f"\nmedians of {n} round(s) each; throughput = successful calls/s; "
      f"p99 over all calls; CPU and RSS of user_server over the measured "
      f"windows. Results: {out_dir} ({elapsed} s)")
if problems:
    print("\nruns with failed calls or no throughput:\n  " + "\n  ".join(problems))
    if smoke:
        sys.exit(1)
PY
