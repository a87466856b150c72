# A job worker's memory does not grow with the jobs it runs (#11.19): one
# worker runs 1,000 noop jobs to warm up its caches, then 20,000 more; its
# memory between jobs (erp.job_workers(): TopMemoryContext and everything
# below it) grows by less than 64 kB. Before the fix every job left 144 bytes
# in TopMemoryContext (2.9 MB for 20,000 jobs). The jobs are enqueued by the
# superuser signed in as a user (not limited by pgerp.job_max_queued_per_user),
# so that each job also switches the worker to that user and back.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = PostgreSQL::Test::Cluster->new('jobs_memory');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pgerp'
pgerp.job_databases = 'postgres'
pgerp.job_workers = 1
pgerp.job_poll_interval = 200ms
});
$node->start;
$node->safe_psql('postgres', 'SET client_min_messages = warning; CREATE EXTENSION pgerp');

sub q1 { return $node->safe_psql('postgres', $_[0]); }

# poll(query, expected, timeout): run the query until it prints expected.
sub poll
{
	my ($query, $expected, $timeout) = @_;
	my $deadline = time() + ($timeout // 30);
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

q1(q{
	SET client_min_messages = warning;
	SELECT erp.create_company('Alpha');
	SELECT erp.grant_role(erp.create_user('mia', 'mia-secret-1'), 'stock_manager', 1);
});
my $mia = q1(q{SELECT id FROM erp.app_user WHERE login = 'mia'});

# enqueue(n): n noop jobs of user mia in company 1, in one transaction.
sub enqueue
{
	my ($n) = @_;
	q1(qq{
		SELECT erp.sign_in('mia', 'mia-secret-1', 1) IS NOT NULL;
		SELECT count(erp.enqueue('erp.noop')) FROM generate_series(1, $n);
	});
}

ok(poll(q{SELECT count(*) FROM erp.job_workers()}, '1'), 'one worker serves the database');
my $pid = q1(q{SELECT pid FROM erp.job_workers()});
is(q1(q{SELECT (job_id IS NULL) || ' ' || jobs || ' ' || (memory > 0) FROM erp.job_workers()}), 'true 0 true',
	'erp.job_workers(): idle, no job run yet, its memory');

# memory(): the worker's memory once it has been idle for a few turns (the
# poll interval is 200 ms; every turn of an idle worker also runs the check
# for orphaned jobs, whose statement is planned once, at the first one).
sub memory
{
	usleep(1_000_000);
	return q1(q{SELECT memory FROM erp.job_workers()});
}

# warm up: plans, catalog caches, the user's ACL
enqueue(1000);
ok(poll(q{SELECT jobs FROM erp.job_workers()}, '1000', 120), 'the worker runs 1,000 jobs');
is(q1(q{SELECT count(*) FILTER (WHERE status = 'done') || ' ' || count(*) FROM erp.job}), '1000 1000', 'all of them done');
my $warm = memory();

enqueue(20000);
ok(poll(q{SELECT jobs FROM erp.job_workers()}, '21000', 300), 'the worker runs 20,000 more');
is(q1(q{SELECT count(*) FILTER (WHERE status = 'done' AND result ? 'job') || ' ' || max(attempts)
	|| ' ' || count(*) FILTER (WHERE enqueued_by = } . $mia . q{ AND company_id = 1) FROM erp.job}), '21000 1 21000',
	'all of them done, once, as the user in company 1');
my $after = memory();
is(q1(q{SELECT pid FROM erp.job_workers()}), $pid, 'by the same worker');
my $growth = $after - $warm;
note("worker memory: $warm bytes after 1,000 jobs, $after after 21,000 (growth $growth)");
cmp_ok($growth, '<', 65536, "its memory grew by less than 64 kB over 20,000 jobs ($growth bytes)");

# The same figure through pg_log_backend_memory_contexts: the grand total
# logged by the worker itself is of the same order as the one shown.
my $offset = -s $node->logfile;
q1(qq{SELECT pg_log_backend_memory_contexts($pid)});
my $logged;
my $deadline = time() + 30;
while (!defined $logged && time() < $deadline)
{
	($logged) = slurp_file($node->logfile, $offset) =~ /Grand total: (\d+) bytes in \d+ blocks/;
	usleep(100_000) unless defined $logged;
}
ok(defined $logged, 'pg_log_backend_memory_contexts logs the worker\'s grand total');
ok(defined $logged && abs($logged - $after) < 1024 * 1024,
	'it agrees with erp.job_workers() within 1 MB (' . ($logged // '-') . " and $after)");

$node->stop;
done_testing();
