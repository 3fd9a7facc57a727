#!/bin/sh
# meson install script: put the example configuration in place without
# ever overwriting an operator's: when DIR/ringgate.ini exists, the example
# goes beside it as ringgate.ini.example.
# Usage (from tools/meson.build): install-config.sh EXAMPLE DIR
set -eu
src=$1
dir=${DESTDIR:-}$2
mkdir -p "$dir"
if [ -e "$dir/ringgate.ini" ]; then
	install -m 0644 "$src" "$dir/ringgate.ini.example"
	echo "Kept $dir/ringgate.ini; the example is $dir/ringgate.ini.example"
else
	install -m 0644 "$src" "$dir/ringgate.ini"
	echo "Installing example configuration to $dir/ringgate.ini"
fi
