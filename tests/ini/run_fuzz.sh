#!/bin/sh
# Run the ini fuzzer for a while on a scratch copy of the seed corpus, so
# CI exercises it without rewriting the checked-in seeds.
# usage: run_fuzz.sh FUZZER SEED_DIR SECONDS
# On a finding the scratch directory (with the crash-* input) is kept and
# its path printed.
set -u
fuzzer=$1 seeds=$2 secs=${3:-20}
work=$(mktemp -d "${TMPDIR:-/tmp}/rg-fuzz-ini-XXXXXX") || exit 1
mkdir "$work/corpus" && cp "$seeds"/* "$work/corpus/" || exit 1
"$fuzzer" -dict="$(dirname "$seeds")/ini.dict" -max_total_time="$secs" -max_len=4096 -timeout=10 \
	-rss_limit_mb=2048 -artifact_prefix="$work/" "$work/corpus"
rc=$?
if [ $rc -eq 0 ]; then
	rm -rf "$work"
else
	echo "fuzz_ini failed (exit $rc): inputs kept in $work" >&2
fi
exit $rc
