-- erp.encrypt / erp.decrypt / erp.blind_index / erp.mask / erp.rotate_key.
BEGIN;
\ir ../setup.sql
SELECT plan(33);

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('t10_admin', 'admin', :a) AS adm \gset
SELECT pg_temp.make_user('t10_viewer', 'stock_manager', :a) AS viewer \gset
SELECT erp.create_role('t10_reveal', 'Reveal e-mails', ARRAY['erp.partner.email:decrypt']);
SELECT pg_temp.make_user('t10_reveal', 't10_reveal', :a) AS rev \gset
-- the keys of partner e-mails and phones exist once a value was written (erp.encrypt makes none)
SELECT erp.create_partner(:a, 'T10 Keys', 'customer', 'keys@t10.example', '+1 555 0101') AS keys_partner \gset

-- round trips
SELECT is(erp.decrypt(erp.encrypt('hello', 'erp.partner.email'), 'erp.partner.email'), 'hello', 'a short value round-trips');
SELECT is(erp.decrypt(erp.encrypt('', 'erp.partner.email'), 'erp.partner.email'), '', 'the empty string round-trips');
SELECT is(erp.decrypt(erp.encrypt(repeat('long text ', 10000), 'erp.partner.email'), 'erp.partner.email'),
          repeat('long text ', 10000), 'a 100 kB value round-trips');
SELECT is(erp.decrypt(erp.encrypt('张三 — Ünïcødé 🙂', 'erp.partner.email'), 'erp.partner.email'), '张三 — Ünïcødé 🙂',
          'multibyte text round-trips');
SELECT is(erp.encrypt(NULL, 'erp.partner.email'), NULL, 'NULL encrypts to NULL');
SELECT is(erp.decrypt(NULL, 'erp.partner.email'), NULL, 'NULL decrypts to NULL');
SELECT isnt(erp.encrypt('same', 'erp.partner.email'), erp.encrypt('same', 'erp.partner.email'),
            'the same value encrypts differently each time (random nonce)');
SELECT is(length(erp.encrypt('abc', 'erp.partner.email')), 3 + 45, 'format: 1 + 8 + 8 bytes of header, 12 of nonce, 16 of tag');
SELECT is(get_byte(erp.encrypt('abc', 'erp.partner.email'), 0), 2, 'the first byte is the format version 2');

-- refusals: tampered, truncated, wrong context, bad context
SELECT erp.encrypt('secret value', 'erp.partner.email') AS c \gset
SELECT throws_ok(format('SELECT erp.decrypt(%L::bytea, %L)',
                        set_byte(:'c'::bytea, 25, get_byte(:'c'::bytea, 25) # 1), 'erp.partner.email'),
                 '22P03', 'could not decrypt value', 'a flipped bit in the ciphertext is refused');
SELECT throws_ok(format('SELECT erp.decrypt(%L::bytea, %L)',
                        set_byte(:'c'::bytea, length(:'c'::bytea) - 1, get_byte(:'c'::bytea, length(:'c'::bytea) - 1) # 128), 'erp.partner.email'),
                 '22P03', 'could not decrypt value', 'a flipped bit in the tag is refused');
SELECT throws_ok(format('SELECT erp.decrypt(%L::bytea, %L)', substr(:'c'::bytea, 1, length(:'c'::bytea) - 1), 'erp.partner.email'),
                 '22P03', 'could not decrypt value', 'a value missing its last byte is refused');
SELECT throws_ok(format('SELECT erp.decrypt(%L::bytea, %L)', substr(:'c'::bytea, 1, 20), 'erp.partner.email'),
                 '22P03', 'could not decrypt value', 'a value shorter than the header is refused');
SELECT throws_ok(format('SELECT erp.decrypt(%L::bytea, %L)', :'c', 'erp.partner.phone'),
                 '22023', 'could not decrypt value', 'a value read in another context is refused');
SELECT is(pg_temp.error_detail(format('SELECT erp.decrypt(%L::bytea, %L)', :'c', 'erp.partner.phone')),
          '22023: The value was not encrypted for context "erp.partner.phone".', 'and the detail says why');
SELECT throws_ok($$SELECT erp.encrypt('x', 'erp.partner')$$, '22023', NULL, 'a context must name a column');
SELECT throws_ok($$SELECT erp.encrypt('x', 'erp.partner.nosuch')$$, '22023', NULL, 'of an existing column');
SELECT throws_ok($$SELECT erp.encrypt('x', NULL)$$, '22004', NULL, 'a NULL context is refused');
SELECT ok(pg_temp.error_detail(format('SELECT erp.decrypt(%L::bytea, %L)',
                                      set_byte(:'c'::bytea, 25, get_byte(:'c'::bytea, 25) # 1), 'erp.partner.email'))
          !~ 'secret value', 'no error carries the plaintext');

-- permission to decrypt
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('t10_viewer', :a);
SELECT is(pg_temp.error_detail(format('SELECT erp.decrypt(%L::bytea, %L)', :'c', 'erp.partner.email')),
          format('42501: Permission "erp.partner.email:decrypt" is required on company %s.', :a),
          'without <context>:decrypt, decrypt raises 42501 naming the permission');
SELECT pg_temp.login('t10_reveal', :a);
SELECT is(erp.decrypt(:'c', 'erp.partner.email'), 'secret value', 'a role holding erp.partner.email:decrypt decrypts');
SELECT throws_ok(format('SELECT erp.decrypt(%L::bytea, %L)', erp.encrypt('p', 'erp.partner.phone'), 'erp.partner.phone'),
                 '42501', NULL, 'but not another column');
SELECT throws_ok($$SELECT * FROM erp.crypto_key$$, '42501', NULL, 'the application role cannot read the keys');
RESET ROLE;
SELECT erp.sign_out();

-- blind index
SELECT is(erp.blind_index('  Alice@Example.COM ', 'erp.partner.email'), erp.blind_index('alice@example.com', 'erp.partner.email'),
          'blind index: trimmed, e-mails compared regardless of case');
SELECT isnt(erp.blind_index('alice@example.com', 'erp.partner.email'), erp.blind_index('alice@example.com', 'erp.partner.phone'),
            'blind indexes differ between contexts');
SELECT is(length(erp.blind_index('x', 'erp.partner.email')), 16, 'a blind index is 16 bytes');

-- rotation
SELECT erp.blind_index('bob@example.com', 'erp.partner.email') AS bi \gset
SELECT erp.rotate_key('erp.partner.email') AS v \gset
SELECT ok(:v >= 2, 'rotate_key makes a new version');
SELECT is(erp.decrypt(:'c', 'erp.partner.email'), 'secret value', 'a value of the old version still decrypts');
SELECT is(erp.blind_index('bob@example.com', 'erp.partner.email'), :'bi'::bytea, 'blind indexes survive rotation');

-- masks
SELECT results_eq($$VALUES (erp.mask('13800005678', 'phone'), erp.mask('alice@example.com', 'email'),
                            erp.mask('110101199001011234', 'id_number'), erp.mask('6222020200112233', 'bank_account'),
                            erp.mask('张三丰', 'name'))$$,
                  $$VALUES ('138****5678', 'a***@example.com', '110***********1234', '************2233', '张**')$$,
                  'masks of each kind');

-- contexts: an existing lower-case column outside the system schemas
SELECT throws_ok($$SELECT erp.encrypt('x', 'pg_catalog.pg_class.relname')$$, '22023',
                 'invalid encryption context "pg_catalog.pg_class.relname"', 'a system catalog column is no context');
SELECT throws_ok($$SELECT erp.encrypt('x', 'information_schema.tables.table_name')$$, '22023',
                 'invalid encryption context "information_schema.tables.table_name"', 'nor is an information_schema column');
SELECT throws_ok($$SELECT erp.encrypt('x', 'erp.partner.nope')$$, '22023',
                 'invalid encryption context "erp.partner.nope"', 'nor a column that does not exist');

SELECT * FROM finish();
ROLLBACK;
