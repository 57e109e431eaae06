#!/usr/bin/python3
"""Prints how deploy/k8s/base runs the user-server container, translated to
podman, so that the container test runs the image the way the Deployment
does rather than the way someone copied it.

Renders the base with `kubectl kustomize` (as tests/deploy/check.sh does)
and prints one `KIND VALUE...` line per setting:

  flag ARG              a `podman run` flag: --user and --group-add (runAsUser,
                        runAsGroup, fsGroup), --read-only, --cap-drop/--cap-add,
                        --security-opt=no-new-privileges, --memory and --cpus
                        (limits), --tmpfs for each emptyDir
  env NAME=VALUE        the environment: envFrom ConfigMaps, then env
  secret PATH MODE      a Secret volume mounted read-only at PATH, files MODE
  grace SECONDS         terminationGracePeriodSeconds
  prestop ARG...        the preStop exec command
  probe KIND PORT SERVICE  a native gRPC probe (startup, readiness, liveness)

It fails on a setting it cannot translate, so a change to the Deployment
cannot quietly go untested. seccompProfile RuntimeDefault is podman's
default profile and needs no flag.

Usage: deployment_to_podman.py REPO_ROOT
"""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "deploy"))
import check_manifests  # noqa: E402  (render, find, configmap_env)

DEPLOYMENT = "user-service"
CONTAINER = check_manifests.SERVER_CONTAINER
PROBES = {"startupProbe": "startup", "readinessProbe": "readiness",
          "livenessProbe": "liveness"}


def podman_size(quantity):
    """A Kubernetes quantity (64Mi, 256Mi, 1Gi) as podman's 64m, 256m, 1g."""
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi)", str(quantity))
    if not m:
        raise SystemExit(f"deployment_to_podman: cannot translate size {quantity!r}")
    return m.group(1) + m.group(2)[0].lower()


def security_flags(pod, container):
    psc = pod.get("securityContext", {})
    sc = {**psc, **container.get("securityContext", {})}
    known = {"runAsNonRoot", "runAsUser", "runAsGroup", "fsGroup",
             "seccompProfile", "allowPrivilegeEscalation",
             "readOnlyRootFilesystem", "capabilities"}
    unknown = set(sc) - known
    if unknown:
        raise SystemExit(f"deployment_to_podman: untranslated securityContext "
                         f"fields {sorted(unknown)}")
    if sc.get("seccompProfile", {}).get("type", "RuntimeDefault") != "RuntimeDefault":
        raise SystemExit("deployment_to_podman: seccompProfile is not RuntimeDefault")
    flags = [f"--user={sc['runAsUser']}:{sc.get('runAsGroup', sc['runAsUser'])}"]
    if "fsGroup" in psc:
        flags.append(f"--group-add={psc['fsGroup']}")
    if sc.get("readOnlyRootFilesystem"):
        # Only the volumes are writable: no tmpfs of podman's own.
        flags += ["--read-only", "--read-only-tmpfs=false"]
    for cap in sc.get("capabilities", {}).get("drop", []):
        flags.append(f"--cap-drop={cap}")
    for cap in sc.get("capabilities", {}).get("add", []):
        flags.append(f"--cap-add={cap}")
    if sc.get("allowPrivilegeEscalation") is False:
        flags.append("--security-opt=no-new-privileges")
    return flags


def limit_flags(container):
    limits = container.get("resources", {}).get("limits", {})
    flags = []
    if "memory" in limits:
        flags.append(f"--memory={podman_size(limits['memory'])}")
    if "cpu" in limits:
        cpu = str(limits["cpu"])
        cpus = int(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu)
        flags.append(f"--cpus={cpus:g}")
    return flags


def volume_lines(pod, container):
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    lines = []
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        path = mount["mountPath"]
        if "emptyDir" in volume:
            size = volume["emptyDir"].get("sizeLimit")
            options = "rw,mode=1777" + (f",size={podman_size(size)}" if size else "")
            lines.append(f"flag --tmpfs={path}:{options}")
        elif "secret" in volume and mount.get("readOnly"):
            mode = volume["secret"].get("defaultMode", 0o644)
            lines.append(f"secret {path} {mode:04o}")
        else:
            raise SystemExit(f"deployment_to_podman: cannot translate volume "
                             f"{mount['name']} at {path}")
    return lines


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    c = check_manifests.Checker()
    objs = check_manifests.render(os.path.abspath(sys.argv[1]), "base", c)
    deps = check_manifests.find(objs, "Deployment", DEPLOYMENT)
    if c.errors or len(deps) != 1:
        raise SystemExit(f"deployment_to_podman: no Deployment {DEPLOYMENT}: "
                         f"{'; '.join(c.errors)}")
    pod = deps[0]["spec"]["template"]["spec"]
    container = next(k for k in pod["containers"] if k["name"] == CONTAINER)
    lines = [f"flag {f}" for f in security_flags(pod, container) + limit_flags(container)]
    lines += volume_lines(pod, container)
    env = check_manifests.configmap_env(objs, container, DEPLOYMENT, c)
    lines += [f"env {name}={value}" for name, value in sorted(env.items())]
    lines.append(f"grace {pod.get('terminationGracePeriodSeconds', 30)}")
    prestop = container.get("lifecycle", {}).get("preStop", {}).get("exec")
    if prestop:
        lines.append("prestop " + " ".join(prestop["command"]))
    for field, kind in PROBES.items():
        grpc = container.get(field, {}).get("grpc")
        if grpc:
            lines.append(f"probe {kind} {grpc['port']} {grpc.get('service', '')}")
    if c.errors:
        raise SystemExit("deployment_to_podman: " + "; ".join(c.errors))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
