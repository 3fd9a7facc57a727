#!/bin/sh
# Run a libFuzzer target for a while on a scratch copy of its seed corpus,
# so CI exercises it without rewriting the checked-in seeds.
# usage: run_fuzz.sh FUZZER SEED_DIR SECONDS [DICT]
# On a finding the scratch directory (with the crash-* input) is kept and
# its path printed.
set -u
fuzzer=$1 seeds=$2 secs=${3:-20} dict=${4:-}
name=$(basename "$fuzzer")
work=$(mktemp -d "${TMPDIR:-/tmp}/rg-$name-XXXXXX") || exit 1
mkdir "$work/corpus" && cp "$seeds"/* "$work/corpus/" || exit 1
"$fuzzer" ${dict:+-dict="$dict"} -max_total_time="$secs" -max_len=8192 -timeout=10 \
	-rss_limit_mb=2048 -artifact_prefix="$work/" "$work/corpus"
rc=$?
if [ $rc -eq 0 ]; then
	rm -rf "$work"
else
	echo "$name failed (exit $rc): inputs kept in $work" >&2
fi
exit $rc
