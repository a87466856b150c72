-- #14.7: the clusters the scripts make (make start, make test) are ready to be a failover
-- pair's primary: pg_rewind needs data checksums or wal_log_hints, and both are on.
BEGIN;
\ir ../setup.sql
SELECT plan(2);

SELECT is(current_setting('data_checksums'), 'on', 'the cluster has data checksums');
SELECT is(current_setting('wal_log_hints'), 'on', 'the cluster logs hint bits (pg_rewind)');

SELECT * FROM finish();
ROLLBACK;
