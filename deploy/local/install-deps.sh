#!/usr/bin/env bash
# Idempotent installer for everything needed to build, run and test the
# user service locally (Debian 12). Installs only what is missing.
#
# Usage: deploy/local/install-deps.sh [--no-npm] [--no-apt]
#   --no-npm   do not install the buf CLI into <repo>/.tools
#   --no-apt   do not check/install Debian packages
# Env:
#   EXTRA_APT_PACKAGES  extra Debian packages (space separated) to ensure
#   BUF_VERSION         buf version to pin (default below)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUF_VERSION="${BUF_VERSION:-1.75.0}"
TOOLS_DIR="$REPO_ROOT/.tools"

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev
  libabsl-dev libmysqlcppconn-dev libboost-dev libgtest-dev libgmock-dev
  mariadb-server mariadb-client openssl python3-grpcio nodejs npm procps
  prometheus-cpp-dev
)
# shellcheck disable=SC2206  # word splitting is intended
APT_PACKAGES+=(${EXTRA_APT_PACKAGES:-})

do_npm=1
do_apt=1
for arg in "$@"; do
  case "$arg" in
    --no-npm) do_npm=0 ;;
    --no-apt) do_apt=0 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-deps: unknown argument: $arg (see --help)" >&2; exit 2 ;;
  esac
done

die() { echo "install-deps: ERROR: $*" >&2; exit 1; }

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

if [ "$do_apt" -eq 1 ]; then install_apt; fi
if [ "$do_npm" -eq 1 ]; then install_buf; fi
exit 0
