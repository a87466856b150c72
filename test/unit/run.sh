#!/usr/bin/env bash
# Unit tests of the pure-C URL/header grammar (src/rest/ files that include
# no PostgreSQL header): builds test/unit/grammar_test.c with the sanitizers
# in WORKDIR and runs it. Usage: run.sh SOCK PORT WORKDIR (SOCK and PORT are
# not used: no server is needed). Ends with "unit: P passed, F failed".
set -uo pipefail
ROOT_DIR=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${3:-$(mktemp -d)}
mkdir -p "$WORK"
CC=${CC:-cc}
# The grammar files: every src/rest/*.c that includes no PostgreSQL header.
SRCS=$(grep -L '#include "postgres.h"' "$ROOT_DIR"/src/rest/*.c)

if ! $CC -g -O1 -std=gnu99 -Wall -Wextra -Werror -Wmissing-prototypes -Wdeclaration-after-statement \
        -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
        -I"$ROOT_DIR/src/include" -I"$ROOT_DIR/src/rest" -I"$ROOT_DIR/test/unit" \
        -o "$WORK/grammar_test" "$ROOT_DIR/test/unit/grammar_test.c" $SRCS >"$WORK/build.log" 2>&1; then
    echo "not ok 1 - build grammar_test"
    sed 's/^/#   /' "$WORK/build.log" | head -n 60
    echo "unit: 0 passed, 1 failed"
    exit 1
fi
# The program prints its own TAP lines and the summary line; a sanitizer
# report aborts it before the summary, which counts as a failure here.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
    "$WORK/grammar_test" >"$WORK/unit.out" 2>&1
rc=$?
grep -v '^unit: ' "$WORK/unit.out"
if ! grep -q '^unit: [0-9]* passed, [0-9]* failed$' "$WORK/unit.out"; then
    echo "not ok - grammar_test crashed (exit $rc)"
    p=$(grep -c '^ok ' "$WORK/unit.out")
    echo "unit: $p passed, 1 failed"
    exit 1
fi
grep '^unit: ' "$WORK/unit.out"
[ "$rc" = 0 ]
