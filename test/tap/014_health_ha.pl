# erp.health() on a streaming pair (#14): on the standby role standby, its
# receive/replay lag and the received timeline, read-only; on the primary the
# standby listed with its sync_state (synchronous_standby_names names it).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time usleep);

# poll(node, query, expected): run the query until it prints expected (30 s).
sub poll
{
	my ($node, $query, $expected) = @_;
	my $deadline = time() + 30;
	my ($ret, $out, $err);
	while (1)
	{
		($ret, $out, $err) = $node->psql('postgres', $query);
		return 1 if $ret == 0 && $out eq $expected;
		last if time() > $deadline;
		usleep(100_000);
	}
	diag("timed out polling: $query\nexpected: $expected\ngot: " . ($out // '') . "\nstderr: " . ($err // ''));
	return 0;
}

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
my $key = $primary->basedir . '/master.key';
open(my $fh, '>', $key) or die "cannot write $key: $!";
print $fh ('ab' x 32);
close($fh);
chmod(0600, $key);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgerp'
pgerp.master_key_file = '$key'
max_connections = 20
});
$primary->start;
$primary->safe_psql('postgres', 'SET client_min_messages = warning; CREATE EXTENSION pgerp');
$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;
$primary->safe_psql('postgres', q{CREATE TABLE t_health (n int); INSERT INTO t_health VALUES (1)});
$primary->wait_for_catchup($standby);

my $h = q{erp.health()};
is($standby->safe_psql('postgres', "SELECT $h->>'role'"), 'standby', 'the standby says role standby');
is($standby->safe_psql('postgres', "SELECT $h->>'ready'"), 'true', '... and ready (a standby with its key file serves reads)');
ok(poll($standby, "SELECT $h->'replica'->>'receiver'", 'streaming'), '... its WAL receiver streams');
is($standby->safe_psql('postgres', "SELECT ($h->'replica'->>'lag_bytes')::numeric >= 0 AND ($h->'replica'->>'lag_seconds')::numeric >= 0"),
	't', '... with receive/replay lag in bytes and seconds');
is($standby->safe_psql('postgres', "SELECT ($h->>'timeline')::int"), '1', '... on the received timeline 1');
is($standby->safe_psql('postgres', "SELECT ($h->'workers'->>'expected')::int"), '0', '... and expects no job worker');

is($primary->safe_psql('postgres', "SELECT $h->'standbys'->0->>'application_name'"), 'standby', 'the primary lists the standby');
is($primary->safe_psql('postgres', "SELECT $h->'standbys'->0->>'sync_state'"), 'async', '... as async');
$primary->append_conf('postgresql.conf', q{synchronous_standby_names = 'standby'});
$primary->reload;
ok(poll($primary, "SELECT $h->'standbys'->0->>'sync_state'", 'sync'), '... and as sync once synchronous_standby_names names it');
# a standby that reconnected reports its replay position with its first reply
ok(poll($primary, "SELECT ($h->'standbys'->0->>'lag_bytes')::numeric >= 0", 't'), '... with its lag in bytes');

# with the standby gone, a commit waits for ever: the primary is failing and not ready
$standby->stop;
my ($in, $out, $err) = ('', '', '');
my $waiter = IPC::Run::start([ 'psql', '-X', '-q', '-d', $primary->connstr('postgres'), '-c', 'INSERT INTO t_health VALUES (2)' ],
	'<', \$in, '>', \$out, '2>', \$err);
ok(poll($primary, "SELECT $h->>'sync_waits'", '1'), 'a commit waiting for the synchronous standby is counted');
is($primary->safe_psql('postgres', "SELECT $h->>'status'"), 'failing', '... with no synchronous standby connected the status is failing');
is($primary->safe_psql('postgres', "SELECT $h->>'ready'"), 'false', '... and the primary is not ready');
$primary->safe_psql('postgres', q{SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event = 'SyncRep'});
$waiter->finish;

done_testing();
