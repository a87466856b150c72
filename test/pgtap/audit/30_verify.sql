-- Incremental verification (#11.15): erp.audit_verify() continues from the checkpoint of
-- erp.audit_verified and moves it to the head; a full re-verification is a superuser's; a
-- subsidiary auditor learns nothing database-wide (neither the head nor the count of every
-- company's entries); erp.audit_head() needs erp.audit_log:read on every active company.
BEGIN;
\ir ../setup.sql
SELECT plan(38);

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('au30_aud', 'auditor', :a) AS aud \gset
SELECT pg_temp.make_user('au30_mgr', 'stock_manager', :a) AS mgr \gset
-- an auditor of every active company: each top-level company with its descendants
SELECT pg_temp.make_user('au30_wide', NULL, NULL) AS wide \gset
SELECT count(*) AS wide_grants FROM (SELECT erp.grant_role(:wide, 'auditor', c.id) FROM erp.company c WHERE c.parent_id IS NULL) x \gset
SELECT erp.sign_out() AS signed_out \gset
SELECT erp.audit_seal() AS sealed0 \gset
SELECT last_seq, last_hash, anchor_seq, last_seq - anchor_seq AS n_chain FROM erp.audit_seal_state \gset
SELECT ok(:n_chain > 10, 'the demo data left more than ten sealed entries');
SELECT ch.seq AS mid_seq, ch.entry_id AS mid, ch.hash AS mid_hash FROM erp.audit_chain ch
 ORDER BY ch.seq OFFSET (SELECT count(*) / 2 FROM erp.audit_chain) LIMIT 1 \gset
SELECT ch.entry_id AS early FROM erp.audit_chain ch WHERE ch.seq = :anchor_seq + 2 \gset
SELECT ch.entry_id AS late FROM erp.audit_chain ch WHERE ch.seq = :last_seq - 1 \gset

-- ------------------------------------------------------------------ the checkpoint
SELECT results_eq('SELECT * FROM erp.audit_verify(NULL, true)', format('VALUES (true, NULL::bigint, %s::bigint)', :n_chain),
                  'a full re-verification checks every entry from the anchor');
SELECT results_eq('SELECT seq, hash FROM erp.audit_verified', format('VALUES (%s::bigint, %L::bytea)', :last_seq, :'last_hash'),
                  'and leaves the checkpoint at the head it checked');
SELECT results_eq('SELECT * FROM erp.audit_verify()', 'VALUES (true, NULL::bigint, 0::bigint)',
                  'the next erp.audit_verify() has nothing new to check');
UPDATE erp.audit_verified SET seq = :mid_seq, hash = :'mid_hash';
SELECT results_eq('SELECT * FROM erp.audit_verify()', format('VALUES (true, NULL::bigint, %s::bigint)', :last_seq - :mid_seq),
                  'from a checkpoint in the middle it checks only the entries after it');
SELECT results_eq('SELECT seq, hash FROM erp.audit_verified', format('VALUES (%s::bigint, %L::bytea)', :last_seq, :'last_hash'),
                  'and moves the checkpoint to the head');
DELETE FROM erp.audit_verified;
SELECT results_eq('SELECT * FROM erp.audit_verify()', format('VALUES (true, NULL::bigint, %s::bigint)', :n_chain),
                  'without a checkpoint (a fresh or restored database) it starts from the anchor');

-- a read-only transaction verifies but does not move the checkpoint
UPDATE erp.audit_verified SET seq = :mid_seq, hash = :'mid_hash';
SAVEPOINT ro;
SET TRANSACTION READ ONLY;
SELECT results_eq('SELECT ok, checked FROM erp.audit_verify()', format('VALUES (true, %s::bigint)', :last_seq - :mid_seq),
                  'a read-only transaction verifies from the checkpoint');
SELECT is((SELECT seq FROM erp.audit_verified), :mid_seq::bigint, 'and leaves the checkpoint where it was');
ROLLBACK TO SAVEPOINT ro;

-- ------------------------------------------------------------------ tampering against the checkpoint
SAVEPOINT tamper;
SET LOCAL session_replication_role = replica;
UPDATE erp.audit_log SET changes = '{}' WHERE id = :late;
SET LOCAL session_replication_role = origin;
SELECT results_eq('SELECT * FROM erp.audit_verify()',
                  format('VALUES (false, %s::bigint, %s::bigint)', :late, :last_seq - 1 - :mid_seq - 1),
                  'an entry altered after the checkpoint: not ok, that entry, the entries before it checked');
SELECT is((SELECT seq FROM erp.audit_verified), :mid_seq::bigint, 'a failed verification does not move the checkpoint');
ROLLBACK TO SAVEPOINT tamper;

SET LOCAL session_replication_role = replica;
UPDATE erp.audit_log SET changes = '{}' WHERE id = :early;
SET LOCAL session_replication_role = origin;
SELECT results_eq('SELECT ok FROM erp.audit_verify()', 'VALUES (true)',
                  'an entry altered before the checkpoint escapes the incremental verification (docs/security.md)');
SELECT results_eq('SELECT ok, first_bad_id FROM erp.audit_verify(NULL, true)', format('VALUES (false, %s::bigint)', :early),
                  'the full re-verification finds it');
ROLLBACK TO SAVEPOINT tamper;

SET LOCAL session_replication_role = replica;
UPDATE erp.audit_chain SET hash = sha256('forged'::bytea) WHERE seq = :mid_seq;
SET LOCAL session_replication_role = origin;
SELECT results_eq('SELECT * FROM erp.audit_verify()', format('VALUES (false, %s::bigint, 0::bigint)', :mid),
                  'the chain hash at the checkpoint rewritten: not ok, the entry at the checkpoint');
ROLLBACK TO SAVEPOINT tamper;

SET LOCAL session_replication_role = replica;
DELETE FROM erp.audit_log WHERE id IN (SELECT entry_id FROM erp.audit_chain WHERE seq > :mid_seq - 1);
DELETE FROM erp.audit_chain WHERE seq > :mid_seq - 1;
UPDATE erp.audit_seal_state SET last_seq = :mid_seq - 1,
       last_hash = (SELECT hash FROM erp.audit_chain WHERE seq = :mid_seq - 1);
SET LOCAL session_replication_role = origin;
SELECT results_eq('SELECT * FROM erp.audit_verify()', 'VALUES (false, NULL::bigint, 0::bigint)',
                  'the chain cut below the checkpoint, head rewritten to match: not ok');
ROLLBACK TO SAVEPOINT tamper;

SELECT max(id) + 1000 AS forged FROM erp.audit_log \gset
INSERT INTO erp.audit_log (id, company_id, user_id, db_role, tx, at, rel, op, pk, changes) OVERRIDING SYSTEM VALUE
VALUES (:forged, NULL, NULL, 'postgres', '3', now() - interval '1 day', 'erp.role', 'delete', '{"id": "1"}', '{}');
SELECT results_eq('SELECT * FROM erp.audit_verify()',
                  format('VALUES (false, %s::bigint, %s::bigint)', :forged, :last_seq - :mid_seq),
                  'an entry forged behind the sealer''s back is found by the incremental verification too');
ROLLBACK TO SAVEPOINT tamper;
RELEASE SAVEPOINT tamper;

-- ------------------------------------------------------------------ who may do what
SELECT throws_ok('SELECT * FROM erp.audit_verify(NULL, NULL)', '22004', 'p_full must not be null', 'p_full NULL (22004)');
SELECT count(*) AS n_unowned_after FROM erp.audit_chain ch JOIN erp.audit_log l ON l.id = ch.entry_id
 WHERE ch.seq > :mid_seq AND l.company_id IS NULL \gset
SELECT count(*) AS n_unowned FROM erp.audit_chain ch JOIN erp.audit_log l ON l.id = ch.entry_id
 WHERE l.company_id IS NULL \gset
SELECT ok(:n_unowned > 0 AND :n_unowned < :n_chain, 'some chained entries have no company, some have one');
SELECT pg_temp.login('au30_aud', :a);
SET LOCAL ROLE pgerp_app;
SELECT results_eq('SELECT * FROM erp.audit_verify()', format('VALUES (true, NULL::bigint, %s::bigint)', :n_unowned_after),
                  'a subsidiary auditor verifies from the checkpoint, told only how many entries they may read were checked');
RESET ROLE;
DELETE FROM erp.audit_verified;
SET LOCAL ROLE pgerp_app;
SELECT results_eq('SELECT * FROM erp.audit_verify()', format('VALUES (true, NULL::bigint, %s::bigint)', :n_unowned),
                  'from the anchor: the entries without a company (the auditor reads them in the selected company), not the others');
SELECT throws_ok('SELECT * FROM erp.audit_verify(NULL, true)', '42501', 'permission denied to re-verify the audit chain',
                 'a subsidiary auditor cannot ask for a full re-verification (42501)');
SELECT throws_ok(format('SELECT * FROM erp.audit_verify(%s)', :mid), '42501', 'permission denied to re-verify the audit chain',
                 'nor for one from an entry (42501)');
SELECT is(pg_temp.error_hint('SELECT * FROM erp.audit_verify(NULL, true)'),
          '42501: Call erp.audit_verify() without arguments: it checks what was sealed since the last verification.',
          'the hint says what to call instead');
SELECT throws_ok('SELECT * FROM erp.audit_head()', '42501', 'permission denied for "erp.audit_log:read"',
                 'a subsidiary auditor cannot read the head (42501): it counts every company''s entries');
SELECT is(pg_temp.error_detail('SELECT * FROM erp.audit_head()'),
          '42501: The head of the audit chain counts the entries of every company: it needs the permission on every active company.',
          'the detail says why');
RESET ROLE;

-- a bad entry of another company is not named to a subsidiary auditor; one they may read is
SELECT erp.sign_out() AS signed_out \gset
SELECT ch.entry_id AS other_bad FROM erp.audit_chain ch JOIN erp.audit_log l ON l.id = ch.entry_id
 WHERE l.company_id IS NOT NULL ORDER BY ch.seq LIMIT 1 \gset
SELECT ch.entry_id AS own_bad FROM erp.audit_chain ch JOIN erp.audit_log l ON l.id = ch.entry_id
 WHERE l.company_id IS NULL ORDER BY ch.seq LIMIT 1 \gset
DELETE FROM erp.audit_verified;
SAVEPOINT tamper2;
SET LOCAL session_replication_role = replica;
UPDATE erp.audit_log SET changes = '{}' WHERE id = :other_bad;
SET LOCAL session_replication_role = origin;
SELECT pg_temp.login('au30_aud', :a);
SET LOCAL ROLE pgerp_app;
SELECT results_eq('SELECT ok, first_bad_id FROM erp.audit_verify()', 'VALUES (false, NULL::bigint)',
                  'a subsidiary auditor learns that the chain is broken, not which entry of another company');
RESET ROLE;
SELECT pg_temp.login('au30_wide', :g);
SET LOCAL ROLE pgerp_app;
SELECT results_eq('SELECT ok, first_bad_id FROM erp.audit_verify()', format('VALUES (false, %s::bigint)', :other_bad),
                  'an auditor of every company is told the entry');
RESET ROLE;
ROLLBACK TO SAVEPOINT tamper2;
SET LOCAL session_replication_role = replica;
UPDATE erp.audit_log SET changes = '{}' WHERE id = :own_bad;
SET LOCAL session_replication_role = origin;
SELECT pg_temp.login('au30_aud', :a);
SET LOCAL ROLE pgerp_app;
SELECT results_eq('SELECT ok, first_bad_id FROM erp.audit_verify()', format('VALUES (false, %s::bigint)', :own_bad),
                  'an entry the subsidiary auditor may read is named to them');
RESET ROLE;
ROLLBACK TO SAVEPOINT tamper2;
RELEASE SAVEPOINT tamper2;

-- an auditor of every active company: the database-wide figures
INSERT INTO erp.audit_verified (seq, hash, verified_at) VALUES (:mid_seq, :'mid_hash', now())
    ON CONFLICT (singleton) DO UPDATE SET seq = excluded.seq, hash = excluded.hash;
SELECT pg_temp.login('au30_wide', :g);
SET LOCAL ROLE pgerp_app;
SELECT results_eq('SELECT * FROM erp.audit_verify()', format('VALUES (true, NULL::bigint, %s::bigint)', :last_seq - :mid_seq),
                  'an auditor of every active company is told how many entries were checked in all');
SELECT results_eq('SELECT * FROM erp.audit_head()', format('VALUES (%s::bigint, %L::bytea)', :last_seq, :'last_hash'),
                  'and reads the head');
RESET ROLE;
SELECT erp.sign_out() AS signed_out \gset
SELECT erp.create_company('Test C') AS c \gset
SELECT pg_temp.login('au30_wide', :g);
SET LOCAL ROLE pgerp_app;
SELECT throws_ok('SELECT * FROM erp.audit_head()', '42501', NULL,
                 'a new top-level company the auditor holds nothing on: the head is refused again');
RESET ROLE;
SELECT erp.sign_out() AS signed_out \gset
UPDATE erp.company SET active = false WHERE id = :c;
SELECT pg_temp.login('au30_wide', :g);
SET LOCAL ROLE pgerp_app;
SELECT lives_ok('SELECT * FROM erp.audit_head()', 'an inactive company does not count');
RESET ROLE;

-- a stock manager, and nobody signed in
SELECT erp.sign_out() AS signed_out \gset
SELECT pg_temp.login('au30_mgr', :a);
SET LOCAL ROLE pgerp_app;
SELECT throws_ok('SELECT * FROM erp.audit_head()', '42501', 'permission denied for "erp.audit_log:read"',
                 'a stock manager cannot read the head (42501)');
SELECT is(pg_temp.error_detail('SELECT * FROM erp.audit_head()'),
          format('42501: Permission "erp.audit_log:read" is required on company %s.', :a), 'the detail names the permission');
RESET ROLE;
SELECT erp.sign_out() AS signed_out \gset
SET LOCAL ROLE pgerp_app;
SELECT throws_ok('SELECT * FROM erp.audit_head()', '42501', 'permission denied: no user is signed in',
                 'nobody signed in cannot read the head (42501)');
SELECT throws_ok('SELECT * FROM erp.audit_verify()', '42501', NULL, 'nor verify');
RESET ROLE;
SELECT results_eq('SELECT * FROM erp.audit_head()', format('VALUES (%s::bigint, %L::bytea)', :last_seq, :'last_hash'),
                  'a superuser with nobody signed in reads the head');
SELECT lives_ok('SELECT * FROM erp.audit_verify(NULL, true)', 'and may re-verify in full');

SELECT * FROM finish();
ROLLBACK;
