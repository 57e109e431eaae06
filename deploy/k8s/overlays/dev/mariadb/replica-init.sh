# shellcheck shell=bash
# Sourced by the mariadb image's entrypoint on a replica's first start:
# waits for the primary (MARIADB_PRIMARY_HOST, MARIADB_PRIMARY_PORT or 3306),
# then replicates it from its first binlog event with GTIDs. The replica's
# own setup is dropped from its binlog first, so with gtid_strict_mode its
# binlog holds only the primary's transactions. Used by overlays/dev and
# deploy/compose, and run against real mariadbd by
# tests/deploy/init_scripts_test.sh.
secrets="${SECRETS_DIR:-/run/secrets/mariadb}"
repl_pw="$(cat "$secrets/replication-password")"
primary="${MARIADB_PRIMARY_HOST:?MARIADB_PRIMARY_HOST is not set}"
port="${MARIADB_PRIMARY_PORT:-3306}"
for _ in $(seq 1 150); do
  # ping succeeds once the server answers, whatever the credentials.
  if mariadb-admin --host="$primary" --port="$port" --connect-timeout=2 ping >/dev/null 2>&1; then
    break
  fi
  echo "replica-init: waiting for the primary $primary" >&2
  sleep 2
done
docker_process_sql <<SQL
RESET MASTER;
SET GLOBAL gtid_slave_pos = '';
CHANGE MASTER TO MASTER_HOST='${primary}', MASTER_PORT=${port},
  MASTER_USER='replication', MASTER_PASSWORD='${repl_pw}',
  MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=5;
START SLAVE;
SQL
