#!/usr/bin/python3
"""Renders and checks the deployment manifests (deploy/k8s, deploy/compose,
deploy/prometheus) against the server they deploy.

1. `kubectl kustomize` renders base and every overlay.
2. Every rendered object is validated against the Kubernetes OpenAPI
   schemas (validate_k8s.mjs: kubernetes-models; Prometheus Operator CRDs
   with their own schemas). An object of a kind without a schema fails.
3. Project checks: probes on the container's real gRPC port and the health
   service name `user_server --help` names; images pinned (not :latest);
   every container with requests, limits, non-root, read-only root
   filesystem, no capabilities, RuntimeDefault seccomp; every ConfigMap key
   and USER_SERVICE_* variable is a flag of `user_server --help`; database
   endpoints of the dev overlay resolve to its own Services; the grace
   period covers preStop + --shutdown-grace.
4. Alert rules: `promtool check rules`, `promtool test rules`, and the
   PrometheusRule's groups equal deploy/prometheus/alerts.yml.
5. deploy/compose/docker-compose.yml parses, names the same flags as the dev
   overlay, and its endpoints are its own services.

Usage: check_manifests.py --repo ROOT --user-server BIN --validator DIR
       check_manifests.py --repo ROOT --write-prometheusrule
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

OVERLAYS = ["base", "overlays/dev", "overlays/production"]
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}
PROMETHEUS_RULE = "deploy/k8s/components/monitoring/prometheusrule.yaml"
SERVER_CONTAINER = "user-server"
RULE_HEADER = """# GENERATED from deploy/prometheus/alerts.yml, which is the one source of
# the rules: edit that file, then run
#   tests/deploy/check_manifests.py --write-prometheusrule
# tests/deploy/check.sh fails when the groups here differ from it.
"""


class Checker:
    def __init__(self):
        self.errors = []

    def check(self, ok, message):
        if not ok:
            self.errors.append(message)
        return ok


def run(cmd, **kwargs):
    return subprocess.run(cmd, capture_output=True, text=True, check=False,
                          **kwargs)


def parse_duration(text):
    """Seconds of an Abseil/Go duration such as 15s, 1m, 500ms, 1h30m."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6, "ns": 1e-9}
    parts = re.findall(r"([0-9.]+)(ms|us|ns|h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(n) * units[u] for n, u in parts)


def server_help(user_server):
    out = run([user_server, "--help"])
    return out.stdout + out.stderr


def server_flags(help_text, user_server):
    """{env var: default} from `user_server --help` (command_line.cc format)."""
    flags = dict(re.findall(r'env (USER_SERVICE_[A-Z0-9_]+), default "(.*)"', help_text))
    if len(flags) < 10:
        raise SystemExit(f"check_manifests: `{user_server} --help` listed only "
                         f"{len(flags)} flags:\n{help_text}")
    return flags


def health_service_name(help_text, user_server):
    """The readiness health service, as `user_server --help` names it."""
    m = re.search(r'readiness as service "([^"]+)"', help_text)
    if not m:
        raise SystemExit(f"check_manifests: `{user_server} --help` names no "
                         f"readiness health service:\n{help_text}")
    return m.group(1)


def render(repo, overlay, c):
    out = run(["kubectl", "kustomize", os.path.join(repo, "deploy/k8s", overlay)])
    if not c.check(out.returncode == 0,
                   f"kubectl kustomize {overlay} failed: {out.stderr.strip()}"):
        return []
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def validate_schemas(validator_dir, rendered, c):
    items = [{"source": overlay, "object": obj}
             for overlay, objs in rendered.items() for obj in objs]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(items, f)
        name = f.name
    try:
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                              "validate_k8s.mjs")
        out = run(["node", script, validator_dir, name])
    finally:
        os.unlink(name)
    sys.stdout.write(out.stdout)
    c.check(out.returncode == 0, "schema validation failed:\n" + out.stderr.strip())


def find(objs, kind, name=None):
    return [o for o in objs if o.get("kind") == kind
            and (name is None or o["metadata"]["name"] == name)]


def pod_specs(objs):
    for o in objs:
        if o.get("kind") in WORKLOADS:
            yield o, o["spec"]["template"]["spec"]


def check_container_hardening(where, pod, container, c):
    name = f"{where} container {container['name']}"
    image = container.get("image", "")
    c.check("@sha256:" in image or re.search(r":[^/:]+$", image),
            f"{name}: image {image!r} has no tag or digest")
    c.check(not image.endswith(":latest"), f"{name}: image {image!r} uses :latest")
    res = container.get("resources", {})
    for kind in ("requests", "limits"):
        for r in ("cpu", "memory"):
            c.check(r in res.get(kind, {}), f"{name}: no resources.{kind}.{r}")
    sc = container.get("securityContext", {})
    psc = pod.get("securityContext", {})
    c.check(sc.get("allowPrivilegeEscalation") is False,
            f"{name}: allowPrivilegeEscalation is not false")
    c.check(sc.get("readOnlyRootFilesystem") is True,
            f"{name}: readOnlyRootFilesystem is not true")
    c.check("ALL" in sc.get("capabilities", {}).get("drop", []),
            f"{name}: capabilities.drop lacks ALL")
    c.check(not sc.get("capabilities", {}).get("add"), f"{name}: adds capabilities")
    c.check(sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True,
            f"{name}: runAsNonRoot is not true")
    c.check(sc.get("runAsUser", psc.get("runAsUser", 1)) != 0, f"{name}: runs as UID 0")
    seccomp = sc.get("seccompProfile", psc.get("seccompProfile", {}))
    c.check(seccomp.get("type") == "RuntimeDefault",
            f"{name}: seccompProfile is not RuntimeDefault")
    c.check(not sc.get("privileged"), f"{name}: privileged")


def configmap_env(objs, container, where, c):
    """The container's environment: envFrom ConfigMaps, then env values."""
    env = {}
    for src in container.get("envFrom", []):
        ref = src.get("configMapRef")
        if not c.check(ref is not None, f"{where}: envFrom other than a ConfigMap"):
            continue
        cms = find(objs, "ConfigMap", ref["name"])
        if c.check(len(cms) == 1, f"{where}: envFrom ConfigMap {ref['name']} is not rendered"):
            env.update(cms[0].get("data", {}))
    for e in container.get("env", []):
        env[e["name"]] = e.get("value")
    return env


def grpc_probe(container, kind):
    return (container.get(kind) or {}).get("grpc")


def check_server(overlay, objs, flags, health_name, c):
    deps = find(objs, "Deployment", "user-service")
    if not c.check(len(deps) == 1, f"{overlay}: no Deployment user-service"):
        return None
    dep = deps[0]
    pod = dep["spec"]["template"]["spec"]
    where = f"{overlay}: Deployment user-service"
    c.check(dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] in (0, "0", "0%"),
            f"{where}: rolling update may make pods unavailable")
    c.check(pod.get("topologySpreadConstraints"), f"{where}: no topologySpreadConstraints")
    c.check(pod.get("automountServiceAccountToken") is False,
            f"{where}: service account token is mounted")
    sas = find(objs, "ServiceAccount", pod.get("serviceAccountName"))
    c.check(len(sas) == 1 and sas[0].get("automountServiceAccountToken") is False,
            f"{where}: ServiceAccount {pod.get('serviceAccountName')} missing or mounts its token")
    servers = [k for k in pod["containers"] if k["name"] == SERVER_CONTAINER]
    if not c.check(len(servers) == 1, f"{where}: no container {SERVER_CONTAINER}"):
        return None
    k = servers[0]
    env = configmap_env(objs, k, where, c)
    for key in env:
        c.check(key in flags, f"{where}: {key} is not a flag of user_server "
                f"(user_server --help lists {', '.join(sorted(flags))})")
    c.check("USER_SERVICE_DB_PASSWORD" not in env,
            f"{where}: the database password is in plain configuration")
    c.check(env.get("USER_SERVICE_PRIMARY"), f"{where}: USER_SERVICE_PRIMARY is not set")

    def effective(key):
        return env.get(key, flags.get(key))

    # The gRPC port: --listen, the named container port and every probe agree.
    listen_port = int(effective("USER_SERVICE_LISTEN").rsplit(":", 1)[1])
    ports = {p.get("name"): p["containerPort"] for p in k.get("ports", [])}
    c.check(ports.get("grpc") == listen_port,
            f"{where}: container port 'grpc' {ports.get('grpc')} != --listen port {listen_port}")
    wanted = {"readinessProbe": health_name, "livenessProbe": "", "startupProbe": ""}
    for kind, service in wanted.items():
        probe = grpc_probe(k, kind)
        if not c.check(probe is not None, f"{where}: {kind} is not a native gRPC probe"):
            continue
        c.check(probe.get("port") == listen_port,
                f"{where}: {kind} port {probe.get('port')} != gRPC port {listen_port}")
        c.check(probe.get("service", "") == service,
                f"{where}: {kind} checks health service {probe.get('service', '')!r}, "
                f"want {service!r} (user_server --help: readiness {health_name!r}, liveness \"\")")
    startup = k["startupProbe"]
    window = startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3)
    migrate = parse_duration(effective("USER_SERVICE_MIGRATE_TIMEOUT"))
    c.check(window > migrate, f"{where}: startup probe window {window}s does not "
            f"cover --migrate-timeout {migrate}s")
    # Metrics: the named port matches --metrics-listen once the server has it.
    if "USER_SERVICE_METRICS_LISTEN" in flags:
        metrics = effective("USER_SERVICE_METRICS_LISTEN")
        c.check(metrics and ports.get("metrics") == int(metrics.rsplit(":", 1)[1]),
                f"{where}: container port 'metrics' {ports.get('metrics')} != "
                f"--metrics-listen {metrics!r}")
    elif overlay == "base":
        print(f"check_manifests: note: this user_server has no --metrics-listen; "
              f"port 'metrics' ({ports.get('metrics')}) is not compared")
    # Shutdown: preStop sleep + drain fit in the grace period.
    pre = k.get("lifecycle", {}).get("preStop", {})
    sleep = 0
    if "exec" in pre:
        cmd = pre["exec"]["command"]
        c.check(cmd[0] == "/bin/sleep" and len(cmd) == 2, f"{where}: preStop is not /bin/sleep N")
        sleep = float(cmd[-1])
    elif "sleep" in pre:
        sleep = pre["sleep"]["seconds"]
    c.check(sleep > 0, f"{where}: no preStop pause")
    grace = parse_duration(effective("USER_SERVICE_SHUTDOWN_GRACE"))
    c.check(pod.get("terminationGracePeriodSeconds", 30) > sleep + grace,
            f"{where}: terminationGracePeriodSeconds {pod.get('terminationGracePeriodSeconds')} "
            f"<= preStop {sleep}s + --shutdown-grace {grace}s")
    # The password file is inside a mounted Secret.
    pw = env.get("USER_SERVICE_DB_PASSWORD_FILE", "")
    secret_vols = {v["name"] for v in pod.get("volumes", []) if "secret" in v}
    c.check(any(m["name"] in secret_vols and pw.startswith(m["mountPath"].rstrip("/") + "/")
                for m in k.get("volumeMounts", [])),
            f"{where}: --db-password-file {pw!r} is not in a mounted Secret")
    c.check(any(m["mountPath"] == "/tmp" for m in k.get("volumeMounts", [])),
            f"{where}: no writable /tmp")
    return dep, env, listen_port


def check_services(overlay, objs, dep, listen_port, c):
    labels = dep["spec"]["template"]["metadata"]["labels"]
    kinds = {"ClusterIP": False, "headless": False}
    for svc in find(objs, "Service"):
        sel = svc["spec"].get("selector", {})
        if not sel or any(labels.get(k) != v for k, v in sel.items()):
            continue
        kinds["headless" if svc["spec"].get("clusterIP") == "None" else "ClusterIP"] = True
        grpc = [p for p in svc["spec"]["ports"] if p["name"] == "grpc"]
        c.check(grpc and grpc[0].get("targetPort") in ("grpc", listen_port),
                f"{overlay}: Service {svc['metadata']['name']} does not target the gRPC port")
    for kind, seen in kinds.items():
        c.check(seen, f"{overlay}: no {kind} Service selects the user-service pods")
    for kind in ("PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy"):
        c.check(find(objs, kind, "user-service"), f"{overlay}: no {kind} user-service")
    for hpa in find(objs, "HorizontalPodAutoscaler"):
        c.check(hpa["apiVersion"] == "autoscaling/v2"
                and hpa["spec"]["scaleTargetRef"]["name"] == "user-service",
                f"{overlay}: HPA does not scale Deployment user-service with autoscaling/v2")


def endpoint_hosts(env):
    hosts = [env["USER_SERVICE_PRIMARY"].rsplit(":", 1)[0]]
    for r in filter(None, (env.get("USER_SERVICE_REPLICAS") or "").split(",")):
        hosts.append(r.split("=", 1)[-1].rsplit(":", 1)[0])
    return hosts


def check_dev_endpoints(overlay, objs, env, c):
    """pod-N.service hosts exist: a headless Service and a StatefulSet pod N."""
    for host in endpoint_hosts(env):
        m = re.fullmatch(r"([a-z0-9-]+)-([0-9]+)\.([a-z0-9-]+)", host)
        if not c.check(m, f"{overlay}: endpoint {host} is not <statefulset>-<n>.<service>"):
            continue
        sts = find(objs, "StatefulSet", m.group(1))
        svc = find(objs, "Service", m.group(3))
        c.check(sts and sts[0]["spec"]["serviceName"] == m.group(3)
                and sts[0]["spec"]["replicas"] > int(m.group(2))
                and svc and svc[0]["spec"].get("clusterIP") == "None",
                f"{overlay}: endpoint {host} is no pod of a StatefulSet behind a headless Service")


def check_rules(repo, rendered, c):
    alerts = os.path.join(repo, "deploy/prometheus/alerts.yml")
    for args in (["check", "rules", alerts], ["test", "rules", "alerts_test.yml"]):
        out = run(["promtool", *args], cwd=os.path.dirname(alerts))
        c.check(out.returncode == 0,
                f"promtool {' '.join(args)} failed:\n{out.stdout}{out.stderr}")
    with open(alerts, encoding="utf-8") as f:
        groups = yaml.safe_load(f)["groups"]
    with open(os.path.join(repo, PROMETHEUS_RULE), encoding="utf-8") as f:
        rule = yaml.safe_load(f)
    c.check(rule["spec"]["groups"] == groups,
            f"{PROMETHEUS_RULE} differs from deploy/prometheus/alerts.yml: run "
            "tests/deploy/check_manifests.py --write-prometheusrule")
    monitored = [o for o in rendered.values() if find(o, "PrometheusRule")]
    c.check(monitored, "no overlay includes components/monitoring")
    for objs in monitored:
        c.check(find(objs, "PrometheusRule")[0]["spec"]["groups"] == groups,
                "the rendered PrometheusRule differs from alerts.yml")
        for sm in find(objs, "ServiceMonitor"):
            want = sm["spec"]["selector"]["matchLabels"]
            ports = [p["name"] for s in find(objs, "Service")
                     if all(s["metadata"].get("labels", {}).get(k) == v for k, v in want.items())
                     for p in s["spec"]["ports"]]
            for ep in sm["spec"]["endpoints"]:
                c.check(ep["port"] in ports,
                        f"ServiceMonitor port {ep['port']} is on no selected Service")


def write_prometheus_rule(repo):
    with open(os.path.join(repo, "deploy/prometheus/alerts.yml"), encoding="utf-8") as f:
        groups = yaml.safe_load(f)["groups"]
    obj = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
           "metadata": {"name": "user-service",
                        "labels": {"app.kubernetes.io/name": "user-service"}},
           "spec": {"groups": groups}}
    with open(os.path.join(repo, PROMETHEUS_RULE), "w", encoding="utf-8") as f:
        f.write(RULE_HEADER + yaml.safe_dump(obj, sort_keys=False, width=100))


def check_compose(repo, flags, dev_env, dev_objs, c):
    path = os.path.join(repo, "deploy/compose/docker-compose.yml")
    try:
        with open(path, encoding="utf-8") as f:
            compose = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        c.check(False, f"{path} does not parse: {e}")
        return
    services = compose.get("services", {})
    for name, svc in services.items():
        image = svc.get("image", "")
        c.check(re.search(r":[^/:]+$", image) and not image.endswith(":latest"),
                f"compose: service {name} image {image!r} is not pinned")
        for vol in svc.get("volumes", []):
            src = vol.split(":", 1)[0] if isinstance(vol, str) else vol.get("source", "")
            if src.startswith("."):
                c.check(os.path.exists(os.path.join(os.path.dirname(path), src)),
                        f"compose: service {name} mounts missing {src}")
    # The databases run with the dev overlay's server arguments.
    if dev_objs:
        for sts_name, svc_name in (("mariadb-primary", "mariadb-primary"),
                                   ("mariadb-replica", "mariadb-replica-0")):
            sts = find(dev_objs, "StatefulSet", sts_name)
            if not c.check(sts and svc_name in services,
                           f"compose/dev: no {svc_name} or StatefulSet {sts_name}"):
                continue
            k8s_args = " ".join(sts[0]["spec"]["template"]["spec"]["containers"][0]["args"])
            for arg in services[svc_name].get("command", []):
                if not arg.startswith("--server-id="):
                    c.check(arg in k8s_args.split(),
                            f"compose: {svc_name} runs with {arg}, StatefulSet {sts_name} does not")
    server = services.get("user-service")
    if not c.check(server, "compose: no service user-service"):
        return
    env = server.get("environment", {})
    c.check(isinstance(env, dict), "compose: user-service environment is not a mapping")
    keys = {k for k in env if k.startswith("USER_SERVICE_")}
    for key in keys:
        c.check(key in flags, f"compose: {key} is not a flag of user_server")
    c.check(keys == set(dev_env),
            f"compose: user-service sets {sorted(keys ^ set(dev_env))} unlike "
            "the dev overlay's ConfigMap (same topology, same flags)")
    for host in endpoint_hosts(env):
        c.check(host in services, f"compose: endpoint {host} is not a compose service")
    c.check(server.get("read_only") is True, "compose: user-service root filesystem is writable")
    c.check(str(server.get("user", "0")).split(":")[0] not in ("0", "root"),
            "compose: user-service runs as root")
    c.check("ALL" in server.get("cap_drop", []), "compose: user-service keeps capabilities")
    secrets = compose.get("secrets", {})
    for name, sec in secrets.items():
        c.check(os.path.exists(os.path.join(os.path.dirname(path), sec.get("file", ""))),
                f"compose: secret {name} file is missing")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repo", required=True)
    ap.add_argument("--user-server")
    ap.add_argument("--validator", help="directory with node_modules/kubernetes-models")
    ap.add_argument("--write-prometheusrule", action="store_true")
    args = ap.parse_args()
    args.repo = os.path.abspath(args.repo)
    if args.write_prometheusrule:
        write_prometheus_rule(args.repo)
        return 0
    if not args.user_server or not args.validator:
        ap.error("--user-server and --validator are required")
    c = Checker()
    help_text = server_help(args.user_server)
    flags = server_flags(help_text, args.user_server)
    health_name = health_service_name(help_text, args.user_server)
    rendered = {o: render(args.repo, o, c) for o in OVERLAYS}
    for overlay, objs in rendered.items():
        print(f"check_manifests: {overlay}: rendered {len(objs)} objects")
    validate_schemas(os.path.abspath(args.validator), rendered, c)
    dev_env = {}
    for overlay, objs in rendered.items():
        for owner, pod in pod_specs(objs):
            where = f"{overlay}: {owner['kind']} {owner['metadata']['name']}"
            for k in pod.get("initContainers", []) + pod["containers"]:
                check_container_hardening(where, pod, k, c)
        server = check_server(overlay, objs, flags, health_name, c)
        if server is None:
            continue
        dep, env, listen_port = server
        check_services(overlay, objs, dep, listen_port, c)
        if overlay == "overlays/dev":
            check_dev_endpoints(overlay, objs, env, c)
            dev_env = env
    check_rules(args.repo, rendered, c)
    check_compose(args.repo, flags, dev_env, rendered.get("overlays/dev", []), c)
    for e in c.errors:
        print(f"check_manifests: FAIL: {e}", file=sys.stderr)
    if c.errors:
        return 1
    print(f"check_manifests: ok: {', '.join(OVERLAYS)}, alert rules and compose "
          f"checked against {len(flags)} user_server flags and health service "
          f"{health_name!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
