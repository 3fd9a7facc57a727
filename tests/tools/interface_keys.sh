#!/usr/bin/env bash
# The configuration block of INTERFACE.md ("Configuration file (INI)") lists
# exactly the sections and keys of ini/schema.c, as doc/mkman reads them
# (the same list ringgate.ini(5) is written from). Skipped where the design
# documents are not beside the checkout (../shared/design).
# Usage: interface_keys.sh MKMAN KEYS SOURCE_DIR
. "$(dirname "$0")/../lib.sh"
MKMAN=$(realpath "$1")
KEYS=$(realpath "$2")
IFACE=$(realpath -m "$3/../shared/design/INTERFACE.md")
[[ -r $IFACE ]] || skip "no $IFACE beside the checkout"
"$MKMAN" keys "$KEYS" >"$RG_TMP/keys" || fail "mkman keys"
python3 - "$IFACE" "$RG_TMP/keys" <<'PY' || fail "INTERFACE.md and ini/schema.c disagree"
import re, sys
text = open(sys.argv[1]).read()
try:
    block = text.split("## Configuration file (INI)", 1)[1].split("```ini", 1)[1].split("```", 1)[0]
except IndexError:
    sys.exit("no ```ini block under '## Configuration file (INI)'")
sec, doc = None, set()
for line in block.splitlines():
    m = re.match(r"\[(\w+)", line)
    if m:
        sec = m.group(1)
        continue
    m = re.match(r"(\w+)\s*=", line)
    if m and sec:
        doc.add((sec, m.group(1)))
schema = set()
for line in open(sys.argv[2]):
    m = re.match(r"\[(\w+)\] (\w+) =", line)
    schema.add((m.group(1), m.group(2)))
bad = False
for s, k in sorted(schema - doc):
    print(f"[{s}] {k}: in ini/schema.c, missing from INTERFACE.md", file=sys.stderr)
    bad = True
for s, k in sorted(doc - schema):
    print(f"[{s}] {k}: in INTERFACE.md, not in ini/schema.c", file=sys.stderr)
    bad = True
print(f"# {len(schema & doc)} keys in both, {len(schema ^ doc)} in one only", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
echo "interface_keys: ok"
