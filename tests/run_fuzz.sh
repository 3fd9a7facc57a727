#!/bin/sh
# Run a libFuzzer target for a while on a scratch copy of its seed corpus,
# so CI exercises it without rewriting the checked-in seeds, and print what
# it reached: the final edge coverage (cov:, libFuzzer's count of covered
# edges in every instrumented library), features (ft:), corpus size and
# executions.
# usage: run_fuzz.sh FUZZER SEED_DIR SECONDS [DICT]
# Environment:
#   FUZZ_RUNS=N    stop after N executions instead (a campaign: SECONDS
#                  then only bounds it, give a generous one)
#   FUZZ_JOBS=N    run N libFuzzer workers on the shared corpus (-fork=N)
#   FUZZ_KEEP=1    keep the scratch corpus (its path is printed)
# On a finding the scratch directory (with the crash-* input) is kept and
# its path printed.
set -u
fuzzer=$1 seeds=$2 secs=${3:-20} dict=${4:-}
name=$(basename "$fuzzer")
work=$(mktemp -d "${TMPDIR:-/tmp}/rg-$name-XXXXXX") || exit 1
mkdir "$work/corpus" && cp "$seeds"/* "$work/corpus/" || exit 1
"$fuzzer" ${dict:+-dict="$dict"} -max_total_time="$secs" -max_len=8192 -timeout=10 \
	${FUZZ_RUNS:+-runs="$FUZZ_RUNS"} ${FUZZ_JOBS:+-fork="$FUZZ_JOBS"} \
	-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" 2>"$work/log"
rc=$?
# The last status line (#N DONE/pulse/NEW ... cov: C ft: F corp: K/..)
# and the final stats; a finding prints its report instead.
last=$(grep -E '^#[0-9]+.*cov: ' "$work/log" | tail -1)
execs=$(awk '/^stat::number_of_executed_units:/ { print $2 }' "$work/log")
speed=$(awk '/^stat::average_exec_per_sec:/ { print $2 }' "$work/log")
cov=$(printf '%s\n' "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
ft=$(printf '%s\n' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
corp=$(printf '%s\n' "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
[ -n "$execs" ] || execs=$(printf '%s\n' "$last" | sed -n 's/^#\([0-9]*\).*/\1/p')
echo "$name: cov: ${cov:-?} ft: ${ft:-?} corp: ${corp:-?} execs: ${execs:-?} (${speed:-?}/s, ${secs} s limit${FUZZ_RUNS:+, $FUZZ_RUNS runs})"
if [ $rc -eq 0 ] && [ -z "${FUZZ_KEEP:-}" ]; then
	rm -rf "$work"
elif [ $rc -eq 0 ]; then
	echo "$name: corpus kept in $work/corpus"
else
	tail -40 "$work/log" >&2
	echo "$name failed (exit $rc): inputs kept in $work" >&2
fi
exit $rc
