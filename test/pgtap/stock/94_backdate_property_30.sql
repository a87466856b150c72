-- Property test of back-dated postings (#15): about 30% of the moves of company A are posted after
-- a later-dated move of their product; A must end with the layers, move values and ledger of
-- company B, which posted the same moves in date order (test/pgtap/stock/backdate_property.inc).
-- Pending: rename to .sql when the replay engine lands (today a back-dated valued move raises 0A000).
BEGIN;
\ir ../setup.sql
\set share 0.3
\ir backdate_property.inc
ROLLBACK;
