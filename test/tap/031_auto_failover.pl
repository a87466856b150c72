# Issue #14: `pg_autoctl perform failover` on a pg_auto_failover formation
# set up as scripts/ha.sh does (a monitor and two data nodes, each run by
# `pg_autoctl run`), in this test's directory on free ports, with the
# monitor's timeouts tuned (PGERP_HA_TUNED). The new primary accepts a
# posting within a bound, the old primary is a standby again, and a posting
# acknowledged before the failover is on the new primary. Skipped when
# pg_autoctl is not installed.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time usleep);

# in_path(program): its first executable in PATH, or undef.
sub in_path
{
	my ($prog) = @_;
	for my $d (split /:/, $ENV{PATH} // '')
	{
		return "$d/$prog" if $d ne '' && -x "$d/$prog";
	}
	return undef;
}
my $autoctl_bin = in_path('pg_autoctl');
plan skip_all => 'pg_autoctl is not installed (scripts/deps.sh installs pg-auto-failover-cli)' unless $autoctl_bin;
my $pg_ctl = in_path('pg_ctl') or BAIL_OUT('pg_ctl is not in PATH');
my $bindir = $pg_ctl =~ s{/pg_ctl$}{}r;
-f "$bindir/../lib/pgautofailover.so"
  or plan skip_all => "the monitor's extension pgautofailover is not installed in $bindir/../lib";

my $dir = PostgreSQL::Test::Utils::tempdir;
my $sock = PostgreSQL::Test::Utils::tempdir_short;
my %port = map { $_ => PostgreSQL::Test::Cluster::get_free_port() } qw(monitor node1 node2);
my $monitor_uri = "postgres://autoctl_node\@localhost:$port{monitor}/pg_auto_failover?sslmode=disable";
my $t_start = time();
my %service;    # node => IPC::Run harness of its `pg_autoctl run`

# autoctl(node, args...): the command line of pg_autoctl for that node, its
# config, state and pid files under the node's directory (as scripts/ha.sh).
sub autoctl
{
	my ($n, @args) = @_;
	return ('env', "XDG_CONFIG_HOME=$dir/$n/cfg", "XDG_DATA_HOME=$dir/$n/state", "XDG_RUNTIME_DIR=$dir/$n/run",
		"PGHOST=$sock", "PGPORT=$port{$n}", $autoctl_bin, @args);
}

# run_ok(name, cmd...): run a command, its output into the test's log on failure.
sub run_ok
{
	my ($name, @cmd) = @_;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err);
	diag("$name failed:\n$out\n$err") unless $ok;
	if (open(my $log, '>>', "$dir/commands.log"))
	{
		print $log "--- $name\n$out$err";
		close($log);
	}
	return $ok;
}

# sql(node or conninfo, query): (exit code, trimmed output) of psql.
sub sql
{
	my ($where, $query) = @_;
	my $conn = exists $port{$where} ? "host=$sock port=$port{$where} user=postgres dbname="
	  . ($where eq 'monitor' ? 'pg_auto_failover' : 'pgerp') : $where;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'psql', '-X', '-tA', '-v', 'ON_ERROR_STOP=1', '-d', $conn, '-c', $query ],
		'<', \undef, '>', \$out, '2>', \$err);
	chomp $out;
	return ($? >> 8, $out, $err);
}

# poll(where, query, expected, timeout): until the query prints expected.
sub poll
{
	my ($where, $query, $expected, $timeout) = @_;
	my $deadline = time() + $timeout;
	my ($ret, $out, $err);
	while (1)
	{
		($ret, $out, $err) = sql($where, $query);
		return 1 if $ret == 0 && $out eq $expected;
		last if time() > $deadline;
		usleep(200_000);
	}
	diag("timed out polling: $query\nexpected: $expected\ngot: $out\n$err");
	return 0;
}

my $states = q{SELECT string_agg(nodename || ':' || reportedstate || '/' || goalstate, ' ' ORDER BY nodename) FROM pgautofailover.node};

# node_conf(node): the node's own settings in <node>/node.conf, outside
# PGDATA, as scripts/ha.sh does: pg_basebackup and pg_rewind copy PGDATA's
# files (pg_autoctl's include with the other node's port among them), never
# this one.
sub node_conf
{
	my ($n) = @_;
	mkdir "$dir/$n";
	open(my $fh, '>', "$dir/$n/node.conf") or die $!;
	print $fh "port = $port{$n}\nunix_socket_directories = '$sock'\n";
	close($fh);
}

# new_pgdata(node, settings): initdb (trust: a test on loopback), then
# pg_auto_failover's include, the given settings (they win over pg_autoctl's
# computed ones) and the node's own file last, as scripts/ha.sh new_pgdata.
sub new_pgdata
{
	my ($n, $settings, @initdb) = @_;
	run_ok("initdb $n", 'initdb', '-D', "$dir/$n/pgdata", '-U', 'postgres', '-E', 'UTF8', '--locale=C.UTF-8',
		'--auth=trust', @initdb) or BAIL_OUT("initdb $n");
	open(my $fh, '>>', "$dir/$n/pgdata/postgresql.conf") or die $!;
	print $fh "\ninclude 'postgresql-auto-failover.conf'\n$settings\ninclude_if_exists = '../node.conf'\n";
	close($fh);
}
node_conf($_) for qw(monitor node1 node2);

sub start_service
{
	my ($n) = @_;
	$service{$n} = IPC::Run::start([ autoctl($n, 'run', '--pgdata', "$dir/$n/pgdata") ],
		'<', \undef, '>>', "$dir/$n.log", '2>&1');
}

END
{
	# stop the services (their Postgres with them), the monitor last
	my @running = grep { $service{$_} } qw(node2 node1 monitor);
	IPC::Run::run([ autoctl($_, 'stop', '--pgdata', "$dir/$_/pgdata") ], '>', '/dev/null', '2>&1') for @running;
	eval { $service{$_}->finish; 1 } or eval { $service{$_}->kill_kill; 1 } for @running;
}

# --- the monitor, with the timeouts of PGERP_HA_TUNED=1
new_pgdata('monitor', "shared_buffers = '32MB'");
ok(run_ok('create monitor', autoctl('monitor', 'create', 'monitor', '--pgctl', $pg_ctl, '--pgdata', "$dir/monitor/pgdata",
	'--pgport', $port{monitor}, '--hostname', 'localhost', '--auth', 'trust', '--no-ssl')), 'the monitor is created')
  or BAIL_OUT('no monitor');
start_service('monitor');
ok(poll('monitor', 'SELECT 1', '1', 30), 'the monitor runs');
for my $kv (qw(health_check_period=1000 health_check_timeout=1000 health_check_max_retries=1 health_check_retry_delay=500
	node_considered_unhealthy_timeout=2000 primary_demote_timeout=3000))
{
	my ($k, $v) = split /=/, $kv;
	sql('monitor', "ALTER SYSTEM SET pgautofailover.$k = $v");
}
sql('monitor', 'SELECT pg_reload_conf()');
ok(poll('monitor', q{SELECT current_setting('pgautofailover.node_considered_unhealthy_timeout')}, '2s', 10),
	'with tuned timeouts');

# --- node1: the pack preloaded, checksums (pg_rewind), the same key file for both nodes
my $key = "$dir/master.key";
open(my $kf, '>', $key) or die $!;
print $kf join('', map { sprintf('%02x', int(rand(256))) } 1 .. 32);
close($kf);
chmod(0600, $key);
new_pgdata('node1', qq{shared_buffers = '64MB'
shared_preload_libraries = 'pgerp'
pgerp.master_key_file = '$key'
pgerp.job_workers = 1
max_connections = 40
max_worker_processes = 16
wal_log_hints = on
hot_standby_feedback = on}, '--data-checksums');
for my $n (qw(node1 node2))
{
	ok(run_ok("create $n", autoctl($n, 'create', 'postgres', '--pgctl', $pg_ctl, '--pgdata', "$dir/$n/pgdata",
		'--pgport', $port{$n}, '--pghost', $sock, '--hostname', 'localhost', '--name', $n, '--dbname', 'pgerp',
		'--monitor', $monitor_uri, '--auth', 'trust', '--no-ssl')), "$n is registered with the monitor")
	  or BAIL_OUT("no $n");
	start_service($n);
	if ($n eq 'node1')
	{
		ok(poll('monitor', $states, 'node1:single/single', 60), 'node1 is the single primary') or BAIL_OUT('no primary');
		# pg_autoctl may restart it once more after reporting single
		ok(poll('node1', 'SELECT NOT pg_is_in_recovery()', 't', 30), 'and accepts connections');
		my ($ret, $out, $err) = sql('node1', q{SET client_min_messages = warning; CREATE EXTENSION pgerp_stock CASCADE;
			CREATE ROLE pgerp_app LOGIN PASSWORD 'pgerp_app' NOSUPERUSER NOBYPASSRLS; SELECT erp.grant_app_access('pgerp_app');
			DO $$
			DECLARE
			    c bigint := erp.create_company('HA');
			    u bigint := erp.create_user('ha', 'ha-password-1');
			BEGIN
			    PERFORM erp.grant_role(u, 'stock_manager', c);
			    PERFORM stock.create_warehouse(c, 'HA-WH', 'HA warehouse');
			    PERFORM stock.create_product(c, 'HA-1', 'HA product', 'fifo');
			END $$});
		is($ret, 0, 'the pack is set up on node1') or diag($err);
		# node2's base backup starts with a spread checkpoint: make it short
		sql('node1', 'CHECKPOINT');
	}
}
ok(poll('monitor', $states, 'node1:primary/primary node2:secondary/secondary', 90), 'node2 is a secondary of node1')
  or BAIL_OUT('no standby');
diag(sprintf('formation ready after %.1f s', time() - $t_start));

# post(where): the application role signs in and receives 1 unit; the move
# id and the port of the server that took it.
my $product = (sql('node1', q{SELECT id FROM stock.product WHERE sku = 'HA-1'}))[1];
sub post
{
	my ($where) = @_;
	my ($ret, $out) = sql($where, qq{SELECT erp.sign_in('ha', 'ha-password-1') IS NULL;
		SELECT stock.receive($product, 1, 2.50) || ' ' || inet_server_port()});
	return $ret == 0 ? (split /\n/, $out)[-1] : undef;
}
my $rw = "host=localhost,localhost port=$port{node1},$port{node2} user=pgerp_app password=pgerp_app dbname=pgerp "
  . 'target_session_attrs=read-write connect_timeout=1';
my $before = post($rw);
like($before // '', qr/^\d+ $port{node1}$/, 'a posting is acknowledged by node1 before the failover');
my ($move_before) = split / /, ($before // '0');

# --- the failover
my $t0 = time();
ok(run_ok('perform failover', autoctl('monitor', 'perform', 'failover', '--pgdata', "$dir/monitor/pgdata")),
	'pg_autoctl perform failover succeeds');
my ($after, $t_write);
while (time() - $t0 < 60)
{
	$after = post($rw);
	last if defined $after && $after =~ / $port{node2}$/;
	usleep(100_000);
}
$t_write = time() - $t0;
like($after // '', qr/^\d+ $port{node2}$/, 'node2, the new primary, accepts a posting through the read-write URI within 60 s');
diag(sprintf('failover to the first accepted posting: %.1f s', $t_write));
ok(poll('monitor', $states, 'node1:secondary/secondary node2:primary/primary', 90), 'the monitor sees node1 as a secondary again');
is((sql('node1', 'SELECT pg_is_in_recovery()'))[1], 't', 'node1 is a standby (in recovery)');
is((sql('node2', "SELECT count(*) FROM stock.move WHERE id = $move_before AND state = 'done'"))[1], '1',
	'the posting acknowledged before the failover is on the new primary');
my ($move_after) = split / /, ($after // '0');
ok(poll('node1', "SELECT count(*) FROM stock.move WHERE id = $move_after", '1', 30),
	'and the posting made after it reaches node1, the standby');
is((sql('node2', q{SELECT count(*) FROM stock.verify_valuation()}))[1], '0', 'the valuation verifies on the new primary');
diag(sprintf('test body %.1f s', time() - $t_start));

done_testing();
