# Sourced by build-image.sh and the container test: how this project runs
# podman, in one place.
#
# Debian 12's podman defaults to crun, which refuses hybrid cgroups (v1 +
# v2, as on Debian 12 VMs); runc works on both, so it is used when it is
# installed. Containers get lowered rlimits because raising them needs
# CAP_SYS_RESOURCE, which VMs and nested containers often lack (podman's
# defaults then fail with "setrlimit: Operation not permitted"), and the
# host network, so that the build reaches the Debian mirror and the
# container reaches databases on the host's loopback.
#
# Env: PODMAN_RUNTIME (default: runc when installed, else podman's own)

BASE_IMAGE=docker.io/library/debian:bookworm
SLIM_BASE_IMAGE=docker.io/library/debian:bookworm-slim

POD_GLOBAL_ARGS=()
if [ -n "${PODMAN_RUNTIME:-}" ]; then
  POD_GLOBAL_ARGS=(--runtime "$PODMAN_RUNTIME")
elif command -v runc >/dev/null 2>&1; then
  POD_GLOBAL_ARGS=(--runtime runc)
fi
POD_CONTAINER_ARGS=(
  --network host
  --ulimit nofile=20000:20000 --ulimit nproc=4096:4096
)

pod() { podman "${POD_GLOBAL_ARGS[@]}" "$@"; }

require_podman() {
  command -v podman >/dev/null 2>&1 ||
    { echo "podman is not installed (apt-get install podman runc)" >&2; return 1; }
  local err
  if ! err="$(pod info 2>&1 >/dev/null)"; then
    echo "podman cannot run here: $err" >&2
    return 1
  fi
}

# The version deploy/k8s/base deploys: the tag every build is given.
image_tag() {
  local root version
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  version="$(awk '/^images:/ {in_images = 1}
    in_images && $1 == "newTag:" {print $2; exit}' \
    "$root/deploy/k8s/base/kustomization.yaml")"
  [ -n "$version" ] || { echo "no newTag in deploy/k8s/base" >&2; return 1; }
  echo "user-server:$version"
}
