-- Key rotation of an encrypted column: erp.rotate_key, CALL erp.reencrypt, erp.retire_key.
BEGIN;
\ir ../setup.sql
SELECT plan(33);

SELECT * FROM pg_temp.make_tree() \gset

-- ~2,000 encrypted values (1,800 non-NULL), searchable, with a mask
CREATE SCHEMA t30;
CREATE TABLE t30.account (
    company_id bigint NOT NULL,
    id int PRIMARY KEY,
    iban text,
    holder text
);
INSERT INTO t30.account (company_id, id, iban, holder)
SELECT CASE WHEN i % 2 = 0 THEN :a ELSE :b END, i,
       CASE WHEN i % 10 = 0 THEN NULL
            WHEN i % 50 = 1 THEN ''
            WHEN i % 7 = 0 THEN 'ÄÖÜ-' || i || '-账户'
            ELSE 'DE' || lpad(i::text, 20, '0') END,
       'holder ' || i
  FROM generate_series(1, 2000) i;
CREATE TEMP TABLE t30_plain AS SELECT id, iban FROM t30.account;
SELECT erp.encrypt_column('t30.account', 'iban', true, 'bank_account') \gset
CREATE TEMP TABLE t30_bidx AS SELECT id, iban_bidx FROM t30.account;

-- values per key version of the column
CREATE FUNCTION pg_temp.versions() RETURNS TABLE (version int, n int) LANGUAGE sql AS $$
    SELECT k.version, count(*)::int FROM t30.account a JOIN erp.crypto_key k ON k.id = erp._cipher_key_id(a.iban)
     WHERE k.context = 't30.account.iban' GROUP BY k.version ORDER BY k.version
$$;
-- rows whose value does not decrypt to the original
CREATE FUNCTION pg_temp.wrong_values() RETURNS int LANGUAGE sql AS $$
    SELECT count(*)::int FROM t30.account a FULL JOIN t30_plain p USING (id)
     WHERE erp._open(a.iban, 't30.account.iban') IS DISTINCT FROM p.iban
$$;

SELECT results_eq('SELECT * FROM pg_temp.versions()', $$VALUES (1, 1800)$$,
                  'before rotation every value is under version 1');
SELECT iban AS v1_value FROM t30.account WHERE id = 1 \gset

-- rotate
SELECT is(erp.rotate_key('t30.account.iban'), 2, 'rotate_key returns the new version');
INSERT INTO t30.account (company_id, id, iban) VALUES (:a, 3001, 'FR7630006000011234567890189');
INSERT INTO t30_plain VALUES (3001, 'FR7630006000011234567890189');
INSERT INTO t30_bidx SELECT id, iban_bidx FROM t30.account WHERE id = 3001;
UPDATE t30.account SET iban = 'GB29NWBK60161331926819' WHERE id = 2;
UPDATE t30_plain SET iban = 'GB29NWBK60161331926819' WHERE id = 2;
UPDATE t30_bidx SET iban_bidx = erp.blind_index('GB29NWBK60161331926819', 't30.account.iban') WHERE id = 2;
SELECT results_eq(
    $$SELECT a.id, k.version FROM t30.account a JOIN erp.crypto_key k ON k.id = erp._cipher_key_id(a.iban)
       WHERE a.id IN (2, 3001) ORDER BY a.id$$,
    $$VALUES (2, 2), (3001, 2)$$,
    'an INSERT and an UPDATE after the rotation use version 2');
SELECT iban AS v3 FROM t30.account WHERE id = 3 \gset
UPDATE t30.account SET holder = 'renamed' WHERE id = 3;
SELECT is((SELECT iban FROM t30.account WHERE id = 3), :'v3'::bytea,
          'an UPDATE of another column leaves a version 1 value as it was');
SELECT results_eq('SELECT * FROM pg_temp.versions()', $$VALUES (1, 1799), (2, 2)$$,
                  'old values stay under version 1 until re-encrypted');
SELECT is(pg_temp.wrong_values(), 0, 'values of both versions decrypt to their originals');
SELECT results_eq(
    $$SELECT id FROM t30.account WHERE iban_bidx = erp.blind_index('FR7630006000011234567890189', 't30.account.iban')
      UNION ALL
      SELECT id FROM t30.account WHERE iban_bidx = erp.blind_index(' DE00000000000000000013 ', 't30.account.iban')$$,
    $$VALUES (3001), (13)$$,
    'blind-index search finds values of both versions (blind indexes do not depend on the version)');

-- retire_key refuses while the old version is used, and always for the current one
SELECT throws_ok($$SELECT erp.retire_key('t30.account.iban', 1)$$, '55000',
                 'version 1 of t30.account.iban is still used by 1799 values',
                 'retiring a version still used by values is refused');
SELECT is(pg_temp.error_hint($$SELECT erp.retire_key('t30.account.iban', 1)$$),
          '55000: Run CALL erp.reencrypt(''t30.account'', ''iban'') first.', 'the hint says how to proceed');
SELECT throws_ok($$SELECT erp.retire_key('t30.account.iban', 2)$$, '55000',
                 'version 2 is the current key of t30.account.iban', 'the current version cannot be retired');
SELECT throws_ok($$SELECT erp.retire_key('t30.account.iban', 9)$$, '22023',
                 'context ''t30.account.iban'' has no data key version 9', 'an unknown version is refused');
SELECT is((SELECT count(*)::int FROM erp.crypto_key WHERE context = 't30.account.iban' AND retired_at IS NOT NULL), 0,
          'no key was retired by the refused calls');

-- re-encrypt, 300 rows per batch
SELECT md5(string_agg(iban::text, ',' ORDER BY id)) AS sum_before FROM t30.account \gset
SELECT lives_ok($$CALL erp.reencrypt('t30.account', 'iban', 300)$$, 'CALL erp.reencrypt rewrites the column');
SELECT results_eq('SELECT * FROM pg_temp.versions()', $$VALUES (2, 1801)$$,
                  'every value is under version 2 afterwards');
SELECT is((SELECT count(*)::int FROM t30.account a JOIN t30_plain p USING (id) WHERE a.iban IS NULL AND p.iban IS NULL),
          200, 'NULLs stay NULL');
SELECT is(pg_temp.wrong_values(), 0, 'every value still decrypts to its original');
SELECT is((SELECT count(*)::int FROM t30.account a FULL JOIN t30_bidx b USING (id)
            WHERE a.iban_bidx IS DISTINCT FROM b.iban_bidx),
          0, 'blind indexes are unchanged');
SELECT isnt(md5(string_agg(iban::text, ',' ORDER BY id)), :'sum_before', 'the stored ciphertexts changed')
  FROM t30.account;
SELECT md5(string_agg(iban::text, ',' ORDER BY id)) AS sum_after FROM t30.account \gset
CALL erp.reencrypt('t30.account', 'iban');
SELECT is((SELECT md5(string_agg(iban::text, ',' ORDER BY id)) FROM t30.account), :'sum_after',
          'a second run leaves values already under the current key byte-identical');
SELECT results_eq(
    $$SELECT count(*)::int FROM t30.account WHERE holder = 'renamed' AND id = 3$$, $$VALUES (1)$$,
    'other columns are untouched by the re-encryption');

-- retire the old version
SELECT lives_ok($$SELECT erp.retire_key('t30.account.iban', 1)$$, 'retire_key succeeds once no value uses version 1');
SELECT results_eq(
    $$SELECT version, retired_at IS NOT NULL FROM erp.crypto_key WHERE context = 't30.account.iban' ORDER BY version$$,
    $$VALUES (1, true), (2, false)$$, 'version 1 is retired, version 2 is not');
SELECT throws_ok(format('SELECT erp._open(%L::bytea, %L)', :'v1_value', 't30.account.iban'), '55000',
                 'could not decrypt value', 'a value kept aside under version 1 no longer decrypts');
SELECT is(pg_temp.error_detail(format('SELECT erp._open(%L::bytea, %L)', :'v1_value', 't30.account.iban')),
          '55000: Version 1 of the data key of "t30.account.iban" was retired.', 'and the detail says why');
SELECT throws_ok(format('UPDATE t30.account SET iban = %L::bytea WHERE id = 1', :'v1_value'), '55000',
                 'could not decrypt value', 'nor can it be written back into the column');
SELECT is(pg_temp.wrong_values(), 0, 'the re-encrypted values still decrypt');
INSERT INTO t30.account (company_id, id, iban) VALUES (:a, 3002, 'DE00000000000000000013');
SELECT results_eq(
    $$SELECT id FROM t30.account WHERE iban_bidx = erp.blind_index('DE00000000000000000013', 't30.account.iban') ORDER BY id$$,
    $$VALUES (13), (3002)$$,
    'blind indexes still work after the first key is retired, and a new row gets the same one');
SELECT lives_ok($$SELECT erp.retire_key('t30.account.iban', 1)$$, 'retiring a retired version again is harmless');
SELECT throws_ok($$SELECT erp.retire_key('t30.account.iban', 2)$$, '55000',
                 'version 2 is the current key of t30.account.iban', 'the current version still cannot be retired');

-- superusers only
CREATE ROLE t30_nobody NOSUPERUSER NOBYPASSRLS;
GRANT USAGE ON SCHEMA erp, t30 TO t30_nobody;
GRANT EXECUTE ON FUNCTION erp.retire_key(text, integer) TO t30_nobody;
GRANT EXECUTE ON PROCEDURE erp.reencrypt(regclass, name, integer) TO t30_nobody;
SET LOCAL ROLE t30_nobody;
SELECT throws_ok($$SELECT erp.retire_key('t30.account.iban', 1)$$, '42501', NULL,
                 'a non-superuser cannot retire a key');
SELECT throws_ok($$CALL erp.reencrypt('t30.account', 'iban', 300)$$, '42501',
                 'permission denied to re-encrypt a column', 'a non-superuser cannot re-encrypt');
RESET ROLE;
SELECT erp.rotate_key('t30.account.iban') AS v3_version \gset
SET LOCAL ROLE t30_nobody;
SELECT throws_ok($$SELECT erp.retire_key('t30.account.iban', 2)$$, '42501', NULL,
                 'even a retirement that would otherwise be refused');
RESET ROLE;
SELECT results_eq('SELECT * FROM pg_temp.versions()', $$VALUES (2, 1802)$$,
                  'the refused calls rewrote nothing');

SELECT * FROM finish();
ROLLBACK;
