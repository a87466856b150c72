-- Poolers (#11.18): sign_out holds even when its transaction rolls back, DISCARD ALL and
-- RESET ALL sign the session out, sign_out closes the session's cursors. The cross-transaction
-- cases run in a second session (dblink) with a user it creates and deletes again.
BEGIN;
\ir ../setup.sql
SELECT plan(24);

CREATE EXTENSION IF NOT EXISTS dblink;

SELECT dblink_connect('p54', format('host=%s port=%s dbname=%s user=%s',
                                    split_part(current_setting('unix_socket_directories'), ',', 1),
                                    current_setting('port'), current_database(), current_user)) AS connected \gset
SELECT id AS created FROM dblink('p54', $$SELECT erp.create_user('p54_user', 'p54-user-pass')$$) AS r(id bigint) \gset
SELECT id AS p54 FROM dblink('p54', $$SELECT id FROM erp.app_user WHERE login = 'p54_user'$$) AS r(id bigint) \gset

-- Run a statement that returns rows in the second session: 'ok' or 'ERROR'.
CREATE FUNCTION pg_temp.rsel(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM * FROM dblink('p54', p_sql, false) AS r(v text);
    RETURN CASE WHEN dblink_error_message('p54') = 'OK' THEN 'ok' ELSE 'ERROR' END;
END $$;

-- who the second session acts as: the user, nobody, or another id
CREATE FUNCTION pg_temp.remote_who() RETURNS text LANGUAGE sql AS $$
    SELECT CASE WHEN u IS NULL THEN 'nobody'
                WHEN u = (SELECT id FROM dblink('p54', $q$SELECT id FROM erp.app_user WHERE login = 'p54_user'$q$) AS r(id bigint))
                THEN 'the user' ELSE u::text END
      FROM dblink('p54', 'SELECT erp.current_user_id()') AS r(u bigint)
$$;
CREATE FUNCTION pg_temp.remote_sign_in() RETURNS text LANGUAGE sql AS $$
    SELECT tok FROM dblink('p54', $q$SELECT erp.sign_in('p54_user', 'p54-user-pass')$q$) AS r(tok text)
$$;

-- ------------------------------------------------ a rolled-back sign_out
SELECT pg_temp.remote_sign_in() AS tok \gset
SELECT is(pg_temp.remote_who(), 'the user', 'the second session signs in');
SELECT dblink_exec('p54', 'BEGIN') AS began \gset
SELECT pg_temp.rsel('SELECT erp.sign_out()') AS signed_out \gset
SELECT dblink_exec('p54', 'ROLLBACK') AS rolled_back \gset
SELECT is(pg_temp.remote_who(), 'nobody', 'a sign_out whose transaction rolls back still signs the session out');
SELECT is(pg_temp.rsel(format('SELECT erp.use_token(%L)', :'tok')), 'ok',
          '... while its revocation rolls back with it: the token still works (docs/security.md)');
SELECT is(pg_temp.remote_who(), 'the user', '... and acts as the user');
SELECT dblink_exec('p54', 'BEGIN') AS began \gset
SELECT pg_temp.rsel('SELECT erp.sign_out()') AS signed_out \gset
SELECT is(pg_temp.rsel('SELECT 1 / 0'), 'ERROR', 'the transaction of a sign_out then fails');
SELECT dblink_exec('p54', 'ROLLBACK') AS rolled_back \gset
SELECT is(pg_temp.remote_who(), 'nobody', '... and the session stays signed out after the rollback');
SELECT is(pg_temp.rsel(format('SELECT erp.use_token(%L)', :'tok')), 'ok',
          'use_token again (the failed transaction revoked nothing)');
SELECT dblink_exec('p54', 'BEGIN') AS began \gset
SELECT dblink_exec('p54', 'SAVEPOINT s') AS sp \gset
SELECT pg_temp.rsel('SELECT erp.sign_out()') AS signed_out \gset
SELECT dblink_exec('p54', 'ROLLBACK TO SAVEPOINT s') AS rolled_back \gset
SELECT is(pg_temp.remote_who(), 'nobody', 'a sign_out in a savepoint rolled back: still signed out');
SELECT dblink_exec('p54', 'COMMIT') AS committed \gset
SELECT is(pg_temp.rsel(format('SELECT erp.use_token(%L)', :'tok')), 'ok',
          '... and its revocation went with the savepoint');
SELECT pg_temp.rsel('SELECT erp.sign_out()') AS signed_out \gset
SELECT is(pg_temp.remote_who(), 'nobody', 'a committed sign_out signs out');
SELECT is(pg_temp.rsel(format('SELECT erp.use_token(%L)', :'tok')), 'ERROR',
          '... and revokes the token for good');
SELECT is(pg_temp.remote_who(), 'nobody', '... which signs nobody in');

-- a rolled-back sign_in leaves nobody signed in, as before
SELECT dblink_exec('p54', 'BEGIN') AS began \gset
SELECT pg_temp.remote_sign_in() AS tok \gset
SELECT dblink_exec('p54', 'ROLLBACK') AS rolled_back \gset
SELECT is(pg_temp.remote_who(), 'nobody', 'a sign_in whose transaction rolls back is undone');

-- ------------------------------------------------ DISCARD ALL and RESET ALL
SELECT pg_temp.remote_sign_in() AS tok \gset
SELECT is(pg_temp.remote_who(), 'the user', 'signed in again');
SELECT dblink_exec('p54', 'DISCARD ALL') AS discarded \gset
SELECT is(pg_temp.remote_who(), 'nobody', 'DISCARD ALL (what poolers send between clients) signs the session out');
SELECT is(pg_temp.rsel(format('SELECT erp.use_token(%L)', :'tok')), 'ok',
          '... without revoking the token');
SELECT dblink_exec('p54', 'RESET ALL') AS reset \gset
SELECT is(pg_temp.remote_who(), 'nobody', 'RESET ALL signs the session out too');
SELECT pg_temp.rsel(format('SELECT erp.use_token(%L)', :'tok')) AS used \gset
SELECT dblink_exec('p54', 'SET pgerp.signed_in = on') AS set_on \gset
SELECT is(pg_temp.remote_who(), 'the user', 'setting pgerp.signed_in on changes nothing');
SELECT pg_temp.rsel('SELECT erp.sign_out()') AS signed_out \gset
SELECT dblink_exec('p54', 'SET pgerp.signed_in = on') AS set_on \gset
SELECT is(pg_temp.remote_who(), 'nobody', '... and signs nobody in');
SELECT dblink_exec('p54', 'RESET pgerp.signed_in') AS reset \gset

-- ------------------------------------------------ cursors
SELECT pg_temp.remote_sign_in() AS tok \gset
SELECT dblink_exec('p54', 'BEGIN') AS began \gset
SELECT dblink_exec('p54', 'DECLARE c54 CURSOR WITH HOLD FOR SELECT erp.current_user_id() AS u FROM generate_series(1, 3)') AS declared \gset
SELECT dblink_exec('p54', 'COMMIT') AS committed \gset
SELECT pg_temp.rsel('SELECT erp.sign_out()') AS signed_out \gset
SELECT is(pg_temp.rsel('FETCH c54'), 'ERROR',
          'sign_out closes a WITH HOLD cursor opened by the signed-out user (it would show that user''s rows)');
SELECT dblink_disconnect('p54') AS disconnected \gset

-- here: cursors of this transaction
SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('p54_a', 'stock_manager', :a, false) AS p54_a \gset
SELECT erp.create_partner(:a, 'p54 partner of A') AS pa \gset
SET LOCAL ROLE pgerp_app;
SELECT pg_temp.login('p54_a');
DECLARE c54 CURSOR FOR SELECT name FROM erp.partner WHERE company_id = :a;
SELECT erp.sign_out() AS signed_out \gset
SELECT throws_ok('FETCH c54', '34000', NULL, 'sign_out closes an open cursor of the signed-out user');
SELECT lives_ok($q$DO $d$ DECLARE r record; BEGIN
                   FOR r IN SELECT g FROM generate_series(1, 3) g LOOP PERFORM erp.sign_out(); END LOOP;
               END $d$$q$, 'sign_out inside a PL/pgSQL FOR loop leaves the loop''s own cursor alone');
SELECT pg_temp.login('p54_a');
SELECT throws_ok($q$DO $d$ DECLARE c refcursor; v text; BEGIN
                     OPEN c FOR SELECT name FROM erp.partner;
                     PERFORM erp.sign_out();
                     FETCH c INTO v;
                 END $d$$q$, '34000', NULL, 'a cursor a function opened is closed by sign_out too');
RESET ROLE;

-- clean up the second session's user
SELECT dblink_connect('p54', format('host=%s port=%s dbname=%s user=%s',
                                    split_part(current_setting('unix_socket_directories'), ',', 1),
                                    current_setting('port'), current_database(), current_user)) AS connected \gset
SELECT dblink_exec('p54', $$DELETE FROM erp.app_user WHERE login = 'p54_user'$$) AS deleted \gset
SELECT is((SELECT n FROM dblink('p54', $$SELECT count(*) FROM erp.app_user WHERE login = 'p54_user'$$) AS r(n bigint)),
          0::bigint, 'the second session''s user is gone');
SELECT dblink_disconnect('p54') AS disconnected \gset

SELECT * FROM finish();
ROLLBACK;
