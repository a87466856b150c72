#!/usr/bin/env bash
# make test: build and install, then a throwaway cluster on a free port in a
# temporary directory, every suite, cleanup even on failure, and a last line
# "N passed, M failed". Exits non-zero on any failure.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

# PGERP_SKIP_BUILD=1 skips the build and install (the pack is installed
# already); PGERP_TESTS=<regex> runs only the test files whose path matches;
# PGERP_SKIP_UPGRADE=1 skips the upgrade test (test/upgrade/); PGERP_SKIP_SQLSMITH=1
# the sqlsmith stage.
if [ -z "${PGERP_SKIP_BUILD:-}" ]; then
    set -e
    build_and_install
    set +e
fi
FILTER=${PGERP_TESTS:-.}

throwaway_cluster_dirs pgerp-test

say "throwaway cluster in $DATA on port $PORT"
(set -e; PGERP_FSYNC=off init_cluster "$DATA" "$SOCK" "$PORT" && start_cluster "$DATA" "$LOG") || exit 1
(set -e; setup_database "$SOCK" "$PORT") || { echo "0 passed, 1 failed"; exit 1; }

export PGHOST=$SOCK PGPORT=$PORT PGUSER=postgres PGDATABASE=pgerp
"$PGBIN/psql" -X -q -c "CREATE EXTENSION IF NOT EXISTS pgtap" || { echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0

# tap_counts FILE: "passed failed" from a prove/pg_prove report. Tests that a
# file planned but never ran (it died) count as failed.
tap_counts() {
    perl -ne '
        $tests = $1 if /^Files=\d+, Tests=(\d+)/;
        # "(Wstat: 0 Tests: 9 Failed: 1)" or "(Wstat: 1024 (exited 4) Tests: 70 Failed: 4)"
        if (/\(Wstat: (\d+)(?: \([^)]*\))? Tests: (\d+) Failed: (\d+)\)/) { $frun += $3; $extra++ if $1 && !$3 }
        $extra += $1 - $2 if /You planned (\d+) tests? but ran (\d+)/ && $1 > $2;
        $extra++ if /No plan found in TAP output/;
        END { $tests //= 0; printf "%d %d\n", $tests - $frun, $frun + $extra }' "$1"
}

# Demo data must load (make start uses it).
if "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -f "$ROOT_DIR/scripts/demo.sql" >"$TMP/demo.out" 2>&1 &&
   [ "$("$PGBIN/psql" -X -tA -c "SELECT count(*) FROM stock.verify_valuation()" 2>>"$TMP/demo.out")" = 0 ]; then
    echo "demo data loads and its valuation verifies ... ok"; passed=$((passed + 1))
else
    cat "$TMP/demo.out"; echo "demo data loads and its valuation verifies ... FAILED"; failed=$((failed + 1))
fi

# pgTAP suites through pg_prove: count assertions from its summary.
mapfile -t pgtap_files < <(find "$ROOT_DIR/test/pgtap" -name '*.sql' ! -name 'setup.sql' | grep -E -- "$FILTER" | sort)
if [ ${#pgtap_files[@]} -gt 0 ]; then
    say "pgTAP: ${#pgtap_files[@]} files"
    pg_prove --ext .sql "${pgtap_files[@]}" 2>&1 | tee "$TMP/pg_prove.out"
    st=${PIPESTATUS[0]}
    read -r p f < <(tap_counts "$TMP/pg_prove.out")
    if [ "$st" != 0 ] && [ "$f" = 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f))
fi

# Isolation specs (concurrent sessions): one result per spec.
mapfile -t specs < <(find "$ROOT_DIR/test/isolation/specs" -name '*.spec' 2>/dev/null | grep -E -- "$FILTER" | sort)
if [ ${#specs[@]} -gt 0 ]; then
    say "isolation: ${#specs[@]} specs"
    names=()
    for s in "${specs[@]}"; do names+=("$(basename "$s" .spec)"); done
    ISO=$PGBIN/../lib/pgxs/src/test/isolation
    [ -x "$ISO/pg_isolation_regress" ] || ISO=/usr/lib/postgresql/$PG_MAJOR/lib/pgxs/src/test/isolation
    mkdir -p "$TMP/iso"
    "$ISO/pg_isolation_regress" --use-existing --dbname=pgerp --host="$SOCK" --port="$PORT" --user=postgres \
        --inputdir="$ROOT_DIR/test/isolation" --outputdir="$TMP/iso" "${names[@]}" 2>&1 | tee "$TMP/iso.out"
    ip=$(grep -cE '^(test|ok|     ) .* \.\.\. ok' "$TMP/iso.out")
    ifl=$(grep -cE '\.\.\. FAILED|\.\.\. failed' "$TMP/iso.out")
    if [ "$((ip + ifl))" -lt ${#specs[@]} ]; then ifl=$(( ${#specs[@]} - ip )); fi
    [ -f "$TMP/iso/regression.diffs" ] && [ "$ifl" -gt 0 ] && cat "$TMP/iso/regression.diffs"
    passed=$((passed + ip)); failed=$((failed + ifl))
fi

# Perl TAP tests (their own clusters): prove.
mapfile -t taps < <(find "$ROOT_DIR/test/tap" -name '*.pl' 2>/dev/null | grep -E -- "$FILTER" | sort)
if [ ${#taps[@]} -gt 0 ]; then
    say "Perl TAP: ${#taps[@]} files"
    # PostgreSQL::Test::Cluster runs initdb as the caller: as root, run prove as postgres.
    mkdir -p "$TMP/tap"
    is_root && chown postgres:postgres "$TMP/tap"
    (cd "$TMP/tap" && as_pg env PATH="$PGBIN:$PATH" TESTDIR="$TMP/tap" \
        PG_REGRESS="$PGBIN/../lib/pgxs/src/test/regress/pg_regress" \
        prove -I "$PGBIN/../lib/pgxs/src/test/perl" "${taps[@]}") 2>&1 | tee "$TMP/prove.out"
    st=${PIPESTATUS[0]}
    read -r p f < <(tap_counts "$TMP/prove.out")
    if [ "$st" != 0 ] && [ "$f" = 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f))
fi

# Suites with a runner of their own (test/<suite>/run.sh SOCK PORT WORKDIR),
# on this cluster: the HTTP suites start their own gateway on a free port.
# Each ends with one line "<suite>: P passed, F failed"; PGERP_TESTS must
# match "<suite>/". The upgrade test has its own cluster and stage below.
for runner in "$ROOT_DIR"/test/*/run.sh; do
    suite=$(basename "$(dirname "$runner")")
    [ "$suite" = upgrade ] && continue
    grep -qE -- "$FILTER" <<<"$suite/" || continue
    say "$suite"
    mkdir -p "$TMP/$suite"
    is_root && chown postgres:postgres "$TMP/$suite"
    "$runner" "$SOCK" "$PORT" "$TMP/$suite" 2>&1 | tee "$TMP/$suite.out"
    read -r sp sf < <(sed -n "s/^$suite: \([0-9]*\) passed, \([0-9]*\) failed\$/\1 \2/p" "$TMP/$suite.out" | tail -n 1)
    [ -n "${sp:-}" ] || { sp=0; sf=1; }
    passed=$((passed + sp)); failed=$((failed + sf))
done

# sqlsmith for 60 s as pgerp_app and as the superuser at once, on a copy of
# the database with the demo data, after every other stage on this cluster:
# one result, failed on any backend crash (scripts/sqlsmith.sh).
# PGERP_SKIP_SQLSMITH=1 skips it; PGERP_TESTS must match "fuzz/sqlsmith".
if [ -z "${PGERP_SKIP_SQLSMITH:-}" ] && grep -qE -- "$FILTER" <<<"fuzz/sqlsmith"; then
    "$ROOT_DIR/scripts/sqlsmith.sh" "$SOCK" "$PORT" pgerp "$LOG" "$TMP/sqlsmith" 2>&1 | tee "$TMP/sqlsmith.out"
    read -r sp sf < <(sed -n 's/^sqlsmith: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$TMP/sqlsmith.out" | tail -n 1)
    [ -n "${sp:-}" ] || { sp=0; sf=1; }
    passed=$((passed + sp)); failed=$((failed + sf))
fi

# The upgrade from the released version (its own cluster): test/upgrade/run.sh.
if [ -z "${PGERP_SKIP_UPGRADE:-}" ]; then
    say "upgrade test"
    "$ROOT_DIR/test/upgrade/run.sh" 2>&1 | tee "$TMP/upgrade.out"
    read -r up uf < <(sed -n 's/^upgrade: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$TMP/upgrade.out" | tail -n 1)
    [ -n "${up:-}" ] || { up=0; uf=1; }
    passed=$((passed + up)); failed=$((failed + uf))
fi

if [ "$failed" -gt 0 ]; then
    echo "server log (last 30 lines):"; tail -n 30 "$LOG"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
