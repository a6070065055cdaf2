#!/bin/sh
# Runs libFuzzer harnesses for a fixed time each (make fuzz-run; rules in tests/fuzz/fuzz.am).
#
#   FUZZ_TIME=60 run.sh OUTDIR HARNESS SEEDS [HARNESS SEEDS]...
#
# SEEDS is one word of space-separated seed files or globs (read-only is fine): they are copied
# into OUTDIR/NAME/corpus, the writable corpus the harness grows (kept across runs, so a second run
# starts from what the first found). Each harness runs FUZZ_TIME seconds (0: only replays the
# corpus), with its output in OUTDIR/NAME.log and any finding (crash-*, leak-*, timeout-*, oom-*)
# in OUTDIR/NAME/. Prints one line per harness with its total executions. Exits 1 when any harness
# failed: a crash, a leak, a sanitizer report, a timeout (an input taking over FUZZ_TIMEOUT
# seconds, default 25) or running out of memory. FUZZ_JOBS harnesses (default: the number of
# processors) run at once; their reports are printed in the order given.
set -u

if [ $# -lt 3 ] || [ $(($# % 2)) -ne 1 ]; then
    echo "usage: FUZZ_TIME=60 $0 OUTDIR HARNESS SEEDS [HARNESS SEEDS]..." >&2
    exit 2
fi
time=${FUZZ_TIME:-60}
case $time in
'' | *[!0-9]*)
    echo "$0: FUZZ_TIME must be a number of seconds, not \"$time\"" >&2
    exit 2
    ;;
esac
out=$1
shift
mkdir -p "$out" || exit 1
out=$(cd "$out" && pwd) || exit 1

# UndefinedBehaviorSanitizer findings abort (-fno-sanitize-recover): show where.
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
export UBSAN_OPTIONS

jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
case $jobs in
'' | *[!0-9]* | 0)
    echo "$0: FUZZ_JOBS must be a positive number, not \"$jobs\"" >&2
    exit 2
    ;;
esac

# Runs harness $1 (named $2) from seeds $3; its report goes to OUTDIR/NAME.report, and
# OUTDIR/NAME.failed exists when it failed.
fuzz_one() {
    prog=$1 name=$2 seeds=$3
    dir=$out/$name
    log=$out/$name.log
    mkdir -p "$dir/corpus" || return 1
    rm -f "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* "$dir"/slow-unit-*
    for f in $seeds; do
        if [ ! -f "$f" ]; then
            echo "$name: seed $f not found" >&2
            : >"$out/$name.failed"
            return 1
        fi
        # named by content as libFuzzer names its own: seeds of the same name do not collide
        sum=$(sha1sum <"$f" | cut -c1-40) &&
            cp -f "$f" "$dir/corpus/$sum" && chmod u+w "$dir/corpus/$sum" || return 1
    done
    if [ "$time" -eq 0 ]; then
        limit=-runs=0
    else
        limit=-max_total_time=$time
    fi

    echo "== $name: ${time}s from $(ls "$dir/corpus" | wc -l) inputs (log: $log)"
    # stdin is /dev/null: an input naming /dev/stdin as a secret file must not wait for a tty.
    "$prog" "$limit" -timeout="${FUZZ_TIMEOUT:-25}" -print_final_stats=1 \
        -artifact_prefix="$dir/" "$dir/corpus" </dev/null >"$log" 2>&1
    rc=$?

    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ -z "$execs" ]; then
        execs=$(sed -n 's/^#\([0-9][0-9]*\).*DONE.*/\1/p' "$log" | tail -n 1)
    fi
    findings=$(ls "$dir" | grep -E '^(crash|leak|timeout|oom)-')
    if [ $rc -eq 0 ] && [ -z "$findings" ] &&
        ! grep -qE '^==[0-9]+==ERROR|ERROR: libFuzzer|runtime error:|^SUMMARY: ' "$log"; then
        echo "$name: ${execs:-?} executions in ${time}s, corpus $(ls "$dir/corpus" | wc -l) inputs: OK"
        return 0
    fi
    : >"$out/$name.failed"
    tail -n 60 "$log"
    echo "$name: FAILED (exit $rc) after ${execs:-?} executions; log: $log"
    for f in $findings; do
        echo "$name: finding $dir/$f ($(wc -c <"$dir/$f") bytes), base64:"
        base64 "$dir/$f" | head -n 40
    done
    return 1
}

failed=0
names=
running=0
while [ $# -ge 2 ]; do
    prog=$1 seeds=$2
    shift 2
    name=$(basename "$prog")
    names="$names $name"
    rm -f "$out/$name.failed"
    fuzz_one "$prog" "$name" "$seeds" >"$out/$name.report" 2>&1 &
    running=$((running + 1))
    if [ $running -ge "$jobs" ]; then
        wait
        running=0
    fi
done
wait
for name in $names; do
    cat "$out/$name.report"
    if [ -e "$out/$name.failed" ] || ! grep -q ': OK$' "$out/$name.report"; then
        failed=1
    fi
done
exit $failed
