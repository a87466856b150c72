#!/usr/bin/env bash
# libFuzzer run of the pure-C URL/header grammar (test/fuzz/grammar_fuzz.c):
# builds the target with clang in WORKDIR, copies the seed corpus there (the
# repository is never written) and fuzzes for PGERP_FUZZ_SECONDS (30 s).
# Any crash, sanitizer report, leak or timeout fails the run.
# Usage: run.sh SOCK PORT WORKDIR (SOCK and PORT are not used).
# Ends with "fuzz: P passed, F failed": one result for the build, one for the run.
set -uo pipefail
ROOT_DIR=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${3:-$(mktemp -d)}
SECONDS_=${PGERP_FUZZ_SECONDS:-30}
mkdir -p "$WORK"
CLANG=${CLANG:-$(command -v clang || command -v clang-14)}
SRCS=$(grep -L '#include "postgres.h"' "$ROOT_DIR"/src/rest/*.c)
passed=0 failed=0

if [ -n "$CLANG" ] && "$CLANG" -g -O1 -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=all -I"$ROOT_DIR/src/include" -I"$ROOT_DIR/src/rest" -I"$ROOT_DIR/test/unit" \
        -o "$WORK/grammar_fuzz" "$ROOT_DIR/test/fuzz/grammar_fuzz.c" $SRCS >"$WORK/build.log" 2>&1; then
    echo "ok 1 - build the grammar fuzzer"; passed=$((passed + 1))
else
    echo "not ok 1 - build the grammar fuzzer (clang with libclang-rt: ${CLANG:-not found})"
    sed 's/^/#   /' "$WORK/build.log" 2>/dev/null | head -n 40
    echo "fuzz: 0 passed, 1 failed"
    exit 1
fi

rm -rf "$WORK/corpus" "$WORK/artifacts"
mkdir -p "$WORK/corpus" "$WORK/artifacts"
cp "$ROOT_DIR"/test/fuzz/corpus/grammar/* "$WORK/corpus/"
(cd "$WORK" && ASAN_OPTIONS=detect_leaks=1 ./grammar_fuzz -max_total_time="$SECONDS_" \
    -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$WORK/artifacts/" corpus >"$WORK/fuzz.log" 2>&1)
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$WORK/fuzz.log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$WORK/fuzz.log")
if [ "$rc" = 0 ] && [ -z "$(ls -A "$WORK/artifacts")" ]; then
    echo "ok 2 - fuzzed ${SECONDS_}s: ${execs:-?} executions, ${rate:-?}/s, no crash, leak or timeout"
    passed=$((passed + 1))
else
    echo "not ok 2 - fuzzer failed (exit $rc); artifacts in $WORK/artifacts"
    grep -E 'ERROR|SUMMARY|#[0-9]+ 0x|Test unit written' "$WORK/fuzz.log" | head -n 40 | sed 's/^/#   /'
    failed=$((failed + 1))
fi
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
