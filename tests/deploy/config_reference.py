#!/usr/bin/python3
"""Generates deploy/CONFIGURATION.md from `user_server --help`, or checks it.

    config_reference.py --write USER_SERVER   # regenerate the file
    config_reference.py --check USER_SERVER   # fail if the file is stale

The help text is the one source of every flag's name, environment
variable, default and description; this script only reformats it. Its
expected shape (cli::HelpText in server/common/command_line.cc):

    Usage: ...
    <blank>
    SUMMARY (one or more lines)
    <blank>
    Flags:
      --dashed-name
          help text (may wrap over several lines)
          env USER_SERVICE_NAME, default "VALUE"
"""

import argparse
import difflib
import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUTPUT = os.path.join(REPO, "deploy", "CONFIGURATION.md")
SCRIPT = os.path.relpath(os.path.abspath(__file__), REPO)

FLAG_LINE = re.compile(r"^\s{1,4}--([A-Za-z0-9][A-Za-z0-9_-]*)\s*$")
ENV_LINE = re.compile(r'^env\s+(\S+),\s+default\s+"(.*)"\s*$')


class HelpFormatError(Exception):
    pass


def run_help(binary):
    proc = subprocess.run([binary, "--help"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=30)
    text = proc.stdout if "Flags:" in proc.stdout else proc.stderr
    if proc.returncode != 0 or "Flags:" not in text:
        raise HelpFormatError(
            f"`{binary} --help` exited {proc.returncode} without a 'Flags:' "
            f"section:\n{proc.stdout}{proc.stderr}")
    return text


def parse_help(text):
    """Returns (summary, [(flag, env, default, help)]) in --help order."""
    lines = text.splitlines()
    try:
        flags_at = next(i for i, l in enumerate(lines) if l.strip() == "Flags:")
    except StopIteration:
        raise HelpFormatError("no 'Flags:' line in --help") from None
    summary = " ".join(l.strip() for l in lines[1:flags_at]
                       if l.strip() and not l.startswith("Usage:")).strip()

    flags = []
    name, body = None, []

    def finish():
        if name is None:
            return
        while body and not body[-1]:
            body.pop()
        match = ENV_LINE.match(body[-1]) if body else None
        if not match:
            raise HelpFormatError(
                f"--{name}: no 'env NAME, default \"VALUE\"' line at its end")
        help_text = " ".join(l for l in body[:-1] if l)
        flags.append((name, match.group(1), match.group(2), help_text))

    for line in lines[flags_at + 1:]:
        flag = FLAG_LINE.match(line)
        if flag:
            finish()
            name, body = flag.group(1), []
        elif name is not None:
            body.append(line.strip())
        elif line.strip():
            raise HelpFormatError(f"text before the first flag: {line!r}")
    finish()
    if not flags:
        raise HelpFormatError("no flags found after 'Flags:'")
    return summary, flags


def cell(text):
    """Makes text safe inside a Markdown table cell."""
    return (text.replace("\\", "\\\\").replace("|", "\\|")
            .replace("<", "&lt;").replace(">", "&gt;"))


def code(text):
    return f"`{text}`" if text else "(empty)"


def render(summary, flags):
    out = [
        "<!-- Generated from `user_server --help` by "
        f"{SCRIPT}; do not edit. -->",
        "",
        "# user_server configuration reference",
        "",
        cell(summary),
        "",
        "Every flag can also be set by its environment variable; the command",
        "line wins. This file is generated from `user_server --help`; after",
        "changing a flag, run",
        f"`{SCRIPT} --write build/server/user_server`.",
        "How the settings relate, and what to watch, is described in",
        "[OPERATIONS.md](OPERATIONS.md) and",
        "[server/ARCHITECTURE.md](../server/ARCHITECTURE.md).",
        "",
        "| Flag | Environment variable | Default | Description |",
        "|---|---|---|---|",
    ]
    for name, env, default, help_text in flags:
        out.append(f"| `--{name}` | `{env}` | {code(cell(default))} | "
                   f"{cell(help_text)} |")
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true",
                      help="regenerate the file")
    mode.add_argument("--check", action="store_true",
                      help="fail if the committed file differs")
    parser.add_argument("user_server", help="path to the built user_server")
    parser.add_argument("--output", default=OUTPUT, help="default: %(default)s")
    args = parser.parse_args()

    try:
        expected = render(*parse_help(run_help(args.user_server)))
    except HelpFormatError as error:
        print(f"config_reference: cannot parse --help: {error}", file=sys.stderr)
        return 2

    if args.write:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(expected)
        print(f"wrote {os.path.relpath(args.output, REPO)}")
        return 0

    try:
        with open(args.output, encoding="utf-8") as f:
            current = f.read()
    except FileNotFoundError:
        current = ""
    if current == expected:
        return 0
    rel = os.path.relpath(args.output, REPO)
    sys.stdout.writelines(difflib.unified_diff(
        current.splitlines(True), expected.splitlines(True),
        f"{rel} (committed)", f"{rel} (from --help)"))
    print(f"\n{rel} does not match `user_server --help`.\n"
          f"Run: {SCRIPT} --write build/server/user_server\n"
          f"(from the repository root, after building user_server) "
          f"and commit the result.", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
