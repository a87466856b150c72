# The job queue on a standby and without the preload. A streaming standby
# (same preload) runs no launcher and no worker; once promoted it starts them
# without a restart and runs the jobs queued on the old primary. Without
# pgerp in shared_preload_libraries jobs still enqueue, erp.job_status says
# that no worker runs, and erp.run_pending() runs the due jobs in the session.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use PgerpTest qw(poll);
use Time::HiRes qw(time usleep);

# The postmaster's children whose process title names a pgerp job process.
sub job_processes
{
	my ($node) = @_;
	my $pid = $node->{_pid};
	return join("\n", grep { /pgerp job/ } split /\n/, `ps -o args= --ppid $pid`);
}

my $workers = q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgerp job worker'};
# the launcher too (it is connected to the shared catalogs)
my $job_backends = q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'pgerp job%'};

# --- primary and standby
my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
# the primary runs no worker (pgerp.job_workers = 0) so that its jobs wait
# for the standby; the standby sets 2 again after the backup
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_cron,pgerp'
pgerp.job_workers = 0
max_connections = 20
});
$primary->start;
$primary->safe_psql('postgres', 'SET client_min_messages = warning; CREATE EXTENSION pgerp');
like(job_processes($primary), qr/pgerp job launcher/, 'the primary runs the launcher');
is($primary->safe_psql('postgres', $workers), '0', 'and, with pgerp.job_workers = 0, no worker');

my $early = $primary->safe_psql('postgres', q{SELECT erp.enqueue('erp.noop', '{"when": "before backup"}')});
$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->append_conf('postgresql.conf', 'pgerp.job_workers = 2');
$standby->start;

my $ids = $primary->safe_psql('postgres', q{
	SELECT string_agg(erp.enqueue('erp.noop', jsonb_build_object('n', n))::text, ',') FROM generate_series(1, 3) n;
});
my $sleep = $primary->safe_psql('postgres', q{SELECT erp.enqueue('erp.sleep', '{"seconds": 1}')});
$ids = "$early,$ids,$sleep";
$primary->wait_for_catchup($standby);

is($standby->safe_psql('postgres', qq{SELECT count(*) FILTER (WHERE status = 'queued') || '/' || count(*) FROM erp.job WHERE id IN ($ids)}),
	'5/5', 'the standby has the five queued jobs');
is($standby->safe_psql('postgres', q{SELECT pg_is_in_recovery()}), 't', 'the standby is in recovery');
is($standby->safe_psql('postgres', $job_backends), '0', 'no pgerp job process in pg_stat_activity of the standby');
is(job_processes($standby), '', 'no pgerp job launcher or worker process on the standby');
ok(!$standby->log_contains(qr/pgerp job launcher started/), 'the standby log has no launcher start');

$primary->stop;
$standby->promote;
ok(poll($standby, q{SELECT pg_is_in_recovery()}, 'f'), 'the standby is promoted');
ok(poll($standby, qq{SELECT count(*) FROM erp.job WHERE id IN ($ids) AND status = 'done'}, '5', 30),
	'the promoted standby runs the jobs queued on the primary, without a restart');
is($standby->safe_psql('postgres', qq{SELECT string_agg(DISTINCT attempts::text, ',') FROM erp.job WHERE id IN ($ids)}), '1',
	'each once');
ok(poll($standby, q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgerp job worker'}, '2'),
	'two workers run on the promoted standby');
like(job_processes($standby), qr/pgerp job launcher/, 'with the launcher');
ok($standby->log_contains(qr/pgerp job launcher: 2 workers for each of postgres/), 'which started after the promotion');
my $after = $standby->safe_psql('postgres', q{SELECT erp.enqueue('erp.noop')});
ok(poll($standby, qq{SELECT status FROM erp.job WHERE id = $after}, 'done', 10), 'a job enqueued after the promotion runs');
is($standby->safe_psql('postgres', qq{SELECT started_at - enqueued_at < interval '1 s' FROM erp.job WHERE id = $after}), 't',
	'at once');
$standby->stop;

# --- without the preload
my $plain = PostgreSQL::Test::Cluster->new('plain');
$plain->init;
$plain->append_conf('postgresql.conf', "shared_preload_libraries = ''");
$plain->start;
my ($ret, $out, $err) = $plain->psql('postgres', 'SET client_min_messages = warning; CREATE EXTENSION pgerp');
ok($ret == 0, 'CREATE EXTENSION pgerp works without the preload') or diag($err);
SKIP:
{
	skip 'pgerp cannot be loaded without the preload', 13 if $ret != 0;
	my $noop = $plain->safe_psql('postgres', q{SELECT erp.enqueue('erp.noop')});
	my $nap = $plain->safe_psql('postgres', q{SELECT erp.enqueue('erp.sleep', '{"seconds": 0.3}')});
	my $fail = $plain->safe_psql('postgres', q{SELECT erp.enqueue('erp.sleep', '{"fail": "no luck"}')});
	my $later = $plain->safe_psql('postgres', q{SELECT erp.enqueue('erp.noop', '{}', now() + interval '1 hour')});
	ok($noop && $nap && $fail && $later, 'jobs enqueue without the preload');
	is(job_processes($plain), '', 'no launcher and no worker');
	($ret, $out, $err) = $plain->psql('postgres', qq{SELECT string_agg(id || ':' || status, ',' ORDER BY id) FROM erp.job_status});
	is($out, "$noop:queued,$nap:queued,$fail:queued,$later:queued", 'erp.job_status lists the queued jobs');
	like($err, qr/NOTICE:  no job worker is running for this database/, 'with a NOTICE that no worker runs');
	like($err, qr/HINT:  Add pgerp to shared_preload_libraries and restart, or run due jobs with erp\.run_pending\(\)\./,
		'and a hint naming the preload and erp.run_pending()');
	usleep(300_000);
	is($plain->safe_psql('postgres', qq{SELECT status FROM erp.job WHERE id = $noop}), 'queued', 'nothing runs them');

	is($plain->safe_psql('postgres', q{SELECT erp.run_pending(1)}), '1', 'erp.run_pending(1) runs one job');
	is($plain->safe_psql('postgres', qq{SELECT status || ' ' || result::text FROM erp.job WHERE id = $noop}), qq{done {"job": $noop}},
		'the first in the queue');
	is($plain->safe_psql('postgres', q{SELECT erp.run_pending()}), '2', 'erp.run_pending() runs the other due jobs');
	is($plain->safe_psql('postgres', qq{SELECT status || ' ' || attempts || ' ' || (result->>'slept') || ' ' || (result->>'role' = current_user::text)
		FROM erp.job WHERE id = $nap}), 'done 1 0.3 true', 'erp.sleep runs in the session (progress is a no-op there)');
	is($plain->safe_psql('postgres', qq{SELECT status || ' ' || attempts || ' ' || last_error || ' ' || last_sqlstate || ' '
		|| (run_at > now() + interval '5 s') FROM erp.job WHERE id = $fail}), 'queued 1 no luck P0001 true',
		'a failure is recorded and retried later');
	is($plain->safe_psql('postgres', qq{SELECT status FROM erp.job WHERE id = $later}), 'queued', 'a job not yet due waits');
	is($plain->safe_psql('postgres', q{SELECT erp.run_pending()}), '0', 'and nothing else is due');
}
$plain->stop;

done_testing();
