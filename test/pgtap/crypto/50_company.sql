-- #11.5: decryption is bound to the row's company. Carol (admin of A only) holds
-- B's partner e-mail ciphertext: erp.decrypt refuses it (42501, the message of
-- a missing permission), erp.reveal shows '****' whatever company she passes,
-- and the trigger refuses it in a row of A. erp.encrypt makes no key; rotating
-- a key needs a superuser. Values of format 1 (0.1.0, no company) are read by
-- a superuser only, until CALL erp.reencrypt binds them to their row's company.
BEGIN;
\ir ../setup.sql
SELECT plan(38);

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('t50_carol', 'admin', :a) AS carol \gset
SELECT pg_temp.make_user('t50_dave', 'admin', :b) AS dave \gset
SELECT pg_temp.make_user('t50_gus', 'admin', :g) AS gus \gset
SELECT pg_temp.make_user('t50_mgr', 'stock_manager', :a) AS mgr \gset
SELECT erp.create_partner(:a, 'T50 Acme', 'customer', 'sales@acme.example', '+86 138 0000 5678') AS pa \gset
SELECT erp.create_partner(:b, 'T50 Bco', 'customer', 'secret@bco.example', '13900001234') AS pb \gset
SELECT email AS ca, phone AS ca_phone FROM erp.partner WHERE id = :pa \gset
SELECT email AS cb, phone AS cb_phone FROM erp.partner WHERE id = :pb \gset

SELECT results_eq(
    format('SELECT erp._cipher_company(email), erp._cipher_company(phone), get_byte(email, 0) FROM erp.partner WHERE id IN (%s, %s) ORDER BY id', :pa, :pb),
    format('VALUES (%s::bigint, %s::bigint, 2), (%s, %s, 2)', :a, :a, :b, :b),
    'the trigger binds each partner''s e-mail and phone to the partner''s company (format 2)');

-- the reproduction: carol decrypts B's e-mail
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('t50_carol', :a);
SELECT is(erp.decrypt(:'ca', 'erp.partner.email'), 'sales@acme.example', 'carol decrypts the e-mail of A''s partner');
SELECT throws_ok(format('SELECT erp.decrypt(%L::bytea, %L)', :'cb', 'erp.partner.email'), '42501',
                 'permission denied for "erp.partner.email:decrypt"', 'carol cannot decrypt B''s partner e-mail');
SELECT is(pg_temp.error_detail(format('SELECT erp.decrypt(%L::bytea, %L)', :'cb', 'erp.partner.email')),
          format('42501: Permission "erp.partner.email:decrypt" is required on company %s.', :b),
          'the refusal names the company bound in the value, as a missing permission does');
SELECT throws_ok(format('SELECT erp.decrypt(%L::bytea, %L)', :'cb_phone', 'erp.partner.phone'), '42501', NULL,
                 'nor B''s phone');
-- a header edited to name A does not authenticate; one naming a company that does not exist is refused alike
SELECT throws_ok(format('SELECT erp.decrypt(%L::bytea, %L)',
                        overlay(:'cb'::bytea PLACING decode(lpad(to_hex(:a::bigint), 16, '0'), 'hex') FROM 10 FOR 8),
                        'erp.partner.email'),
                 '22P03', 'could not decrypt value', 'B''s value with its header edited to name A does not decrypt');
SELECT is(pg_temp.error_detail(format('SELECT erp.decrypt(%L::bytea, %L)',
                        overlay(:'cb'::bytea PLACING decode(lpad(to_hex(987654321), 16, '0'), 'hex') FROM 10 FOR 8),
                        'erp.partner.email')),
          '42501: Permission "erp.partner.email:decrypt" is required on company 987654321.',
          'a company that does not exist gets the same 42501 as one carol may not read');

-- erp.reveal takes the company from the value
SELECT results_eq(
    format($$VALUES (erp.reveal(%1$L::bytea, 'erp.partner.email', %3$s, 'email'),
                     erp.reveal(%1$L::bytea, 'erp.partner.email', NULL, 'email'),
                     erp.reveal(%2$L::bytea, 'erp.partner.email', %3$s, 'email'),
                     erp.reveal(%2$L::bytea, 'erp.partner.email', %4$s, 'email'),
                     erp.reveal(%2$L::bytea, 'erp.partner.email', NULL, NULL),
                     erp.reveal(%1$L::bytea, 'erp.partner.email', %4$s, 'email'))$$,
           :'ca', :'cb', :a, :b),
    $$VALUES ('sales@acme.example'::text, 'sales@acme.example'::text, '****'::text, '****'::text, '****'::text, '****'::text)$$,
    'reveal: A''s value in clear to carol (passed company A or NULL); B''s is **** whatever company she passes, and A''s passed as B''s too');
SELECT results_eq(
    format('SELECT id, email, phone FROM api.partner WHERE id IN (%s, %s)', :pa, :pb),
    format($$VALUES (%s::bigint, 'sales@acme.example'::text, '+86 138 0000 5678'::text)$$, :pa),
    'api.partner shows carol A''s partner in clear, and not B''s');

-- a ciphertext of B copied into a row of A is refused
SELECT throws_ok(format('UPDATE erp.partner SET email = %L::bytea WHERE id = %s', :'cb', :pa), '22023',
                 'could not decrypt value', 'carol cannot copy B''s e-mail ciphertext into A''s partner');
SELECT is(pg_temp.error_detail(format('UPDATE erp.partner SET phone = %L::bytea WHERE id = %s', :'cb_phone', :pa)),
          '22023: The value of column "phone" was encrypted for another company than its row''s.',
          'nor B''s phone, and the detail says why');
SELECT is(erp.decrypt(email, 'erp.partner.email'), 'sales@acme.example', 'A''s partner keeps its e-mail')
  FROM erp.partner WHERE id = :pa;

-- a user of A without the decrypt permission: A's masked, B's ****
SELECT pg_temp.login('t50_mgr', :a);
SELECT results_eq(
    format($$VALUES (erp.reveal(%1$L::bytea, 'erp.partner.email', %3$s, 'email'),
                     erp.reveal(%2$L::bytea, 'erp.partner.email', %3$s, 'email'),
                     erp.reveal(%2$L::bytea, 'erp.partner.email', %4$s, 'email'))$$,
           :'ca', :'cb', :a, :b),
    $$VALUES ('s***@acme.example'::text, '****'::text, '****'::text)$$,
    'a manager of A sees A''s e-mail masked, and not even the mask of B''s (the mask shows the domain)');
SELECT throws_ok(format('SELECT erp.decrypt(%L::bytea, %L)', :'ca', 'erp.partner.email'), '42501', NULL,
                 'and cannot decrypt A''s value');

-- dave (B) and gus (the group, above A and B) read B's value
SELECT pg_temp.login('t50_dave', :b);
SELECT is(erp.decrypt(:'cb', 'erp.partner.email'), 'secret@bco.example', 'dave decrypts B''s e-mail');
SELECT throws_ok(format('SELECT erp.decrypt(%L::bytea, %L)', :'ca', 'erp.partner.email'), '42501', NULL,
                 'but not A''s');
SELECT is(erp.reveal(:'cb', 'erp.partner.email', :a, 'email'), '****',
          'reveal refuses dave his own company''s value when the passed company lies');
SELECT pg_temp.login('t50_gus', :g);
SELECT results_eq(
    format($$VALUES (erp.decrypt(%L::bytea, 'erp.partner.email'), erp.decrypt(%L::bytea, 'erp.partner.email'))$$, :'ca', :'cb'),
    $$VALUES ('sales@acme.example'::text, 'secret@bco.example'::text)$$,
    'the group''s admin decrypts the values of both subsidiaries');

-- data keys: never made by erp.encrypt or erp.blind_index; rotation needs a superuser
SELECT pg_temp.login('t50_carol', :a);
SELECT throws_ok($$SELECT erp.encrypt('x', 'erp.partner.tax_id')$$, '55000',
                 'context "erp.partner.tax_id" has no data key', 'erp.encrypt on a context without a key is refused');
SELECT throws_ok($$SELECT erp.blind_index('x', 'erp.partner.tax_id')$$, '55000',
                 'context "erp.partner.tax_id" has no data key', 'so is erp.blind_index');
SELECT throws_ok($$SELECT erp.rotate_key('erp.partner.email')$$, '42501',
                 'permission denied to rotate a data key', 'carol, an admin of A, cannot rotate the key shared by every company');
SELECT pg_temp.login('t50_gus', :g);
SELECT throws_ok($$SELECT erp.rotate_key('erp.partner.email')$$, '42501',
                 'permission denied to rotate a data key', 'nor can the group''s admin');
SELECT erp.sign_out();
SELECT throws_ok($$SELECT erp.encrypt('x', 'erp.partner.tax_id')$$, '55000', NULL,
                 'nor a connection that is not signed in');
RESET ROLE;
SELECT throws_ok($$SELECT erp.encrypt('x', 'erp.partner.tax_id')$$, '55000', NULL,
                 'nor a superuser: keys are made by erp.encrypt_column');
SELECT throws_ok($$SELECT erp.rotate_key('erp.partner.tax_id')$$, '55000', NULL,
                 'rotate_key makes no first key either');
SELECT is((SELECT count(*)::int FROM erp.crypto_key WHERE context = 'erp.partner.tax_id'), 0,
          'erp.crypto_key has no row for the refused context');

-- values of format 1 (0.1.0): no company is bound, so only a superuser reads them
SELECT erp._encrypt_v1('old@bco.example', 'erp.partner.email') AS v1 \gset
SELECT results_eq(format('VALUES (get_byte(%1$L::bytea, 0), length(%1$L::bytea), erp._cipher_company(%1$L::bytea))', :'v1'),
                  $$VALUES (1, 15 + 37, NULL::bigint)$$, 'erp._encrypt_v1 writes the 0.1.0 format');
SELECT is(erp.decrypt(:'v1', 'erp.partner.email'), 'old@bco.example', 'a superuser with nobody signed in decrypts it');
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('t50_dave', :b);
SELECT is(pg_temp.error_detail(format('SELECT erp.decrypt(%L::bytea, %L)', :'v1', 'erp.partner.email')),
          '42501: The value predates company binding (format 1): only a superuser may decrypt it.',
          'dave, admin of B, cannot decrypt a value of format 1: it names no company');
SELECT is(erp.reveal(:'v1', 'erp.partner.email', :b, 'email'), '****', 'reveal shows it as ****');
SELECT throws_ok(format('UPDATE erp.partner SET email = %L::bytea WHERE id = %s', :'v1', :pb), '22023',
                 'could not decrypt value', 'nor may dave write it into a row');
RESET ROLE;
SELECT erp.sign_out();
-- as after an upgrade: B's partner holds a value of format 1 (written past the trigger)
ALTER TABLE erp.partner DISABLE TRIGGER zz_encrypt_email;
UPDATE erp.partner SET email = :'v1' WHERE id = :pb;
ALTER TABLE erp.partner ENABLE TRIGGER zz_encrypt_email;
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('t50_dave', :b);
SELECT is((SELECT email FROM api.partner WHERE id = :pb), '****', 'until re-encrypted, api.partner shows it as ****');
RESET ROLE;
SELECT erp.sign_out();
SELECT is(erp._open(email, 'erp.partner.email'), 'old@bco.example', 'the value of format 1 is intact') FROM erp.partner WHERE id = :pb;
CALL erp.reencrypt('erp.partner', 'email');
SELECT results_eq(format('SELECT get_byte(email, 0), erp._cipher_company(email), erp._open(email, %L) FROM erp.partner WHERE id = %s',
                         'erp.partner.email', :pb),
                  format($$VALUES (2, %s::bigint, 'old@bco.example'::text)$$, :b),
                  'CALL erp.reencrypt binds it to its row''s company (format 2), same plaintext');
SELECT is((SELECT count(*)::int FROM erp.partner WHERE email IS NOT NULL
             AND (get_byte(email, 0) <> 2 OR erp._cipher_company(email) <> company_id)), 0,
          'every partner e-mail is of format 2 and bound to its partner''s company');
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('t50_dave', :b);
SELECT is((SELECT email FROM api.partner WHERE id = :pb), 'old@bco.example', 'dave reads it in clear again');
SELECT pg_temp.login('t50_carol', :a);
SELECT is((SELECT count(*)::int FROM erp.partner WHERE id = :pb), 0, 'carol does not even see B''s partner');
RESET ROLE;
SELECT erp.sign_out();
-- a superuser's write of a value of format 1 (a restore of a 0.1.0 dump) is bound to the row's company
UPDATE erp.partner SET phone = erp._encrypt_v1('+49 30 1234', 'erp.partner.phone') WHERE id = :pb;
SELECT results_eq(format('SELECT get_byte(phone, 0), erp._cipher_company(phone), erp._open(phone, %L) FROM erp.partner WHERE id = %s',
                         'erp.partner.phone', :pb),
                  format($$VALUES (2, %s::bigint, '+49 30 1234'::text)$$, :b),
                  'a superuser writing a value of format 1 gets it converted, bound to the row''s company');

SELECT * FROM finish();
ROLLBACK;
