-- journal_balanced (#16): the deferred check sums an entry once however many of its lines
-- were written (src/valuation/balanced.c), and still refuses, with the same error, an
-- entry unbalanced by anything written after it was checked: a later line, an update,
-- a bulk insert of many entries, a savepoint rolled back.
BEGIN;
\ir ../setup.sql
SELECT plan(10);

SELECT * FROM pg_temp.make_tree() \gset
SELECT stock.create_warehouse(:a, 'JC52') AS wh \gset
SELECT erp.sign_out() AS signed_out \gset
SELECT id AS acc_val FROM stock.account WHERE company_id = :a AND kind = 'stock_valuation' \gset
SELECT id AS acc_in FROM stock.account WHERE company_id = :a AND kind = 'stock_input' \gset
INSERT INTO stock.journal_entry (company_id, date, ref) VALUES (:a, now(), 'JC52 one') RETURNING id AS e1 \gset
INSERT INTO stock.journal_entry (company_id, date, ref) VALUES (:a, now(), 'JC52 two') RETURNING id AS e2 \gset

-- Run statements, then check the deferred constraints; undo; 'ok' or 'SQLSTATE: message / detail'.
CREATE FUNCTION pg_temp.check_after(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_result text;
    v_msg text;
    v_detail text;
BEGIN
    BEGIN
        EXECUTE p_sql;
        BEGIN
            SET CONSTRAINTS ALL IMMEDIATE;
            v_result := 'ok';
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_msg = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL;
            v_result := SQLSTATE || ': ' || v_msg || ' / ' || v_detail;
        END;
        RAISE EXCEPTION 'undo' USING ERRCODE = 'assert_failure';
    EXCEPTION WHEN assert_failure THEN
        NULL;
    END;
    SET CONSTRAINTS ALL DEFERRED;
    RETURN v_result;
END $$;

SELECT is(pg_temp.check_after(format(
    $$INSERT INTO stock.journal_line (company_id, entry_id, account_id, debit, credit)
      SELECT %1$s, e, CASE WHEN i %% 2 = 0 THEN %3$s ELSE %4$s END, CASE WHEN i %% 2 = 0 THEN 5 ELSE 0 END,
             CASE WHEN i %% 2 = 0 THEN 0 ELSE 5 END
        FROM unnest(ARRAY[%2$s, %5$s]) e, generate_series(1, 200) i$$, :a, :e1, :acc_val, :acc_in, :e2)),
    'ok', 'one INSERT of 400 lines over two balanced entries passes');
SELECT is(pg_temp.check_after(format(
    $$INSERT INTO stock.journal_line (company_id, entry_id, account_id, debit, credit)
      SELECT %1$s, %2$s, %3$s, 5, 0 FROM generate_series(1, 3) UNION ALL SELECT %1$s, %2$s, %4$s, 0, 14$$,
    :a, :e1, :acc_val, :acc_in)),
    format('23514: journal entry %s is not balanced / Debits total 15 and credits 14.', :e1),
    'an unbalanced entry among many lines: 23514, the same message and detail');
SELECT is(pg_temp.check_after(format(
    $$INSERT INTO stock.journal_line (company_id, entry_id, account_id, debit, credit)
      VALUES (%1$s, %2$s, %3$s, 2, 0), (%1$s, %2$s, %4$s, 0, 2), (%1$s, %5$s, %3$s, 1, 0)$$,
    :a, :e1, :acc_val, :acc_in, :e2)),
    format('23514: journal entry %s is not balanced / Debits total 1 and credits 0.', :e2),
    'the second entry of a statement is checked although the first balanced');

-- checked once (constraints immediate), then unbalanced by what comes after
SET CONSTRAINTS ALL IMMEDIATE;
SELECT lives_ok(format('INSERT INTO stock.journal_line (company_id, entry_id, account_id, debit, credit) VALUES (%s, %s, %s, 3, 0), (%s, %s, %s, 0, 3)',
                       :a, :e1, :acc_val, :a, :e1, :acc_in),
                'a balanced pair is accepted with constraints immediate');
SELECT throws_ok(format('INSERT INTO stock.journal_line (company_id, entry_id, account_id, debit) VALUES (%s, %s, %s, 1)', :a, :e1, :acc_val),
                 '23514', format('journal entry %s is not balanced', :e1),
                 'a line added to the entry checked before is refused');
SELECT throws_ok(format('UPDATE stock.journal_line SET debit = 4 WHERE company_id = %s AND entry_id = %s AND debit = 3', :a, :e1),
                 '23514', format('journal entry %s is not balanced', :e1),
                 'an update unbalancing the entry checked before is refused');
SELECT lives_ok(format('UPDATE stock.journal_line SET debit = debit WHERE company_id = %s AND entry_id = %s', :a, :e1),
                'an update keeping it balanced passes');
SET CONSTRAINTS ALL DEFERRED;

-- a savepoint rolled back: what it wrote is gone, and so is what was checked with it
SAVEPOINT s;
INSERT INTO stock.journal_line (company_id, entry_id, account_id, debit, credit) VALUES (:a, :e2, :acc_val, 7, 0);
ROLLBACK TO SAVEPOINT s;
INSERT INTO stock.journal_line (company_id, entry_id, account_id, debit, credit) VALUES (:a, :e2, :acc_in, 0, 7);
SELECT is(pg_temp.check_after('SELECT 1'),
          format('23514: journal entry %s is not balanced / Debits total 0 and credits 7.', :e2),
          'after a rolled-back savepoint the entry is summed again: its surviving line does not balance');
DELETE FROM stock.journal_line WHERE company_id = :a AND entry_id = :e2;
SELECT is(pg_temp.check_after('SELECT 1'), 'ok', 'once the line is gone, nothing is left to refuse');
SELECT is((SELECT count(*)::int FROM stock.journal_line WHERE company_id = :a AND entry_id = :e1), 2,
          'the refused statements left the checked entry''s two lines');

SELECT * FROM finish();
ROLLBACK;
