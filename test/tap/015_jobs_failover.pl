# The job workers at a failover (#14 defects 1-4):
# 1. a fast shutdown ends although a worker's commit waits for a synchronous
#    standby that is gone (pg_auto_failover and Patroni demote that way);
# 2. a running job whose worker_pid is the pid of a live worker of this node
#    that does not run it (after a failover the pid is the old host's) is
#    requeued, and cancelling it signals no unrelated process;
# 3. while the server is read-only (pg_auto_failover during a promotion) the
#    workers idle without exiting, and a reload that allows writes starts the
#    waiting job at once; a database that does not exist yet costs one log
#    line, not a worker dying every 5 s;
# 4. the audit chain is sealed and the sign-in events written without pg_cron,
#    by the first worker's housekeeping.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use PgerpTest qw(poll);
use Time::HiRes qw(time usleep);

# Lines of the server log written since offset that match re.
sub log_count
{
	my ($node, $offset, $re) = @_;
	my $log = slurp_file($node->logfile, $offset);
	my $n = () = $log =~ /$re/g;
	return $n;
}

my $workers = q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgerp job worker' AND datname = 'postgres'};

my $node = PostgreSQL::Test::Cluster->new('failover');
# streaming allowed: without a WAL sender no commit waits for a synchronous standby
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pgerp'
pgerp.job_workers = 2
pgerp.job_databases = 'postgres, later'
pgerp.housekeeping_interval = 1
});
$node->start;
$node->safe_psql('postgres', 'SET client_min_messages = warning; CREATE EXTENSION pgerp');
ok(poll($node, $workers, '2'), 'two workers run');

# --- 4. housekeeping without pg_cron
$node->safe_psql('postgres', q{SELECT erp.create_company('Alpha'); SELECT erp.create_user('mia', 'mia-secret-1')});
my ($ret, $out, $err) = $node->psql('postgres', q{SELECT erp.sign_in('mia', 'Wrong-Guess-1')});
like($err, qr/invalid login or password/, 'a failed sign-in');
ok(poll($node, q{SELECT count(*) > 0 FROM erp.audit_log WHERE rel = 'erp.sign_in'}, 't', 15),
	'the failed sign-in reaches the audit trail without pg_cron');
ok(poll($node, q{SELECT count(*) FROM erp.audit_log l WHERE NOT EXISTS (SELECT 1 FROM erp.audit_chain c WHERE c.entry_id = l.id)}, '0', 15),
	'and every audit entry is sealed into the chain by the housekeeping');
is($node->safe_psql('postgres', q{SELECT ok FROM erp.audit_verify()}), 't', 'the chain verifies');

# --- 2. a job whose worker_pid is a live worker that does not hold it
my @pids = split /\n/, $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'pgerp job worker' AND datname = 'postgres' ORDER BY pid});
is(scalar @pids, 2, 'the pids of both workers');
my $stale = $node->safe_psql('postgres', qq{
	SELECT erp.enqueue('erp.noop', '{"stale": true}', now() + interval '1 hour');
});
$node->safe_psql('postgres', qq{
	UPDATE erp.job SET status = 'running', attempts = 1, started_at = now(), run_at = now(), worker_pid = $pids[0]
	 WHERE id = $stale;
});
ok(poll($node, qq{SELECT status FROM erp.job WHERE id = $stale}, 'done', 20),
	'a running job that the worker with its pid does not hold is requeued and runs');
is($node->safe_psql('postgres', qq{SELECT attempts FROM erp.job WHERE id = $stale}), '2', 'as a second attempt');

my $other = $node->safe_psql('postgres', qq{
	SELECT erp.enqueue('erp.noop', '{"cancel": true}', now() + interval '1 hour');
});
$node->safe_psql('postgres', qq{
	UPDATE erp.job SET status = 'running', attempts = 1, started_at = now(), worker_pid = $pids[1] WHERE id = $other;
});
my $offset = -s $node->logfile;
$node->safe_psql('postgres', qq{SELECT erp.cancel_job($other)});
is($node->safe_psql('postgres', qq{SELECT status FROM erp.job WHERE id = $other}), 'cancelled', 'cancel_job cancels it');
sleep(2);
is($node->safe_psql('postgres', qq{SELECT count(*) FROM pg_stat_activity WHERE pid = $pids[1]}), '1',
	'the worker with that pid, which ran another job or none, was not signalled: it still runs');
is(log_count($node, $offset, qr/canceling statement due to user request/), 0, 'and cancelled nothing');

# --- 3. a read-only server, a database that does not exist yet
ok($node->log_contains(qr/database "later" does not exist or does not allow connections/),
	'a database in pgerp.job_databases that does not exist is logged');
is(log_count($node, 0, qr/database "later" does not exist or does not/), 1, 'once');
is(log_count($node, 0, qr/FATAL:  database "later" does not exist/), 0, 'with no worker dying on it');
$node->safe_psql('postgres', 'CREATE DATABASE later');
$node->safe_psql('later', 'SET client_min_messages = warning; CREATE EXTENSION pgerp');
ok(poll($node, q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgerp job worker' AND datname = 'later'}, '2'),
	'its workers start once it exists');

$offset = -s $node->logfile;
$node->safe_psql('postgres', 'ALTER SYSTEM SET default_transaction_read_only = on');
$node->reload;
ok(poll($node, 'SHOW default_transaction_read_only', 'on'), 'the server is read-only');
my $waiting = $node->safe_psql('postgres', q{
	BEGIN READ WRITE;
	SELECT erp.enqueue('erp.noop', '{"read_only": true}');
	COMMIT;
});
sleep(12);
is($node->safe_psql('postgres', qq{SELECT status FROM erp.job WHERE id = $waiting}), 'queued', 'a job waits while the server is read-only');
is(log_count($node, $offset, qr/pgerp job worker.*exited with exit code/), 0, 'no worker exited in 12 s');
is(log_count($node, $offset, qr/read-only transaction/), 0, 'no worker hit the read-only error');
is(log_count($node, $offset, qr/the server is read-only; jobs wait/), 4, 'each worker said once that jobs wait');
$node->safe_psql('postgres', 'SET default_transaction_read_only = off; ALTER SYSTEM RESET default_transaction_read_only');
$node->reload;
ok(poll($node, qq{SELECT status FROM erp.job WHERE id = $waiting}, 'done', 4),
	'once writes are allowed the reload wakes the workers and the job runs');
is($node->safe_psql('postgres', $workers), '2', 'with the same two workers');

# --- 1. a fast shutdown while a worker's commit waits for a standby that is gone
$node->safe_psql('postgres', q{ALTER SYSTEM SET synchronous_standby_names = 'absent'});
$node->reload;
ok(poll($node, 'SHOW synchronous_standby_names', 'absent'), 'a synchronous standby that does not exist');
my $job = $node->safe_psql('postgres', q{SET synchronous_commit = local; SELECT erp.enqueue('erp.noop', '{"sync": true}')});
ok(poll($node, q{SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'pgerp job worker' AND wait_event = 'SyncRep'}, 't', 15),
	'a worker waits for the synchronous standby');
my $stopped;
{
	local $ENV{PGCTLTIMEOUT} = 20;
	$stopped = $node->stop('fast', fail_ok => 1);
}
ok($stopped, 'pg_ctl stop -m fast finishes');
$node->stop('immediate') if !$stopped;
$node->append_conf('postgresql.conf', "synchronous_standby_names = ''");
$node->start;
ok(poll($node, qq{SELECT status FROM erp.job WHERE id = $job}, 'done', 20), 'after the restart the job is done');
$node->stop;
done_testing();
