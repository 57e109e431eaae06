#!/usr/bin/python3
"""Checks the container recipe (deploy/docker) against the built binaries.

In seconds and without a container engine (the image itself is built and
run by the container tests, tests/container), this proves what the
runtime stage needs: every shared library `ldd` reports for user_server and userctl comes
from a Debian package listed in runtime-packages.txt (found with
`dpkg -S`), that list names nothing else, and the Dockerfile installs
exactly that list, runs as a fixed non-root user, exposes the gRPC and
metrics ports and builds with the same scripts as CI.

Usage: check_image.py REPO_ROOT BINARY...
"""

import os
import re
import subprocess
import sys

BUILD_TOOLS = re.compile(
    r"(-dev$|^build-essential$|^gcc|^g\+\+|^cpp|^cmake|^ninja-build$|^make$|"
    r"^binutils|^protobuf-compiler|^pkg-config$|^npm$|^nodejs$)")


def fail(errors, message):
    errors.append(message)


def read_package_list(path):
    packages = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                packages.append(line)
    return packages


def shared_libraries(binary, errors):
    """Returns the resolved paths of every library the loader would map."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True,
                         check=False)
    if out.returncode != 0:
        fail(errors, f"ldd {binary} failed: {out.stderr.strip()}")
        return []
    paths = []
    for line in out.stdout.splitlines():
        line = line.strip()
        if "not found" in line:
            fail(errors, f"{binary}: {line}")
        m = re.match(r"\S+ => (/\S+) \(0x", line) or re.match(r"(/\S+) \(0x", line)
        if m:
            paths.append(m.group(1))
        elif not line.startswith("linux-vdso") and "not found" not in line:
            fail(errors, f"{binary}: unexpected ldd line: {line}")
    return paths


def path_aliases(path):
    """The path and its /usr-merge aliases (Debian 12: /lib -> usr/lib);
    dpkg knows each file under the one name its package shipped."""
    aliases = {path, os.path.realpath(path)}
    for p in list(aliases):
        aliases.add(p[len("/usr"):] if p.startswith("/usr/") else "/usr" + p)
    return aliases


def owning_packages(paths):
    """{path: package} for every path dpkg knows, in one dpkg call."""
    aliases = {a: p for p in paths for a in path_aliases(p)}
    out = subprocess.run(["dpkg", "-S", *sorted(aliases)], capture_output=True,
                         text=True, check=False)
    owners = {}
    for line in out.stdout.splitlines():
        # "libfoo1:amd64: /path"; diversions print "diversion by ..." lines.
        if line.startswith("diversion") or ": " not in line:
            continue
        pkgs, owned = line.rsplit(": ", 1)
        if owned in aliases:
            owners[aliases[owned]] = pkgs.split(",")[0].strip().split(":")[0]
    return owners


def check_dockerfile(path, errors):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    # Join continuation lines so each instruction is one line.
    text = re.sub(r"\\\n\s*", " ", text)
    stages = re.findall(r"(?m)^FROM (\S+)(?: AS (\S+))?$", text)
    if [s[0] for s in stages] != ["debian:bookworm", "debian:bookworm-slim"]:
        fail(errors, f"Dockerfile stages are {stages}, want debian:bookworm "
             "(build) then debian:bookworm-slim (runtime)")
        return
    build, runtime = re.split(r"(?m)^FROM .*$", text)[1:3]
    if "deploy/local/install-deps.sh --build-only" not in build:
        fail(errors, "build stage does not install with deploy/local/install-deps.sh --build-only")
    if not re.search(r"deploy/local/build\.sh .*user_server", build):
        fail(errors, "build stage does not build with deploy/local/build.sh")
    installs = re.findall(r"apt-get install[^\n]*", runtime)
    if len(installs) != 1 or "runtime-packages.txt" not in runtime.split(
            "apt-get install")[0].rsplit("RUN", 1)[-1]:
        fail(errors, "runtime stage must install exactly one package list, "
             "read from deploy/docker/runtime-packages.txt")
    if "COPY deploy/docker/runtime-packages.txt" not in runtime:
        fail(errors, "runtime stage does not copy deploy/docker/runtime-packages.txt")
    users = re.findall(r"(?m)^USER (\S+)$", runtime)
    if not users or not re.fullmatch(r"[1-9][0-9]*(:[1-9][0-9]*)?", users[-1]):
        fail(errors, f"runtime stage must end with a numeric non-root USER, has {users}")
    exposed = set()
    for line in re.findall(r"(?m)^EXPOSE (.*)$", runtime):
        exposed.update(p.split("/")[0] for p in line.split())
    for port in ("50051", "9464"):
        if port not in exposed:
            fail(errors, f"runtime stage does not EXPOSE {port}")
    copied = re.findall(r"(?m)^COPY --from=build (.*)$", runtime)
    names = sorted(os.path.basename(p) for c in copied for p in c.split()[:-1])
    if names != ["user_server", "userctl"]:
        fail(errors, f"runtime stage copies {names} from the build stage, "
             "want exactly user_server and userctl")


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    root, binaries = sys.argv[1], sys.argv[2:]
    errors = []
    listed = read_package_list(os.path.join(root, "deploy/docker/runtime-packages.txt"))
    libs = {}
    for binary in binaries:
        if not os.access(binary, os.X_OK):
            fail(errors, f"{binary} is not a built executable")
            continue
        for lib in shared_libraries(binary, errors):
            libs.setdefault(lib, binary)
    owners = owning_packages(libs)
    needed = {}
    for lib, binary in sorted(libs.items()):
        if lib not in owners:
            fail(errors, f"{lib} (needed by {binary}) belongs to no Debian package")
        else:
            needed.setdefault(owners[lib], set()).add(os.path.basename(lib))
    if not needed:
        fail(errors, "ldd found no libraries at all; the check would prove nothing")
    for pkg in sorted(set(needed) - set(listed)):
        fail(errors, f"runtime-packages.txt lacks {pkg} (provides "
             f"{', '.join(sorted(needed[pkg]))})")
    for pkg in sorted(set(listed) - set(needed)):
        fail(errors, f"runtime-packages.txt lists {pkg}, which no binary needs")
    if len(listed) != len(set(listed)):
        fail(errors, "runtime-packages.txt lists a package twice")
    for pkg in listed:
        if BUILD_TOOLS.search(pkg):
            fail(errors, f"runtime-packages.txt lists a build tool or -dev package: {pkg}")
    check_dockerfile(os.path.join(root, "deploy/docker/Dockerfile"), errors)
    for e in errors:
        print(f"check_image: FAIL: {e}", file=sys.stderr)
    if errors:
        return 1
    print(f"check_image: ok: {len(needed)} runtime packages cover every library "
          f"of {', '.join(os.path.basename(b) for b in binaries)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
