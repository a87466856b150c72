-- The hash chain over erp.audit_log: erp.audit_seal (ended transactions only), erp.audit_head,
-- erp.audit_verify (full re-verifications here; 30_verify.sql: the incremental one, and who sees what),
-- tampering (altered, removed, forged entries, altered or cut
-- chain), erp.audit_purge of a sealed prefix.
BEGIN;
\ir ../setup.sql
SELECT plan(62);

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('au20_aud', 'auditor', :a) AS aud \gset
SELECT pg_temp.make_user('au20_mgr', 'stock_manager', :a) AS mgr \gset
SELECT erp.sign_out() AS signed_out \gset

-- The chain rows whose hash is not sha256(previous hash || entry bytes), recomputed here.
CREATE FUNCTION pg_temp.bad_links() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM (
        SELECT ch.seq, ch.hash, l AS entry,
               coalesce(lag(ch.hash) OVER (ORDER BY ch.seq), (SELECT anchor_hash FROM erp.audit_seal_state)) AS prev
          FROM erp.audit_chain ch JOIN erp.audit_log l ON l.id = ch.entry_id) c
     WHERE c.hash <> sha256(c.prev || erp._audit_entry_bytes(c.entry))
$$;

-- ------------------------------------------------------------------ sealing
-- Everything committed before this test (the demo data at least) can be sealed.
SELECT erp.audit_seal() AS sealed0 \gset
SELECT ok((SELECT count(*) FROM erp.audit_chain) > 0, 'after erp.audit_seal() the chain holds the entries committed before the test');
SELECT is((SELECT count(*)::int FROM erp.audit_log l
            WHERE l.tx < (SELECT tx_done FROM erp.audit_seal_state)
              AND NOT EXISTS (SELECT 1 FROM erp.audit_chain ch WHERE ch.entry_id = l.id)), 0,
          'every entry of a transaction that ended before the seal is chained');
SELECT is(erp.audit_seal(), 0::bigint, 'a second erp.audit_seal() has nothing left to seal');
SELECT results_eq('SELECT seq, hash FROM erp.audit_head()',
                  'SELECT seq, hash FROM erp.audit_chain ORDER BY seq DESC LIMIT 1',
                  'erp.audit_head() is the newest chain position and its hash');
SELECT results_eq($$SELECT last_seq - anchor_seq, anchor_seq + 1 FROM erp.audit_seal_state$$,
                  $$SELECT count(*), min(seq) FROM erp.audit_chain$$,
                  'the chain positions are consecutive from the anchor to the head');
SELECT is(pg_temp.bad_links(), 0::bigint, 'each hash is sha256(previous hash || the entry''s bytes), from the anchor on');
SELECT is((SELECT count(*)::int FROM (
              SELECT l.tx, l.id, lag(l.tx) OVER w AS ptx, lag(l.id) OVER w AS pid
                FROM erp.audit_chain ch JOIN erp.audit_log l ON l.id = ch.entry_id
              WINDOW w AS (ORDER BY ch.seq)) s
            WHERE (s.ptx, s.pid) > (s.tx, s.id)), 0,
          'entries are chained in (transaction, id) order');
SELECT is((SELECT count(*)::int FROM erp.audit_chain ch JOIN erp.audit_log l ON l.id = ch.entry_id
            WHERE l.tx >= pg_current_xact_id()), 0, 'no entry of this transaction is chained');

-- entries of this (running) transaction are not sealed
SELECT coalesce(max(id), 0) AS m_own FROM erp.audit_log \gset
SELECT erp.create_partner(:a, 'AU20 Vendor', 'vendor', 'au20@vendor.example') AS p \gset
SELECT id AS own FROM erp.audit_log WHERE id > :m_own AND rel = 'erp.partner' AND op = 'insert' \gset
SELECT is(erp.audit_seal(), 0::bigint, 'erp.audit_seal() does not seal the entries of a running transaction');
SELECT is((SELECT count(*)::int FROM erp.audit_chain ch JOIN erp.audit_log l ON l.id = ch.entry_id WHERE l.id > :m_own), 0,
          'the new entries have no chain row');
SELECT results_eq('SELECT ok, first_bad_id FROM erp.audit_verify(NULL, true)', 'VALUES (true, NULL::bigint)',
                  'erp.audit_verify(NULL, true) does not take the unsealed entries of a running transaction for forged ones');
SELECT throws_ok(format('SELECT * FROM erp.audit_verify(%s)', :own), '22023', format('audit entry %s is not sealed', :own),
                 'verifying from an unsealed entry (22023)');
SELECT is((SELECT count(*)::int FROM erp.audit_chain ch JOIN erp.audit_log l ON l.id = ch.entry_id WHERE l.id > :m_own), 0,
          'erp.audit_verify(NULL, true) sealed none of them either');

-- ------------------------------------------------------------------ verify
SELECT last_seq - anchor_seq AS n_chain, last_seq, anchor_seq FROM erp.audit_seal_state \gset
SELECT results_eq('SELECT * FROM erp.audit_verify(NULL, true)', format('VALUES (true, NULL::bigint, %s::bigint)', :n_chain),
                  'erp.audit_verify(NULL, true): ok, nothing bad, every chained entry checked');
SELECT ch.entry_id AS mid, ch.seq AS mid_seq FROM erp.audit_chain ch
 ORDER BY ch.seq OFFSET (SELECT count(*) / 2 FROM erp.audit_chain) LIMIT 1 \gset
SELECT results_eq(format('SELECT * FROM erp.audit_verify(%s)', :mid),
                  format('VALUES (true, NULL::bigint, %s::bigint)', :last_seq - :mid_seq + 1),
                  'erp.audit_verify(id) checks from that entry to the head');
-- the bytes hashed do not depend on the session's time zone and date style
SELECT encode(erp._audit_entry_bytes(l), 'hex') AS bytes_utc FROM erp.audit_log l WHERE l.id = :mid \gset
SAVEPOINT tz;
SET LOCAL TimeZone = 'Pacific/Chatham';
SET LOCAL DateStyle = 'SQL, DMY';
SELECT is((SELECT encode(erp._audit_entry_bytes(l), 'hex') FROM erp.audit_log l WHERE l.id = :mid), :'bytes_utc'::text,
          'an entry''s bytes are the same under another TimeZone and DateStyle');
SELECT results_eq('SELECT ok, checked FROM erp.audit_verify(NULL, true)', format('VALUES (true, %s::bigint)', :n_chain),
                  'and the chain verifies there');
ROLLBACK TO SAVEPOINT tz;

-- who may verify
-- (from the anchor again: no checkpoint)
DELETE FROM erp.audit_verified;
SELECT count(*) AS n_unowned FROM erp.audit_chain ch JOIN erp.audit_log l ON l.id = ch.entry_id WHERE l.company_id IS NULL \gset
SELECT pg_temp.login('au20_aud', :a);
SET LOCAL ROLE pgerp_app;
SELECT results_eq('SELECT ok, first_bad_id, checked FROM erp.audit_verify()',
                  format('VALUES (true, NULL::bigint, %s::bigint)', :n_unowned),
                  'an auditor of company A verifies the whole chain through the application role, and is told how many of the entries checked they may read');
SELECT throws_ok($$SELECT erp.audit_purge(now())$$, '42501', 'permission denied for function audit_purge',
                 'an auditor cannot purge: audit_purge is not published to application roles (42501)');
RESET ROLE;
CREATE ROLE au20_other NOSUPERUSER;
GRANT USAGE ON SCHEMA erp TO au20_other;
GRANT EXECUTE ON FUNCTION erp.audit_purge(timestamptz), erp.require_superuser(text) TO au20_other;
SET LOCAL ROLE au20_other;
SELECT is(pg_temp.error_detail($$SELECT erp.audit_purge(now())$$), '42501: Only a superuser may do this.',
          'a role granted audit_purge by hand still meets the superuser check');
RESET ROLE;
SELECT erp.sign_out() AS signed_out \gset
SELECT pg_temp.login('au20_mgr', :a);
SET LOCAL ROLE pgerp_app;
SELECT throws_ok('SELECT * FROM erp.audit_verify()', '42501', NULL, 'a stock_manager cannot verify (42501)');
SELECT is(pg_temp.error_detail('SELECT * FROM erp.audit_verify()'),
          format('42501: Permission "erp.audit_log:read" is required on company %s.', :a),
          'the detail names erp.audit_log:read');
RESET ROLE;
SELECT erp.sign_out() AS signed_out \gset
SET LOCAL ROLE pgerp_app;
SELECT throws_ok('SELECT * FROM erp.audit_verify()', '42501', NULL, 'nobody signed in cannot verify (42501)');
RESET ROLE;
SELECT is((SELECT count(*) FROM erp.audit_chain), :n_chain::bigint, 'the chain is unchanged by the refused calls');

-- append-only chain
SELECT throws_ok(format('UPDATE erp.audit_chain SET hash = %L WHERE seq = %s', '\x00', :mid_seq), '42501',
                 'the audit log is append-only', 'a superuser''s UPDATE of erp.audit_chain is refused (42501)');
SELECT throws_ok(format('DELETE FROM erp.audit_chain WHERE seq = %s', :mid_seq), '42501',
                 'the audit log is append-only', 'a superuser''s DELETE from erp.audit_chain is refused (42501)');
SELECT throws_ok(format('DELETE FROM erp.audit_log WHERE id = %s', :mid), '42501',
                 'the audit log is append-only', 'a superuser''s DELETE of a sealed entry is refused (42501)');

-- ------------------------------------------------------------------ tampering (bypassing the triggers)
-- an altered entry
SAVEPOINT tamper;
SET LOCAL session_replication_role = replica;
UPDATE erp.audit_log SET changes = '{}' WHERE id = :mid;
SET LOCAL session_replication_role = origin;
SELECT results_eq('SELECT * FROM erp.audit_verify(NULL, true)',
                  format('VALUES (false, %s::bigint, %s::bigint)', :mid, :mid_seq - :anchor_seq - 1),
                  'altered changes: not ok, the altered entry is the first bad one, the entries before it checked');
SELECT results_eq(format('SELECT ok, first_bad_id FROM erp.audit_verify(%s)', :mid),
                  format('VALUES (false, %s::bigint)', :mid), 'also when verifying from that entry');
ROLLBACK TO SAVEPOINT tamper;
SELECT results_eq('SELECT ok, first_bad_id FROM erp.audit_verify(NULL, true)', 'VALUES (true, NULL::bigint)',
                  'rolled back: the chain verifies again');

SET LOCAL session_replication_role = replica;
UPDATE erp.audit_log SET at = at + interval '1 microsecond' WHERE id = :mid;
SET LOCAL session_replication_role = origin;
SELECT results_eq('SELECT ok, first_bad_id FROM erp.audit_verify(NULL, true)', format('VALUES (false, %s::bigint)', :mid),
                  'a time moved by one microsecond is detected');
ROLLBACK TO SAVEPOINT tamper;

SET LOCAL session_replication_role = replica;
UPDATE erp.audit_log SET user_id = :aud WHERE id = :mid;
SET LOCAL session_replication_role = origin;
SELECT results_eq('SELECT ok, first_bad_id FROM erp.audit_verify(NULL, true)', format('VALUES (false, %s::bigint)', :mid),
                  'a changed user is detected');
ROLLBACK TO SAVEPOINT tamper;

-- a removed entry
SET LOCAL session_replication_role = replica;
DELETE FROM erp.audit_log WHERE id = :mid;
SET LOCAL session_replication_role = origin;
SELECT results_eq('SELECT * FROM erp.audit_verify(NULL, true)',
                  format('VALUES (false, %s::bigint, %s::bigint)', :mid, :mid_seq - :anchor_seq - 1),
                  'a deleted sealed entry: not ok, first bad is the deleted entry');
ROLLBACK TO SAVEPOINT tamper;

-- a removed entry with its chain row: the gap shows at the next position
SELECT entry_id AS next_id FROM erp.audit_chain WHERE seq = :mid_seq + 1 \gset
SET LOCAL session_replication_role = replica;
DELETE FROM erp.audit_log WHERE id = :mid;
DELETE FROM erp.audit_chain WHERE seq = :mid_seq;
SET LOCAL session_replication_role = origin;
SELECT results_eq('SELECT ok, first_bad_id FROM erp.audit_verify(NULL, true)', format('VALUES (false, %s::bigint)', :next_id),
                  'an entry deleted with its chain row: not ok, first bad is the entry after the gap');
ROLLBACK TO SAVEPOINT tamper;

-- a forged entry slipped in behind the sealer's back (a transaction id long ended)
SELECT max(id) + 1000 AS forged FROM erp.audit_log \gset
INSERT INTO erp.audit_log (id, company_id, user_id, db_role, tx, at, rel, op, pk, changes) OVERRIDING SYSTEM VALUE
VALUES (:forged, :a, NULL, 'postgres', '3', now() - interval '1 day', 'erp.partner', 'delete', '{"id": "1"}', '{}');
SELECT results_eq('SELECT * FROM erp.audit_verify(NULL, true)', format('VALUES (false, %s::bigint, %s::bigint)', :forged, :n_chain),
                  'a forged entry with an old transaction id: the chain checks, but the forged entry is reported');
SELECT is((SELECT count(*)::int FROM erp.audit_chain WHERE entry_id = :forged), 0,
          'and erp.audit_verify(NULL, true) did not seal it into the chain');
SELECT results_eq(format('SELECT ok, first_bad_id FROM erp.audit_verify(%s)', :mid), format('VALUES (false, %s::bigint)', :forged),
                  'it is reported when verifying from an earlier entry too');
ROLLBACK TO SAVEPOINT tamper;

-- an altered hash, a cut tail
SELECT entry_id AS e10 FROM erp.audit_chain WHERE seq = :anchor_seq + 10 \gset
SET LOCAL session_replication_role = replica;
UPDATE erp.audit_chain SET hash = sha256('forged'::bytea) WHERE seq = :anchor_seq + 10;
SET LOCAL session_replication_role = origin;
SELECT results_eq('SELECT * FROM erp.audit_verify(NULL, true)', format('VALUES (false, %s::bigint, 9::bigint)', :e10),
                  'an altered hash in the chain: the entry at that position is the first bad one');
ROLLBACK TO SAVEPOINT tamper;
SET LOCAL session_replication_role = replica;
DELETE FROM erp.audit_log WHERE id = (SELECT entry_id FROM erp.audit_chain WHERE seq = :last_seq);
DELETE FROM erp.audit_chain WHERE seq = :last_seq;
SET LOCAL session_replication_role = origin;
SELECT results_eq('SELECT * FROM erp.audit_verify(NULL, true)', format('VALUES (false, NULL::bigint, %s::bigint)', :n_chain - 1),
                  'the newest entry removed with its chain row: not ok (the head does not match), no entry to blame');
ROLLBACK TO SAVEPOINT tamper;
RELEASE SAVEPOINT tamper;
SELECT results_eq('SELECT * FROM erp.audit_verify(NULL, true)', format('VALUES (true, NULL::bigint, %s::bigint)', :n_chain),
                  'after all the rolled-back tampering the chain verifies');

-- ------------------------------------------------------------------ purge
SELECT throws_ok('SELECT erp.audit_purge(NULL)', '22004', 'cut-off time must not be null', 'purge(NULL) (22004)');
-- a prefix: entries sealed before the newest time stamp of the chain
SELECT max(l.at) AS cutoff FROM erp.audit_chain ch JOIN erp.audit_log l ON l.id = ch.entry_id \gset
SELECT min(ch.seq) - 1 AS through FROM erp.audit_chain ch JOIN erp.audit_log l ON l.id = ch.entry_id
 WHERE l.at >= :'cutoff' \gset
SELECT hash AS through_hash FROM erp.audit_chain WHERE seq = :through \gset
CREATE TEMP TABLE au20_prefix AS
    SELECT ch.entry_id FROM erp.audit_chain ch WHERE ch.seq <= :through;
SELECT count(*) AS n_newer FROM erp.audit_log WHERE at >= :'cutoff' \gset
SELECT is((SELECT count(*) FROM au20_prefix), :through::bigint - :anchor_seq,
          'there is a sealed prefix older than the newest sealed time stamp (the demo data has several transactions)');
SELECT ok(:through::bigint > :anchor_seq, 'that prefix is not empty');
SELECT coalesce(max(id), 0) AS m_purge FROM erp.audit_log \gset
SELECT is(erp.audit_purge(:'cutoff'), :through::bigint - :anchor_seq,
          'erp.audit_purge() deletes that prefix and returns how many entries it deleted');
SELECT is((SELECT count(*)::int FROM erp.audit_log l JOIN au20_prefix p ON p.entry_id = l.id), 0,
          'the purged entries are gone from the log');
SELECT is((SELECT count(*)::int FROM erp.audit_chain ch WHERE ch.seq <= :through), 0, 'and from the chain');
SELECT is((SELECT count(*) FROM erp.audit_log WHERE at >= :'cutoff' AND id <= :m_purge), :n_newer::bigint,
          'no entry at or after the cut-off was deleted');
SELECT results_eq('SELECT anchor_seq, anchor_hash, last_seq FROM erp.audit_seal_state',
                  format('VALUES (%s::bigint, %L::bytea, %s::bigint)', :through, :'through_hash', :last_seq),
                  'the anchor moved to the last purged position and its hash; the head did not move');
SELECT results_eq(
    format($$SELECT company_id, user_id, db_role = session_user, tx = pg_current_xact_id(), rel, op, pk,
                    (changes->>'deleted')::bigint, (changes->>'through_seq')::bigint, changes->>'through_hash',
                    (changes->>'before')::timestamptz
               FROM erp.audit_log WHERE id > %s$$, :m_purge),
    format($$VALUES (NULL::bigint, NULL::bigint, true, true, 'erp.audit_log'::text, 'purge'::text, NULL::jsonb,
                     %s::bigint, %s::bigint, encode(%L::bytea, 'hex'), %L::timestamptz)$$,
           :through - :anchor_seq, :through, :'through_hash', :'cutoff'),
    'the purge leaves one entry saying what it removed: count, position, hash, cut-off');
SELECT results_eq('SELECT * FROM erp.audit_verify(NULL, true)',
                  format('VALUES (true, NULL::bigint, %s::bigint)', :last_seq - :through),
                  'after the purge the rest of the chain verifies from the anchor');
SELECT entry_id AS first_left FROM erp.audit_chain WHERE seq = :through + 1 \gset
SELECT results_eq(format('SELECT * FROM erp.audit_verify(%s)', :first_left),
                  format('VALUES (true, NULL::bigint, %s::bigint)', :last_seq - :through),
                  'verifying from the first entry left starts from the anchor hash');
SELECT throws_ok(format('SELECT * FROM erp.audit_verify(%s)', (SELECT min(entry_id) FROM au20_prefix)), '22023', NULL,
                 'verifying from a purged entry (22023)');
SELECT throws_ok(format('DELETE FROM erp.audit_log WHERE id = %s', :first_left), '42501', 'the audit log is append-only',
                 'after a purge the log is append-only again');
SAVEPOINT after_purge;
SET LOCAL session_replication_role = replica;
UPDATE erp.audit_log SET changes = '{}' WHERE id = :first_left;
SET LOCAL session_replication_role = origin;
SELECT results_eq('SELECT ok, first_bad_id FROM erp.audit_verify(NULL, true)', format('VALUES (false, %s::bigint)', :first_left),
                  'after a purge, altering the first entry left is detected');
ROLLBACK TO SAVEPOINT after_purge;
SELECT is(erp.audit_purge(:'cutoff'), 0::bigint, 'purging again with the same cut-off deletes nothing');

-- everything sealed
SELECT count(*) AS n_own FROM erp.audit_log WHERE tx = pg_current_xact_id() \gset
SELECT is(erp.audit_purge(now()), :last_seq::bigint - :through, 'a cut-off of now purges every sealed entry');
SELECT is((SELECT count(*)::int FROM erp.audit_chain), 0, 'the chain is empty');
SELECT results_eq('SELECT * FROM erp.audit_verify(NULL, true)', 'VALUES (true, NULL::bigint, 0::bigint)',
                  'and still verifies (the anchor is the head)');
SELECT results_eq('SELECT * FROM erp.audit_head()', format('VALUES (%s::bigint, %L::bytea)', :last_seq,
                  (SELECT anchor_hash FROM erp.audit_seal_state)),
                  'the head stays at the last position, whose hash is now the anchor');
SELECT results_eq('SELECT count(*), count(*) FILTER (WHERE op = $$purge$$) FROM erp.audit_log',
                  format('VALUES (%s::bigint + 1, 2::bigint)', :n_own),
                  'what is left: the unsealed entries of this transaction and the new purge entry (two purges wrote one each)');
SELECT is((SELECT rel FROM erp.audit_log WHERE id = :own), 'erp.partner', 'the unsealed partner entry is kept');
SELECT is((SELECT count(*)::int FROM erp.audit_log l WHERE strpos(l::text, 'au20@vendor.example') > 0), 0,
          'the partner''s e-mail appears nowhere in the log');

SELECT * FROM finish();
ROLLBACK;
