-- Property test of back-dated postings (#15): about 30% of the moves of company A are posted after
-- a later-dated move of their product; A must end with the layers, move values and ledger of
-- company B, which posted the same moves in date order (test/pgtap/stock/backdate_property.inc).
BEGIN;
\ir ../setup.sql
\set share 0.3
\ir backdate_property.inc
ROLLBACK;
