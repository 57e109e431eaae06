#!/usr/bin/env bash
# Sets up and runs every test: installs what is missing (apt, npm), builds,
# lints the API with buf, builds the container image with podman, builds and
# runs the fuzz targets, starts a private MariaDB primary + 3 replicas with
# real GTID replication on their own ports, and runs the unit, integration,
# end-to-end, deployment and container tests with CTest. Exits non-zero on
# any failure.
#
# Env: BUILD_DIR (default build), TEST_CLUSTER_BASE_PORT (default 23306),
#      KEEP_CLUSTER=1 to leave the test cluster running afterwards,
#      CTEST_ARGS for extra ctest arguments (e.g. "-L unit"),
#      FUZZ_SECONDS for each fuzz target's run (default 30).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$REPO_ROOT/build}"
CLUSTER="$REPO_ROOT/deploy/local/cluster.sh"

step() { printf '\n== %s\n' "$*"; }

step "dependencies"
"$REPO_ROOT/deploy/local/install-deps.sh"

step "build ($BUILD_DIR)"
"$REPO_ROOT/deploy/local/build.sh" "$BUILD_DIR"

step "buf lint and breaking-change check"
BUF="$REPO_ROOT/.tools/node_modules/.bin/buf"
(cd "$REPO_ROOT" && "$BUF" lint)
echo "buf lint: clean"
# Other teams generate stubs from proto/: every change must be an addition.
# The tree is checked against the previous commit (and against HEAD too when
# proto/ has uncommitted changes).
if ! git -C "$REPO_ROOT" rev-parse --verify --quiet HEAD~1 >/dev/null; then
  echo "buf breaking: no previous commit to compare with (a shallow clone?);" \
    "clone with history or run 'git fetch --unshallow'" >&2
  exit 1
fi
against=(HEAD~1)
if ! git -C "$REPO_ROOT" diff --quiet HEAD -- proto; then against+=(HEAD); fi
for rev in "${against[@]}"; do
  (cd "$REPO_ROOT" && "$BUF" breaking --against ".git#ref=$rev")
  echo "buf breaking against $rev ($(git -C "$REPO_ROOT" rev-parse --short "$rev")): additions only"
done

step "container image"
# What the container tests (CTest label container) run. Podman keeps the
# base images, layers and compiler cache, so a rerun rebuilds only what
# changed; without podman the run fails here.
# The tests run the image by ID: another checkout's run on this machine may
# move the tag meanwhile.
image_start=$(date +%s)
"$REPO_ROOT/deploy/docker/build-image.sh" --iidfile "$BUILD_DIR/image-id"
USERSERVICE_TEST_IMAGE="$(cat "$BUILD_DIR/image-id")"
export USERSERVICE_TEST_IMAGE
echo "container image: ready in $(($(date +%s) - image_start)) s"

# ---- fuzz ---------------------------------------------------------------
# The libFuzzer targets of tests/fuzz (tests/README.md#fuzzing), built by
# clang in a tree of their own with ASan and UBSan, each run on a copy of
# its seed corpus for FUZZ_SECONDS (default 30). No database needed.
step "fuzz ($BUILD_DIR-fuzz)"
fuzz_start=$(date +%s)
fuzz_dir="$BUILD_DIR-fuzz"
fuzz_cmake="-DCMAKE_CXX_COMPILER=clang++-14 -DUSERSERVICE_FUZZ=ON"
fuzz_cmake+=" -DUSERSERVICE_FUZZ_SECONDS=${FUZZ_SECONDS:-30}"
CMAKE_EXTRA_ARGS="$fuzz_cmake" \
  "$REPO_ROOT/deploy/local/build.sh" --no-tests "$fuzz_dir"
echo "fuzz: built in $(($(date +%s) - fuzz_start)) s"
(cd "$fuzz_dir" && ctest -L fuzz --output-on-failure -j "$(nproc)")
cat "$fuzz_dir"/tests/fuzz/*/summary
echo "fuzz: done in $(($(date +%s) - fuzz_start)) s"
# ---- end of fuzz --------------------------------------------------------

step "test cluster"
export CLUSTER_DIR="$BUILD_DIR/test-cluster"
export CLUSTER_BASE_PORT="${TEST_CLUSTER_BASE_PORT:-23306}"
export CLUSTER_REPLICAS=3
# Every run starts from an empty cluster, so no state leaks between runs.
"$CLUSTER" stop --purge >/dev/null 2>&1 || true
if [ "${KEEP_CLUSTER:-0}" != 1 ]; then
  trap '"$CLUSTER" stop --purge >/dev/null 2>&1 || true' EXIT
fi
if ! "$CLUSTER" start; then
  echo "tests/run.sh: the MariaDB test cluster did not start; the database" >&2
  echo "tests cannot run. See the error logs under $CLUSTER_DIR." >&2
  exit 1
fi
eval "$("$CLUSTER" env)"

step "ctest"
cd "$BUILD_DIR"
# shellcheck disable=SC2086  # CTEST_ARGS is a list of arguments
ctest --output-on-failure -j "$(nproc)" ${CTEST_ARGS:-}
