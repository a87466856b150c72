#!/usr/bin/env bash
# Field encryption benchmark (docs/benchmarks.md): encrypt + decrypt of
# PGERP_BENCH_N (1,000,000) short strings with erp.encrypt/erp.decrypt
# against pgcrypto's pgp_sym_encrypt/pgp_sym_decrypt and encrypt_iv/decrypt_iv,
# side by side in one run, in a throwaway cluster. Prints the ratios.
# It neither builds nor installs: run 'make install' (or 'make start') first.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

N=${PGERP_BENCH_N:-1000000}
# pgp_sym_* derive a key per call (S2K) and are slow: time them on fewer rows
# and scale, so that the run stays short; the scale is printed.
NPGP=${PGERP_BENCH_NPGP:-2000}

bench_cluster

"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -v n="$N" -v npgp="$NPGP" <<'SQL'
SET client_min_messages = warning;
SET jit = off;
SET max_parallel_workers_per_gather = 0;
CREATE EXTENSION pgcrypto;
CREATE TEMP TABLE s AS SELECT g, 'user' || g || '@example.com' AS v FROM generate_series(1, :n) g;
CREATE TEMP TABLE s_pgp AS SELECT * FROM s WHERE g <= :npgp;
CREATE TEMP TABLE r (what text, rows bigint, ms float8);
-- the column's key is made by its first write (erp.encrypt makes none); then warm up the caches
SELECT erp.create_partner(erp.create_company('Bench crypto'), 'Bench', 'customer', 'bench@example.com') \g /dev/null
SELECT count(erp.decrypt(erp.encrypt(v, 'erp.partner.email'), 'erp.partner.email')) FROM s WHERE g <= 1000 \g /dev/null
SELECT gen_random_bytes(32) AS k \gset
SELECT gen_random_bytes(16) AS iv \gset

DO $$
DECLARE t0 timestamptz; n bigint;
BEGIN
    t0 := clock_timestamp();
    SELECT count(*) INTO n FROM s WHERE erp.decrypt(erp.encrypt(v, 'erp.partner.email'), 'erp.partner.email') = v;
    INSERT INTO r VALUES ('pgerp encrypt+decrypt (AES-256-GCM)', n, 1000 * extract(epoch FROM clock_timestamp() - t0));
END $$;

SELECT set_config('bench.k', :'k', false), set_config('bench.iv', :'iv', false) \g /dev/null
DO $$
DECLARE t0 timestamptz; n bigint; k bytea := current_setting('bench.k')::bytea; iv bytea := current_setting('bench.iv')::bytea;
BEGIN
    t0 := clock_timestamp();
    SELECT count(*) INTO n FROM s
     WHERE convert_from(decrypt_iv(encrypt_iv(convert_to(v, 'UTF8'), k, iv, 'aes-cbc/pad:pkcs'), k, iv, 'aes-cbc/pad:pkcs'), 'UTF8') = v;
    INSERT INTO r VALUES ('pgcrypto encrypt_iv+decrypt_iv (AES-CBC, no integrity)', n, 1000 * extract(epoch FROM clock_timestamp() - t0));
END $$;

DO $$
DECLARE t0 timestamptz; n bigint;
BEGIN
    t0 := clock_timestamp();
    SELECT count(*) INTO n FROM s_pgp
     WHERE pgp_sym_decrypt(pgp_sym_encrypt(v, 'a passphrase of some length'), 'a passphrase of some length') = v;
    INSERT INTO r VALUES ('pgcrypto pgp_sym_encrypt+pgp_sym_decrypt', n, 1000 * extract(epoch FROM clock_timestamp() - t0));
END $$;

\echo
SELECT what, rows, round(ms::numeric, 1) AS ms, round((rows / (ms / 1000))::numeric) AS "per second",
       round((ms * 1000 / rows)::numeric, 2) AS "us each"
  FROM r ORDER BY ms / rows;
SELECT format('pgerp is %sx faster than pgp_sym_encrypt/decrypt (goal: at least 20x) and %sx the speed of encrypt_iv/decrypt_iv',
              round(((SELECT ms / rows FROM r WHERE what LIKE 'pgcrypto pgp%')
                   / (SELECT ms / rows FROM r WHERE what LIKE 'pgerp%'))::numeric, 1),
              round(((SELECT ms / rows FROM r WHERE what LIKE 'pgcrypto encrypt_iv%')
                   / (SELECT ms / rows FROM r WHERE what LIKE 'pgerp%'))::numeric, 2)) \g (format=unaligned tuples_only)
SQL
