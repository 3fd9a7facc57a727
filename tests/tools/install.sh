#!/usr/bin/env bash
# `meson install` into a DESTDIR puts every file a packager expects in place:
# both programs, the systemd unit (which systemd-analyze accepts), the
# sysusers.d entry, an example configuration that `ringgate --validate`
# passes once the files it names exist, and three man pages that groff
# renders without a warning and that describe every configuration key.
# Usage: install.sh BUILD_DIR MKMAN KEYS
. "$(dirname "$0")/../lib.sh"
BUILD=$(realpath "$1")
MKMAN=$(realpath "$2")
KEYS=$(realpath "$3")
D=$RG_TMP/dest

# Where meson says each file goes (absolute, without DESTDIR).
meson introspect --installed "$BUILD" >"$RG_TMP/installed.json" || fail "meson introspect --installed"
where() { # basename -> install path, or nothing
	python3 -c 'import json,sys,os
for dst in json.load(open(sys.argv[1])).values():
    if os.path.basename(dst) == sys.argv[2]: print(dst); break' "$RG_TMP/installed.json" "$1"
}
declare -A path
for f in ringgate ringgatectl ringgate.service ringgate.conf ringgate.8 ringgatectl.8 ringgate.ini.5; do
	p=$(where "$f")
	[[ -n $p ]] || fail "nothing installs $f"
	path[$f]=$p
	note "$f -> $p"
done
meson install -C "$BUILD" --no-rebuild --destdir "$D" >"$RG_TMP/install.log" 2>&1 ||
	{ tail -20 "$RG_TMP/install.log" >&2; fail "meson install --destdir failed"; }

# The example configuration (installed by a script, so not in the list)
# goes to SYSCONFDIR/ringgate (/etc by default, where the programs look).
etc=$(meson introspect --buildoptions "$BUILD" | python3 -c 'import json,sys,os
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
print(os.path.join(o["prefix"], o["sysconfdir"]))') || fail "meson introspect --buildoptions"
path[ringgate.ini]=$etc/ringgate/ringgate.ini
note "ringgate.ini -> ${path[ringgate.ini]}"
for f in "${!path[@]}"; do
	[[ -s $D${path[$f]} ]] || fail "$f: $D${path[$f]} missing or empty after meson install"
done
# A second install keeps the operator's configuration.
echo "; mine" >>"$D${path[ringgate.ini]}"
meson install -C "$BUILD" --no-rebuild --destdir "$D" >"$RG_TMP/install2.log" 2>&1 ||
	{ tail -20 "$RG_TMP/install2.log" >&2; fail "second meson install failed"; }
[[ $(tail -1 "$D${path[ringgate.ini]}") == "; mine" ]] || fail "a second meson install overwrote ringgate.ini"
cmp -s "$D${path[ringgate.ini]}.example" "$BUILD/tools/ringgate.ini" || fail "no ringgate.ini.example beside the kept file"
sed -i '$d' "$D${path[ringgate.ini]}"
[[ -x $D${path[ringgate]} && -x $D${path[ringgatectl]} ]] || fail "programs not executable"
[[ ${path[ringgate.8]} == */man8/ringgate.8 && ${path[ringgatectl.8]} == */man8/ringgatectl.8 &&
	${path[ringgate.ini.5]} == */man5/ringgate.ini.5 ]] || fail "man pages in the wrong sections"
[[ ${path[ringgate.service]} == */systemd/system/ringgate.service ]] || fail "unit not in a systemd unit dir"
[[ ${path[ringgate.conf]} == */sysusers.d/ringgate.conf ]] || fail "sysusers entry not in sysusers.d"

# ---- the unit ---------------------------------------------------------------
U=$D${path[ringgate.service]}
grep -q "^ExecStart=${path[ringgate]} -c ${path[ringgate.ini]}\$" "$U" ||
	fail "unit does not run the installed binary on the installed config: $(grep ^ExecStart= "$U")"
grep -q '^Type=notify$' "$U" || fail "unit: Type=notify missing"
grep -Eq '^ExecReload=(/usr)?(/bin/)?kill -(HUP|SIGHUP|s HUP) \$MAINPID$' "$U" || fail "unit: ExecReload does not send HUP"
for d in ProtectSystem=strict NoNewPrivileges=yes ProtectHome=yes PrivateTmp=yes; do
	grep -qx "$d" "$U" || fail "unit: $d missing"
done
for k in AmbientCapabilities CapabilityBoundingSet; do
	caps=$(sed -n "s/^$k=//p" "$U" | tr ' ' '\n' | sort | xargs)
	[[ $caps == "CAP_NET_ADMIN CAP_NET_BIND_SERVICE" ]] || fail "unit: $k is '$caps'"
done
grep -q '^RestrictAddressFamilies=.*AF_NETLINK' "$U" || fail "unit: AF_NETLINK not allowed (netlink addresses)"
command -v systemd-analyze >/dev/null || fail "systemd-analyze missing (package systemd; tools/setup.sh)"
# verify checks that ExecStart='s program exists: point it at the DESTDIR
# copy (the installed path itself was checked above), and the unit's man:
# Documentation= at the DESTDIR man pages.
bin=$(dirname "${path[ringgate]}")
mkdir -p "$RG_TMP/unit"
sed "s|=$bin/|=$D$bin/|g" "$U" >"$RG_TMP/unit/ringgate.service"
out=$(cd "$RG_TMP/unit" && SYSTEMD_LOG_TARGET=console MANPATH=$D${path[ringgate.8]%/man8/*} SYSTEMD_LOG_LEVEL=notice \
	systemd-analyze verify --man=yes ./ringgate.service 2>&1)
rc=$?
note "systemd-analyze verify: rc=$rc ${out:+output:}"
[[ -n $out ]] && echo "$out" >&2
[[ $rc -eq 0 && -z $out ]] || fail "systemd-analyze verify complains about the unit"

# ---- the man pages ----------------------------------------------------------
for m in ringgate.8 ringgatectl.8 ringgate.ini.5; do
	f=$D${path[$m]}
	w=$(LC_ALL=C.UTF-8 groff -man -ww -z "$f" 2>&1) || fail "$m: groff failed"
	[[ -z $w ]] && w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null)
	[[ -z $w ]] || fail "$m: warnings: $w"
	lines=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$f" 2>/dev/null | wc -l)
	(( lines > 20 )) || fail "$m renders to only $lines lines"
	grep -q '@[A-Z_]*@' "$f" && fail "$m: unreplaced @VAR@"
	note "$m: $lines lines, no groff warning"
done
# Every schema key, with its default, is on ringgate.ini(5) under its section.
"$MKMAN" keys "$KEYS" >"$RG_TMP/keys" || fail "mkman keys"
nk=$(wc -l <"$RG_TMP/keys")
(( nk > 30 )) || fail "mkman lists only $nk keys"
page=$(LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$D${path[ringgate.ini.5]}" 2>/dev/null)
sec=
while read -r s k _ def; do
	s=${s#[}; s=${s%]}
	[[ $page == *"[$s"*"$k = "* ]] || fail "ringgate.ini(5) has no entry for [$s] $k"
	if [[ -n $def ]]; then
		[[ $page == *"$k = "*"Default: $def."* ]] || fail "ringgate.ini(5): default of [$s] $k is not '$def'"
	fi
done <"$RG_TMP/keys"
note "ringgate.ini(5) describes all $nk keys"
# Every option of --help is on ringgate(8), every command of ringgatectl's.
p8=$(LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$D${path[ringgate.8]}" 2>/dev/null)
for o in $("$D${path[ringgate]}" --help | grep -o -- '--[a-z-]*' | sort -u); do
	[[ $p8 == *"$o"* ]] || fail "ringgate(8) does not document $o"
done
c8=$(LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$D${path[ringgatectl.8]}" 2>/dev/null)
for c in $("$D${path[ringgatectl]}" --help | sed -n 's/^  \([a-z]\+\) .*/\1/p') certgen; do
	[[ $c8 == *"$c"* ]] || fail "ringgatectl(8) does not document $c"
done
for o in $("$D${path[ringgatectl]}" --help | grep -o -- '--[a-z-]*' | sort -u); do
	[[ $c8 == *"$o"* ]] || fail "ringgatectl(8) does not document $o"
done

# ---- the example configuration ---------------------------------------------
etc=$(dirname "${path[ringgate.ini]}")
mkdir -p "$D$etc/example.com"
(cd "$D$etc/example.com" && "$D${path[ringgatectl]}" certgen --cert fullchain.pem --key privkey.pem example.com >/dev/null) ||
	fail "certgen for the example"
sed "s|$etc/|$D$etc/|g" "$D${path[ringgate.ini]}" >"$RG_TMP/example.ini"
grep -q "$D$etc/example.com/fullchain.pem" "$RG_TMP/example.ini" ||
	fail "example config does not name $etc/example.com/fullchain.pem"
"$D${path[ringgate]}" --validate -c "$RG_TMP/example.ini" >"$RG_TMP/validate.log" 2>&1 ||
	{ cat "$RG_TMP/validate.log" >&2; fail "the installed example config does not validate"; }
grep -i 'warn' "$RG_TMP/validate.log" >&2 && fail "the example config draws warnings"
echo "install: ok"
