# shellcheck shell=bash
# Sourced (not executed) by the mariadb image's entrypoint on the primary's
# first start, after it set the root password; docker_process_sql is the
# entrypoint's client for its temporary server. Used by overlays/dev and
# deploy/compose.
secrets="${SECRETS_DIR:-/run/secrets/mariadb}"
repl_pw="$(cat "$secrets/replication-password")"
app_pw="$(cat "$secrets/userservice-password")"
# The binlog starts here: replicas replicate from its first event, so they
# get exactly these statements (users included) and none of the image's own
# setup (its root users), which every node does for itself.
docker_process_sql <<SQL
RESET MASTER;
CREATE DATABASE IF NOT EXISTS userservice;
CREATE USER 'userservice'@'%' IDENTIFIED BY '${app_pw}';
GRANT ALL PRIVILEGES ON userservice.* TO 'userservice'@'%';
GRANT SLAVE MONITOR ON *.* TO 'userservice'@'%';
CREATE USER 'replication'@'%' IDENTIFIED BY '${repl_pw}';
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'replication'@'%';
SQL
