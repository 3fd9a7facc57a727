#!/bin/sh
# Run the HTTP/1.1 response parser fuzzer for a while on a scratch copy of
# the seeds (the checked-in corpus only changes on purpose).
# usage: run_fuzz.sh FUZZER SEED_DIR SECONDS
set -u
fuzzer=$1 seeds=$2 secs=${3:-20}
work=$(mktemp -d "${TMPDIR:-/tmp}/rg-fuzz-http1-XXXXXX") || exit 1
mkdir "$work/corpus" && cp "$seeds"/* "$work/corpus/" || exit 1
"$fuzzer" -dict="$(dirname "$seeds")/http1.dict" -max_total_time="$secs" -max_len=8192 -timeout=10 \
	-rss_limit_mb=2048 -artifact_prefix="$work/" "$work/corpus"
rc=$?
if [ $rc -eq 0 ]; then
	rm -rf "$work"
else
	echo "fuzz_http1 failed (exit $rc): inputs kept in $work" >&2
fi
exit $rc
