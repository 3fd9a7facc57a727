#!/usr/bin/env bash
# Every key of ini/schema.c, as doc/mkman reads them (the same list
# ringgate.ini(5) is written from), is named in INTERFACE.md: in its
# configuration block ("Configuration file (INI)") or in the block of keys
# that issues add (names fixed there before they are built), or, for keys an
# issue adds beyond INTERFACE.md's names (which this project cannot edit), in
# doc/interface-added.ini with the issue that added it; and every key of
# the configuration block is in the schema (the contract users have today). Skipped where the design
# documents are not beside the checkout (../shared/design).
# Usage: interface_keys.sh MKMAN KEYS SOURCE_DIR
. "$(dirname "$0")/../lib.sh"
MKMAN=$(realpath "$1")
KEYS=$(realpath "$2")
IFACE=$(realpath -m "$3/../shared/design/INTERFACE.md")
ADDED=$(realpath -m "$3/doc/interface-added.ini")
[[ -r $IFACE ]] || skip "no $IFACE beside the checkout"
"$MKMAN" keys "$KEYS" >"$RG_TMP/keys" || fail "mkman keys"
python3 - "$IFACE" "$RG_TMP/keys" "$ADDED" <<'PY' || fail "INTERFACE.md and ini/schema.c disagree"
import re, sys
text = open(sys.argv[1]).read()
def keys_of(heading, required):
    try:
        block = text.split(heading, 1)[1].split("```ini", 1)[1].split("```", 1)[0]
    except IndexError:
        if required:
            sys.exit(f"no ```ini block under '{heading}'")
        return set()
    sec, keys = None, set()
    for line in block.splitlines():
        m = re.match(r"\[(\w+)", line)
        if m:
            sec = m.group(1)
            continue
        m = re.match(r"(\w+)\s*=", line)
        if m and sec:
            keys.add((sec, m.group(1)))
    return keys
doc = keys_of("## Configuration file (INI)", True)
planned = keys_of("## Keys that issues add", False)
# doc/interface-added.ini: `[section]` lines and `key = ... ; issue N: why`.
added = set()
try:
    sec = None
    for line in open(sys.argv[3]):
        m = re.match(r"\[(\w+)", line)
        if m:
            sec = m.group(1)
            continue
        m = re.match(r"(\w+)\s*=.*;\s*issue \d+", line)
        if m and sec:
            added.add((sec, m.group(1)))
        elif re.match(r"\w+\s*=", line):
            sys.exit(f"doc/interface-added.ini: '{line.strip()}' does not name its issue ('; issue N: why')")
except FileNotFoundError:
    pass
bad = False
for s, k in sorted(added & (doc | planned)):
    print(f"[{s}] {k}: in INTERFACE.md already; remove it from doc/interface-added.ini", file=sys.stderr)
    bad = True
planned |= added
schema = set()
for line in open(sys.argv[2]):
    m = re.match(r"\[(\w+)\] (\w+) =", line)
    schema.add((m.group(1), m.group(2)))
for s, k in sorted(schema - doc - planned):
    print(f"[{s}] {k}: in ini/schema.c, missing from INTERFACE.md and doc/interface-added.ini", file=sys.stderr)
    bad = True
for s, k in sorted(doc - schema):
    print(f"[{s}] {k}: in INTERFACE.md, not in ini/schema.c", file=sys.stderr)
    bad = True
print(f"# {len(schema & doc)} keys in both, {len(schema & planned - doc)} of the planned ones built, "
      f"{len(schema ^ doc) - len(schema & planned - doc)} in one only", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
echo "interface_keys: ok"
