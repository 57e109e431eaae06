#!/usr/bin/python3
"""Proves the deployment checks can fail: breaks a copy of the deployment
files in known ways and expects check_manifests.py and check_image.py to
report each fault (and to exit non-zero).

Usage: selftest.py REPO_ROOT USER_SERVER USERCTL VALIDATOR_DIR
"""

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# (file, text, replacement, message the checks must print)
MUTATIONS = [
    ("deploy/k8s/base/kustomization.yaml", "      - USER_SERVICE_LOG_LEVEL=info\n",
     "      - USER_SERVICE_LOG_LEVEL=info\n      - USER_SERVICE_NO_SUCH_FLAG=1\n",
     "USER_SERVICE_NO_SUCH_FLAG is not a flag of user_server"),
    ("deploy/k8s/base/deployment.yaml", "service: userservice.v1.UserService",
     "service: userservice.v1.UserServic",
     "readinessProbe checks health service 'userservice.v1.UserServic'"),
    ("deploy/k8s/base/deployment.yaml", "          readinessProbe:\n            grpc:\n              port: 50051",
     "          readinessProbe:\n            grpc:\n              port: 50052",
     "readinessProbe port 50052 != gRPC port 50051"),
    ("deploy/k8s/base/deployment.yaml", "  replicas: 3\n", "  replicas: \"3\"\n",
     "Deployment/user-service: data/spec/replicas must be integer"),
    ("deploy/k8s/base/deployment.yaml", "          imagePullPolicy: IfNotPresent\n",
     "          imagePullPolicy: IfNotPresent\n          readinesProbe: {}\n",
     "/spec/template/spec/containers/0/readinesProbe: unknown field"),
    ("deploy/k8s/overlays/production/kustomization.yaml", "    newTag: 0.1.0", "    newTag: latest",
     "uses :latest"),
    ("deploy/k8s/overlays/dev/mariadb-primary.yaml", "            readOnlyRootFilesystem: true\n", "",
     "StatefulSet mariadb-primary container mariadb: readOnlyRootFilesystem is not true"),
    ("deploy/k8s/base/deployment.yaml", "      terminationGracePeriodSeconds: 30",
     "      terminationGracePeriodSeconds: 20",
     "terminationGracePeriodSeconds 20 <= preStop"),
    ("deploy/k8s/components/monitoring/prometheusrule.yaml", "for: 2m", "for: 3m",
     "prometheusrule.yaml differs from deploy/prometheus/alerts.yml"),
    ("deploy/k8s/components/monitoring/servicemonitor.yaml", "- port: metrics", "- port: metric",
     "ServiceMonitor port metric is on no selected Service"),
    ("deploy/compose/docker-compose.yml", "      USER_SERVICE_LOG_LEVEL: debug\n",
     "      USER_SERVICE_LOG_LEVEL: debug\n      USER_SERVICE_BOGUS: x\n",
     "compose: USER_SERVICE_BOGUS is not a flag of user_server"),
    ("deploy/k8s/overlays/dev/kustomization.yaml", "replica-1=mariadb-replica-1.mariadb-replica",
     "replica-1=mariadb-replica-2.mariadb-replica",
     "endpoint mariadb-replica-2.mariadb-replica is no pod of a StatefulSet"),
    ("deploy/compose/docker-compose.yml", "      - --gtid-strict-mode=ON\n", "      - --gtid-strict-mode=OFF\n",
     "compose: mariadb-primary runs with --gtid-strict-mode=OFF"),
    ("deploy/docker/runtime-packages.txt", "libssl3\n", "", "lacks libssl3"),
    ("deploy/docker/Dockerfile", "USER 10001:10001", "USER root",
     "numeric non-root USER"),
]


def mutate(root):
    for rel, old, new, _ in MUTATIONS:
        path = os.path.join(root, rel)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if old not in text:
            raise SystemExit(f"selftest: {rel} no longer contains {old!r}; update MUTATIONS")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace(old, new, 1))


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    repo, user_server, userctl, validator = (os.path.abspath(a) for a in sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="deploy-selftest-") as tmp:
        shutil.copytree(os.path.join(repo, "deploy"), os.path.join(tmp, "deploy"))
        mutate(tmp)
        runs = [
            [sys.executable, os.path.join(HERE, "check_manifests.py"), "--repo", tmp,
             "--user-server", user_server, "--validator", validator],
            [sys.executable, os.path.join(HERE, "check_image.py"), tmp, user_server, userctl],
        ]
        output = ""
        for cmd in runs:
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            output += out.stdout + out.stderr
            if out.returncode != 1:
                print(output)
                print(f"selftest: FAIL: {os.path.basename(cmd[1])} exited "
                      f"{out.returncode} on broken files, want 1", file=sys.stderr)
                return 1
    missed = [m for *_, m in MUTATIONS if m not in output]
    for m in missed:
        print(f"selftest: FAIL: the checks did not report: {m}", file=sys.stderr)
    if missed:
        print(output, file=sys.stderr)
        return 1
    print(f"selftest: ok: all {len(MUTATIONS)} planted faults reported")
    return 0


if __name__ == "__main__":
    sys.exit(main())
