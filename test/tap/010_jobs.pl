# The job queue with its background workers (pg_cron and pgerp preloaded):
# the launcher keeps pgerp.job_workers workers per database; a job runs at
# once, as the role and pgerp user that enqueued it (row security applies;
# an application role must sign in to enqueue),
# under its kind's timeout, with live progress from shared memory; failures
# retry with backoff and then fail keeping the error; a worker killed with
# SIGKILL and a server crash requeue the running job (the attempt counts); a
# fast shutdown requeues it without counting the attempt; pgerp.job_workers
# follows a reload; a pg_cron schedule enqueues on the minute.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = PostgreSQL::Test::Cluster->new('jobs');
$node->init;
my $keyfile = $node->basedir . '/master.key';
open(my $kf, '>', $keyfile) or die "cannot write $keyfile: $!";
print $kf join('', map { sprintf('%02x', int(rand(256))) } 1 .. 32), "\n";
close($kf);
chmod 0600, $keyfile;
my $sock = $node->host;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_cron,pgerp'
cron.database_name = 'postgres'
cron.host = '$sock'
pgerp.master_key_file = '$keyfile'
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', 'SET client_min_messages = warning; CREATE EXTENSION pg_cron; CREATE EXTENSION pgerp');
# the launcher, connected to no database, starts on a cluster that has just been made: before
# the fix it looked the database up through pg_database's index, which a backend without a
# database cannot open before the shared relcache file exists, and died with a FATAL
# (restarted later by the postmaster)
like(PostgreSQL::Test::Utils::slurp_file($node->logfile), qr/pgerp job launcher: \d+ workers for each of/,
	'the job launcher started on a new cluster');
unlike(PostgreSQL::Test::Utils::slurp_file($node->logfile), qr/FATAL:  cannot read pg_class without having selected a database/,
	'... without dying on its first database lookup');

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

sub q1 { return $node->safe_psql('postgres', $_[0]); }

sub enqueue
{
	my ($kind, $args) = @_;
	return q1(qq{SELECT erp.enqueue('$kind', '$args')});
}

sub workers
{
	return q1(q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgerp job worker'});
}

# The postmaster's children whose process title names a pgerp job process.
sub job_processes
{
	my $pid = $node->{_pid};
	my @lines = grep { /pgerp job/ } split /\n/, `ps -o args= --ppid $pid`;
	return join("\n", @lines);
}

sub wait_running
{
	my ($id) = @_;
	return poll(qq{SELECT status = 'running' AND worker_pid IS NOT NULL FROM erp.job WHERE id = $id}, 't', 15);
}

# register_kind(kind, handler, timeout, max_attempts): erp.register_job_kind
# must accept a handler of the right signature; should it refuse, the kind
# is inserted directly so that the tests of the workers still run.
sub register_kind
{
	my ($kind, $handler, $timeout, $max) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', "SELECT erp.register_job_kind('$kind', '$handler', '$timeout', $max)");
	ok($ret == 0, "erp.register_job_kind registers $kind with handler $handler") or diag($err);
	q1("INSERT INTO erp.job_kind (kind, handler, timeout, max_attempts) VALUES ('$kind', '$handler', '$timeout', $max)")
	  if $ret != 0;
}

# The schedule first: it has about a minute to fire while the rest runs.
my ($sret, $sout, $serr) = $node->psql('postgres', q{SELECT erp.schedule('tick', '* * * * *', 'erp.noop', '{"from": "cron"}')});
ok($sret == 0 && $sout =~ /^\d+$/, 'erp.schedule creates a pg_cron job') or diag($serr);
# should erp.schedule fail, the same pg_cron job made directly still tests
# that pg_cron enqueues on time
q1(q{SELECT cron.schedule('pgerp:tick', '* * * * *', $$SELECT erp.enqueue('erp.noop', '{"from": "cron"}'::jsonb)$$)})
  if $sret != 0;
is(q1(q{SELECT name || ' ' || cron || ' ' || active FROM erp.schedules}), 'tick * * * * * true',
	'erp.schedules lists it');
is(q1(q{SELECT command FROM cron.job WHERE jobname = 'pgerp:tick'}),
	q{SELECT erp.enqueue('erp.noop', '{"from": "cron"}'::jsonb)}, 'the cron job enqueues the kind');

# --- the pool
ok(poll(q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgerp job worker' AND datname = 'postgres'
	AND application_name = 'pgerp job worker'}, '2'),
	'with the preload two workers run for the database of cron.database_name');
like(job_processes(), qr/pgerp job launcher/, 'the launcher runs');
ok($node->log_contains(qr/pgerp job launcher: 2 workers for each of postgres/), 'the launcher logs what it serves');

# --- pickup
ok(poll(q{SELECT count(*) FROM erp.job WHERE status IN ('queued', 'running')}, '0'), 'the pool is idle');
my $noop = enqueue('erp.noop', '{}');
ok(poll(qq{SELECT status FROM erp.job WHERE id = $noop}, 'done', 10), 'a noop job runs');
is(q1(qq{SELECT (finished_at - enqueued_at < interval '1 second') || ' ' || (started_at - enqueued_at < interval '1 second')
	|| ' ' || attempts || ' ' || result::text || ' ' || (run_as = current_user::regrole) || ' ' || coalesce(worker_pid::text, '-')
	FROM erp.job WHERE id = $noop}),
	qq{true true 1 {"job": $noop} true -},
	'an idle pool picks a job up within a second of the commit (woken, not polled), runs it once as its enqueuer');

q1(q{SELECT erp.enqueue('erp.noop', jsonb_build_object('burst', n)) FROM generate_series(1, 20) n});
ok(poll(q{SELECT count(*) FROM erp.job WHERE args ? 'burst' AND status = 'done'}, '20', 15), 'a burst of 20 jobs all runs');
is(q1(q{SELECT count(*) || ' ' || count(DISTINCT result) || ' ' || max(attempts) FROM erp.job WHERE args ? 'burst'}),
	'20 20 1', 'each job of the burst ran exactly once');

# --- identity and row security
q1(q{
	SET client_min_messages = warning;
	SELECT erp.create_company('Alpha'), erp.create_company('Beta');
	SELECT erp.create_user('alice', 'alice-secret-1');
	SELECT erp.grant_role((SELECT id FROM erp.app_user WHERE login = 'alice'), 'stock_manager', 1);
	SELECT erp.create_partner(1, 'A one'), erp.create_partner(1, 'A two', 'customer', 'a2@example.com');
	SELECT erp.create_partner(2, 'B one'), erp.create_partner(2, 'B two'), erp.create_partner(2, 'B three');
	CREATE ROLE app LOGIN NOSUPERUSER NOBYPASSRLS;
	SELECT erp.grant_app_access('app');
	CREATE FUNCTION public.count_partners(p_job bigint, p_args jsonb) RETURNS jsonb
	LANGUAGE sql AS $$
		SELECT jsonb_build_object('count', (SELECT count(*) FROM erp.partner),
			'names', (SELECT string_agg(name, ',' ORDER BY name) FROM erp.partner),
			'job', erp.current_job_id(), 'user', erp.current_user_id(), 'company', erp.current_company_id(),
			'role', current_user::text)
	$$;
});
register_kind('test.count_partners', 'public.count_partners(bigint, jsonb)', '1 minute', 1);
my $alice = q1(q{SELECT id FROM erp.app_user WHERE login = 'alice'});
my ($user_job) = $node->safe_psql('postgres', q{
	SELECT erp.sign_in('alice', 'alice-secret-1') IS NOT NULL;
	SELECT erp.enqueue('test.count_partners');
}, extra_params => [ '-U', 'app' ]) =~ /^t\n(\d+)$/;
ok(defined $user_job, 'a signed-in user of an application role enqueues a job');
# a connection of the application role that never signed in cannot flood the queue (#11.6)
my ($aret, $aout, $aerr) = $node->psql('postgres', q{
	SELECT erp.enqueue('erp.sleep', '{"seconds": 3600}', now(), 2147483647) FROM generate_series(1, 100)},
	extra_params => [ '-U', 'app' ]);
ok($aret != 0 && $aerr =~ /permission denied: no user is signed in/,
	'an application connection that never signed in cannot enqueue 100 erp.sleep at priority 2147483647') or diag($aerr);
($aret, $aout, $aerr) = $node->psql('postgres', q{SELECT erp.enqueue('test.count_partners')}, extra_params => [ '-U', 'app' ]);
ok($aret != 0 && $aerr =~ /permission denied: no user is signed in/, 'nor a single job at priority 0');
($aret, $aout, $aerr) = $node->psql('postgres', q{
	SELECT erp.sign_in('alice', 'alice-secret-1') IS NOT NULL;
	SELECT erp.enqueue('test.count_partners', '{}', now(), 2147483647)}, extra_params => [ '-U', 'app' ]);
ok($aret != 0 && $aerr =~ /permission denied for "erp.job:prioritize"/,
	'signed in, alice (stock_manager) cannot enqueue at priority 2147483647 without erp.job:prioritize');
is(q1(q{SELECT count(*) FROM erp.job WHERE enqueued_by IS NULL AND run_as = 'app'::regrole OR priority > 0}), '0',
	'no job was queued by the refused calls');
my $super_job = enqueue('test.count_partners', '{}');
ok(poll(qq{SELECT count(*) FROM erp.job WHERE id IN ($user_job, $super_job) AND status = 'done'}, '2'),
	'the two jobs run');
is(q1(qq{SELECT result->>'count' || ' ' || (result->>'names') || ' ' || (result->>'user') || ' ' || (result->>'company')
	|| ' ' || (result->>'role') || ' ' || (result->>'job' = id::text)
	|| ' | ' || company_id || ' ' || enqueued_by || ' ' || run_as FROM erp.job WHERE id = $user_job}),
	"2 A one,A two $alice 1 app true | 1 $alice app",
	'the user\'s job runs as role app and user alice in her company: row security shows only its partners');
is(q1(qq{SELECT result->>'count' || ' ' || coalesce(result->>'user', '-') || ' ' || (result->>'role' = current_user::text)
	FROM erp.job WHERE id = $super_job}), '5 - true', 'a superuser\'s job sees every partner');
is($node->safe_psql('postgres', q{SELECT erp.sign_in('alice', 'alice-secret-1') IS NOT NULL;
	SELECT string_agg(id::text, ',') FROM erp.job_status}, extra_params => [ '-U', 'app' ]),
	"t\n$user_job", 'alice sees her own job only in erp.job_status');

# --- live progress
my $sleep = enqueue('erp.sleep', '{"seconds": 3}');
ok(poll(qq{SELECT progress IS NOT NULL FROM erp.job_status WHERE id = $sleep}, 't', 10), 'progress shows while erp.sleep runs');
my ($p1, $note) = split /\|/, q1(qq{SELECT progress || '|' || progress_note FROM erp.job_status WHERE id = $sleep});
ok($p1 > 0 && $p1 < 1, "progress is between 0 and 1 ($p1)");
like($note, qr/^step \d+ of 30$/, "the note is the step ($note)");
my ($k) = $note =~ /^step (\d+)/;
ok(abs($p1 - $k / 30) < 0.001, 'the note and the fraction agree');
is(q1(qq{SELECT a.application_name || ' / ' || a.backend_type FROM pg_stat_activity a JOIN erp.job j ON j.worker_pid = a.pid
	WHERE j.id = $sleep}), "pgerp job $sleep erp.sleep / pgerp job worker", 'pg_stat_activity names the running job');
ok(poll(qq{SELECT progress > $p1 FROM erp.job_status WHERE id = $sleep}, 't', 5), 'progress moves on');
ok(poll(qq{SELECT status FROM erp.job WHERE id = $sleep}, 'done', 10), 'the sleep job finishes');
is(q1(qq{SELECT progress || ' ' || coalesce(progress_note, '-') || ' ' || (result->>'slept') || ' ' || coalesce(result->>'user', '-')
	|| ' ' || (result->>'role' = current_user::text) || ' ' || (finished_at - started_at >= interval '3 s')
	FROM erp.job_status WHERE id = $sleep}), '1 - 3 - true true', 'a finished job shows progress 1 and its result');

# --- timeout of the kind
register_kind('test.slow', 'erp.sleep_job(bigint, jsonb)', '300 ms', 1);
my $slow = enqueue('test.slow', '{"seconds": 5}');
ok(poll(qq{SELECT status FROM erp.job WHERE id = $slow}, 'failed', 10), 'a job over its kind\'s timeout fails');
is(q1(qq{SELECT attempts || ' ' || last_sqlstate || ' ' || last_error || ' ' || (finished_at - started_at < interval '3 s')
	FROM erp.job WHERE id = $slow}), '1 57014 canceling statement due to statement timeout true',
	'with the statement timeout error, stopped at the timeout');

# --- retries
my $backoff = enqueue('erp.sleep', '{"fail": "first failure"}');
ok(poll(qq{SELECT status || ' ' || attempts FROM erp.job WHERE id = $backoff}, 'queued 1', 10), 'a failed job is queued again');
is(q1(qq{SELECT last_error || ' ' || last_sqlstate || ' '
	|| (run_at - started_at BETWEEN interval '9.5 s' AND interval '11 s') || ' ' || coalesce(worker_pid::text, '-')
	FROM erp.job WHERE id = $backoff}), 'first failure P0001 true -',
	'with its error, to run again after pgerp.job_retry_base (10 s)');
q1(qq{SELECT erp.cancel_job($backoff)});
is(q1(qq{SELECT status FROM erp.job WHERE id = $backoff}), 'cancelled', 'a queued job is cancelled');

q1(q{ALTER SYSTEM SET pgerp.job_retry_base = 0});
$node->reload;
usleep(500_000);    # the workers read the file at their next turn
my $log_offset = -s $node->logfile;
my $fail = enqueue('erp.sleep', '{"fail": "boom 42"}');
ok(poll(qq{SELECT status FROM erp.job WHERE id = $fail}, 'failed', 15), 'a job that keeps failing ends failed');
is(q1(qq{SELECT attempts || '/' || max_attempts || ' ' || last_error || ' ' || last_sqlstate || ' '
	|| (finished_at IS NOT NULL) || ' ' || coalesce(result::text, '-') || ' ' || coalesce(worker_pid::text, '-')
	FROM erp.job WHERE id = $fail}), '3/3 boom 42 P0001 true - -',
	'after max_attempts (retried at once with pgerp.job_retry_base = 0), keeping the error');
my @warnings = slurp_file($node->logfile, $log_offset) =~ /WARNING:  pgerp job $fail \(erp\.sleep\) failed: boom 42/g;
is(scalar @warnings, 3, 'each failed attempt is logged');

# --- cancelling a running job
my $cancel = enqueue('erp.sleep', '{"seconds": 20}');
ok(wait_running($cancel), 'a long job runs');
my $cancel_pid = q1(qq{SELECT worker_pid FROM erp.job WHERE id = $cancel});
q1(qq{SELECT erp.cancel_job($cancel)});
ok(poll(qq{SELECT application_name FROM pg_stat_activity WHERE pid = $cancel_pid}, 'pgerp job worker', 5),
	'cancel_job interrupts the handler and the worker goes back to the pool');
is(q1(qq{SELECT status || ' ' || coalesce(worker_pid::text, '-') || ' ' || (finished_at - started_at < interval '10 s')
	FROM erp.job WHERE id = $cancel}), 'cancelled - true', 'the job stays cancelled');

# --- SIGKILL of a worker mid-job
$log_offset = -s $node->logfile;
my $killed = enqueue('erp.sleep', '{"seconds": 3}');
ok(wait_running($killed), 'a job runs');
my $victim = q1(qq{SELECT worker_pid FROM erp.job WHERE id = $killed});
ok(kill('KILL', $victim), "SIGKILL to its worker ($victim)");
ok(poll(qq{SELECT status FROM erp.job WHERE id = $killed}, 'done', 60), 'after the crash restart the job is run again');
is(q1(qq{SELECT attempts || ' ' || coalesce(last_error, '-') || ' ' || coalesce(worker_pid::text, '-') || ' '
	|| (worker_pid IS DISTINCT FROM $victim) FROM erp.job WHERE id = $killed}), '2 - - true',
	'and done with the killed attempt counted (attempts 2)');
my $log = slurp_file($node->logfile, $log_offset);
like($log, qr/\(PID $victim\) was terminated by signal 9/, 'the postmaster saw the worker die');
like($log, qr/pgerp requeued 1 jobs whose worker had stopped/, 'the new workers requeued the orphaned job');
ok(poll(q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgerp job worker'}, '2'), 'two workers again');

# --- server crash (immediate stop) while a job runs
my $crashed = enqueue('erp.sleep', '{"seconds": 3}');
ok(wait_running($crashed), 'a job runs');
$node->stop('immediate');
$node->start;
ok(poll(qq{SELECT status FROM erp.job WHERE id = $crashed}, 'done', 60), 'after an immediate stop and a start the job resumes');
is(q1(qq{SELECT attempts FROM erp.job WHERE id = $crashed}), '2', 'and is done with attempts 2');

# --- SIGTERM to a worker mid-job: requeued without counting the attempt; the worker is replaced
ok(poll(q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgerp job worker'}, '2'), 'two workers after the start');
$log_offset = -s $node->logfile;
my $termed = enqueue('erp.sleep', '{"seconds": 2}');
ok(wait_running($termed), 'a job runs');
my $term_pid = q1(qq{SELECT worker_pid FROM erp.job WHERE id = $termed});
ok(kill('TERM', $term_pid), "SIGTERM to its worker ($term_pid)");
ok(poll(qq{SELECT status FROM erp.job WHERE id = $termed}, 'done', 20), 'the job runs again');
is(q1(qq{SELECT attempts || ' ' || coalesce(last_error, '-') || ' ' || (worker_pid IS NULL) FROM erp.job WHERE id = $termed}),
	'1 - true', 'done with only the finished attempt counted');
like(slurp_file($node->logfile, $log_offset), qr/pgerp job $termed \(erp\.sleep\) interrupted by shutdown, requeued/,
	'the interrupted run is logged as requeued');
ok(poll(qq{SELECT count(*) || ' ' || count(*) FILTER (WHERE pid = $term_pid) FROM pg_stat_activity
	WHERE backend_type = 'pgerp job worker'}, '2 0', 15), 'the launcher replaces the stopped worker');

# --- pgerp.job_workers follows a reload
q1(q{ALTER SYSTEM SET pgerp.job_workers = 3});
$node->reload;
ok(poll(q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgerp job worker'}, '3', 15),
	'pgerp.job_workers 2 -> 3 and a reload: three workers');
q1(q{ALTER SYSTEM SET pgerp.job_workers = 1});
$node->reload;
ok(poll(q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgerp job worker'}, '1', 15),
	'-> 1 and a reload: one worker');
my $one = enqueue('erp.noop', '{}');
ok(poll(qq{SELECT status FROM erp.job WHERE id = $one}, 'done', 10), 'the single worker runs jobs');

# --- SIGTERMs in a row: the worker cancels its job once and its requeue is never cancelled
# (before the fix a second SIGTERM during the requeue cancelled it: the job stayed running
# until the recovery of stopped workers requeued it, its attempt counted)
my $storm = enqueue('erp.sleep', '{"seconds": 5}');
ok(wait_running($storm), 'a job runs (several SIGTERMs to come)');
my $storm_pid = q1(qq{SELECT worker_pid FROM erp.job WHERE id = $storm});
my $storm_end = time() + 0.3;
while (time() < $storm_end)
{
	kill 'TERM', $storm_pid;
	usleep(300);
}
ok(poll(qq{SELECT status FROM erp.job WHERE id = $storm}, 'done', 30), 'after the SIGTERMs the job runs again to the end');
is(q1(qq{SELECT attempts FROM erp.job WHERE id = $storm}), '1', '... at its first counted attempt: its requeue went through');

# --- a fast stop requeues the running job without counting the attempt
q1(q{ALTER SYSTEM RESET pgerp.job_workers});
$node->reload;
ok(poll(q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgerp job worker'}, '2', 15), 'back to two workers');
my $stopped = enqueue('erp.sleep', '{"seconds": 5}');
ok(wait_running($stopped), 'a job runs');
is(q1(qq{SELECT attempts FROM erp.job WHERE id = $stopped}), '1', 'its attempt is counted while it runs');
# no worker after the next start, to look at the requeued job
q1(q{ALTER SYSTEM SET pgerp.job_workers = 0});
$log_offset = -s $node->logfile;
$node->stop('fast');
like(slurp_file($node->logfile, $log_offset), qr/LOG:  pgerp job $stopped \(erp\.sleep\) interrupted by shutdown, requeued/,
	'the fast stop interrupts the handler and requeues the job');
$node->start;
is(q1(qq{SELECT status || ' ' || attempts || ' ' || coalesce(last_error, '-') || ' ' || coalesce(worker_pid::text, '-')
	|| ' ' || coalesce(finished_at::text, '-') FROM erp.job WHERE id = $stopped}), 'queued 0 - - -',
	'after the stop the job is queued with the attempt not counted and no error');
is(workers(), '0', 'pgerp.job_workers = 0: no worker');
q1(q{ALTER SYSTEM RESET pgerp.job_workers});
$node->reload;
ok(poll(qq{SELECT status FROM erp.job WHERE id = $stopped}, 'done', 20), 'with workers again the job runs');
is(q1(qq{SELECT attempts FROM erp.job WHERE id = $stopped}), '1', 'done at its first counted attempt');

# --- the pg_cron schedule
ok(poll(q{SELECT count(*) > 0 FROM erp.job WHERE args->>'from' = 'cron' AND status = 'done'}, 't', 90),
	'the schedule enqueued a job that ran');
is(q1(q{SELECT bool_and(enqueued_at - date_trunc('minute', enqueued_at) < interval '5 s')
	|| ' ' || bool_and(kind = 'erp.noop') FROM erp.job WHERE args->>'from' = 'cron'}), 'true true',
	'on the minute ("* * * * *")');
my ($uret, $uout, $uerr) = $node->psql('postgres', q{SELECT erp.unschedule('tick')});
is($uret, 0, 'erp.unschedule succeeds') or diag($uerr);
q1(q{SELECT cron.unschedule('pgerp:tick')}) if $uret != 0;
is(q1(q{SELECT count(*) FROM erp.schedules}), '0', 'the schedule is gone');

$node->stop;
done_testing();
