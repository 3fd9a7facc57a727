#!/usr/bin/env bash
# README quick start, command 1: install what is missing, build the release
# binary and run the appliance on its embedded demo configuration.
# Extra arguments go to ringgate (e.g. --log-level debug).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh --build-only
if [[ ! -f build/release/build.ninja ]]; then
	meson setup build/release -Dbuildtype=release -Db_lto=true >/dev/null
fi
meson compile -C build/release -j 2 >/dev/null
exec build/release/control/ringgate --demo "$@"
