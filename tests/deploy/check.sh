#!/usr/bin/env bash
# The deployment checks of CI (CTest test deploy_checks, run by tests/run.sh):
# the container recipe against the built binaries (check_image.py), and the
# Kubernetes manifests, alert rules and compose file against the server
# (check_manifests.py). Never skips: a missing tool is an error that says
# how to install it.
#
# Usage: tests/deploy/check.sh USER_SERVER USERCTL
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$REPO_ROOT/tests/deploy"
VALIDATOR="$REPO_ROOT/.tools/deploy-check"
[ $# -eq 2 ] || { echo "usage: $0 USER_SERVER USERCTL" >&2; exit 2; }

missing=()
for tool in kubectl promtool node ldd dpkg; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import yaml' 2>/dev/null ||
  missing+=("/usr/bin/python3 with PyYAML (python3-yaml)")
[ -d "$VALIDATOR/node_modules/kubernetes-models" ] ||
  missing+=("$VALIDATOR (npm kubernetes-models)")
if [ "${#missing[@]}" -gt 0 ]; then
  echo "check.sh: FAIL: missing: ${missing[*]}." >&2
  echo "check.sh: deploy/local/install-deps.sh installs all but kubectl. kubectl" \
       "(1.27 or later, for kustomize v5) comes with the machine image; Debian 12's" \
       "kubernetes-client (1.20) is too old for these kustomizations, so install" \
       "kubectl from Kubernetes' own packages." >&2
  exit 1
fi

/usr/bin/python3 "$HERE/check_image.py" "$REPO_ROOT" "$1" "$2"
/usr/bin/python3 "$HERE/check_manifests.py" --repo "$REPO_ROOT" \
  --user-server "$1" --validator "$VALIDATOR"
echo "deploy checks: 2 passed, 0 failed"
