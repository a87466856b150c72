#!/usr/bin/env bash
# Field encryption benchmark (docs/benchmarks.md): encrypt + decrypt of
# PGERP_BENCH_N (400,000) short strings with erp.encrypt/erp.decrypt against
# pgcrypto's pgp_sym_encrypt/pgp_sym_decrypt and encrypt_iv/decrypt_iv, side
# by side in one run, in a throwaway cluster. Prints the ratios.
# With the hygiene of #16: no audit seal or pg_cron job during the
# measurement, PGERP_BENCH_RUNS (3) rounds of every measure, the median with
# every round, ratios truncated to two decimals, and the scaling of
# erp.encrypt+decrypt at PGERP_BENCH_N/2 and PGERP_BENCH_N strings with its
# growth exponent. (The default N was 1,000,000 before #16: three rounds of
# every measure at 400,000 take about as long as one at 1,000,000 did.)
# It neither builds nor installs: run 'make install' (or 'make start') first.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lib/report.sh"

N=${PGERP_BENCH_N:-400000}
# pgp_sym_* derive a key per call (S2K) and are slow: time them on fewer rows
# and scale, so that the run stays short; the scale is printed.
NPGP=${PGERP_BENCH_NPGP:-1000}
RUNS=${PGERP_BENCH_RUNS:-3}

bench_cluster "${BENCH_QUIET_CONF[@]}"
bench_quiet

"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -v n="$N" -v npgp="$NPGP" -v runs="$RUNS" <<'SQL'
SET client_min_messages = warning;
SET jit = off;
SET max_parallel_workers_per_gather = 0;
CREATE EXTENSION pgcrypto;
CREATE TEMP TABLE s AS SELECT g, 'user' || g || '@example.com' AS v FROM generate_series(1, :n) g;
CREATE TEMP TABLE s_half AS SELECT * FROM s WHERE g <= :n / 2;
CREATE TEMP TABLE s_pgp AS SELECT * FROM s WHERE g <= :npgp;
CREATE TEMP TABLE r (what text, round int, rows bigint, ms float8);
-- the column's key is made by its first write (erp.encrypt makes none); then warm up the caches
SELECT erp.create_partner(erp.create_company('Bench crypto'), 'Bench', 'customer', 'bench@example.com') \g /dev/null
SELECT count(erp.decrypt(erp.encrypt(v, 'erp.partner.email'), 'erp.partner.email')) FROM s WHERE g <= 1000 \g /dev/null
SELECT set_config('bench.n', :'n', false), set_config('bench.npgp', :'npgp', false) \g /dev/null
SELECT set_config('bench.k', gen_random_bytes(32)::text, false), set_config('bench.iv', gen_random_bytes(16)::text, false) \g /dev/null

-- time one round of a measure: p_sql counts the strings that come back intact
CREATE FUNCTION pg_temp.timed(p_what text, p_round int, p_sql text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz; n bigint;
BEGIN
    t0 := clock_timestamp();
    EXECUTE p_sql INTO n;
    INSERT INTO r VALUES (p_what, p_round, n, 1000 * extract(epoch FROM clock_timestamp() - t0));
END $$;

-- RUNS rounds, every measure once in each
SELECT pg_temp.timed(m.what, g, m.sql)
  FROM generate_series(1, :runs) g, (VALUES
    (1, 'pgerp encrypt+decrypt (AES-256-GCM)',
     $q$SELECT count(*) FROM s WHERE erp.decrypt(erp.encrypt(v, 'erp.partner.email'), 'erp.partner.email') = v$q$),
    (2, 'pgcrypto encrypt_iv+decrypt_iv (AES-CBC, no integrity)',
     $q$SELECT count(*) FROM s WHERE convert_from(decrypt_iv(encrypt_iv(convert_to(v, 'UTF8'),
            current_setting('bench.k')::bytea, current_setting('bench.iv')::bytea, 'aes-cbc/pad:pkcs'),
            current_setting('bench.k')::bytea, current_setting('bench.iv')::bytea, 'aes-cbc/pad:pkcs'), 'UTF8') = v$q$),
    (3, 'pgcrypto pgp_sym_encrypt+pgp_sym_decrypt',
     $q$SELECT count(*) FROM s_pgp WHERE pgp_sym_decrypt(pgp_sym_encrypt(v, 'a passphrase of some length'), 'a passphrase of some length') = v$q$),
    (4, 'pgerp encrypt+decrypt, half the strings',
     $q$SELECT count(*) FROM s_half WHERE erp.decrypt(erp.encrypt(v, 'erp.partner.email'), 'erp.partner.email') = v$q$)
  ) AS m(k, what, sql)
 ORDER BY g, m.k \g /dev/null

-- every round got every string back (a benchmark of failed decryptions would flatter it)
DO $$
DECLARE v_lost text;
BEGIN
    SELECT string_agg(what || ': ' || rows || ' strings back', ', ') INTO v_lost FROM r
     WHERE rows <> CASE WHEN what LIKE 'pgcrypto pgp%' THEN current_setting('bench.npgp')::bigint
                        WHEN what LIKE '%half%' THEN current_setting('bench.n')::bigint / 2
                        ELSE current_setting('bench.n')::bigint END;
    IF v_lost IS NOT NULL THEN
        RAISE EXCEPTION 'a measure lost strings' USING DETAIL = v_lost;
    END IF;
END $$;

CREATE TEMP VIEW m AS
SELECT what, min(rows) AS rows, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms,
       string_agg(round(ms::numeric, 1)::text, ' ' ORDER BY round) AS runs
  FROM r GROUP BY what;

\echo
\echo median of :runs rounds (every round in ms)
SELECT what, rows, round(ms::numeric, 1) AS ms, runs, round((rows / (ms / 1000))::numeric) AS "per second",
       round((ms * 1000 / rows)::numeric, 2) AS "us each"
  FROM m ORDER BY ms / rows;
SELECT format('pgerp is %sx faster than pgp_sym_encrypt/decrypt (goal: at least 20x) and %sx the speed of encrypt_iv/decrypt_iv',
              trunc(((SELECT ms / rows FROM m WHERE what LIKE 'pgcrypto pgp%')
                   / (SELECT ms / rows FROM m WHERE what = 'pgerp encrypt+decrypt (AES-256-GCM)'))::numeric, 2),
              trunc(((SELECT ms / rows FROM m WHERE what LIKE 'pgcrypto encrypt_iv%')
                   / (SELECT ms / rows FROM m WHERE what = 'pgerp encrypt+decrypt (AES-256-GCM)'))::numeric, 2)) \g (format=unaligned tuples_only)
SELECT format('pgerp encrypt+decrypt, %s strings %s ms, %s strings %s ms: growth n^%s',
              h.rows, round(h.ms::numeric, 1), f.rows, round(f.ms::numeric, 1),
              to_char(ln(f.ms / h.ms) / ln(f.rows::float8 / h.rows), 'FM990.00'))
  FROM m h, m f WHERE h.what LIKE '%half%' AND f.what = 'pgerp encrypt+decrypt (AES-256-GCM)' \g (format=unaligned tuples_only)
SQL
