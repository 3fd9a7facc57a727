#!/usr/bin/env bash
# Runs a command on Debian 13 (trixie) from this Debian 12 machine: in a
# debootstrap root made once and reused, with this checkout copied in.
#
#   tools/debian13.sh [--fresh] [--setup-only] [--quic-tests] [COMMAND...]
#
# The root lives in $RINGGATE_DEBIAN13_ROOT (default
# /var/tmp/ringgate-debian13); --fresh makes it again. The checkout's files
# (tracked and untracked, not ignored: no build directories) are copied to
# /src in the root, `tools/setup.sh --build-only` runs there (it installs
# from trixie itself; with --quic-tests, `tools/setup.sh --quic-tests`:
# also the QUIC tests' clients), then COMMAND runs in /src, by default:
#   meson setup build/d13 && meson compile -C build/d13 && meson test -C build/d13 --suite unit
# The root shares the host's network namespace (apt needs it) but gets its
# own mount namespace, so nothing stays mounted when it returns.
# Needs root and debootstrap. Exit status: COMMAND's.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

root=${RINGGATE_DEBIAN13_ROOT:-/var/tmp/ringgate-debian13}
mirror=${RINGGATE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
fresh=0 setup_only=0 setup_mode=--build-only
while [[ $# -gt 0 ]]; do
	case $1 in
	--fresh) fresh=1; shift ;;
	--setup-only) setup_only=1; shift ;;
	--quic-tests) setup_mode=--quic-tests; shift ;;
	--) shift; break ;;
	*) break ;;
	esac
done
if [[ $# -eq 0 ]]; then
	set -- bash -c 'meson setup build/d13 -Dbuildtype=debug >/dev/null && nice meson compile -C build/d13 -j 2 &&
		meson test -C build/d13 --suite unit --print-errorlogs --num-processes 2'
fi

[[ $(id -u) -eq 0 ]] || { echo "debian13: needs root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "debian13: needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }

# One maker at a time: a second CI job waits for the first's root.
exec 9>"$root.lock"
flock 9

t0=$SECONDS
if [[ $fresh -eq 1 ]]; then
	rm -rf --one-file-system "$root"
fi
if [[ ! -e $root/.ringgate-ready ]]; then
	# Made beside and renamed, so an interrupted debootstrap is never reused.
	rm -rf --one-file-system "$root.new"
	debootstrap --variant=minbase trixie "$root.new" "$mirror" >"$root.debootstrap.log" 2>&1 ||
		{ tail -20 "$root.debootstrap.log" >&2; echo "debian13: debootstrap failed" >&2; exit 1; }
	# setup.sh refuses service starts itself; no recommends keeps it small.
	printf 'APT::Install-Recommends "false";\n' >"$root.new/etc/apt/apt.conf.d/90ringgate"
	touch "$root.new/.ringgate-ready"
	rm -rf --one-file-system "$root"
	mv "$root.new" "$root"
	echo "debian13: made $root in $((SECONDS - t0)) s" >&2
fi
cp -f /etc/resolv.conf "$root/etc/resolv.conf"

# The checkout, without .git; build directories made in the root before
# (/src/build) are kept, so a second run builds incrementally.
mkdir -p "$root/src"
find "$root/src" -mindepth 1 -maxdepth 1 ! -name build -exec rm -rf --one-file-system {} +
git -C "$top" ls-files -z --cached --others --exclude-standard |
	(cd "$top" && xargs -0 tar -cf - --no-recursion --ignore-failed-read) | tar -xf - -C "$root/src"

# What runs inside: set-up (from trixie's own archive), then COMMAND.
cat >"$root/.ringgate-run" <<'RUN'
#!/bin/bash
set -e
cd /src
t0=$SECONDS
bash tools/setup.sh ${RG_SETUP_MODE:---build-only}
echo "debian13: setup.sh took $((SECONDS - t0)) s" >&2
[[ ${RG_SETUP_ONLY:-0} == 1 ]] && exit 0
exec "$@"
RUN

# Private mounts: /proc, /dev and /sys of the host, bound only inside this
# mount namespace (PEERS.md "Debian 13"). The root is bound onto itself so
# that "/" inside the chroot is a mount point: `ip netns exec` (the tunnel
# suite) makes it a slave mount and fails with EINVAL otherwise.
inner='set -e
mount --make-rprivate /
mount --bind "$R" "$R"
for d in proc dev sys; do mount --rbind "/$d" "$R/$d"; done
exec chroot "$R" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 RG_SETUP_ONLY="$S" RG_SETUP_MODE="$M" \
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/bash /.ringgate-run "$@"'
R=$root S=$setup_only M=$setup_mode unshare -m -- bash -c "$inner" bash "$@"
