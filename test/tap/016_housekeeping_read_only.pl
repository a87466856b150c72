# The seal after a promotion that starts read-only. pg_auto_failover
# promotes a standby with default_transaction_read_only = on and turns it off
# a few seconds later (a reload). The job workers start at the promotion and
# find the server read-only; the housekeeper must seal as soon as it is
# writable, not one pgerp.housekeeping_interval later (before the fix: 30 s
# by default, found by bench/ha_crash.sh; here the interval is one hour).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use PgerpTest qw(poll);
use Time::HiRes qw(time usleep);

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgerp'
pgerp.job_workers = 1
pgerp.housekeeping_interval = 3600
max_connections = 20
});
$primary->start;
$primary->safe_psql('postgres', 'SET client_min_messages = warning; CREATE EXTENSION pgerp');
# an entry to seal, and a seal state whose sealed_at is known
$primary->safe_psql('postgres', q{CREATE TABLE t (x int); SELECT erp.audit('t'); INSERT INTO t VALUES (1); SELECT erp.audit_seal()});
# the worker's first housekeeping, at its start, seals too: on a loaded machine it can come after
# the seal above, and then a seal state read earlier would be older than the standby's (the flaky
# "nothing is sealed while it is read-only"). Once its first turn has looked for jobs, that
# housekeeping is done and the next is an hour away.
ok(poll($primary, q{SELECT count(*) FROM pg_stat_activity
	WHERE backend_type = 'pgerp job worker' AND query = 'pgerp job worker: looking for due jobs'}, '1'),
	'the primary\'s job worker has done its first housekeeping');
my $sealed_before = $primary->safe_psql('postgres', q{SELECT sealed_at FROM erp.audit_seal_state});
ok($sealed_before ne '', 'the primary has sealed once');

$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
# as pg_auto_failover's stop_replication / wait_primary steps do
$standby->append_conf('postgresql.conf', 'default_transaction_read_only = on');
$standby->start;
$primary->safe_psql('postgres', q{INSERT INTO t VALUES (2)});
$primary->wait_for_catchup($standby);
$primary->stop;

$standby->promote;
ok(poll($standby, q{SELECT pg_is_in_recovery()}, 'f'), 'the standby is promoted');
ok(poll($standby, q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgerp job worker'}, '1'),
	'its job worker runs');
my $deadline = time() + 30;
usleep(100_000) until $standby->log_contains(qr/the server is read-only; jobs wait until it accepts writes/) || time() > $deadline;
ok($standby->log_contains(qr/the server is read-only; jobs wait until it accepts writes/),
	'and finds the server read-only');
is($standby->safe_psql('postgres', q{SELECT sealed_at FROM erp.audit_seal_state}), $sealed_before,
	'nothing is sealed while it is read-only');

$standby->append_conf('postgresql.conf', 'default_transaction_read_only = off');
$standby->reload;
my $t0 = time();
ok(poll($standby, qq{SELECT sealed_at > '$sealed_before' FROM erp.audit_seal_state}, 't', 20),
	'once writable, the housekeeper seals at once, not an interval (1 h) later');
diag(sprintf('seal %.2f s after the reload', time() - $t0));
is($standby->safe_psql('postgres', q{SELECT count(*) || ' ' || count(c.entry_id) FROM erp.audit_log l
	LEFT JOIN erp.audit_chain c ON c.entry_id = l.id WHERE l.rel IN ('t', 'public.t') AND l.op = 'insert'}), '2 2',
	'both inserts into t are sealed, the one made after the backup too');
$standby->stop;

done_testing();
