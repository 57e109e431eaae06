#!/usr/bin/env bash
# The topology verbs of deploy/local/cluster.sh (writer, switchover, failover,
# rejoin, freeze, thaw) on a private primary + 2 replicas, checked with rows
# written by the app user: who takes writes, who refuses them (read_only),
# and where each row arrives.
#
# Usage: tests/deploy/cluster_topology_test.sh DIR
# Env: CLUSTER_BASE_PORT (set by tests/run.sh; default 23306); this test uses
# +20 to +22. DIR is deleted at the start and the end.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="${1:?usage: $0 DIR}"
PORT=$(( ${CLUSTER_BASE_PORT:-23306} + 20 ))
# tests/run.sh exports the shared cluster's settings; none of them apply here.
unset CLUSTER_DIR CLUSTER_REPLICAS CLUSTER_TLS_DIR

cl() { "$REPO_ROOT/deploy/local/cluster.sh" --dir "$DIR" --base-port "$PORT" --replicas 2 "$@"; }
cleanup() { cl destroy >/dev/null 2>&1 || true; }
trap cleanup EXIT
fail() {
  echo "cluster_topology_test: FAIL: $*" >&2
  cl status >&2 || true
  exit 1
}
pass() { echo "cluster_topology_test: ok: $*"; }

port_of() { if [ "$1" = primary ]; then echo "$PORT"; else echo $(( PORT + 1 + ${1#replica-} )); fi; }
# The app user, as the service connects: read_only applies to it.
app_sql() {
  MYSQL_PWD="$(cat "$DIR/app-password")" mariadb --no-defaults --protocol=tcp -h127.0.0.1 \
    -P"$(port_of "$1")" -uuserservice --connect-timeout=3 -B -N userservice -e "$2"
}
admin() { cl sql "$1" "$2"; }
ids() { admin "$1" "SELECT COALESCE(GROUP_CONCAT(id ORDER BY id), '') FROM userservice.topo"; }
expect_ids() {  # NODE IDS
  local got
  got="$(ids "$1")" || fail "cannot read rows on $1"
  [ "$got" = "$2" ] || fail "$1 has rows '$got', expected '$2'"
}
expect_writer() {
  local got
  got="$(cl writer)" || fail "cluster.sh writer failed (expected $1)"
  [ "$got" = "$1" ] || fail "writer is '$got', expected $1"
}
# NODE is read-only for the app and replicates from SOURCE with both threads.
expect_replica_of() {  # NODE SOURCE
  local err st
  if err="$(app_sql "$1" "INSERT INTO topo VALUES (999, 'must fail')" 2>&1)"; then
    fail "the app could write on $1, which should be read-only"
  fi
  [[ "$err" == *1290* ]] || fail "a write on $1 failed, but not with read-only error 1290: $err"
  st="$(mariadb --defaults-file="$DIR/admin.cnf" -P"$(port_of "$1")" -E -e "SHOW SLAVE STATUS")" ||
    fail "cannot query $1"
  grep -q "Master_Port: $(port_of "$2")\$" <<<"$st" || fail "$1 does not replicate from $2"
  if ! grep -q 'Slave_IO_Running: Yes' <<<"$st" || ! grep -q 'Slave_SQL_Running: Yes' <<<"$st"; then
    fail "$1's replication threads are not both running"
  fi
}
sync_all() { cl sync 30 >/dev/null || fail "sync failed"; }

# ---------------------------------------------------------------- start ---
cl destroy >/dev/null 2>&1 || true
cl start >"$DIR.start.log" 2>&1 || { cat "$DIR.start.log" >&2; rm -f "$DIR.start.log"
  fail "the cluster did not start (mariadbd must be installed and able to run)"; }
rm -f "$DIR.start.log"
app_sql primary "CREATE TABLE topo (id INT PRIMARY KEY, origin VARCHAR(20) NOT NULL)" ||
  fail "cannot create the test table"
app_sql primary "INSERT INTO topo VALUES (1, 'primary')" || fail "first write on primary"
sync_all
expect_writer primary
pass "cluster up, writer primary"

# ------------------------------------------------------------ switchover ---
out="$(cl switchover replica-0)" || fail "switchover replica-0 failed: $out"
echo "$out"
ms="$(sed -n 's/.* done in \([0-9]*\) ms$/\1/p' <<<"$out")"
if [ -z "$ms" ] || [ "$ms" -ge 3000 ]; then fail "switchover took ${ms:-?} ms"; fi
expect_writer replica-0
app_sql replica-0 "INSERT INTO topo VALUES (2, 'replica-0')" || fail "the app cannot write on the new writer"
sync_all
expect_ids primary 1,2
expect_ids replica-1 1,2
expect_replica_of primary replica-0
expect_replica_of replica-1 replica-0
if cl switchover replica-0 >/dev/null 2>&1; then fail "switchover to the writer itself was accepted"; fi
pass "switchover to replica-0 in $ms ms: its writes reach primary and replica-1"

out="$(cl switchover primary)" || fail "switchover back to primary failed: $out"
expect_writer primary
app_sql primary "INSERT INTO topo VALUES (3, 'primary')" || fail "write after switching back"
sync_all
for n in replica-0 replica-1; do expect_ids "$n" 1,2,3; expect_replica_of "$n" primary; done
pass "switchover back to primary"

# -------------------------------------------------------------- failover ---
if cl failover replica-1 >/dev/null 2>&1; then fail "failover accepted while the writer runs"; fi
cl kill primary >/dev/null || fail "kill primary"
out="$(cl failover replica-1)" || fail "failover replica-1 failed: $out"
echo "$out"
expect_writer replica-1
app_sql replica-1 "INSERT INTO topo VALUES (4, 'replica-1')" || fail "the app cannot write after failover"
sync_all
expect_ids replica-0 1,2,3,4
expect_replica_of replica-0 replica-1
pass "failover to replica-1 after killing primary: its writes reach replica-0"

# ------------------------------------------------ rejoin of a diverged node ---
cl start-node primary >/dev/null || fail "start-node primary"
[ "$(admin primary "SELECT @@read_only")" = 1 ] || fail "the old writer came back writable"
# An old writer whose configuration makes it writable takes one more commit.
admin primary "SET GLOBAL read_only=0" || fail "cannot make primary writable"
app_sql primary "INSERT INTO topo VALUES (100, 'diverged')" || fail "local write on returned primary"
if cl writer >/dev/null 2>&1; then fail "writer accepted two writable nodes"; fi
out="$(cl rejoin primary)" || fail "rejoin primary failed: $out"
echo "$out"
grep -q diverged <<<"$out" || fail "rejoin did not report the divergence"
expect_writer replica-1
expect_ids primary 1,2,3,4
expect_replica_of primary replica-1
app_sql replica-1 "INSERT INTO topo VALUES (5, 'replica-1')" || fail "write after rejoin"
sync_all
expect_ids primary 1,2,3,4,5
pass "rejoin rebuilt the diverged primary: writer's rows, not its own extra row"

# A rebuilt node can be the writer again, and the others follow it.
cl switchover primary >/dev/null || fail "switchover to the rebuilt primary failed"
expect_writer primary
app_sql primary "INSERT INTO topo VALUES (6, 'primary')" || fail "write on the rebuilt primary"
sync_all
for n in replica-0 replica-1; do expect_ids "$n" 1,2,3,4,5,6; expect_replica_of "$n" primary; done
pass "switchover to the rebuilt primary"

# --------------------------------------------------------- freeze and thaw ---
cl freeze replica-0 >/dev/null || fail "freeze replica-0"
if st="$(cl status 2>/dev/null)"; then fail "status exits 0 with a frozen node"; fi
grep -q '^replica-0 .* frozen' <<<"$st" || fail "status does not show replica-0 frozen"
start=$(date +%s)
if app_sql replica-0 "SELECT 1" >/dev/null 2>&1; then fail "a frozen node answered"; fi
[ $(( $(date +%s) - start )) -ge 2 ] || fail "the frozen node refused at once instead of hanging"
expect_writer primary
app_sql primary "INSERT INTO topo VALUES (7, 'primary')" || fail "write while replica-0 is frozen"
cl thaw replica-0 >/dev/null || fail "thaw replica-0"
sync_all
expect_ids replica-0 1,2,3,4,5,6,7
expect_replica_of replica-0 primary
cl status >/dev/null || fail "status after thaw"
pass "freeze hangs replica-0, thaw resumes it and it catches up"

# ------------------------------------- failover to a node that received less ---
# replica-1 stops receiving, so only replica-0 gets row 8 before the writer dies.
admin replica-1 "STOP SLAVE IO_THREAD" || fail "stop replica-1's IO thread"
app_sql primary "INSERT INTO topo VALUES (8, 'primary')" || fail "write before the second failover"
pos="$(admin primary "SELECT @@gtid_binlog_pos")"
[ "$(admin replica-0 "SELECT MASTER_GTID_WAIT('$pos', 10)")" = 0 ] || fail "replica-0 did not receive row 8"
cl kill primary >/dev/null || fail "kill primary"
out="$(cl failover replica-1 2>&1)" || fail "failover replica-1 failed: $out"
grep -q 'WARNING: replica-0 had received' <<<"$out" || fail "failover did not warn that replica-0 had more: $out"
app_sql replica-1 "INSERT INTO topo VALUES (9, 'replica-1')" || fail "write after the second failover"
out="$(cl rejoin replica-0)" || fail "rejoin replica-0 failed: $out"
grep -q diverged <<<"$out" || fail "rejoin did not find replica-0 diverged: $out"
expect_ids replica-0 1,2,3,4,5,6,7,9
expect_replica_of replica-0 replica-1
pass "failover warns about a replica that had received more; rejoin rebuilds it"
