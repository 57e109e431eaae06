#!/usr/bin/env bash
# Builds the container image from deploy/docker/Dockerfile with podman and
# tags it with the version deploy/k8s/base deploys (its images: newTag).
#
# The Dockerfile starts from debian:bookworm and debian:bookworm-slim. When
# podman has no such image and cannot pull one (no registry reachable), this
# script makes them with debootstrap from the Debian mirror apt already uses
# and `podman import`s them under those names, so the Dockerfile needs no
# change. Podman keeps them, and the build's layers and compiler cache, in
# its storage: a second run on the same machine rebuilds only what changed.
#
# Usage: deploy/docker/build-image.sh [--tag NAME:TAG] [--iidfile FILE]
#                                     [--rebuild-base]
#   --tag           image name (default: user-server:<base newTag>)
#   --iidfile       write the built image's ID to FILE (a tag can move to
#                   another build; the ID cannot)
#   --rebuild-base  make the debootstrap base images again
# Env: PODMAN_RUNTIME  the OCI runtime (default: runc, see podman.sh)
#      DEBIAN_MIRROR   mirror for debootstrap (default: the one apt uses)
#
# Docker users need none of this:
#   docker build -f deploy/docker/Dockerfile -t user-server:0.1.0 .
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=deploy/docker/podman.sh
. "$REPO_ROOT/deploy/docker/podman.sh"

die() { echo "build-image: ERROR: $*" >&2; exit 1; }

tag=""
iidfile=()
rebuild_base=0
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) [ $# -ge 2 ] || die "--tag needs NAME:TAG"; tag="$2"; shift 2 ;;
    --iidfile) [ $# -ge 2 ] || die "--iidfile needs FILE"
      iidfile=(--iidfile "$2"); shift 2 ;;
    --rebuild-base) rebuild_base=1; shift ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[ -n "$tag" ] || tag="$(image_tag)"

# The mirror of the first deb822 or one-line bookworm source apt uses.
apt_mirror() {
  local uri
  uri="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources \
    2>/dev/null || true)"
  if [ -z "$uri" ]; then
    uri="$(awk '$1 == "deb" && $3 ~ /^bookworm$/ {print $2; exit}' \
      /etc/apt/sources.list 2>/dev/null || true)"
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

# Mirrors what the official images set up (debuerreotype): the three suites,
# no .deb files kept after an install, no translations.
configure_rootfs() {
  local root="$1" mirror="$2"
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
    "$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log \
    "$root"/root/.bash_history
}

# What debian:*-slim leaves out: documentation, manuals and locales, now and
# for every package installed later.
slim_rootfs() {
  local root="$1"
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
EOF
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d \
    -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root"/usr/share/man/* "$root"/usr/share/groff/* \
    "$root"/usr/share/info/* "$root"/usr/share/lintian/* \
    "$root"/usr/share/linda/*
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 \
    -not -name locale.alias -exec rm -rf {} +
}

import_rootfs() {
  local root="$1" name="$2" mirror="$3"
  tar --numeric-owner -C "$root" -c . | pod import \
    --change 'CMD ["bash"]' \
    --change "LABEL io.userservice.base-source=debootstrap $mirror" \
    - "$name" >/dev/null
  echo "build-image: imported $name ($(pod image inspect --format \
    '{{.Size}}' "$name" | awk '{printf "%.0f MB", $1 / 1e6}'))"
}

debootstrap_bases() {
  command -v debootstrap >/dev/null ||
    die "debootstrap is missing (apt-get install debootstrap)"
  [ "$(id -u)" -eq 0 ] ||
    die "making base images with debootstrap needs root; or pull" \
      "debian:bookworm and debian:bookworm-slim from a registry"
  local mirror work
  mirror="${DEBIAN_MIRROR:-$(apt_mirror)}"
  work="$(mktemp -d /var/tmp/userservice-base.XXXXXX)"
  # shellcheck disable=SC2064  # expand $work now
  trap "rm -rf '$work'" EXIT
  echo "build-image: debootstrap bookworm from $mirror (about 90 s)"
  debootstrap --variant=minbase bookworm "$work/full" "$mirror" \
    >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  configure_rootfs "$work/full" "$mirror"
  cp -a "$work/full" "$work/slim"
  slim_rootfs "$work/slim"
  import_rootfs "$work/full" "$BASE_IMAGE" "$mirror"
  import_rootfs "$work/slim" "$SLIM_BASE_IMAGE" "$mirror"
  rm -rf "$work"
  trap - EXIT
}

ensure_base_images() {
  if [ "$rebuild_base" -eq 0 ] && pod image exists "$BASE_IMAGE" &&
    pod image exists "$SLIM_BASE_IMAGE"; then
    return
  fi
  if [ "$rebuild_base" -eq 0 ] &&
    timeout 300 pod pull -q "$BASE_IMAGE" >/dev/null 2>&1 &&
    timeout 300 pod pull -q "$SLIM_BASE_IMAGE" >/dev/null 2>&1; then
    echo "build-image: pulled $BASE_IMAGE and $SLIM_BASE_IMAGE"
    return
  fi
  debootstrap_bases
}

require_podman
ensure_base_images
echo "build-image: building $tag"
start=$(date +%s)
pod build "${POD_CONTAINER_ARGS[@]}" --layers "${iidfile[@]}" \
  -f "$REPO_ROOT/deploy/docker/Dockerfile" -t "$tag" "$REPO_ROOT"
size="$(pod image inspect --format '{{.Size}}' "$tag")"
echo "build-image: $tag built in $(($(date +%s) - start)) s," \
  "$(awk -v s="$size" 'BEGIN {printf "%.1f MB", s / 1e6}')"
