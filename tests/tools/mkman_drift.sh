#!/usr/bin/env bash
# mkman refuses to write ringgate.ini(5) when the descriptions and the
# schema disagree: a schema key without a description, a description of a
# key the schema lacks, or a section without an introduction. This is what
# makes the page unable to drift from ini/schema.c.
# Usage: mkman_drift.sh MKMAN KEYS TEMPLATE
. "$(dirname "$0")/../lib.sh"
MKMAN=$(realpath "$1")
KEYS=$(realpath "$2")
TMPL=$(realpath "$3")
cd "$RG_TMP" || fail "tmp"

"$MKMAN" page "$TMPL" ok.5 "$KEYS" VERSION=1 SYSCONFDIR=/etc >out 2>&1 || { cat out >&2; fail "mkman refuses the real descriptions"; }
[[ -s ok.5 ]] || fail "no page written"

# Drop the block of [quic] idle_timeout.
awk '/^@key idle_timeout$/{skip=1; next} /^@/{skip=0} !skip' "$KEYS" >missing.keys
"$MKMAN" page "$TMPL" bad.5 missing.keys VERSION=1 SYSCONFDIR=/etc >out 2>&1 && fail "mkman accepted a key with no description"
grep -q "key 'idle_timeout' of \[quic\].*has no @key block" out || { cat out >&2; fail "message does not name the key"; }
[[ -e bad.5 ]] && fail "a page was written anyway"

# A description of a key the schema does not have.
sed 's/^@key backlog$/@key backlogg/' "$KEYS" >extra.keys
"$MKMAN" page "$TMPL" bad.5 extra.keys VERSION=1 SYSCONFDIR=/etc >out 2>&1 && fail "mkman accepted a description of no key"
grep -q "extra.keys:[0-9]*: no key 'backlogg' in \[quic\]" out || { cat out >&2; fail "message does not give FILE:LINE and the key"; }

# A section without its introduction.
sed 's/^@section peer$/@section peers/' "$KEYS" >sec.keys
"$MKMAN" keys sec.keys >out 2>&1 && fail "mkman accepted an unknown section"
grep -q "no section \[peers\]" out || { cat out >&2; fail "unknown section not named"; }

# A template variable with no value is an error, not an empty string.
"$MKMAN" page "$TMPL" bad.5 "$KEYS" VERSION=1 >out 2>&1 && fail "mkman left @SYSCONFDIR@ unreplaced"
grep -q "no value for @SYSCONFDIR@" out || { cat out >&2; fail "missing variable not named"; }
echo "mkman_drift: ok"
