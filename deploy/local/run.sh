#!/usr/bin/env bash
# Sets up and runs the service locally: installs what is missing (apt, npm),
# builds, starts a MariaDB primary + 2 replicas (deploy/local/cluster.sh, in
# .local/cluster, ports 13306-13308) and runs user_server in the foreground.
# Ctrl-C stops the server; `deploy/local/cluster.sh stop` stops the databases.
#
# Env: LISTEN (default 127.0.0.1:50051), BUILD_DIR (default build); any
# USER_SERVICE_* variable configures the server (see user_server --help).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$REPO_ROOT/build}"
CLUSTER="$REPO_ROOT/deploy/local/cluster.sh"
LISTEN="${LISTEN:-127.0.0.1:50051}"

"$REPO_ROOT/deploy/local/install-deps.sh"
"$REPO_ROOT/deploy/local/build.sh" "$BUILD_DIR" user_server userctl

"$CLUSTER" start
eval "$("$CLUSTER" env)"

port="${LISTEN##*:}"
cat <<MSG

user_server is starting on $LISTEN (primary $CLUSTER_PRIMARY, replicas $CLUSTER_REPLICA_ADDRS).
From another terminal:
  $BUILD_DIR/client/userctl --addr=localhost:$port create --username=alice --email=alice@example.com
  $BUILD_DIR/client/userctl --addr=localhost:$port list
  $BUILD_DIR/client/userctl --addr=localhost:$port --format=table list
  $REPO_ROOT/.tools/node_modules/.bin/buf curl --protocol grpc --http2-prior-knowledge --list-services http://localhost:$port
  $REPO_ROOT/.tools/node_modules/.bin/buf curl --protocol grpc --http2-prior-knowledge \\
      -d '{"id":"1"}' http://localhost:$port/userservice.v1.UserService/GetUser
Stop the databases afterwards with: deploy/local/cluster.sh stop

MSG
exec "$BUILD_DIR/server/user_server" \
  --listen="$LISTEN" \
  --primary="$CLUSTER_PRIMARY" \
  --replicas="$CLUSTER_REPLICA_ADDRS" \
  --db-name="$CLUSTER_DB_NAME" \
  --db-user="$CLUSTER_DB_USER" \
  --db-password-file="$CLUSTER_DB_PASSWORD_FILE" \
  "$@"
