#!/usr/bin/env bash
# budgets.sh -- the size and layering budgets of lib/ and include/
# (docs/architecture.md, "Rooms and doors"). Prints every breach and exits 1
# if there is one, 0 otherwise. Run by .ci/run and by ctest (style_budgets).
#
#   - every .c/.h under lib/ and include/ has at most 800 lines;
#   - every function has at most 80 lines, signature to closing brace;
#   - no .c or .h file sits at lib/'s root: each is in a room;
#   - includes point down: proto -> nothing but public headers,
#     engine -> proto, api -> engine + proto, admin -> proto + api's door
#     (api/client_int.h); a bare "x.h" must be in the file's own room;
#     public headers include only public headers.
# Env: MAX_FILE_LINES (800), MAX_FUNC_LINES (80), BUDGETS_ROOT (the tree to
# check; default this checkout). tests/style/budgets_selftest.sh proves each
# check fires on a tree made to break it.
set -euo pipefail
root=${BUDGETS_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
exec python3 - "$root" "${MAX_FILE_LINES:-800}" "${MAX_FUNC_LINES:-80}" <<'PY'
import os, re, sys

root, max_file, max_func = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ALLOWED = {                      # room -> rooms whose headers it may include
    "proto": set(),
    "engine": {"proto"},
    "api": {"engine", "proto"},
    "admin": {"proto"},
}
DOORS = {"admin": {"api/client_int.h"}}   # single headers a room may also use
breaches = []

def sources(top):
    for d, _, files in os.walk(os.path.join(root, top)):
        for f in sorted(files):
            if f.endswith((".c", ".h")):
                yield os.path.join(d, f)

def rel(p):
    return os.path.relpath(p, root)

START = re.compile(r"^[A-Za-z_][^;=]*\([^;]*$")   # col-0 line with '(' and no ';' or '='

def functions(lines):
    """(name, first line, last line) of each function body: the signature
    starts at column 0; the body ends at the first '}' at column 0."""
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if START.match(line) and not line.startswith(("typedef", "struct", "enum", "union")):
            sig = i
            j = i
            while j < n and "{" not in lines[j] and not lines[j].rstrip().endswith(";"):
                j += 1
            if j < n and "{" in lines[j] and not lines[j].rstrip().endswith(";"):
                if lines[j].rstrip().endswith("}"):       # one-line body
                    i = j + 1
                    continue
                k = j + 1
                while k < n and not lines[k].startswith("}"):
                    k += 1
                m = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(", lines[sig])
                yield (m.group(1) if m else "?"), sig + 1, k + 1
                i = k + 1
                continue
        i += 1

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')

def check_includes(path, room, lines):
    here = os.path.dirname(path)
    for no, line in enumerate(lines, 1):
        m = INCLUDE.match(line)
        if not m:
            continue
        inc = m.group(1)
        where = "%s:%d" % (rel(path), no)
        if inc.startswith("clusterc/"):
            continue                                   # public headers: the floor
        if room is None:
            if "/" in inc or not os.path.exists(os.path.join(here, inc)):
                breaches.append('%s: public header includes private "%s"' % (where, inc))
        elif "/" not in inc:
            if not os.path.exists(os.path.join(here, inc)):
                breaches.append('%s: "%s" is not in room %s (name its room)' % (where, inc, room))
        else:
            other = inc.split("/", 1)[0]
            if other == room:
                breaches.append('%s: "%s" names its own room (write "%s")'
                                % (where, inc, inc.split("/", 1)[1]))
            elif other not in ALLOWED[room] and inc not in DOORS.get(room, set()):
                breaches.append('%s: room %s may not include "%s" (includes point down: '
                                'api -> engine -> proto; admin -> proto + api/client_int.h)'
                                % (where, room, inc))

for top in ("lib", "include"):
    for path in sources(top):
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        r = rel(path)
        if len(lines) > max_file:
            breaches.append("%s: %d lines (budget %d)" % (r, len(lines), max_file))
        for name, a, b in functions(lines):
            if b - a + 1 > max_func:
                breaches.append("%s:%d: function %s has %d lines (budget %d)"
                                % (r, a, name, b - a + 1, max_func))
        if top == "include":
            check_includes(path, None, lines)
            continue
        parts = r.split(os.sep)
        if len(parts) == 2:
            breaches.append("%s: at lib/'s root; put it in a room (%s)"
                            % (r, ", ".join(sorted(ALLOWED))))
            continue
        room = parts[1]
        if room not in ALLOWED:
            breaches.append("%s: lib/%s is not a room (%s)" % (r, room, ", ".join(sorted(ALLOWED))))
            continue
        check_includes(path, room, lines)

for b in breaches:
    print(b)
if breaches:
    print("budgets: %d breach%s" % (len(breaches), "" if len(breaches) == 1 else "es"))
    sys.exit(1)
print("budgets: ok (files <= %d lines, functions <= %d lines, includes point down)"
      % (max_file, max_func))
PY
