#!/usr/bin/env bash
# The one build recipe: CI (tests/run.sh), deploy/local/run.sh and the
# container image (deploy/docker/Dockerfile) all build through this script,
# so the image is built exactly the way the tested binaries are.
#
# Usage: deploy/local/build.sh [--release] [--no-tests] BUILD_DIR [TARGET ...]
#   --release   CMAKE_BUILD_TYPE=Release (default: $CMAKE_BUILD_TYPE or
#               RelWithDebInfo)
#   --no-tests  configure without the tests (needs no GoogleTest)
#   TARGET      build only these targets (default: everything)
# Env: CMAKE_BUILD_TYPE, BUILD_JOBS (default: nproc), CMAKE_EXTRA_ARGS.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
build_type="${CMAKE_BUILD_TYPE:-RelWithDebInfo}"
tests=ON
while [ $# -gt 0 ]; do
  case "$1" in
    --release) build_type=Release; shift ;;
    --no-tests) tests=OFF; shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "build.sh: unknown option: $1 (see --help)" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { echo "build.sh: BUILD_DIR is required (see --help)" >&2; exit 2; }
build_dir="$1"
shift

launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
# shellcheck disable=SC2206  # word splitting is intended
extra=(${CMAKE_EXTRA_ARGS:-})
cmake -S "$REPO_ROOT" -B "$build_dir" -G Ninja \
  -DCMAKE_BUILD_TYPE="$build_type" \
  -DUSERSERVICE_BUILD_TESTS="$tests" "${launcher[@]}" "${extra[@]}" >/dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$build_dir" -j "${BUILD_JOBS:-$(nproc)}" "${targets[@]}"
