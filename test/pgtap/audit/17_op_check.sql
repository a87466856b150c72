-- erp.audit_log.op is checked by a call of erp._audit_op (src/audit/op_check.c), for speed:
-- every flush's INSERT parses the table's CHECK again. It accepts the eleven operations the
-- old op IN (...) listed, and nothing else; the constraint keeps its name.
BEGIN;
\ir ../setup.sql
SELECT plan(5);

SELECT is((SELECT array_agg(o ORDER BY o) FROM unnest(ARRAY['insert', 'update', 'delete', 'truncate', 'purge', 'unaudit',
                                                            'sign_in', 'sign_in_failure', 'lockout', 'refresh', 'refresh_reuse']) o
            WHERE erp._audit_op(o)),
          ARRAY['delete', 'insert', 'lockout', 'purge', 'refresh', 'refresh_reuse', 'sign_in', 'sign_in_failure',
                'truncate', 'unaudit', 'update'],
          'the eleven operations pass');
SELECT is((SELECT count(*) FROM unnest(ARRAY['', 'INSERT', 'insert ', ' insert', 'inser', 'inserts', 'sign', 'refresh_', 'x'])
                               o WHERE erp._audit_op(o)),
          0::bigint, 'case, spaces, prefixes and extensions do not');
SELECT is(erp._audit_op(NULL), NULL, 'NULL is NULL (op is NOT NULL anyway)');
SELECT throws_ok($$INSERT INTO erp.audit_log (db_role, tx, at, rel, op, changes)
                   VALUES ('t', pg_current_xact_id(), now(), 't', 'bogus', '{}')$$, '23514',
                 'new row for relation "audit_log" violates check constraint "audit_log_op_check"',
                 'an unknown operation is refused by audit_log_op_check');
SELECT ok(NOT has_function_privilege('pgerp_app', 'erp._audit_op(text)', 'EXECUTE'),
          'the application role may not call it (the log is written as the pack''s owner)');

SELECT * FROM finish();
ROLLBACK;
