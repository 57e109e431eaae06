#!/usr/bin/python3
"""Checks that every relative link in the repository's Markdown files resolves.

    check_doc_links.py [REPO_ROOT]

A link `[text](path)` or `[text](path#anchor)` must name an existing file
or directory, relative to the file that contains it; an anchor into a
Markdown file (or `#anchor` alone, into the same file) must match one of
its headings, slugged the way GitHub does. Links with a scheme (https:,
mailto:) are not checked; neither is anything inside code.
"""

import os
import re
import sys
import urllib.parse

SKIP_DIRS = {".git", ".tools", ".local", "node_modules"}
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"(`+).*?\1")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")


def markdown_files(root):
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs
                         if d not in SKIP_DIRS and not d.startswith("build"))
        for name in sorted(files):
            if name.endswith(".md"):
                yield os.path.join(directory, name)


def prose_lines(path):
    """Yields (line number, text) outside fenced code blocks, minus inline code."""
    in_fence = False
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if FENCE.match(line):
                in_fence = not in_fence
                continue
            if not in_fence:
                yield number, INLINE_CODE.sub("", line)


def slug(heading):
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to -."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links -> text
    text = re.sub(r"<[^>]+>", "", text)                        # HTML tags
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors_of(path, cache={}):
    if path not in cache:
        found, counts, in_fence = set(), {}, False
        with open(path, encoding="utf-8") as f:
            for line in f:
                if FENCE.match(line):
                    in_fence = not in_fence
                    continue
                if in_fence:
                    continue
                found.update(HTML_ANCHOR.findall(line))
                heading = HEADING.match(line)
                if heading:
                    base = slug(heading.group(2))
                    n = counts.get(base, 0)
                    counts[base] = n + 1
                    found.add(base if n == 0 else f"{base}-{n}")
        cache[path] = found
    return cache[path]


def check_file(path, root):
    errors = []
    for number, line in prose_lines(path):
        for target in LINK.findall(line):
            if not target or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):
                continue
            file_part, _, anchor = target.partition("#")
            file_part = urllib.parse.unquote(file_part)
            resolved = (path if not file_part else
                        os.path.normpath(os.path.join(os.path.dirname(path),
                                                      file_part)))
            where = f"{os.path.relpath(path, root)}:{number}"
            if not os.path.exists(resolved):
                errors.append(f"{where}: {target}: no such file")
            elif not os.path.realpath(resolved).startswith(
                    os.path.realpath(root) + os.sep):
                errors.append(f"{where}: {target}: outside the repository")
            elif anchor and resolved.endswith(".md") and \
                    anchor not in anchors_of(resolved):
                errors.append(f"{where}: {target}: no heading with anchor "
                              f"#{anchor} in {os.path.relpath(resolved, root)}")
    return errors


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), "..", ".."))
    errors, checked = [], 0
    for path in markdown_files(root):
        checked += 1
        errors += check_file(path, root)
    for error in errors:
        print(error, file=sys.stderr)
    if errors:
        print(f"check_doc_links: {len(errors)} broken link(s) in Markdown "
              f"files; fix the link or the heading it points to.",
              file=sys.stderr)
        return 1
    print(f"check_doc_links: {checked} Markdown files, every relative link "
          f"resolves")
    return 0


if __name__ == "__main__":
    sys.exit(main())
