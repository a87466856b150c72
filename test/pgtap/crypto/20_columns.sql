-- erp.encrypt_column / erp.decrypt_column: 10,000 values converted and verified, the BEFORE
-- trigger on INSERT and UPDATE, blind-index search, api.<table> views per permission, refusals.
BEGIN;
\ir ../setup.sql
SELECT plan(70);

SELECT * FROM pg_temp.make_tree() \gset

-- A test table: 10,000 rows over companies A and B, NULLs, empty strings, multibyte text.
CREATE SCHEMA t20;
CREATE TABLE t20.person (
    company_id bigint NOT NULL,
    id int PRIMARY KEY,
    ssn text,
    note text,
    email varchar(120)
);
INSERT INTO t20.person (company_id, id, ssn, note, email)
SELECT CASE WHEN i % 2 = 1 THEN :a ELSE :b END, i,
       CASE i % 10 WHEN 0 THEN NULL
                   WHEN 1 THEN ''
                   WHEN 3 THEN '张三丰-' || i || ' Ünïcødé 🙂'
                   ELSE 'SSN-' || lpad(i::text, 9, '0') END,
       'note ' || i,
       CASE WHEN i % 13 = 0 THEN NULL ELSE 'User' || i || '@Example.COM' END
  FROM generate_series(1, 10000) i;
-- the plaintext, to compare with after every change (kept in step with the writes below)
CREATE TEMP TABLE t20_plain AS SELECT id, company_id, ssn, note, email::text AS email FROM t20.person;
ALTER TABLE t20_plain ADD PRIMARY KEY (id);

-- Encrypt
SELECT lives_ok($$SELECT erp.encrypt_column('t20.person', 'ssn')$$, 'encrypt_column converts a text column');
SELECT lives_ok($$SELECT erp.encrypt_column('t20.person', 'email', true, 'email')$$,
                'encrypt_column converts a varchar column, searchable, with a mask');
SELECT is((SELECT count(*)::int FROM t20.person), 10000, 'the row count is unchanged');
SELECT results_eq(
    $$SELECT attname::text COLLATE "default", format_type(atttypid, atttypmod) FROM pg_attribute
       WHERE attrelid = 't20.person'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum$$,
    $$VALUES ('company_id', 'bigint'), ('id', 'integer'), ('ssn', 'bytea'), ('note', 'text'),
             ('email', 'bytea'), ('email_bidx', 'bytea')$$,
    'encrypted columns are bytea, the others untouched, a blind index column was added');
SELECT results_eq(
    $$SELECT column_name::text COLLATE "default", context, blind_index_column::text COLLATE "default", mask, builtin
        FROM erp.encrypted_column WHERE table_name = 't20.person'::regclass ORDER BY column_name$$,
    $$VALUES ('email', 't20.person.email', 'email_bidx', 'email', false),
             ('ssn', 't20.person.ssn', NULL, NULL, false)$$,
    'both columns are registered with their context, blind index column and mask');
SELECT is((SELECT count(*)::int FROM t20.person p JOIN t20_plain c USING (id)
            WHERE erp._open(p.ssn, 't20.person.ssn') IS DISTINCT FROM c.ssn
               OR erp._open(p.email, 't20.person.email') IS DISTINCT FROM c.email),
          0, 'every value decrypts to its original, NULLs included');
SELECT results_eq(
    $$SELECT count(*) FILTER (WHERE ssn IS NULL)::int, count(*) FILTER (WHERE email IS NULL)::int FROM t20.person$$,
    $$VALUES (1000, 769)$$, 'NULLs stay NULL');
SELECT is((SELECT count(*)::int FROM t20.person p JOIN t20_plain c USING (id)
            WHERE c.ssn = '' AND length(p.ssn) = 45 AND get_byte(p.ssn, 0) = 2),
          1000, 'empty strings are encrypted (45 bytes), not turned into NULL');
SELECT is((SELECT count(*)::int FROM t20.person p JOIN t20_plain c USING (id)
            WHERE get_byte(p.ssn, 0) <> 2 OR length(p.ssn) <> octet_length(c.ssn) + 45
               OR get_byte(p.email, 0) <> 2 OR length(p.email) <> octet_length(c.email) + 45),
          0, 'every stored value is format 2 and 45 bytes longer than its plaintext');
SELECT is((SELECT count(*)::int FROM t20.person p JOIN t20_plain c USING (id)
            WHERE p.ssn = convert_to(c.ssn, 'UTF8') OR p.email = convert_to(c.email, 'UTF8')
               OR (octet_length(c.ssn) >= 8 AND position(convert_to(c.ssn, 'UTF8') IN p.ssn) > 0)
               OR position(convert_to(c.email, 'UTF8') IN p.email) > 0),
          0, 'no stored value equals or contains its plaintext bytes');
SELECT is((SELECT count(DISTINCT ssn)::int FROM t20.person), 9000,
          'equal plaintexts (1,000 empty strings) get distinct ciphertexts');
SELECT results_eq(
    $$SELECT tgname::text COLLATE "default", tgtype::int, tgenabled::text FROM pg_trigger
       WHERE tgrelid = 't20.person'::regclass AND NOT tgisinternal ORDER BY tgname$$,
    $$VALUES ('zz_encrypt_email', 23, 'O'), ('zz_encrypt_ssn', 23, 'O')$$,
    'a BEFORE INSERT OR UPDATE row trigger per encrypted column');
SELECT has_index('t20', 'person', 'person_email_bidx_idx', ARRAY['company_id', 'email_bidx'],
                 'the blind index column is indexed with company_id');
SELECT is((SELECT count(*)::int FROM t20.person p JOIN t20_plain c USING (id)
            WHERE p.email_bidx IS DISTINCT FROM erp.blind_index(c.email, 't20.person.email')),
          0, 'every row has the blind index of its e-mail (NULL for NULL)');

-- The trigger: plaintext written by INSERT and UPDATE is encrypted
INSERT INTO t20.person (company_id, id, ssn, note, email) VALUES (:a, 20001, 'SSN-new-20001', 'new', ' New.Person@Example.COM ');
INSERT INTO t20_plain VALUES (20001, :a, 'SSN-new-20001', 'new', ' New.Person@Example.COM ');
SELECT results_eq(
    $$SELECT get_byte(ssn, 0), length(ssn), erp._open(ssn, 't20.person.ssn'),
             get_byte(email, 0), length(email), erp._open(email, 't20.person.email')
        FROM t20.person WHERE id = 20001$$,
    $$VALUES (2, 13 + 45, 'SSN-new-20001'::text, 2, 24 + 45, ' New.Person@Example.COM '::text)$$,
    'INSERT of a string literal: encrypted (format 2, plain length + 45), decrypts to what was written');
INSERT INTO t20.person (company_id, id, ssn, note) VALUES (:b, 20002, erp.plain('Łódź 東京 🙂'), 'plain');
INSERT INTO t20_plain (id, company_id, ssn, note) VALUES (20002, :b, 'Łódź 東京 🙂', 'plain');
SELECT results_eq(
    $$SELECT get_byte(ssn, 0), length(ssn), erp._open(ssn, 't20.person.ssn'), email, email_bidx
        FROM t20.person WHERE id = 20002$$,
    format($$VALUES (2, %s + 45, 'Łódź 東京 🙂'::text, NULL::bytea, NULL::bytea)$$, octet_length('Łódź 東京 🙂')),
    'INSERT of erp.plain(multibyte text): encrypted, decrypts back; a NULL e-mail has a NULL blind index');
UPDATE t20.person SET ssn = 'changed-5' WHERE id = 5;
UPDATE t20_plain SET ssn = 'changed-5' WHERE id = 5;
SELECT results_eq(
    $$SELECT get_byte(ssn, 0), length(ssn), erp._open(ssn, 't20.person.ssn') FROM t20.person WHERE id = 5$$,
    $$VALUES (2, 9 + 45, 'changed-5'::text)$$,
    'UPDATE of plaintext: encrypted, decrypts to the new value');
SELECT ssn AS ssn6, email AS email6, email_bidx AS bidx6 FROM t20.person WHERE id = 6 \gset
UPDATE t20.person SET note = 'other note' WHERE id = 6;
UPDATE t20_plain SET note = 'other note' WHERE id = 6;
SELECT results_eq(
    $$SELECT ssn, email, email_bidx, note FROM t20.person WHERE id = 6$$,
    format($$VALUES (%L::bytea, %L::bytea, %L::bytea, 'other note'::text)$$, :'ssn6', :'email6', :'bidx6'),
    'an UPDATE of another column leaves the ciphertexts and the blind index byte-identical');
UPDATE t20.person SET ssn = ssn, email = email WHERE id = 6;
SELECT results_eq(
    $$SELECT ssn, email FROM t20.person WHERE id = 6$$,
    format($$VALUES (%L::bytea, %L::bytea)$$, :'ssn6', :'email6'),
    'assigning a column its own value keeps its ciphertext');
UPDATE t20.person SET ssn = (SELECT ssn FROM t20.person WHERE id = 7), email = (SELECT email FROM t20.person WHERE id = 7)
 WHERE id = 15;
UPDATE t20_plain SET ssn = (SELECT ssn FROM t20_plain WHERE id = 7), email = (SELECT email FROM t20_plain WHERE id = 7)
 WHERE id = 15;
SELECT results_eq(
    $$SELECT p15.ssn = p7.ssn, erp._open(p15.ssn, 't20.person.ssn'), p15.email_bidx = p7.email_bidx
        FROM t20.person p15, t20.person p7 WHERE p15.id = 15 AND p7.id = 7$$,
    $$VALUES (true, 'SSN-000000007'::text, true)$$,
    'a ciphertext of the same column copied from another row of the same company is kept, and its blind index follows');
-- #11.5: values are bound to their row's company (rows 7 and 15 are A's, 8 is B's)
SELECT results_eq(
    $$SELECT count(*) FILTER (WHERE erp._cipher_company(ssn) = company_id)::int,
             count(*) FILTER (WHERE erp._cipher_company(email) = company_id)::int,
             count(ssn)::int, count(email)::int FROM t20.person WHERE id <= 10000$$,
    $$VALUES (9000, 9231, 9000, 9231)$$, 'every converted value is bound to its row''s company');
SELECT ssn AS ssn8, email AS email8 FROM t20.person WHERE id = 8 \gset
SELECT throws_ok($$UPDATE t20.person SET ssn = (SELECT ssn FROM t20.person WHERE id = 7) WHERE id = 8$$,
                 '22023', 'could not decrypt value', 'a ciphertext copied from a row of A into a row of B is refused');
SELECT is(pg_temp.error_detail($$INSERT INTO t20.person (company_id, id, email)
                                 SELECT company_id, 20010, email FROM t20.person WHERE id = 8$$),
          'no error', 'a copy into a new row of the same company is kept');
DELETE FROM t20.person WHERE id = 20010;
SELECT is(pg_temp.error_detail(format($$INSERT INTO t20.person (company_id, id, email) VALUES (%s, 20011, %L::bytea)$$,
                                      :a, :'email8')),
          '22023: The value of column "email" was encrypted for another company than its row''s.',
          'an INSERT of B''s ciphertext into a row of A is refused, and the detail says why');
SELECT results_eq($$SELECT ssn, email FROM t20.person WHERE id = 8$$, format($$VALUES (%L::bytea, %L::bytea)$$, :'ssn8', :'email8'),
                  'the refused copies changed nothing');
-- a row moved to another company takes its values along, bound to the new company
UPDATE t20.person SET company_id = :a WHERE id = 8;
SELECT results_eq(
    $$SELECT erp._cipher_company(ssn), erp._cipher_company(email), erp._open(ssn, 't20.person.ssn'),
             erp._open(email, 't20.person.email'), email_bidx = erp.blind_index('user8@example.com', 't20.person.email')
        FROM t20.person WHERE id = 8$$,
    format($$VALUES (%s::bigint, %s::bigint, 'SSN-000000008'::text, 'User8@Example.COM'::text, true)$$, :a, :a),
    'a row moved to A has its unchanged values re-bound to A, same plaintext, same blind index');
UPDATE t20.person SET company_id = :b WHERE id = 8;
UPDATE t20.person SET email = NULL WHERE id = 9;
UPDATE t20_plain SET email = NULL WHERE id = 9;
SELECT results_eq($$SELECT email, email_bidx FROM t20.person WHERE id = 9$$, $$VALUES (NULL::bytea, NULL::bytea)$$,
                  'setting an e-mail to NULL clears its blind index');
UPDATE t20.person SET email = 'Renamed@Example.org' WHERE id = 11;
UPDATE t20_plain SET email = 'Renamed@Example.org' WHERE id = 11;
SELECT is((SELECT email_bidx FROM t20.person WHERE id = 11), erp.blind_index('renamed@example.org', 't20.person.email'),
          'a new e-mail gets its new blind index');
UPDATE t20.person SET email_bidx = '\x00'::bytea WHERE id = 11;
SELECT is((SELECT email_bidx FROM t20.person WHERE id = 11), erp.blind_index('renamed@example.org', 't20.person.email'),
          'a blind index written directly is put back');

-- Blind-index search
SELECT results_eq(
    format($$SELECT id FROM t20.person WHERE company_id = %s AND email_bidx = erp.blind_index(%L, 't20.person.email')$$,
           :a, '  USER1237@example.com '),
    $$VALUES (1237)$$, 'blind-index search finds the row, ignoring case and surrounding spaces');
SELECT results_eq(
    $$SELECT id FROM t20.person WHERE email_bidx = erp.blind_index('new.person@example.com', 't20.person.email')$$,
    $$VALUES (20001)$$, 'an inserted row is found by its normalised e-mail');
SELECT is_empty(
    $$SELECT id FROM t20.person WHERE email_bidx = erp.blind_index('user1237@example.co', 't20.person.email')$$,
    'another e-mail finds nothing');

-- Refused writes
SELECT throws_ok(format($$INSERT INTO t20.person (company_id, id, ssn) VALUES (%s, 20003, %L::bytea)$$,
                        :a, erp.encrypt('SSN-x', 'erp.partner.email')),
                 '22023', 'could not decrypt value', 'a ciphertext of another context is refused');
SELECT is(pg_temp.error_detail(format($$UPDATE t20.person SET ssn = %L::bytea WHERE id = 3$$,
                                      erp.encrypt('SSN-x', 't20.person.email'))),
          '22023: The value was not encrypted for context "t20.person.ssn".',
          'even of a column of the same table, and the detail names the context');
SELECT ssn AS ssn3 FROM t20.person WHERE id = 3 \gset
SELECT throws_ok(format($$UPDATE t20.person SET ssn = %L::bytea WHERE id = 3$$,
                        set_byte(:'ssn3'::bytea, 30, get_byte(:'ssn3'::bytea, 30) # 1)),
                 '22P03', 'could not decrypt value', 'a tampered ciphertext is refused');
SELECT throws_ok(format($$UPDATE t20.person SET ssn = %L::bytea WHERE id = 3$$,
                        substr(:'ssn3'::bytea, 1, length(:'ssn3'::bytea) - 1)),
                 '22P03', 'could not decrypt value', 'a truncated ciphertext is refused');
SELECT throws_ok(format($$INSERT INTO t20.person (company_id, id, ssn) VALUES (%s, 20004, '\xc328ff'::bytea)$$, :a),
                 '22021', 'value for encrypted column "ssn" is not valid text', 'invalid UTF-8 plaintext is refused');
SELECT results_eq($$SELECT ssn, (SELECT count(*)::int FROM t20.person WHERE id > 20002) FROM t20.person WHERE id = 3$$,
                  format($$VALUES (%L::bytea, 0)$$, :'ssn3'), 'the refused writes changed nothing');

-- api.person: clear to holders of the decrypt permission on the row's company, masked to others
SELECT hasnt_column('api', 'person', 'email_bidx', 'the blind index column is not in the view');
SELECT is((SELECT count(*)::int FROM api.person v JOIN t20_plain c USING (id)
            WHERE (v.company_id, v.ssn, v.note, v.email) IS DISTINCT FROM (c.company_id, c.ssn, c.note, c.email))
          + abs((SELECT count(*)::int FROM api.person) - (SELECT count(*)::int FROM t20_plain)),
          0, 'a superuser with nobody signed in sees every value in clear through api.person');
SELECT erp.create_role('t20_reveal', 'Reveal persons', ARRAY['t20.person.ssn:decrypt', 't20.person.email:decrypt']) AS role_id \gset
SELECT pg_temp.make_user('t20_rev', 't20_reveal', :a) AS rev \gset
SELECT pg_temp.make_user('t20_mgr', 'stock_manager', :a) AS mgr \gset
SELECT pg_temp.login('t20_rev', :a);
SELECT results_eq(
    $$SELECT id, ssn, email FROM api.person WHERE id IN (3, 4, 5, 10, 11) ORDER BY id$$,
    $$VALUES (3, '张三丰-3 Ünïcødé 🙂'::text, 'User3@Example.COM'::text),
             (4, '****', '****'),
             (5, 'changed-5', 'User5@Example.COM'),
             (10, NULL, '****'),
             (11, '', 'Renamed@Example.org')$$,
    'a user with the decrypt permissions on A sees A''s values in clear, B''s as **** (not even masked: B is not its company)');
SELECT pg_temp.login('t20_mgr', :a);
SELECT results_eq(
    $$SELECT id, ssn, email FROM api.person WHERE id IN (3, 11) ORDER BY id$$,
    $$VALUES (3, '****'::text, 'U***@Example.COM'::text), (11, '', 'R***@Example.org')$$,
    'a user without them sees masked values even on A (an empty value shows as empty, with or without a mask kind)');
SELECT erp.sign_out();

-- api.partner through the application role and row security
SELECT erp.create_partner(:a, 'T20 Acme', 'customer', 'Sales@Acme.example', '+86 138 0000 5678') AS pa \gset
SELECT erp.create_partner(:b, 'T20 Bco', 'customer', 'info@b.example', '13900001234') AS pb \gset
SELECT erp.create_role('t20_preveal', 'Partner reader with e-mails', ARRAY['erp.partner:read', 'erp.partner.email:decrypt']) AS role_id \gset
SELECT pg_temp.make_user('t20_prev', 't20_preveal', :a) AS prev \gset
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('t20_mgr', :a);
SELECT results_eq(
    format('SELECT id, email, phone FROM api.partner WHERE id IN (%s, %s)', :pa, :pb),
    format($$VALUES (%s::bigint, 'S***@Acme.example'::text, '+86**********5678'::text)$$, :pa),
    'a stock manager of A sees A''s partner only, with masked e-mail and phone');
SELECT results_eq(
    $$SELECT name FROM erp.partner WHERE email_bidx = erp.blind_index(' SALES@acme.EXAMPLE', 'erp.partner.email')$$,
    $$VALUES ('T20 Acme'::text)$$,
    'the application finds a partner by blind index, whatever the case of the e-mail');
SELECT pg_temp.login('t20_prev', :a);
SELECT results_eq(
    format('SELECT id, email, phone FROM api.partner WHERE id IN (%s, %s)', :pa, :pb),
    format($$VALUES (%s::bigint, 'Sales@Acme.example'::text, '+86**********5678'::text)$$, :pa),
    'a holder of erp.partner.email:decrypt sees the e-mail in clear, the phone still masked');
SELECT throws_ok($$SELECT erp.encrypt_column('erp.partner', 'tax_id')$$, '42501', NULL,
                 'the application role cannot encrypt a column');
RESET ROLE;
SELECT erp.sign_out();

-- encrypt_column refusals
SELECT throws_ok($$SELECT erp.encrypt_column('erp.partner', 'email')$$, '42710',
                 'column "email" of erp.partner is already encrypted', 'partner e-mails are encrypted already');
SELECT throws_ok($$SELECT erp.encrypt_column('t20.person', 'ssn')$$, '42710',
                 'column "ssn" of t20.person is already encrypted', 'a column is encrypted once');
SELECT throws_ok($$SELECT erp.encrypt_column('t20.person', 'id')$$, '42804',
                 'column "id" of t20.person is of type integer', 'only text and varchar columns');
SELECT throws_ok($$SELECT erp.encrypt_column('t20.person', 'nope')$$, '42703',
                 'column "nope" of t20.person does not exist', 'an unknown column is refused');
SELECT throws_ok($$SELECT erp.encrypt_column('t20.person', 'note', false, 'ssn')$$, '22023',
                 'invalid mask kind ''ssn''', 'an unknown mask kind is refused');
CREATE TABLE t20."Mixed" (id int, secret text);
SELECT throws_ok($$SELECT erp.encrypt_column('t20."Mixed"', 'secret')$$, '42602', NULL,
                 'a table whose name is not a lower-case identifier is refused');
-- a failure in the middle (after the registration and the view drop): the rewrite is refused
CREATE VIEW t20.notes AS SELECT id, note FROM t20.person;
SELECT throws_ok($$SELECT erp.encrypt_column('t20.person', 'note', true, 'name')$$, '0A000', NULL,
                 'encrypting a column a view depends on fails');
SELECT results_eq(
    $$SELECT format_type(atttypid, atttypmod),
             (SELECT count(*)::int FROM pg_trigger WHERE tgrelid = 't20.person'::regclass AND NOT tgisinternal),
             (SELECT count(*)::int FROM erp.encrypted_column WHERE table_name = 't20.person'::regclass),
             (SELECT count(*)::int FROM pg_attribute WHERE attrelid = 't20.person'::regclass AND attname = 'note_bidx'),
             to_regclass('api.person') IS NOT NULL
        FROM pg_attribute WHERE attrelid = 't20.person'::regclass AND attname = 'note'$$,
    $$VALUES ('text', 2, 2, 0, true)$$,
    'failed encrypt_column calls leave the table, its triggers, the registry and api.person as they were');
SELECT is((SELECT count(*)::int FROM t20.person p JOIN t20_plain c USING (id) WHERE p.note IS DISTINCT FROM c.note),
          0, 'and the values of the column');
DROP VIEW t20.notes;
-- not as a superuser
SET LOCAL ROLE pgerp_app;
SELECT throws_ok($$SELECT erp.encrypt_column('erp.partner', 'name')$$, '42501', NULL,
                 'a non-superuser gets 42501 from encrypt_column');
SELECT throws_ok($$SELECT erp.encrypt_column('erp.partner', 'name')$$, '42501',
          'permission denied for function encrypt_column',
          'encrypt_column is not published to application roles');
SELECT throws_ok($$SELECT erp.decrypt_column('erp.partner', 'email')$$, '42501', NULL,
                 'a non-superuser gets 42501 from decrypt_column');
RESET ROLE;

-- decrypt_column
SELECT lives_ok($$SELECT erp.decrypt_column('t20.person', 'email')$$, 'decrypt_column reverses the searchable column');
SELECT results_eq(
    $$SELECT attname::text COLLATE "default", format_type(atttypid, atttypmod) FROM pg_attribute
       WHERE attrelid = 't20.person'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum$$,
    $$VALUES ('company_id', 'bigint'), ('id', 'integer'), ('ssn', 'bytea'), ('note', 'text'), ('email', 'text')$$,
    'e-mail is text again and its blind index column is gone');
SELECT results_eq(
    $$SELECT (SELECT count(*)::int FROM pg_trigger WHERE tgrelid = 't20.person'::regclass AND NOT tgisinternal),
             (SELECT count(*)::int FROM pg_index WHERE indrelid = 't20.person'::regclass),
             (SELECT array_agg(column_name::text COLLATE "default") FROM erp.encrypted_column WHERE table_name = 't20.person'::regclass)$$,
    $$VALUES (1, 1, ARRAY['ssn'])$$,
    'its trigger, its blind index and its registration are gone; ssn''s stay');
SELECT results_eq(
    $$SELECT id, ssn, email FROM api.person WHERE id IN (3, 4) ORDER BY id$$,
    $$VALUES (3, '张三丰-3 Ünïcødé 🙂'::text, 'User3@Example.COM'::text), (4, 'SSN-000000004', 'User4@Example.COM')$$,
    'api.person is rebuilt with e-mail as a plain column');
SELECT lives_ok($$SELECT erp.decrypt_column('t20.person', 'ssn')$$, 'decrypt_column reverses the other column');
SELECT is((SELECT count(*)::int FROM t20.person p FULL JOIN t20_plain c USING (id)
            WHERE (p.company_id, p.ssn, p.note, p.email) IS DISTINCT FROM (c.company_id, c.ssn, c.note, c.email)),
          0, 'every value, NULL, empty string and multibyte text is restored exactly');
SELECT results_eq(
    $$SELECT format_type(atttypid, atttypmod),
             (SELECT count(*)::int FROM pg_trigger WHERE tgrelid = 't20.person'::regclass AND NOT tgisinternal),
             (SELECT count(*)::int FROM erp.encrypted_column WHERE table_name = 't20.person'::regclass),
             to_regclass('api.person')::text,
             (SELECT count(*)::int FROM erp.app_table WHERE table_name::text = 'api.person')
        FROM pg_attribute WHERE attrelid = 't20.person'::regclass AND attname = 'ssn'$$,
    $$VALUES ('text', 0, 0, NULL::text, 0)$$,
    'with no encrypted column left: text, no trigger, no registration, no api.person view');
SELECT throws_ok($$SELECT erp.decrypt_column('t20.person', 'ssn')$$, '22023',
                 'column "ssn" of t20.person is not an encrypted column', 'decrypting a plain column is refused');
INSERT INTO t20.person (company_id, id, ssn) VALUES (:a, 20005, 'plain again');
SELECT is((SELECT ssn FROM t20.person WHERE id = 20005), 'plain again', 'writes are stored as plain text again');
SELECT lives_ok($$SELECT erp.encrypt_column('t20.person', 'ssn', true, 'id_number')$$,
                'a decrypted column can be encrypted again');
SELECT results_eq(
    $$SELECT erp._open(ssn, 't20.person.ssn'), ssn_bidx = erp.blind_index('plain again', 't20.person.ssn')
        FROM t20.person WHERE id = 20005$$,
    $$VALUES ('plain again'::text, true)$$, 'and its values are encrypted and indexed again');

-- api.<table> names only the table: a table of another schema named like one with a view must not take it
CREATE TABLE t20.partner (company_id bigint NOT NULL, id int PRIMARY KEY, secret text);
CREATE FUNCTION pg_temp.try(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE p_sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN 'refused';
END $$;
SELECT pg_temp.try($$SELECT erp.encrypt_column('t20.partner', 'secret')$$) AS t20_partner_outcome \gset
SELECT ok(coalesce((SELECT bool_or(d.refobjid = 'erp.partner'::regclass) FROM pg_rewrite r
                      JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                     WHERE r.ev_class = to_regclass('api.partner')), false),
          'encrypting t20.partner.secret (' || :'t20_partner_outcome' || ') leaves api.partner a view of erp.partner');

SELECT * FROM finish();
ROLLBACK;
