#!/usr/bin/env bash
# Local MariaDB primary + N replicas (GTID replication) as plain mariadbd
# processes on 127.0.0.1. No system service is touched.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PROG="$(basename "$0")"

usage() {
  cat <<EOF
Usage: $PROG [options] COMMAND [ARGS]

Options (or env vars):
  --dir DIR          CLUSTER_DIR        state dir (default: <repo>/.local/cluster)
  --base-port P      CLUSTER_BASE_PORT  primary port; replica-i uses P+1+i (default 13306;
                                        remembered in DIR once the cluster exists)
  --replicas N       CLUSTER_REPLICAS   number of replicas (default 2, or what DIR has)
  --tls-dir D        CLUSTER_TLS_DIR    serve TLS too, from D/ca.pem, D/server.pem and
                                        D/server.key (default: off; remembered in DIR)
  -h, --help

Commands:
  start                 create/start all nodes, configure on first start, wait for sync
  stop [--purge]        graceful shutdown of every node in DIR (--purge: then delete DIR)
  destroy               same as: stop --purge
  status                one line per node with its role (writer, replica of NODE,
                        read-only not replicating, frozen, down); exit 0 only if
                        every node is running and none is frozen
  env                   print export lines (CLUSTER_PRIMARY, CLUSTER_REPLICA_ADDRS, ...)
  kill NODE             SIGKILL a node and wait until it is gone
  stop-node NODE        graceful shutdown of one node
  start-node NODE       start one existing node again and wait until it accepts connections
  sync [TIMEOUT]        wait (default 30 s) until every other running node applied the
                        writer's @@gtid_binlog_pos
  writer                print the writer (running, read_only=0, no replication source);
                        exit 1 if there is none or more than one
  switchover NODE       planned move of the writer to NODE (every node up): the writer
                        turns read-only, NODE applies all it wrote, NODE becomes the
                        writer and every other running node replicates from NODE
  failover NODE         the writer is gone (killed, frozen): NODE applies what it
                        received, becomes the writer, the other running nodes follow it
  rejoin NODE           NODE turns read-only at once and replicates from the writer;
                        if it holds commits the writer lacks, it is rebuilt from a
                        dump of the writer first
  freeze NODE           SIGSTOP the node's mariadbd (a hung endpoint)
  thaw NODE             SIGCONT it again (no-op if it is not frozen or not running)
  sql NODE [STATEMENT]  run SQL as cluster_admin over TCP (stdin if no STATEMENT),
                        tab-separated output without column names

NODE is: primary | replica-0 | replica-1 | ...
Other env: CLUSTER_START_TIMEOUT (60 s; also bounds rejoin's catch-up),
CLUSTER_STOP_TIMEOUT (20 s), CLUSTER_SWITCH_TIMEOUT (10 s: switchover's wait for
NODE to apply the writer's position, failover's wait for NODE's relay log).
A node that is started again comes up read-only unless it was the writer
(DIR/writer names it; without that file, primary).
EOF
}

die() { echo "$PROG: ERROR: $*" >&2; exit 1; }
say() { echo "$PROG: $*"; }
usage_error() { echo "$PROG: $*" >&2; echo >&2; usage >&2; exit 2; }

# ------------------------------------------------------------ arguments ---
opt_dir="${CLUSTER_DIR:-}"
opt_port="${CLUSTER_BASE_PORT:-}"
opt_replicas="${CLUSTER_REPLICAS:-}"
opt_tls_dir="${CLUSTER_TLS_DIR:-}"
opt_purge=0
START_TIMEOUT="${CLUSTER_START_TIMEOUT:-60}"
STOP_TIMEOUT="${CLUSTER_STOP_TIMEOUT:-20}"
SWITCH_TIMEOUT="${CLUSTER_SWITCH_TIMEOUT:-10}"
positional=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) [ $# -ge 2 ] || usage_error "--dir needs a value"; opt_dir="$2"; shift 2 ;;
    --dir=*) opt_dir="${1#*=}"; shift ;;
    --base-port) [ $# -ge 2 ] || usage_error "--base-port needs a value"; opt_port="$2"; shift 2 ;;
    --base-port=*) opt_port="${1#*=}"; shift ;;
    --replicas) [ $# -ge 2 ] || usage_error "--replicas needs a value"; opt_replicas="$2"; shift 2 ;;
    --replicas=*) opt_replicas="${1#*=}"; shift ;;
    --tls-dir) [ $# -ge 2 ] || usage_error "--tls-dir needs a value"; opt_tls_dir="$2"; shift 2 ;;
    --tls-dir=*) opt_tls_dir="${1#*=}"; shift ;;
    --purge) opt_purge=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; positional+=("$@"); break ;;
    -*) if [ "${#positional[@]}" -ge 2 ] && [ "${positional[0]}" = sql ]; then
          positional+=("$1"); shift   # e.g. sql primary "-- comment"
        else
          usage_error "unknown option: $1"
        fi ;;
    *) positional+=("$1"); shift ;;
  esac
done
[ "${#positional[@]}" -ge 1 ] || usage_error "missing COMMAND"
CMD="${positional[0]}"

is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }
[ -z "$opt_port" ] || is_uint "$opt_port" || usage_error "--base-port must be a number: $opt_port"
[ -z "$opt_replicas" ] || is_uint "$opt_replicas" || usage_error "--replicas must be a number: $opt_replicas"
is_uint "$START_TIMEOUT" || die "CLUSTER_START_TIMEOUT must be a number of seconds"
is_uint "$STOP_TIMEOUT" || die "CLUSTER_STOP_TIMEOUT must be a number of seconds"
is_uint "$SWITCH_TIMEOUT" || die "CLUSTER_SWITCH_TIMEOUT must be a number of seconds"

DIR="${opt_dir:-$REPO_ROOT/.local/cluster}"
case "$DIR" in /*) ;; *) DIR="$PWD/$DIR" ;; esac
# canonical spelling: running nodes are recognised by their --datadir
DIR="$(realpath -m -- "$DIR")"
[ "$DIR" != / ] || die "refusing to use / as cluster dir"
CONF="$DIR/cluster.conf"
WRITER_FILE="$DIR/writer"

DB_NAME=userservice
APP_USER=userservice
ADMIN_USER=cluster_admin
REPL_USER=repl
APP_PW_FILE="$DIR/app-password"
ADMIN_PW_FILE="$DIR/admin-password"
REPL_PW_FILE="$DIR/repl-password"
ADMIN_CNF="$DIR/admin.cnf"

umask 077

# ---------------------------------------------------------------- binaries ---
find_bin() {
  local name
  for name in "$@"; do
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
    for d in /usr/sbin /usr/local/sbin /usr/bin /usr/local/bin /usr/libexec; do
      if [ -x "$d/$name" ]; then echo "$d/$name"; return 0; fi
    done
  done
  return 1
}
need_bins() {
  MARIADBD="${MARIADBD:-$(find_bin mariadbd mysqld)}" ||
    die "mariadbd not found; run deploy/local/install-deps.sh"
  INSTALL_DB="$(find_bin mariadb-install-db mysql_install_db)" ||
    die "mariadb-install-db not found; run deploy/local/install-deps.sh"
  need_client_bins
}
need_client_bins() {
  CLIENT="$(find_bin mariadb mysql)" || die "mariadb client not found; run deploy/local/install-deps.sh"
  ADMIN_BIN="$(find_bin mariadb-admin mysqladmin)" || die "mariadb-admin not found"
}

# ------------------------------------------------------------------ helpers ---
now_ms() { local t="${EPOCHREALTIME//[!0-9]/}"; echo $((10#$t / 1000)); }

valid_node() {
  local n="$1"
  [ "$n" = primary ] && return 0
  [[ "$n" =~ ^replica-([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -lt "$NREPLICAS" ]
}
check_node_arg() {
  [ -n "${1:-}" ] || usage_error "$CMD needs a NODE argument"
  [[ "$1" = primary || "$1" =~ ^replica-[0-9]+$ ]] ||
    usage_error "bad NODE '$1' (expected primary or replica-<i>)"
  valid_node "$1" || die "no such node in this cluster: $1 (replicas: $NREPLICAS)"
}
node_port() {
  if [ "$1" = primary ]; then echo "$BASE_PORT"; else echo $((BASE_PORT + 1 + ${1#replica-})); fi
}
node_server_id() {
  if [ "$1" = primary ]; then echo 1; else echo $((101 + ${1#replica-})); fi
}
node_dir() { echo "$DIR/$1"; }
node_sock() { echo "$DIR/$1/mysqld.sock"; }

# alive PID: process exists and is not a zombie
alive() {
  local st
  [ -r "/proc/$1/stat" ] || return 1
  st="$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
# node_pid NODE: prints the pid of the node's running mariadbd, or fails.
node_pid() {
  local pf="$DIR/$1/mysqld.pid" pid
  [ -f "$pf" ] || return 1
  pid="$(tr -dc '0-9' <"$pf")"
  [ -n "$pid" ] || return 1
  alive "$pid" || return 1
  # guard against pid reuse: it must be our mariadbd for this datadir
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--datadir=$DIR/$1/data " || return 1
  echo "$pid"
}

# frozen NODE: its mariadbd is stopped by a signal (see freeze)
frozen() {
  local pid
  pid="$(node_pid "$1")" || return 1
  [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" = T ]
}
# node_up NODE: running and able to answer
node_up() { node_pid "$1" >/dev/null && ! frozen "$1"; }
port_node() {
  local node
  for node in "${NODES[@]}"; do
    if [ "$(node_port "$node")" = "$1" ]; then echo "$node"; return 0; fi
  done
  echo "127.0.0.1:$1"
}
# The node that starts writable; every other node starts read-only, so a
# replica that restarts never takes writes by accident.
recorded_writer() {
  if [ -s "$WRITER_FILE" ]; then cat "$WRITER_FILE"; else echo primary; fi
}

# root over the node's unix socket (root@localhost has no password; the
# socket lives in DIR, which only the owner can enter)
root_sql() {
  local node="$1"; shift
  "$CLIENT" --no-defaults --protocol=socket --socket="$(node_sock "$node")" -uroot \
    --connect-timeout=5 -B -N "$@"
}
admin_sql() {
  local node="$1"; shift
  [ -f "$ADMIN_CNF" ] || die "$ADMIN_CNF missing (cluster never started?)"
  "$CLIENT" --defaults-file="$ADMIN_CNF" --port="$(node_port "$node")" --connect-timeout=5 \
    --skip-print-query-on-error "$@"
}
ping_node() {
  "$ADMIN_BIN" --no-defaults --protocol=socket --socket="$(node_sock "$1")" -uroot \
    --connect-timeout=1 ping >/dev/null 2>&1
}
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

show_log_tail() {
  local log="$DIR/$1/error.log"
  if [ -f "$log" ]; then
    echo "---- last lines of $log ----" >&2
    tail -n 25 "$log" >&2
    echo "----" >&2
  fi
}

gen_password() {
  local f="$1" pw
  [ -s "$f" ] && return 0
  pw="$(od -An -tx1 -N18 /dev/urandom | tr -dc '0-9a-f')"
  [ "${#pw}" -eq 36 ] || die "could not generate a password"
  printf '%s' "$pw" >"$f.tmp"
  chmod 600 "$f.tmp"
  mv "$f.tmp" "$f"
}
read_pw() { [ -s "$1" ] || die "password file $1 missing"; cat "$1"; }

write_conf() {
  printf 'BASE_PORT=%s\nREPLICAS=%s\nTLS_DIR=%s\n' "$BASE_PORT" "$NREPLICAS" "$TLS_DIR" >"$CONF.tmp"
  mv "$CONF.tmp" "$CONF"
}

lock_dir() {
  mkdir -p "$DIR"
  exec 9>"$DIR/.lock"
  if ! flock -w 120 9; then die "could not lock $DIR/.lock (another $PROG running?)"; fi
}

# ------------------------------------------------------------- node start ---
LAUNCHED=()      # node names launched by this run
declare -A LAUNCHER_PID=()

mariadbd_args() {
  local node="$1" nd="$DIR/$1"
  local a=(
    --no-defaults
    --log-basename="$node"
    --datadir="$nd/data"
    --port="$(node_port "$node")"
    --bind-address=127.0.0.1
    --socket="$nd/mysqld.sock"
    --pid-file="$nd/mysqld.pid"
    --log-error="$nd/error.log"
    --skip-name-resolve
    --server-id="$(node_server_id "$node")"
    --log-bin="$node-bin"
    --log-bin-index="$node-bin.index"
    --relay-log="$node-relay-bin"
    --relay-log-index="$node-relay-bin.index"
    --binlog-format=ROW
    --gtid-strict-mode=ON
    --log-slave-updates
    --slave-net-timeout=5
    --innodb-buffer-pool-size=64M
    --innodb-log-file-size=16M
    --max-connections=500
    --character-set-server=utf8mb4
    --collation-server=utf8mb4_unicode_ci
  )
  if [ "$node" != "$(recorded_writer)" ]; then a+=(--read-only=ON); fi
  # TLS is offered, not required: users created REQUIRE SSL need it.
  if [ -n "$TLS_DIR" ]; then
    a+=(--ssl-ca="$TLS_DIR/ca.pem" --ssl-cert="$TLS_DIR/server.pem" --ssl-key="$TLS_DIR/server.key")
  fi
  if [ "$(id -u)" -eq 0 ]; then a+=(--user=root); fi
  printf '%s\n' "${a[@]}"
}

# launch NODE: start mariadbd in its own session; does not wait.
launch_node() {
  local node="$1" nd="$DIR/$1" pid port sock
  if pid="$(node_pid "$node")"; then
    say "$node already running (pid $pid, port $(node_port "$node"))"
    return 0
  fi
  [ -d "$nd/data/mysql" ] || die "$node has no datadir ($nd/data); run '$PROG start' first"
  port="$(node_port "$node")"
  sock="$nd/mysqld.sock"
  [ "${#sock}" -le 107 ] || die "socket path too long (${#sock} > 107): $sock; use a shorter --dir"
  if port_in_use "$port"; then
    die "port $port (for $node) is already in use by another process"
  fi
  rm -f "$nd/mysqld.pid"
  local args=()
  mapfile -t args < <(mariadbd_args "$node")
  # setsid: own session, so Ctrl-C / group kills of the caller don't hit it.
  # 9>&- : do not leak our lock fd into the server.
  setsid "$MARIADBD" "${args[@]}" </dev/null >>"$nd/stdout.log" 2>&1 9>&- &
  LAUNCHER_PID[$node]=$!
  LAUNCHED+=("$node")
}

# wait_ready NODE: wait until the node answers on its socket (bounded).
wait_ready() {
  local node="$1" launcher="${LAUNCHER_PID[$1]:-}" deadline dead_since=""
  deadline=$(( $(now_ms) + START_TIMEOUT * 1000 ))
  while :; do
    if ping_node "$node"; then
      local pid
      pid="$(node_pid "$node")" || pid="?"
      say "started $node (pid $pid, port $(node_port "$node"))"
      return 0
    fi
    if [ -n "$launcher" ] && ! alive "$launcher" && ! node_pid "$node" >/dev/null; then
      # give a possibly forked server a moment to write its pid file
      if [ -z "$dead_since" ]; then dead_since="$(now_ms)";
      elif [ $(( $(now_ms) - dead_since )) -gt 1500 ]; then
        show_log_tail "$node"
        die "$node (port $(node_port "$node")) exited during startup"
      fi
    fi
    if [ "$(now_ms)" -ge "$deadline" ]; then
      show_log_tail "$node"
      die "$node (port $(node_port "$node")) did not accept connections within ${START_TIMEOUT}s"
    fi
    sleep 0.05
  done
}

# ------------------------------------------------------------- node stop ---
# stop_nodes SIGNAL NODE...: signal all, wait (bounded), SIGKILL leftovers.
stop_nodes() {
  local sig="$1" orig_sig="$1"; shift
  local node pid pids=() names=() deadline i any
  for node in "$@"; do
    if pid="$(node_pid "$node")"; then
      kill "-$sig" "$pid" 2>/dev/null || true
      # a frozen node only acts on SIGTERM once it runs again
      [ "$sig" = KILL ] || kill -CONT "$pid" 2>/dev/null || true
      pids+=("$pid"); names+=("$node")
    fi
  done
  [ "${#pids[@]}" -gt 0 ] || return 0
  local timeout_ms=$(( STOP_TIMEOUT * 1000 ))
  [ "$sig" = KILL ] && timeout_ms=10000
  deadline=$(( $(now_ms) + timeout_ms ))
  while :; do
    any=0
    for i in "${!pids[@]}"; do alive "${pids[$i]}" && any=1; done
    [ "$any" -eq 0 ] && break
    if [ "$(now_ms)" -ge "$deadline" ]; then
      if [ "$sig" = KILL ]; then die "processes did not die after SIGKILL: ${pids[*]}"; fi
      for i in "${!pids[@]}"; do
        if alive "${pids[$i]}"; then
          echo "$PROG: ${names[$i]} did not stop within ${STOP_TIMEOUT}s, sending SIGKILL" >&2
          kill -KILL "${pids[$i]}" 2>/dev/null || true
        fi
      done
      sig=KILL; deadline=$(( $(now_ms) + 10000 ))
    fi
    sleep 0.05
  done
  for i in "${!pids[@]}"; do
    if [ "$orig_sig" = KILL ]; then
      say "killed ${names[$i]} (pid ${pids[$i]})"
    else
      say "stopped ${names[$i]} (pid ${pids[$i]})"
    fi
  done
}

existing_nodes() {
  local d
  [ -d "$DIR/primary" ] && echo primary
  for d in "$DIR"/replica-*; do
    [ -d "$d" ] && echo "${d##*/}"
  done | sort -t- -k2,2n
}

# ----------------------------------------------------------- configuration ---
drop_extra_root_sql() {
  # mariadb-install-db creates passwordless root@127.0.0.1/::1/<hostname>;
  # keep only root@localhost (socket). Not binlogged: done on every node.
  local node="$1" users
  users="$(root_sql "$node" -e "SELECT CONCAT(QUOTE(User),'@',QUOTE(Host)) FROM mysql.user WHERE User='root' AND Host<>'localhost'" |
    paste -sd, -)"
  if [ -n "$users" ]; then
    root_sql "$node" -e "SET sql_log_bin=0; DROP USER IF EXISTS $users; SET sql_log_bin=1;"
  fi
}

write_admin_cnf() {
  local pw
  pw="$(read_pw "$ADMIN_PW_FILE")"
  printf '[client]\nuser=%s\npassword=%s\nhost=127.0.0.1\nprotocol=TCP\n' "$ADMIN_USER" "$pw" >"$ADMIN_CNF.tmp"
  chmod 600 "$ADMIN_CNF.tmp"
  mv "$ADMIN_CNF.tmp" "$ADMIN_CNF"
}

configure_primary() {
  local app_pw admin_pw repl_pw
  app_pw="$(read_pw "$APP_PW_FILE")"
  admin_pw="$(read_pw "$ADMIN_PW_FILE")"
  repl_pw="$(read_pw "$REPL_PW_FILE")"
  drop_extra_root_sql primary
  # Everything below is binlogged, so every replica (also ones added later,
  # which replicate from the start of the primary's binlog) gets it.
  root_sql primary <<SQL
CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$APP_USER'@'127.0.0.1' IDENTIFIED BY '$app_pw';
ALTER USER '$APP_USER'@'127.0.0.1' IDENTIFIED BY '$app_pw';
GRANT ALL PRIVILEGES ON \`$DB_NAME\`.* TO '$APP_USER'@'127.0.0.1';
CREATE USER IF NOT EXISTS '$REPL_USER'@'127.0.0.1' IDENTIFIED BY '$repl_pw';
ALTER USER '$REPL_USER'@'127.0.0.1' IDENTIFIED BY '$repl_pw';
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '$REPL_USER'@'127.0.0.1';
CREATE USER IF NOT EXISTS '$ADMIN_USER'@'127.0.0.1' IDENTIFIED BY '$admin_pw';
ALTER USER '$ADMIN_USER'@'127.0.0.1' IDENTIFIED BY '$admin_pw';
GRANT ALL PRIVILEGES ON *.* TO '$ADMIN_USER'@'127.0.0.1' WITH GRANT OPTION;
SQL
  : >"$DIR/primary/configured"
  say "configured primary (database $DB_NAME, users $APP_USER, $ADMIN_USER, $REPL_USER)"
}

# Grants added after the first release, issued on every start so clusters
# created before them get them too (GRANT is idempotent). On the primary, so
# they replicate like the rest of the configuration.
ensure_app_grants() {
  # The service's replica health checks run SHOW SLAVE STATUS (MariaDB
  # 10.5.9+ privilege name).
  root_sql primary -e "GRANT SLAVE MONITOR ON *.* TO '$APP_USER'@'127.0.0.1'"
}

configure_replica() {
  local node="$1" repl_pw
  repl_pw="$(read_pw "$REPL_PW_FILE")"
  drop_extra_root_sql "$node"
  root_sql "$node" <<SQL
STOP SLAVE;
CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$BASE_PORT, MASTER_USER='$REPL_USER', MASTER_PASSWORD='$repl_pw', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1;
START SLAVE;
SET GLOBAL read_only=ON;
SQL
  : >"$DIR/$node/configured"
  say "configured $node (replicating from 127.0.0.1:$BASE_PORT, MASTER_USE_GTID=slave_pos)"
}

# slave_field NODE FIELD (via root socket)
slave_status_root() { root_sql "$1" --column-names -E -e "SHOW SLAVE STATUS" 2>/dev/null || true; }
field_of() { awk -F': ' -v f="$1" '{ k=$1; sub(/^ +/, "", k) } k == f { sub(/^[^:]*: /, ""); print; exit }'; }

# wait_replicas_caught_up TIMEOUT NODE... (root over socket; fails fast on
# replication errors)
wait_replicas_caught_up() {
  local timeout="$1"; shift
  local pos node deadline st res io sqlr err
  pos="$(root_sql primary -e "SELECT @@gtid_binlog_pos")"
  [ -n "$pos" ] || return 0
  deadline=$(( $(now_ms) + timeout * 1000 ))
  for node in "$@"; do
    while :; do
      res="$(root_sql "$node" -e "SELECT MASTER_GTID_WAIT('$pos', 1)")" || res=""
      [ "$res" = 0 ] && break
      st="$(slave_status_root "$node")"
      io="$(field_of Slave_IO_Running <<<"$st")"
      sqlr="$(field_of Slave_SQL_Running <<<"$st")"
      if [ "$sqlr" = No ] || [ "$io" = No ]; then
        err="$(field_of Last_SQL_Error <<<"$st") $(field_of Last_IO_Error <<<"$st")"
        die "$node replication is not running (IO=$io SQL=$sqlr): $err"
      fi
      if [ "$(now_ms)" -ge "$deadline" ]; then
        die "$node did not catch up with primary ($pos) within ${timeout}s (IO=$io SQL=$sqlr)"
      fi
    done
  done
  say "replicas in sync with primary at $pos"
}

verify_logins() {
  local node port app_pw
  app_pw="$(read_pw "$APP_PW_FILE")"
  for node in "$@"; do
    port="$(node_port "$node")"
    MYSQL_PWD="$app_pw" "$CLIENT" --no-defaults --protocol=tcp -h127.0.0.1 -P"$port" \
      -u"$APP_USER" --connect-timeout=5 -B -N -e "SELECT 1" "$DB_NAME" >/dev/null 2>&1 ||
      die "$APP_USER cannot log in to $node (127.0.0.1:$port)"
    admin_sql "$node" -B -N -e "SELECT 1" >/dev/null 2>&1 ||
      die "$ADMIN_USER cannot log in to $node (127.0.0.1:$port)"
  done
}

# ---------------------------------------------------------------- topology ---
# Everything here uses MariaDB's own statements as root over the socket.

# GTID lists as printed by the server: comma-separated D-S-N, maybe wrapped.
gtid_clean() { printf '%s' "$1" | tr -d ' \t\n' | sed 's/\\n//g'; }

# gtid_covers HAVE WANT: HAVE reaches WANT's sequence number in every domain
# of WANT (the comparison MASTER_GTID_WAIT makes).
gtid_covers() {
  awk -v have="$(gtid_clean "$1")" -v want="$(gtid_clean "$2")" 'BEGIN {
    n = split(have, h, ",")
    for (i = 1; i <= n; i++) { split(h[i], p, "-"); if (!(p[1] in top) || p[3] + 0 > top[p[1]]) top[p[1]] = p[3] + 0 }
    n = split(want, w, ",")
    for (i = 1; i <= n; i++) { split(w[i], p, "-"); if (!(p[1] in top) || top[p[1]] < p[3] + 0) exit 1 }
  }'
}

# gtid_in_state STATE POS: every GTID D-S-N of POS is in a binlog whose
# @@gtid_binlog_state is STATE (it has server S's commits in D up to N). A
# commit of the same sequence number by another server does not count: that
# is a diverged history.
gtid_in_state() {
  awk -v st="$(gtid_clean "$1")" -v pos="$(gtid_clean "$2")" 'BEGIN {
    n = split(st, h, ",")
    for (i = 1; i <= n; i++) { split(h[i], p, "-"); top[p[1] "-" p[2]] = p[3] + 0 }
    n = split(pos, w, ",")
    for (i = 1; i <= n; i++) { split(w[i], p, "-"); k = p[1] "-" p[2]; if (!(k in top) || top[k] < p[3] + 0) exit 1 }
  }'
}

# gtid_state_at STATE POS: the binlog state a copy taken at POS holds: the
# entries of STATE (taken later) that POS already covers, and POS itself
# last, since the last entry of a domain is its current position.
gtid_state_at() {
  awk -v st="$(gtid_clean "$1")" -v pos="$(gtid_clean "$2")" 'BEGIN {
    n = split(pos, w, ",")
    for (i = 1; i <= n; i++) { split(w[i], p, "-"); lim[p[1]] = p[3] + 0; at[p[1] "-" p[2]] = 1 }
    m = split(st, h, ",")
    for (i = 1; i <= m; i++) {
      split(h[i], p, "-")
      if (!((p[1] "-" p[2]) in at) && (p[1] in lim) && p[3] + 0 <= lim[p[1]]) out = out "," h[i]
    }
    for (i = 1; i <= n; i++) out = out "," w[i]
    print substr(out, 2)
  }'
}

slave_status_of() { root_sql "$1" --column-names -E -e "SHOW SLAVE STATUS"; }

# writers: the nodes that answer with read_only=0 and no replication source.
writers() {
  local node ro
  for node in "${NODES[@]}"; do
    node_up "$node" || continue
    ro="$(root_sql "$node" -e "SELECT @@read_only" 2>/dev/null)" || continue
    [ "$ro" = 0 ] || continue
    [ -z "$(slave_status_of "$node" 2>/dev/null)" ] && echo "$node"
  done
}

# the_writer [EXCLUDED_NODE]: sets WRITER, or dies unless exactly one.
the_writer() {
  local ws=()
  mapfile -t ws < <(writers | grep -vxF -- "${1:-}")
  case "${#ws[@]}" in
    1) WRITER="${ws[0]}" ;;
    0) die "no writer: no running node has read_only=0 and no replication source (see: $PROG status)" ;;
    *) die "more than one writer: ${ws[*]} (make all but one read-only, or rejoin them)" ;;
  esac
}

require_up() {
  node_pid "$1" >/dev/null || die "$1 is not running (start it: $PROG start-node $1)"
  ! frozen "$1" || die "$1 is frozen (thaw it: $PROG thaw $1)"
}

T0=0
step() { say "$(printf '+%4d ms' $(( $(now_ms) - T0 ))) $*"; }

# promote NODE: it replicates from nobody and takes writes; restarts keep it so.
promote() {
  root_sql "$1" -e "STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only=0"
  printf '%s\n' "$1" >"$WRITER_FILE.tmp"
  mv "$WRITER_FILE.tmp" "$WRITER_FILE"
}

# repoint NODE SOURCE [own]: NODE turns read-only and replicates from SOURCE.
# "own": NODE has taken writes itself, so its replication position starts
# from everything it holds (@@gtid_current_pos) instead of what it applied.
repoint() {
  local node="$1" source="$2" own="${3:-}" repl_pw
  repl_pw="$(read_pw "$REPL_PW_FILE")"
  root_sql "$node" <<SQL
SET GLOBAL read_only=1;
STOP SLAVE;
${own:+SET GLOBAL gtid_slave_pos=@@gtid_current_pos;}
CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$(node_port "$source"), MASTER_USER='$REPL_USER', MASTER_PASSWORD='$repl_pw', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1;
START SLAVE;
SQL
}

# repoint_others SOURCE SKIP...: every other running node follows SOURCE.
repoint_others() {
  local source="$1" node skipped=(); shift
  for node in "${NODES[@]}"; do
    [ "$node" != "$source" ] || continue
    if printf '%s\n' "$@" | grep -qxF -- "$node"; then continue; fi
    if ! node_up "$node"; then skipped+=("$node"); continue; fi
    repoint "$node" "$source" || die "could not re-point $node at $source"
    step "$node replicates from $source"
  done
  if [ "${#skipped[@]}" -gt 0 ]; then
    echo "$PROG: not running or frozen, not re-pointed: ${skipped[*]} (later: $PROG rejoin NODE)" >&2
  fi
}

# wait_relay_applied NODE: NODE's SQL thread has applied everything its
# (stopped) IO thread wrote to the relay log.
wait_relay_applied() {
  local node="$1" st deadline
  root_sql "$node" -e "START SLAVE SQL_THREAD" >/dev/null 2>&1 || true
  deadline=$(( $(now_ms) + SWITCH_TIMEOUT * 1000 ))
  while :; do
    st="$(slave_status_of "$node")" || die "cannot query $node"
    if [ "$(field_of Slave_SQL_Running <<<"$st")" != Yes ]; then
      die "$node's SQL thread stopped: $(field_of Last_SQL_Errno <<<"$st") $(field_of Last_SQL_Error <<<"$st")"
    fi
    if [ "$(field_of Master_Log_File <<<"$st")" = "$(field_of Relay_Master_Log_File <<<"$st")" ] &&
       [ "$(field_of Read_Master_Log_Pos <<<"$st")" = "$(field_of Exec_Master_Log_Pos <<<"$st")" ]; then
      return 0
    fi
    case "$(field_of Slave_SQL_Running_State <<<"$st")" in *"read all relay log"*) return 0 ;; esac
    [ "$(now_ms)" -lt "$deadline" ] || die "$node did not apply its relay log within ${SWITCH_TIMEOUT}s"
    sleep 0.02
  done
}

# warn_if_ahead NODE: another running node received commits NODE lacks.
warn_if_ahead() {
  local node="$1" mine other got
  mine="$(root_sql "$node" -e "SELECT @@gtid_current_pos")"
  for other in "${NODES[@]}"; do
    if [ "$other" = "$node" ] || ! node_up "$other"; then continue; fi
    got="$(field_of Gtid_IO_Pos <<<"$(slave_status_of "$other" 2>/dev/null)")"
    [ -n "$got" ] || got="$(root_sql "$other" -e "SELECT @@gtid_current_pos" 2>/dev/null)" || continue
    if ! gtid_covers "$mine" "$got"; then
      echo "$PROG: WARNING: $other had received $got, more than $node has ($mine): those commits are lost; $other will stop with error 1236 (then: $PROG rejoin $other)" >&2
    fi
  done
}

# caught_up NODE SOURCE TIMEOUT: 0 when NODE applied SOURCE's position,
# 2 when SOURCE refuses NODE's position (error 1236: NODE diverged); dies on
# other replication errors and on timeout.
caught_up() {
  local node="$1" source="$2" pos st deadline io_errno
  pos="$(root_sql "$source" -e "SELECT @@gtid_binlog_pos")" || die "cannot query $source"
  deadline=$(( $(now_ms) + $3 * 1000 ))
  while :; do
    [ "$(root_sql "$node" -e "SELECT MASTER_GTID_WAIT('$pos', 0.2)")" = 0 ] && return 0
    st="$(slave_status_of "$node")" || die "cannot query $node"
    io_errno="$(field_of Last_IO_Errno <<<"$st")"
    [ "$io_errno" = 1236 ] && return 2
    if [ "$(field_of Slave_SQL_Running <<<"$st")" = No ] || [ "$(field_of Slave_IO_Running <<<"$st")" = No ]; then
      die "$node stopped replicating from $source: $io_errno $(field_of Last_IO_Error <<<"$st") $(field_of Last_SQL_Errno <<<"$st") $(field_of Last_SQL_Error <<<"$st")"
    fi
    [ "$(now_ms)" -lt "$deadline" ] || die "$node did not catch up with $source ($pos) within $3s"
  done
}

user_databases() {
  root_sql "$1" -e "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')"
}

# rebuild NODE SOURCE: NODE's databases, binlog and GTID state are replaced by
# a consistent dump of SOURCE, and NODE replicates from the dump's position.
rebuild() {
  local node="$1" source="$2" dump="$DIR/$1/rebuild.sql" dbs=() db pos state drop=""
  local dump_bin
  dump_bin="$(find_bin mariadb-dump mysqldump)" || die "mariadb-dump not found"
  mapfile -t dbs < <(user_databases "$source")
  [ "${#dbs[@]}" -gt 0 ] || die "$source has no databases to copy"
  "$dump_bin" --defaults-file="$ADMIN_CNF" --port="$(node_port "$source")" --single-transaction \
    --gtid --master-data=2 --routines --events --triggers --databases "${dbs[@]}" >"$dump" ||
    { rm -f "$dump"; die "mariadb-dump of $source failed"; }
  pos="$(sed -n "s/^-- SET GLOBAL gtid_slave_pos='\(.*\)';$/\1/p" "$dump")"
  [ -n "$pos" ] || { rm -f "$dump"; die "the dump of $source has no GTID position"; }
  step "dumped $source at $pos"
  while read -r db; do [ -z "$db" ] || drop+="DROP DATABASE \`$db\`; "; done < <(user_databases "$node")
  root_sql "$node" -e "STOP SLAVE; RESET SLAVE ALL; SET sql_log_bin=0; $drop RESET MASTER;" ||
    { rm -f "$dump"; die "could not reset $node"; }
  root_sql "$node" --init-command="SET sql_log_bin=0" <"$dump" ||
    { rm -f "$dump"; die "loading the dump into $node failed"; }
  rm -f "$dump"
  # The copy's binlog claims the source's history up to the dump, so that it
  # can be compared with other nodes and serve as a source itself.
  state="$(gtid_state_at "$(root_sql "$source" -e "SELECT @@gtid_binlog_state")" "$pos")"
  # Right after a crash restart InnoDB may not have loaded mysql.gtid_slave_pos
  # yet (error 1932, "doesn't exist in engine"): retried for a few seconds.
  root_sql "$node" -e "SET GLOBAL gtid_binlog_state='$state'" ||
    die "could not set $node's binlog GTID state"
  local tries=0
  until root_sql "$node" -e "SET GLOBAL gtid_slave_pos='$pos'" 2>"$DIR/$node/gtid-state.err"; do
    tries=$((tries + 1))
    if [ "$tries" -ge 50 ]; then
      cat "$DIR/$node/gtid-state.err" >&2
      die "could not set $node's GTID state"
    fi
    sleep 0.2
  done
  rm -f "$DIR/$node/gtid-state.err"
  repoint "$node" "$source" || die "could not re-point $node at $source"
  step "$node loaded the dump and replicates from $source"
}

# ---------------------------------------------------------------- commands ---
cmd_start() {
  need_bins
  chmod 700 "$DIR"
  write_conf

  # 1. datadirs for new nodes: run mariadb-install-db once, copy for the rest
  local node new=() tmpl="$DIR/.template"
  for node in "${NODES[@]}"; do
    [ -d "$DIR/$node/data/mysql" ] || new+=("$node")
  done
  if [ "${#new[@]}" -gt 0 ]; then
    rm -rf "$tmpl" "$tmpl.tmp"
    local idb=(--no-defaults --datadir="$tmpl.tmp" --auth-root-authentication-method=normal
      --skip-test-db --skip-name-resolve --innodb-log-file-size=16M --innodb-buffer-pool-size=64M)
    if [ "$(id -u)" -eq 0 ]; then idb+=(--user=root); fi
    # Seen once on a loaded machine: a bootstrap that failed and then
    # worked when run again. One retry, and the real error lines (the log's
    # tail is only boilerplate advice) either way.
    local attempt
    for attempt in 1 2; do
      if "$INSTALL_DB" "${idb[@]}" >"$DIR/install-db.log" 2>&1 9>&-; then break; fi
      grep -E '\[ERROR\]|ERROR|rror' "$DIR/install-db.log" | grep -v 'report' | head -n 20 >&2 || true
      [ "$attempt" -eq 2 ] && die "mariadb-install-db failed twice (log: $DIR/install-db.log)"
      say "mariadb-install-db failed; retrying once"
      rm -rf "$tmpl.tmp"
      sleep 2
    done
    mv "$tmpl.tmp" "$tmpl"
    for node in "${new[@]}"; do
      mkdir -p "$DIR/$node"
      rm -rf "$DIR/$node/data" "$DIR/$node/configured"
      cp -a "$tmpl" "$DIR/$node/data.tmp"
      mv "$DIR/$node/data.tmp" "$DIR/$node/data"
    done
    rm -rf "$tmpl"
    say "initialized datadir for: ${new[*]}"
  fi

  # 2. passwords (generated once)
  if [ -f "$DIR/primary/configured" ]; then
    if [ ! -s "$APP_PW_FILE" ] || [ ! -s "$ADMIN_PW_FILE" ] || [ ! -s "$REPL_PW_FILE" ]; then
      die "password files missing in $DIR but the primary is already configured"
    fi
  fi
  gen_password "$APP_PW_FILE"
  gen_password "$ADMIN_PW_FILE"
  gen_password "$REPL_PW_FILE"
  write_admin_cnf

  # 3. launch every stopped node at once, then wait for each
  for node in "${NODES[@]}"; do launch_node "$node"; done
  for node in "${LAUNCHED[@]}"; do wait_ready "$node"; done

  # 4. first-time configuration
  [ -f "$DIR/primary/configured" ] || configure_primary
  ensure_app_grants
  local replicas=("${NODES[@]:1}")
  for node in "${replicas[@]}"; do
    [ -f "$DIR/$node/configured" ] || configure_replica "$node"
  done

  # 5. replicas have everything the primary has; users can log in everywhere
  if [ "${#replicas[@]}" -gt 0 ]; then
    wait_replicas_caught_up "$START_TIMEOUT" "${replicas[@]}"
  fi
  verify_logins "${NODES[@]}"
  say "cluster up: primary 127.0.0.1:$BASE_PORT, $NREPLICAS replica(s) (dir $DIR)"
}

cmd_stop() {
  if [ ! -d "$DIR" ]; then
    say "nothing to stop ($DIR does not exist)"
  else
      local nodes=()
    mapfile -t nodes < <(existing_nodes)
    if [ "${#nodes[@]}" -gt 0 ]; then stop_nodes TERM "${nodes[@]}"; fi
    say "all nodes in $DIR stopped"
  fi
  if [ "$opt_purge" -eq 1 ] && [ -d "$DIR" ]; then
    local f other=0
    for f in "$DIR"/* "$DIR"/.[!.]*; do
      [ -e "$f" ] && [ "${f##*/}" != .lock ] && other=1
    done
    if [ ! -f "$CONF" ] && [ "$other" -eq 1 ]; then
      die "refusing to delete $DIR: it does not look like a cluster dir (no cluster.conf)"
    fi
    rm -rf "$DIR"
    say "deleted $DIR"
  fi
}

cmd_status() {
  need_client_bins
  local node pid port rc=0
  for node in "${NODES[@]}"; do
    port="$(node_port "$node")"
    if ! pid="$(node_pid "$node")"; then
      printf '%-10s %5s down\n' "$node" "$port"
      rc=1
    elif frozen "$node"; then
      printf '%-10s %5s frozen pid=%s\n' "$node" "$port" "$pid"
      rc=1
    else
      printf '%-10s %5s running pid=%s %s\n' "$node" "$port" "$pid" "$(node_role "$node")"
    fi
  done
  return "$rc"
}

# node_role NODE: writer / replica of NODE (with its threads) / read-only
# not replicating, from the admin login (so a broken login shows too).
node_role() {
  local node="$1" ro st line io sq sbm gsp errno err
  ro="$(admin_sql "$node" -B -N -e "SELECT @@read_only" 2>/dev/null)" || { echo "(admin login failed)"; return 0; }
  # SHOW ALL SLAVES STATUS also has Gtid_Slave_Pos (SHOW SLAVE STATUS does not)
  st="$(admin_sql "$node" -E -e "SHOW ALL SLAVES STATUS" 2>/dev/null)" || { echo "(admin login failed)"; return 0; }
  if [ -z "$st" ]; then
    if [ "$ro" = 0 ]; then
      echo "writer gtid_binlog_pos=$(admin_sql "$node" -B -N -e "SELECT @@gtid_binlog_pos" 2>/dev/null)"
    else
      echo "read-only, not replicating"
    fi
    return 0
  fi
  line="replica of $(port_node "$(field_of Master_Port <<<"$st")")"
  [ "$ro" = 1 ] || line="WRITABLE $line"
  io="$(field_of Slave_IO_Running <<<"$st")"
  sq="$(field_of Slave_SQL_Running <<<"$st")"
  sbm="$(field_of Seconds_Behind_Master <<<"$st")"
  gsp="$(field_of Gtid_Slave_Pos <<<"$st")"
  line+=" Slave_IO_Running=$io Slave_SQL_Running=$sq Seconds_Behind_Master=${sbm:-NULL} gtid_slave_pos=$gsp"
  errno="$(field_of Last_SQL_Errno <<<"$st")"
  err="$(field_of Last_SQL_Error <<<"$st")"
  if [ "${errno:-0}" = 0 ]; then
    errno="$(field_of Last_IO_Errno <<<"$st")"
    err="$(field_of Last_IO_Error <<<"$st")"
  fi
  [ "${errno:-0}" = 0 ] || line+=" last_error=\"$errno: $err\""
  echo "$line"
}

cmd_env() {
  local addrs="" node
  for node in "${NODES[@]:1}"; do
    addrs+="${addrs:+,}127.0.0.1:$(node_port "$node")"
  done
  local kv=(
    CLUSTER_DIR "$DIR"
    CLUSTER_PRIMARY "127.0.0.1:$BASE_PORT"
    CLUSTER_REPLICA_ADDRS "$addrs"
    CLUSTER_DB_NAME "$DB_NAME"
    CLUSTER_DB_USER "$APP_USER"
    CLUSTER_DB_PASSWORD_FILE "$APP_PW_FILE"
    CLUSTER_ADMIN_USER "$ADMIN_USER"
    CLUSTER_ADMIN_PASSWORD_FILE "$ADMIN_PW_FILE"
  )
  local i v
  for ((i = 0; i < ${#kv[@]}; i += 2)); do
    v="${kv[i+1]}"
    if [[ ! "$v" =~ ^[A-Za-z0-9_./:,@%+=-]*$ ]]; then
      v="'${v//\'/\'\\\'\'}'"   # single-quote, escaping embedded quotes
    fi
    printf 'export %s=%s\n' "${kv[i]}" "$v"
  done
}

cmd_kill() {
  local node="$1"
  if ! node_pid "$node" >/dev/null; then say "$node is not running"; return 0; fi
  stop_nodes KILL "$node"
}

cmd_stop_node() {
  local node="$1"
  if ! node_pid "$node" >/dev/null; then say "$node is not running"; return 0; fi
  stop_nodes TERM "$node"
}

cmd_start_node() {
  local node="$1"
  need_bins
  [ -d "$DIR/$node/data/mysql" ] || die "$node does not exist in $DIR; use '$PROG start' (with --replicas) to create it"
  [ -f "$DIR/$node/configured" ] || die "$node was never fully configured; use '$PROG start'"
  launch_node "$node"
  if [ "${#LAUNCHED[@]}" -gt 0 ]; then wait_ready "$node"; fi
}

cmd_sync() {
  local timeout="${1:-30}" pos node res deadline remaining skipped=()
  is_uint "$timeout" || usage_error "sync TIMEOUT must be a whole number of seconds"
  need_client_bins
  the_writer
  pos="$(admin_sql "$WRITER" -B -N -e "SELECT @@gtid_binlog_pos")" || die "cannot query the writer $WRITER"
  deadline=$(( $(now_ms) + timeout * 1000 ))
  for node in "${NODES[@]}"; do
    [ "$node" != "$WRITER" ] || continue
    if ! node_up "$node"; then skipped+=("$node"); continue; fi
    [ -n "$pos" ] || continue
    remaining=$(( deadline - $(now_ms) ))
    [ "$remaining" -gt 0 ] || remaining=0
    res="$(admin_sql "$node" -B -N -e "SELECT MASTER_GTID_WAIT('$pos', $((remaining / 1000)).$(printf '%03d' $((remaining % 1000))))")" || res="error"
    if [ "$res" != 0 ]; then
      echo "$PROG: $node did not reach writer $WRITER's gtid_binlog_pos $pos within ${timeout}s (result: $res)" >&2
      cmd_status >&2 || true
      exit 1
    fi
    # Having the position is not enough when the source refuses the node's
    # position: it would never receive the next commit.
    if [ "$(field_of Last_IO_Errno <<<"$(slave_status_of "$node")")" = 1236 ]; then
      echo "$PROG: $node cannot replicate from its source (error 1236; $PROG rejoin $node)" >&2
      cmd_status >&2 || true
      exit 1
    fi
  done
  [ "${#skipped[@]}" -eq 0 ] || echo "$PROG: not running or frozen, skipped: ${skipped[*]}" >&2
  say "in sync with writer $WRITER at ${pos:-<empty>}"
}

cmd_writer() {
  need_client_bins
  the_writer
  echo "$WRITER"
}

cmd_switchover() {
  local target="$1" old pos res node
  need_client_bins
  require_up "$target"
  the_writer
  old="$WRITER"
  [ "$old" != "$target" ] || die "$target is already the writer"
  for node in "${NODES[@]}"; do
    ! frozen "$node" || die "$node is frozen; a switchover needs every running node (thaw it, or use failover)"
  done
  T0="$(now_ms)"
  root_sql "$old" -e "SET GLOBAL read_only=1" || die "could not make $old read-only"
  pos="$(root_sql "$old" -e "SELECT @@gtid_binlog_pos")" || die "cannot query $old"
  step "$old is read-only at $pos"
  res="$(root_sql "$target" -e "SELECT MASTER_GTID_WAIT('$pos', $SWITCH_TIMEOUT)")" || res=error
  if [ "$res" != 0 ]; then
    root_sql "$old" -e "SET GLOBAL read_only=0" || true
    die "$target did not apply $old's $pos within ${SWITCH_TIMEOUT}s (result: $res); $old is writable again, nothing else changed"
  fi
  step "$target applied $pos"
  promote "$target"
  step "$target is the writer"
  repoint "$old" "$target" own || die "could not re-point $old at $target"
  step "$old replicates from $target"
  repoint_others "$target" "$old"
  say "switchover from $old to $target done in $(( $(now_ms) - T0 )) ms"
}

cmd_failover() {
  local target="$1" ws=()
  need_client_bins
  require_up "$target"
  mapfile -t ws < <(writers)
  if [ "${#ws[@]}" -gt 0 ]; then
    [ "${ws[*]}" != "$target" ] || die "$target is already the writer"
    die "the writer ${ws[*]} is running and answers; use switchover"
  fi
  T0="$(now_ms)"
  if [ -n "$(slave_status_of "$target")" ]; then
    root_sql "$target" -e "STOP SLAVE IO_THREAD" || die "could not stop $target's IO thread"
    step "$target stopped receiving"
    wait_relay_applied "$target"
    step "$target applied its relay log up to $(root_sql "$target" -e "SELECT @@gtid_current_pos")"
  fi
  warn_if_ahead "$target"
  promote "$target"
  step "$target is the writer"
  repoint_others "$target"
  say "failover to $target done in $(( $(now_ms) - T0 )) ms"
}

cmd_rejoin() {
  local node="$1" was_ro others mine state rc=0
  need_client_bins
  require_up "$node"
  # Before anything else: a returning old writer must not take one more write.
  was_ro="$(root_sql "$node" -e "SELECT @@read_only; SET GLOBAL read_only=1")" ||
    die "could not make $node read-only"
  T0="$(now_ms)"
  step "$node is read-only"
  if [ "$was_ro" = 0 ]; then
    others="$(writers | grep -vxF -- "$node")" || true
    if [ -z "$others" ]; then
      root_sql "$node" -e "SET GLOBAL read_only=0"
      die "there is no other writer for $node to follow; $node is writable again"
    fi
  fi
  the_writer "$node"
  mine="$(root_sql "$node" -e "SELECT @@gtid_binlog_pos")"
  state="$(root_sql "$WRITER" -e "SELECT @@gtid_binlog_state")"
  if gtid_in_state "$state" "$mine"; then
    repoint "$node" "$WRITER" own || die "could not re-point $node at $WRITER"
    step "$node replicates from $WRITER"
    caught_up "$node" "$WRITER" "$START_TIMEOUT" || rc=$?
    [ "$rc" -eq 0 ] || step "$WRITER refuses $node's position (error 1236): $node diverged"
  else
    rc=2
    step "$node diverged: it holds $mine, $WRITER's binlog has $state"
  fi
  if [ "$rc" -ne 0 ]; then
    rebuild "$node" "$WRITER"
    caught_up "$node" "$WRITER" "$START_TIMEOUT" || die "$WRITER refuses $node's position even after the rebuild"
  fi
  say "$node rejoined as a replica of $WRITER, caught up in $(( $(now_ms) - T0 )) ms"
}

cmd_freeze() {
  local node="$1" pid i
  pid="$(node_pid "$node")" || die "$node is not running"
  if frozen "$node"; then say "$node is already frozen"; return 0; fi
  kill -STOP "$pid"
  for i in $(seq 1 100); do frozen "$node" && break; sleep 0.01; done
  frozen "$node" || die "$node (pid $pid) did not stop"
  say "froze $node (pid $pid)"
}

cmd_thaw() {
  local node="$1" pid
  pid="$(node_pid "$node")" || { say "$node is not running"; return 0; }
  if ! frozen "$node"; then say "$node is not frozen"; return 0; fi
  kill -CONT "$pid"
  say "thawed $node (pid $pid)"
}

cmd_sql() {
  local node="$1"; shift
  need_client_bins
  if [ $# -eq 0 ]; then
    admin_sql "$node" -B -N
  else
    admin_sql "$node" -B -N -e "$*"
  fi
}

# ---------------------------------------------------------- cluster config ---
# Reads DIR/cluster.conf (base port and replica count remembered from the
# first start) and computes BASE_PORT, NREPLICAS and NODES.
load_config() {
  local stored_port="" d i f
  TLS_DIR=""
  stored_replicas=""
  if [ -f "$CONF" ]; then
    stored_port="$(sed -n 's/^BASE_PORT=//p' "$CONF")"
    stored_replicas="$(sed -n 's/^REPLICAS=//p' "$CONF")"
    TLS_DIR="$(sed -n 's/^TLS_DIR=//p' "$CONF")"
  fi
  if [ -n "$opt_tls_dir" ]; then
    case "$opt_tls_dir" in /*) TLS_DIR="$opt_tls_dir" ;; *) TLS_DIR="$PWD/$opt_tls_dir" ;; esac
    for f in ca.pem server.pem server.key; do
      [ -r "$TLS_DIR/$f" ] || die "--tls-dir: cannot read $TLS_DIR/$f"
    done
  fi
  if [ -n "$stored_port" ]; then
    if [ -n "$opt_port" ] && [ "$opt_port" != "$stored_port" ]; then
      die "cluster in $DIR was created with base port $stored_port (got $opt_port); use 'destroy' first to change it"
    fi
    BASE_PORT="$stored_port"
  else
    BASE_PORT="${opt_port:-13306}"
  fi

  local existing_replicas=0
  for d in "$DIR"/replica-*; do
    [ -d "$d" ] || continue
    i="${d##*/replica-}"
    is_uint "$i" || continue
    if [ $((i + 1)) -gt "$existing_replicas" ]; then existing_replicas=$((i + 1)); fi
  done
  NREPLICAS="${opt_replicas:-${stored_replicas:-2}}"
  if [ "$existing_replicas" -gt "$NREPLICAS" ]; then NREPLICAS="$existing_replicas"; fi
  if [ -n "$stored_replicas" ] && [ "$stored_replicas" -gt "$NREPLICAS" ]; then NREPLICAS="$stored_replicas"; fi
  [ $((BASE_PORT + NREPLICAS)) -le 65535 ] || die "ports out of range: $BASE_PORT + $NREPLICAS"

  NODES=(primary)
  for ((i = 0; i < NREPLICAS; i++)); do NODES+=("replica-$i"); done
}

# ----------------------------------------------------------------- dispatch ---
# Commands that change state hold DIR/.lock for their whole run; the config
# is read only after the lock is taken.
case "$CMD" in
  start) lock_dir ;;
  stop|destroy|kill|stop-node|start-node|switchover|failover|rejoin|freeze|thaw)
    if [ -d "$DIR" ]; then lock_dir; fi ;;
esac
load_config
nargs=$(( ${#positional[@]} - 1 ))
arg1="${positional[1]:-}"
case "$CMD" in
  start)   [ "$nargs" -eq 0 ] || usage_error "start takes no arguments"; cmd_start ;;
  stop)    [ "$nargs" -eq 0 ] || usage_error "stop takes no arguments (only --purge)"; cmd_stop ;;
  destroy) [ "$nargs" -eq 0 ] || usage_error "destroy takes no arguments"; opt_purge=1; cmd_stop ;;
  status)  [ "$nargs" -eq 0 ] || usage_error "status takes no arguments"; cmd_status ;;
  env)     [ "$nargs" -eq 0 ] || usage_error "env takes no arguments"; cmd_env ;;
  kill)    [ "$nargs" -eq 1 ] || usage_error "usage: $PROG kill NODE"; check_node_arg "$arg1"; cmd_kill "$arg1" ;;
  stop-node)  [ "$nargs" -eq 1 ] || usage_error "usage: $PROG stop-node NODE"; check_node_arg "$arg1"; cmd_stop_node "$arg1" ;;
  start-node) [ "$nargs" -eq 1 ] || usage_error "usage: $PROG start-node NODE"; check_node_arg "$arg1"; cmd_start_node "$arg1" ;;
  sync)    [ "$nargs" -le 1 ] || usage_error "usage: $PROG sync [TIMEOUT_SECONDS]"; cmd_sync "$arg1" ;;
  writer)  [ "$nargs" -eq 0 ] || usage_error "writer takes no arguments"; cmd_writer ;;
  switchover|failover|rejoin|freeze|thaw)
           [ "$nargs" -eq 1 ] || usage_error "usage: $PROG $CMD NODE"; check_node_arg "$arg1"
           "cmd_$CMD" "$arg1" ;;
  sql)     [ "$nargs" -ge 1 ] || usage_error "usage: $PROG sql NODE [STATEMENT]"; check_node_arg "$arg1"
           cmd_sql "${positional[@]:1}" ;;
  help)    usage ;;
  *)       usage_error "unknown command: $CMD" ;;
esac
