#!/usr/bin/env bash
# Runs the dev stack's MariaDB init scripts (deploy/k8s/overlays/dev/mariadb,
# shared with deploy/compose) against real mariadbd processes, the way the
# mariadb image's entrypoint does (sourced, with docker_process_sql), and
# with the server arguments of deploy/compose/docker-compose.yml. Then
# user_server migrates through the primary with the dev credentials, and
# the schema must arrive on the replica over GTID replication.
#
# Usage: tests/deploy/init_scripts_test.sh USER_SERVER
# Env: CLUSTER_BASE_PORT (set by tests/run.sh); this test uses +10 and +11.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
USER_SERVER="$1"
: "${CLUSTER_BASE_PORT:?CLUSTER_BASE_PORT is not set (tests/run.sh sets it)}"
PRIMARY_PORT=$((CLUSTER_BASE_PORT + 10))
REPLICA_PORT=$((CLUSTER_BASE_PORT + 11))
DEV="$REPO_ROOT/deploy/k8s/overlays/dev"
export SECRETS_DIR="$DEV/secrets"
DIR="$(mktemp -d "${TMPDIR:-/tmp}/init-scripts-test.XXXXXX")"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  rm -rf "$DIR"
}
trap cleanup EXIT
fail() { echo "init_scripts_test: FAIL: $*" >&2; for n in primary replica; do
  [ -f "$DIR/$n/error.log" ] && tail -n 20 "$DIR/$n/error.log" >&2; done; exit 1; }

# The server arguments of the compose services (the k8s StatefulSets use the
# same; check_manifests.py compares them).
compose_args() {
  /usr/bin/python3 -c 'import sys, yaml
svc = yaml.safe_load(open(sys.argv[1]))["services"][sys.argv[2]]
print("\n".join(svc["command"]))' "$REPO_ROOT/deploy/compose/docker-compose.yml" "$1"
}

user=()
[ "$(id -u)" -eq 0 ] && user=(--user=root)
# One empty datadir, copied for each node (as a fresh container would start).
mariadb-install-db --no-defaults --datadir="$DIR/empty" "${user[@]}" \
  --auth-root-authentication-method=socket --skip-test-db >"$DIR/install.log" 2>&1 ||
  fail "mariadb-install-db: $(tail -n 5 "$DIR/install.log")"

start_node() {  # NAME PORT COMPOSE_SERVICE
  local name="$1" port="$2" nd="$DIR/$1"
  mkdir -p "$nd"
  cp -a "$DIR/empty" "$nd/data"
  mapfile -t args < <(compose_args "$3")
  mariadbd --no-defaults --datadir="$nd/data" --port="$port" \
    --bind-address=127.0.0.1 --socket="$nd/sock" --pid-file="$nd/pid" \
    --log-error="$nd/error.log" --skip-name-resolve --innodb-buffer-pool-size=32M \
    "${user[@]}" "${args[@]}" >/dev/null 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 300); do
    mariadb-admin --no-defaults --socket="$nd/sock" -uroot ping >/dev/null 2>&1 && return 0
    kill -0 "${PIDS[-1]}" 2>/dev/null || fail "mariadbd $name exited"
    sleep 0.1
  done
  fail "mariadbd $name did not start"
}

sql() {  # NAME SQL...
  local n="$1"; shift
  mariadb --no-defaults --socket="$DIR/$n/sock" -uroot -N -B "$@"
}

run_init() {  # NAME SCRIPT [VAR=VALUE ...]: source SCRIPT as the entrypoint does
  local name="$1" script="$2"; shift 2
  (
    set -eo pipefail
    # shellcheck disable=SC2317  # called by the sourced script
    docker_process_sql() { mariadb --no-defaults --socket="$DIR/$name/sock" -uroot "$@"; }
    for kv in "$@"; do export "${kv?}"; done
    # shellcheck disable=SC1090
    source "$script"
  ) >"$DIR/$name/init.log" 2>&1 || fail "$script on $name: $(tail -n 10 "$DIR/$name/init.log")"
}

start_node primary "$PRIMARY_PORT" mariadb-primary
run_init primary "$DEV/mariadb/primary-init.sh"
start_node replica "$REPLICA_PORT" mariadb-replica-0
run_init replica "$DEV/mariadb/replica-init.sh" \
  MARIADB_PRIMARY_HOST=127.0.0.1 MARIADB_PRIMARY_PORT="$PRIMARY_PORT"

# The server, with the dev overlay's credentials, migrates the primary.
"$USER_SERVER" --primary="127.0.0.1:$PRIMARY_PORT" --db-name=userservice \
  --db-user=userservice --db-password-file="$SECRETS_DIR/userservice-password" \
  --migrate-only --migrate-timeout=20s >"$DIR/migrate.log" 2>&1 ||
  fail "user_server --migrate-only: $(tail -n 5 "$DIR/migrate.log")"

pos="$(sql primary -e 'SELECT @@gtid_binlog_pos')"
[ -n "$pos" ] || fail "the primary wrote no binlog"
reached="$(sql replica -e "SELECT MASTER_GTID_WAIT('$pos', 30)")"
[ "$reached" = 0 ] || fail "the replica did not reach the primary's GTID $pos (result $reached)"
status="$(mariadb --no-defaults --socket="$DIR/replica/sock" -uroot -e 'SHOW SLAVE STATUS\G')"
grep -q 'Slave_IO_Running: Yes' <<<"$status" || fail "replica I/O thread: $status"
grep -q 'Slave_SQL_Running: Yes' <<<"$status" || fail "replica SQL thread: $status"
grep -q 'Using_Gtid: Slave_Pos' <<<"$status" || fail "replica does not use GTIDs: $status"
tables="$(sql replica -e 'SHOW TABLES IN userservice')"
grep -qx users <<<"$tables" || fail "the users table did not replicate (tables: $tables)"
# The replication cross-check of the health checker needs SLAVE MONITOR.
mariadb --no-defaults -h127.0.0.1 -P"$REPLICA_PORT" -uuserservice \
  -p"$(cat "$SECRETS_DIR/userservice-password")" -e 'SHOW SLAVE STATUS' >/dev/null ||
  fail "userservice cannot run SHOW SLAVE STATUS on the replica"
echo "init_scripts_test: ok: GTID replication at $pos, schema on the replica"
