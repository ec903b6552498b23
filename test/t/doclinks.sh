#!/usr/bin/env bash
# Every relative link and #anchor in README.md and docs/*.md resolves: the file
# exists, and the anchor is a heading of that file (GitHub's anchors: lower
# case, punctuation but "-" and "_" dropped, spaces to "-", "-1", "-2", ...
# for repeated headings). Links to other sites are not fetched.
set -uo pipefail
cd "$(dirname "$0")/../.."
python3 - README.md docs/*.md <<'PY'
import os, re, sys

def slug(text):
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)      # [text](url) -> text
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)                       # GitHub keeps letters, digits, _, -, space
    return text.replace(" ", "-")

anchors_cache = {}
def anchors(path):
    if path not in anchors_cache:
        seen, found, fence = {}, set(), False
        for line in open(path, encoding="utf-8"):
            if line.lstrip().startswith("```"):
                fence = not fence
                continue
            m = None if fence else re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if m:
                s = slug(m.group(1))
                n = seen.get(s, 0)
                seen[s] = n + 1
                found.add(s if n == 0 else "%s-%d" % (s, n))
        anchors_cache[path] = found
    return anchors_cache[path]

links = bad = 0
for doc in sys.argv[1:]:
    fence = False
    for lineno, line in enumerate(open(doc, encoding="utf-8"), 1):
        if line.lstrip().startswith("```"):
            fence = not fence
            continue
        if fence:
            continue
        line = re.sub(r"`[^`]*`", "", line)                    # code spans hold no links
        for target in re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):       # http:, https:, mailto:
                continue
            links += 1
            path, _, frag = target.partition("#")
            full = os.path.normpath(os.path.join(os.path.dirname(doc), path)) if path else doc
            if not os.path.exists(full):
                print("FAIL %s:%d: %s: no such file %s" % (doc, lineno, target, full))
                bad += 1
            elif frag and (not full.endswith(".md") or frag not in anchors(full)):
                print("FAIL %s:%d: %s: no heading with anchor #%s in %s" % (doc, lineno, target, frag, full))
                bad += 1
print("doclinks: %d links in %d files, %d broken" % (links, len(sys.argv) - 1, bad))
sys.exit(1 if bad else 0)
PY
