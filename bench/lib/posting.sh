# shellcheck shell=bash
# Shared by bench/ha_sync.sh and bench/idempotency.sh: the posting data of a
# signed-in user, pgbench rounds run as the application role, medians.
# Source it after scripts/lib.sh, with PGHOST/PGPORT/PGDATABASE set; do not run it.
# median and ratio come from bench/lib/report.sh, which it sources.
. "$(dirname "${BASH_SOURCE[0]}")/report.sh"

# posting_data PRODUCTS: company "Bench posting" with one warehouse, PRODUCTS
# FIFO products with an opening stock (dated a day back), and user bench
# (stock_manager there). Sets PRODUCT_BASE (the products' ids are
# PRODUCT_BASE .. PRODUCT_BASE + PRODUCTS - 1) and TOKEN, bench's access
# token (pgerp.token_ttl, one hour by default: longer than any run).
posting_data() {
    local n=$1 span
    pg -o /dev/null -v n="$n" <<'SQL'
SET client_min_messages = warning;
SELECT erp.create_company('Bench posting') AS c \gset
SELECT stock.create_warehouse(:c, 'WH') AS wh \gset
SELECT erp.create_user('bench', 'bench-pass-1') AS u \gset
SELECT erp.grant_role(:u, 'stock_manager', :c);
SELECT count(stock.receive(stock.create_product(:c, 'B-' || g, 'Bench product ' || g, 'fifo'),
                           1000000, 5.00, NULL, 'opening', now() - interval '1 day'))
  FROM generate_series(1, :n) g;
SQL
    read -r PRODUCT_BASE span < <(pg -tA -F ' ' -c "SELECT min(id), max(id) - min(id) + 1 FROM stock.product WHERE sku LIKE 'B-%'")
    # the scripts pick a product as PRODUCT_BASE + random(0, PRODUCTS - 1)
    [ "$span" = "$n" ] || die "the $n bench products' ids are not consecutive (span $span)"
    TOKEN=$(pg -tA -c "SELECT erp.sign_in('bench', 'bench-pass-1')")
    [ -n "$TOKEN" ] || die "erp.sign_in('bench', ...) returned no token"
    pg -c "VACUUM ANALYZE" -c "CHECKPOINT"
}

# no_background_writers: the audit seal (the job workers' housekeeping) must
# be off (pgerp.housekeeping_interval = 0 in postgresql.conf) and no pg_cron
# job scheduled, so that nothing but the clients writes during a round.
no_background_writers() {
    [ "$(pg -tAc "SHOW pgerp.housekeeping_interval")" = 0 ] ||
        die "pgerp.housekeeping_interval is not 0: the audit seal would run during the rounds"
    [ "$(pg -tAc "SELECT count(*) FROM cron.job")" = 0 ] ||
        die "pg_cron has jobs scheduled: unschedule them for the measurement"
}

# tps SCRIPT SECONDS: pgbench with BENCH_CLIENTS clients as the application
# role over the socket of the environment, transactions per second.
# Deadlocks and serialization failures are retried (--max-tries); a
# transaction that still fails, or any other error, stops the benchmark.
tps() {
    local script=$1 seconds=$2 out failed
    out=$("$PGBIN/pgbench" -n -U "$APP_ROLE" -c "$BENCH_CLIENTS" -j "$BENCH_CLIENTS" -T "$seconds" \
              --max-tries=10 -f "$script" 2>&1) ||
        { tail -n 15 <<<"$out" >&2; die "pgbench failed on $script"; }
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")
    [ "${failed:-0}" = 0 ] || { tail -n 15 <<<"$out" >&2; die "$failed failed transactions in $script"; }
    sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out"
}

# runs VALUE...: the values to one decimal, as " 1.0 2.0".
runs() { printf ' %.1f' "$@"; }

