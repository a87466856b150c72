#!/usr/bin/env bash
# The upgrade test: in its own throwaway cluster, install the released 0.1.0
# scripts (test/upgrade/0.1.0/, installed by make install) with this build's
# library, load 0.1.0's demo data, ALTER EXTENSION ... UPDATE, compare the
# catalog with a fresh install of the current version (test/upgrade/catalog.sql),
# then run the pgTAP suites on the upgraded database. Ends with one line
# "upgrade: P passed, F failed". PGERP_TESTS filters the pgTAP files.
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
HERE=$ROOT_DIR/test/upgrade
FROM=0.1.0
TO=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$ROOT_DIR/pgerp.control")
FILTER=${PGERP_TESTS:-.}

throwaway_cluster_dirs pgerp-upgrade
(set -e; PGERP_FSYNC=off init_cluster "$DATA" "$SOCK" "$PORT" && start_cluster "$DATA" "$LOG") ||
    { echo "upgrade: 0 passed, 1 failed"; exit 1; }
export PGHOST=$SOCK PGPORT=$PORT PGUSER=postgres
psql_db() { local db=$1; shift; "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"; }

passed=0 failed=0 n=0
check() {   # check "what" command...: one TAP line
    local what=$1; shift
    n=$((n + 1))
    if "$@" >"$TMP/check.$n" 2>&1; then
        echo "ok $n - $what"; passed=$((passed + 1))
    else
        echo "not ok $n - $what"; sed 's/^/#   /' "$TMP/check.$n" | head -n 60; failed=$((failed + 1))
    fi
}

# the app role and pg_cron, as scripts/lib.sh setup_database makes them
app_role_sql="DO \$\$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$APP_ROLE') THEN
    CREATE ROLE $APP_ROLE LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE; END IF; END \$\$;"
create_db() {
    [ "$(psql_db postgres -tAc "SELECT count(*) FROM pg_database WHERE datname = '$1'")" = 1 ] ||
        psql_db postgres -c "CREATE DATABASE $1"
}
install_old() {   # DB: the three extensions at 0.1.0, the app role granted
    create_db "$1" &&
    psql_db "$1" -c "SET client_min_messages = warning" -c "$app_role_sql" \
        -c "CREATE EXTENSION pgerp VERSION '$FROM'" -c "CREATE EXTENSION pgerp_stock VERSION '$FROM'" \
        -c "CREATE EXTENSION pgerp_mrp VERSION '$FROM'" -c "SELECT erp.grant_app_access('$APP_ROLE')"
}
update_all() {
    psql_db "$1" -c "SET client_min_messages = warning" -c "ALTER EXTENSION pgerp UPDATE" \
        -c "ALTER EXTENSION pgerp_stock UPDATE" -c "ALTER EXTENSION pgerp_mrp UPDATE" &&
    [ "$(psql_db "$1" -tAc "SELECT string_agg(extversion, ',') FROM pg_extension WHERE extname LIKE 'pgerp%'")" = "$TO,$TO,$TO" ]
}
install_new() {
    create_db "$1" &&
    psql_db "$1" -c "SET client_min_messages = warning" -c "$app_role_sql" \
        -c "CREATE EXTENSION pgerp_mrp CASCADE" -c "SELECT erp.grant_app_access('$APP_ROLE')"
}
same_catalog() {
    psql_db upgraded -f "$HERE/catalog.sql" >"$TMP/upgraded.cat" &&
    psql_db fresh -f "$HERE/catalog.sql" >"$TMP/fresh.cat" &&
    diff -u --label "fresh $TO" --label "upgraded $FROM -> $TO" "$TMP/fresh.cat" "$TMP/upgraded.cat" &&
    lines=$(wc -l <"$TMP/fresh.cat") && echo "$lines catalog lines compared" &&
    [ "$lines" -gt 2000 ]   # the description is not empty: the pack has thousands of facts
}
demo_old() {
    psql_db pgerp -f "$HERE/$FROM/demo.sql" >/dev/null &&
    [ "$(psql_db pgerp -tAc "SELECT count(*) FROM stock.verify_valuation()")" = 0 ]
}

check "$FROM installs with this build's library" install_old upgraded
check "ALTER EXTENSION ... UPDATE reaches $TO" update_all upgraded
check "a fresh $TO installs" install_new fresh
check "the upgraded catalog equals a fresh $TO install" same_catalog

# The suites on an upgraded database named pgerp (the jobs' workers serve
# it), with pg_cron and 0.1.0's demo data, as make test's own database.
create_db pgerp >/dev/null
psql_db pgerp -c "SET client_min_messages = warning" -c "CREATE EXTENSION pg_cron" \
    -c "SELECT cron.schedule('pgerp-audit-seal', '* * * * *', 'SELECT erp.audit_seal()')" >/dev/null
check "pgerp database at $FROM" install_old pgerp
check "$FROM demo data loads and verifies" demo_old
check "the database with data updates to $TO" update_all pgerp
check "its valuation still verifies after the update" \
    bash -c "[ \"\$($PGBIN/psql -X -tA -d pgerp -c 'SELECT count(*) FROM stock.verify_valuation()')\" = 0 ]"
psql_db pgerp -c "CREATE EXTENSION IF NOT EXISTS pgtap" >/dev/null

mapfile -t pgtap_files < <(find "$ROOT_DIR/test/pgtap" -name '*.sql' ! -name 'setup.sql' | grep -E -- "$FILTER" | sort)
pp=0 pf=0
if [ ${#pgtap_files[@]} -gt 0 ]; then
    PGDATABASE=pgerp pg_prove --ext .sql "${pgtap_files[@]}" >"$TMP/pg_prove.out" 2>&1
    st=$?
    read -r pp pf < <(perl -ne '
        $tests = $1 if /^Files=\d+, Tests=(\d+)/;
        if (/\(Wstat: (\d+)(?: \([^)]*\))? Tests: (\d+) Failed: (\d+)\)/) { $frun += $3; $extra++ if $1 && !$3 }
        $extra += $1 - $2 if /You planned (\d+) tests? but ran (\d+)/ && $1 > $2;
        $extra++ if /No plan found in TAP output/;
        END { $tests //= 0; printf "%d %d\n", $tests - $frun, $frun + $extra }' "$TMP/pg_prove.out")
    if [ "$st" != 0 ] && [ "$pf" = 0 ]; then pf=1; fi
    if [ "$pf" -gt 0 ]; then grep -v '\.\. ok$' "$TMP/pg_prove.out" | head -n 80; fi
    echo "# pgTAP on the upgraded database: $pp passed, $pf failed"
fi
if [ "$failed" -gt 0 ] || [ "$pf" -gt 0 ]; then tail -n 20 "$LOG" | sed 's/^/# log: /'; fi
echo "upgrade: $((passed + pp)) passed, $((failed + pf)) failed"
[ "$failed" -eq 0 ] && [ "$pf" -eq 0 ]
