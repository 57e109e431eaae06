#!/usr/bin/env bash
# Idempotent installer for everything needed to build, run and test the
# user service locally (Debian 12). Installs only what is missing.
#
# Usage: deploy/local/install-deps.sh [--build-only] [--no-npm] [--no-apt]
#   --build-only  only what building user_server and userctl needs (the
#                 container image's build stage): no database, test or npm tools
#   --no-npm      do not install the npm tools (buf, the manifest validator)
#                 into <repo>/.tools
#   --no-apt      do not check/install Debian packages
# Env:
#   EXTRA_APT_PACKAGES  extra Debian packages (space separated) to ensure
#   BUF_VERSION         buf version to pin (default below)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUF_VERSION="${BUF_VERSION:-1.75.0}"
TOOLS_DIR="$REPO_ROOT/.tools"

# What the Dockerfile's build stage needs too (--build-only).
BUILD_APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev
  libabsl-dev libmysqlcppconn-dev libboost-dev prometheus-cpp-dev
)
# Tests, the local cluster and the deployment checks (tests/deploy/check.sh:
# promtool from `prometheus`, PyYAML, dpkg/ldd for the image recipe; the
# container image and its test: podman with runc, debootstrap for the base
# images where no registry is reachable; the fuzz targets: clang, libFuzzer
# and the sanitizer runtimes, which clang only recommends).
TEST_APT_PACKAGES=(
  libgtest-dev libgmock-dev
  mariadb-server mariadb-client openssl python3-grpcio nodejs npm procps
  prometheus python3 python3-yaml
  podman runc debootstrap
  clang-14 libfuzzer-14-dev libclang-rt-14-dev
)
# npm tools of tests/deploy/check.sh, pinned: Kubernetes' OpenAPI schemas
# compiled to validators (kubernetes-models), the same for the Prometheus
# Operator's CRDs, and the official JavaScript client, whose generated
# models list every field of every type (for rejecting unknown fields).
DEPLOY_CHECK_NPM_PACKAGES=(
  kubernetes-models@5.1.0
  @kubernetes-models/prometheus-operator@6.0.0
  @kubernetes/client-node@1.4.0
)
DEPLOY_CHECK_DIR="$TOOLS_DIR/deploy-check"

do_npm=1
do_apt=1
build_only=0
for arg in "$@"; do
  case "$arg" in
    --build-only) build_only=1; do_npm=0 ;;
    --no-npm) do_npm=0 ;;
    --no-apt) do_apt=0 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-deps: unknown argument: $arg (see --help)" >&2; exit 2 ;;
  esac
done

die() { echo "install-deps: ERROR: $*" >&2; exit 1; }

APT_PACKAGES=("${BUILD_APT_PACKAGES[@]}")
if [ "$build_only" -eq 0 ]; then APT_PACKAGES+=("${TEST_APT_PACKAGES[@]}"); fi
# shellcheck disable=SC2206  # word splitting is intended
APT_PACKAGES+=(${EXTRA_APT_PACKAGES:-})

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  SUDO=(sudo)
fi

# ---------------------------------------------------------------- apt -----
install_apt() {
  command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found (is this Debian?)"
  # One dpkg-query call: every installed package plus the virtual names it
  # provides (e.g. NodeSource's nodejs provides npm).
  local have
  have="$(dpkg-query -W -f='${Status}|${Package}|${Provides}\n' 2>/dev/null |
    awk -F'|' '$1 ~ / installed$/ {
      print $2
      n = split($3, p, ",")
      for (i = 1; i <= n; i++) { sub(/^ +/, "", p[i]); sub(/ .*/, "", p[i]); if (p[i] != "") print p[i] }
    }' | sort -u)"
  local missing=() pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    [ -n "$pkg" ] || continue
    if ! grep -qxF -- "$pkg" <<<"$have"; then
      missing+=("$pkg")
    fi
  done
  [ "${#missing[@]}" -eq 0 ] && return 0

  if [ "${#SUDO[@]}" -gt 0 ] && ! command -v sudo >/dev/null 2>&1; then
    die "missing packages (${missing[*]}) and not root, and sudo is not available"
  fi
  echo "install-deps: installing apt packages: ${missing[*]}"
  # Keep package postinst scripts from starting system services (mariadb):
  # policy-rc.d exiting 101 means "action forbidden". Only remove it if we
  # created it.
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# temporary, created by %s\nexit 101\n' "$0" |
      "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod 755 "$policy"
    created_policy=1
  fi
  local rc=0 log
  log="$(mktemp "${TMPDIR:-/tmp}/install-deps-apt.XXXXXX")"
  # Remove our policy-rc.d even if we are interrupted.
  if [ "$created_policy" -eq 1 ]; then
    trap '"${SUDO[@]}" rm -f '"$policy"'; rm -f '"$log"'' EXIT
  fi
  {
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends -o Dpkg::Options::=--force-confdef \
      -o Dpkg::Options::=--force-confold "${missing[@]}"
  } >"$log" 2>&1 || rc=$?
  if [ "$created_policy" -eq 1 ]; then
    "${SUDO[@]}" rm -f "$policy"
    trap - EXIT
  fi
  if [ "$rc" -ne 0 ]; then
    tail -n 30 "$log" >&2 || true
    rm -f "$log"
    die "apt-get failed (exit $rc) installing: ${missing[*]}"
  fi
  rm -f "$log"
}

# ---------------------------------------------------------------- buf -----
installed_buf_version() {
  local pj="$TOOLS_DIR/node_modules/@bufbuild/buf/package.json"
  [ -x "$TOOLS_DIR/node_modules/.bin/buf" ] && [ -f "$pj" ] || return 0
  sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$pj" | head -n 1
}

install_buf() {
  if [ "$(installed_buf_version)" = "$BUF_VERSION" ]; then
    return 0
  fi
  command -v npm >/dev/null 2>&1 || die "npm not found (needed for buf; use --no-npm to skip)"
  echo "install-deps: installing buf $BUF_VERSION into $TOOLS_DIR"
  mkdir -p "$TOOLS_DIR"
  local log="$TOOLS_DIR/npm-install.log"
  if ! npm install --prefix "$TOOLS_DIR" --no-audit --no-fund --loglevel=error \
      "@bufbuild/buf@$BUF_VERSION" >"$log" 2>&1; then
    tail -n 30 "$log" >&2 || true
    die "npm install of @bufbuild/buf@$BUF_VERSION failed (log: $log)"
  fi
  rm -f "$log"
  "$TOOLS_DIR/node_modules/.bin/buf" --version >/dev/null 2>&1 ||
    die "buf was installed but '$TOOLS_DIR/node_modules/.bin/buf --version' fails"
  [ "$(installed_buf_version)" = "$BUF_VERSION" ] ||
    die "buf installed, but version is '$(installed_buf_version)', expected $BUF_VERSION"
}

# ------------------------------------------------- deploy-check tools -----
# A marker file records the exact pinned list that was installed, so a
# re-run does nothing and a changed pin reinstalls.
install_deploy_check() {
  local want="${DEPLOY_CHECK_NPM_PACKAGES[*]}"
  local marker="$DEPLOY_CHECK_DIR/.installed"
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$want" ] &&
      [ -d "$DEPLOY_CHECK_DIR/node_modules/kubernetes-models" ] &&
      [ -d "$DEPLOY_CHECK_DIR/node_modules/@kubernetes/client-node" ]; then
    return 0
  fi
  command -v npm >/dev/null 2>&1 || die "npm not found (needed for the manifest validator)"
  echo "install-deps: installing $want into $DEPLOY_CHECK_DIR"
  mkdir -p "$DEPLOY_CHECK_DIR"
  local log="$DEPLOY_CHECK_DIR/npm-install.log"
  if ! npm install --prefix "$DEPLOY_CHECK_DIR" --no-audit --no-fund \
      --loglevel=error --save-exact "${DEPLOY_CHECK_NPM_PACKAGES[@]}" >"$log" 2>&1; then
    tail -n 30 "$log" >&2 || true
    die "npm install of $want failed (log: $log)"
  fi
  rm -f "$log"
  printf '%s' "$want" >"$marker"
}

if [ "$do_apt" -eq 1 ]; then install_apt; fi
if [ "$do_npm" -eq 1 ]; then install_buf; install_deploy_check; fi
exit 0
