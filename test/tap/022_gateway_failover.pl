# Issue #14: the HTTP gateway across a crash of the primary and a promotion.
# A primary and a synchronous standby with the pack, as in 020_zero_loss.pl;
# two gateways (pgerp-rest) on the two-host URI
#   host=h,h port=p1,p2 target_session_attrs=read-write
# as their write pool. Gateway A reads through the same URI (db-read-uri
# unset); gateway B reads with target_session_attrs=prefer-standby, as
# `make start-ha` sets it (docs/ha.md). Four clients, two on each gateway,
# alternate POST /rpc/receive (with an Idempotency-Key) and GET /products;
# each logs (time, status, Retry-After, body) and counts a POST as
# acknowledged only on a 2xx with the returned move id. The primary is killed
# with -9, the standby promoted after ~2 s, the load goes on ~7 s more.
# Asserted: every non-2xx answer is a 503 with Retry-After (no 500/502/504,
# no connection reset), requests succeed again within 5 s after the promotion
# returned, every acknowledged POST is on the new primary, a retry of every
# unacknowledged POST with its key posts it exactly once, and the valuation
# and the audit chain are clean. Before the load and after the promotion, a
# burst of 8 requests takes every slot of gateway A's pools: a slot idle
# since the crash must not answer 503 once the new primary is up.
use strict;
use warnings;
use Config;
use File::Basename qw(dirname);
use File::Spec;
use HTTP::Tiny;
use JSON::PP qw(encode_json decode_json);
use POSIX ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use PgerpTest qw(poll);
use Time::HiRes qw(time usleep);

# The gateway: $PGERP_GATEWAY_BIN (not PGERP_REST_*: the gateway refuses
# unknown settings of that prefix), else on PATH (make test puts $PGBIN first),
# else the build tree's src/restd/pgerp-rest.
my $gateway = $ENV{PGERP_GATEWAY_BIN};
unless ($gateway && -x $gateway)
{
	($gateway) = grep { -x $_ } map { "$_/pgerp-rest" } split /$Config{path_sep}/, ($ENV{PATH} // '');
}
unless ($gateway && -x $gateway)
{
	my $built = File::Spec->rel2abs(dirname(__FILE__) . '/../../src/restd/pgerp-rest');
	$gateway = $built if -x $built;
}
plan skip_all => 'the gateway pgerp-rest is not built' unless $gateway && -x $gateway;

# Loopback only: no proxy from the environment
delete @ENV{qw(http_proxy HTTP_PROXY all_proxy ALL_PROXY)};

# The gateways and the clients (forked) not reaped yet: killed if this script dies early
my %children;
my $parent = $$;
END { kill 'KILL', keys %children if $$ == $parent && %children; }

my $http = HTTP::Tiny->new(timeout => 20, keep_alive => 0);

# http_poll(url, status, timeout): GET url until it answers status; the last response.
sub http_poll
{
	my ($url, $status, $timeout) = @_;
	my $deadline = time() + $timeout;
	my $r;
	while (1)
	{
		$r = $http->get($url);
		return $r if $r->{status} == $status || time() > $deadline;
		usleep(100_000);
	}
}

# burst(node, url, token, product, n, tag): n POST /rpc/receive and n GET
# /products of product at once on the gateway at url, held by a lock on stock.product until each waits on
# it (or has been answered): with db-pool = n every slot of both pools is
# used. Their statuses with the start of the body of any non-2xx.
sub burst
{
	my ($node, $url, $token, $product, $n, $tag) = @_;
	my $bdir = PostgreSQL::Test::Utils::tempdir();
	my $lock = $node->background_psql('postgres');
	$lock->query_safe('BEGIN; LOCK TABLE stock.product IN ACCESS EXCLUSIVE MODE');
	my @kids;
	for my $k (1 .. 2 * $n)
	{
		my $pid = fork();
		die "fork: $!" unless defined $pid;
		if ($pid == 0)
		{
			my $ua = HTTP::Tiny->new(timeout => 30);
			my %auth = (Authorization => "Bearer $token");
			my $res = $k <= $n
			  ? $ua->post("$url/rpc/receive", { headers => { %auth, 'Content-Type' => 'application/json' },
					content => encode_json({ product => $product + 0, qty => 1, unit_cost => 1, ref => "BURST-$tag-$k" }) })
			  : $ua->get("$url/products?id=eq.$product", { headers => \%auth });
			(my $body = substr($res->{content} // '', 0, 160)) =~ s/[\t\r\n]/ /g;
			if (open(my $f, '>', "$bdir/$k.tmp"))
			{
				print $f ($k <= $n ? 'POST ' : 'GET ') . $res->{status} . ($res->{status} =~ /^2/ ? '' : " $body");
				close($f);
				rename("$bdir/$k.tmp", "$bdir/$k");
			}
			POSIX::_exit(0);	# no END blocks: they would stop the parent's nodes
		}
		push @kids, $pid;
	}
	my $deadline = time() + 30;
	while (time() < $deadline)
	{
		my $waiting = $node->safe_psql('postgres',
			q{SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgerp-rest' AND wait_event_type = 'Lock'});
		my $answered = () = glob("$bdir/[0-9]*");
		last if $waiting + $answered >= 2 * $n;
		usleep(50_000);
	}
	$lock->query_safe('COMMIT');
	$lock->quit;
	waitpid($_, 0) for @kids;
	return map { my $f = "$bdir/$_"; -e $f ? slurp_file($f) : "request $_: no answer" } 1 .. 2 * $n;
}

# --- primary (pack set up as scripts/lib.sh setup_database does) and a synchronous standby
my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
my $key = $primary->basedir . '/master.key';
open(my $kf, '>', $key) or die "cannot write $key: $!";
print $kf join('', map { sprintf('%02x', int(rand(256))) } 1 .. 32);
close($kf);
chmod(0600, $key);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_cron,pgerp'
pgerp.master_key_file = '$key'
pgerp.job_workers = 1
max_connections = 40
synchronous_commit = on
});
$primary->start;
$primary->safe_psql('postgres', q{SET client_min_messages = warning; CREATE EXTENSION pg_cron; CREATE EXTENSION pgerp_stock CASCADE;
	CREATE ROLE pgerp_app LOGIN NOSUPERUSER NOBYPASSRLS; SELECT erp.grant_app_access('pgerp_app')});
$primary->safe_psql('postgres', q{
DO $$
DECLARE
    a bigint := erp.create_company('GW A');
    alice bigint := erp.create_user('alice', 'alice-pass-1');
BEGIN
    PERFORM erp.grant_role(alice, 'stock_manager', a);
    PERFORM stock.create_warehouse(a, 'A-WH', 'A main warehouse');
    FOR i IN 1 .. 4 LOOP
        PERFORM stock.receive(stock.create_product(a, 'A-' || i, 'Product A' || i, 'fifo'), 100, 1.50 + i);
    END LOOP;
END $$});
my @products = split / /, $primary->safe_psql('postgres',
	q{SELECT string_agg(id::text, ' ' ORDER BY sku) FROM stock.product WHERE sku LIKE 'A-%'});
my $token = $primary->safe_psql('postgres', q{SELECT erp.sign_in('alice', 'alice-pass-1')});

$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;
# synchronous only now: before the standby exists every commit would wait
$primary->safe_psql('postgres', q{ALTER SYSTEM SET synchronous_standby_names = 'standby'; SELECT pg_reload_conf()});
ok(poll($primary, q{SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby'}, 'sync'),
	'the standby replicates synchronously');

# --- two gateways on the two-host URI
my $dir = PostgreSQL::Test::Utils::tempdir();
my $hosts = join(',', $primary->host, $standby->host);
my $ports = join(',', $primary->port, $standby->port);
my $conninfo = "host=$hosts port=$ports dbname=postgres user=pgerp_app";
my %gw = (
	A => { read => undef },
	B => { read => "$conninfo target_session_attrs=prefer-standby" });
for my $name (sort keys %gw)
{
	my $g = $gw{$name};
	$g->{port} = PostgreSQL::Test::Cluster::get_free_port();
	$g->{admin} = PostgreSQL::Test::Cluster::get_free_port();
	$g->{url} = "http://127.0.0.1:$g->{port}";
	$g->{log} = "$dir/gateway-$name.log";
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		delete $ENV{$_} for grep { /^PGERP_REST_/ } keys %ENV;
		$ENV{PGERP_REST_DB_URI} = "$conninfo target_session_attrs=read-write";
		$ENV{PGERP_REST_DB_READ_URI} = $g->{read} if defined $g->{read};
		$ENV{PGERP_REST_DB_POOL} = 4;
		$ENV{PGERP_REST_SERVER_HOST} = '127.0.0.1';
		$ENV{PGERP_REST_SERVER_PORT} = $g->{port};
		$ENV{PGERP_REST_ADMIN_SERVER_PORT} = $g->{admin};
		open(STDOUT, '>>', $g->{log}) or die "cannot write $g->{log}: $!";
		open(STDERR, '>&', \*STDOUT) or die;
		exec($gateway) or print STDERR "cannot run $gateway: $!\n";
		POSIX::_exit(127);	# no END blocks: they would stop the parent's nodes
	}
	$g->{pid} = $pid;
	$children{$pid} = 1;
}
my $up = 0;
for my $name (sort keys %gw)
{
	my $r = http_poll("$gw{$name}{url}/", 200, 10);
	$up++ if is($r->{status}, 200, "gateway $name answers GET /") or diag(slurp_file($gw{$name}{log}));
}
unless ($up == 2)
{
	kill 'KILL', map { $_->{pid} } values %gw;
	done_testing();
	exit 1;
}
my $r = $http->get("$gw{A}{url}/products?id=eq.$products[0]", { headers => { Authorization => "Bearer $token" } });
is($r->{status}, 200, 'GET /products?id=eq.N with the bearer token from erp.sign_in answers 200');
is(eval { decode_json($r->{content})->[0]{id} } // '', $products[0], '... with the product');

# every slot of gateway A's two pools gets a connection to the primary
my @warm = burst($primary, $gw{A}{url}, $token, $products[0], 4, 'before');
is(scalar(grep { /^\w+ 2\d\d$/ } @warm), 8, 'gateway A: 4 POSTs and 4 GETs at once, one per pool slot, all 2xx')
  or diag(join("\n", @warm));

# --- four clients: POST /rpc/receive with an Idempotency-Key, then GET /products
my $stop = "$dir/stop";
my %client_gw = (0 => 'A', 1 => 'A', 2 => 'B', 3 => 'B');

# client_loop(c): requests until the stop file exists, one line each in
# $dir/client.c: kind, start, end, status, Retry-After, id, key, body.
# A POST's id is the returned move's; a GET's the product it returned.
sub client_loop
{
	my ($c) = @_;
	my $url = $gw{ $client_gw{$c} }{url};
	my $product = $products[$c];
	my $ua = HTTP::Tiny->new(timeout => 20, keep_alive => 1);
	my %auth = (Authorization => "Bearer $token");
	open(my $log, '>', "$dir/client.$c") or die "cannot write $dir/client.$c: $!";
	$log->autoflush(1);
	my $record = sub {
		my ($kind, $t0, $res, $id, $k) = @_;
		(my $body = substr($res->{content} // '', 0, 300)) =~ s/[\t\r\n]/ /g;
		print $log join("\t", $kind, $t0, time(), $res->{status}, $res->{headers}{'retry-after'} // '',
			$id // '', $k // '', $body), "\n";
	};
	for (my $i = 0; !-e $stop && getppid() == $parent; $i++)
	{
		my $k = "gw-$c-$i";
		my $t0 = time();
		my $res = $ua->post("$url/rpc/receive", {
			headers => { %auth, 'Content-Type' => 'application/json', 'Idempotency-Key' => $k },
			content => encode_json({ product => $product + 0, qty => 2, unit_cost => 1.25, ref => "GW-$c-$i" }) });
		my $id;
		if ($res->{status} =~ /^2/)
		{
			my $j = eval { decode_json($res->{content}) };
			$id = $j->{id} if ref $j eq 'HASH' && defined $j->{id} && $j->{id} =~ /^\d+$/;
		}
		$record->('POST', $t0, $res, $id, $k);
		my $failed = $res->{status} !~ /^2/;
		$t0 = time();
		$res = $ua->get("$url/products?id=eq.$product", { headers => \%auth });
		my $got;
		if ($res->{status} =~ /^2/)
		{
			my $j = eval { decode_json($res->{content}) };
			$got = $j->[0]{id} if ref $j eq 'ARRAY' && @$j == 1 && ref $j->[0] eq 'HASH';
		}
		$record->('GET', $t0, $res, $got);
		$failed ||= $res->{status} !~ /^2/;
		usleep(100_000) if $failed;
	}
	close($log);
}

my @pids;
for my $c (0 .. 3)
{
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		my $ok = eval { client_loop($c); 1 };
		print STDERR "client $c: $@" unless $ok;
		POSIX::_exit($ok ? 0 : 1);	# no END blocks: they would stop the parent's nodes
	}
	push @pids, $pid;
	$children{$pid} = 1;
}
ok(poll($primary, q{SELECT count(*) >= 20 FROM stock.move WHERE ref ~ '^GW-'}, 't', 60), 'the clients post through the gateways');
$primary->wait_for_catchup($standby);

# --- kill -9 the primary; while it is down /ready says so; promote the standby
$primary->kill9;
my $t_kill = time();
$r = http_poll("http://127.0.0.1:$gw{A}{admin}/ready", 503, 2);
is($r->{status}, 503, '/ready answers 503 with the primary gone and the standby not promoted');
usleep(500_000) while time() < $t_kill + 2;
my $t_promote = time();
$standby->promote;
my $t_promoted = time();
$r = http_poll("http://127.0.0.1:$gw{A}{admin}/ready", 200, 5);
is($r->{status}, 200, '/ready answers 200 again after the promotion');
is(eval { decode_json($r->{content})->{role} } // '', 'primary', '... with role primary');
usleep(200_000) while time() < $t_promoted + 7;
open(my $sf, '>', $stop) or die;
close($sf);
my $clients_ok = 0;
for my $pid (@pids)
{
	# a client finishes its request in flight (20 s timeout at most)
	waitpid($pid, 0);
	delete $children{$pid};
	$clients_ok++ if $? == 0;
}
is($clients_ok, 4, 'the four clients ran to the end');

# Slots the load did not use since the kill still held connections to the
# dead primary: a burst that takes every slot must not meet one of them.
my @after = burst($standby, $gw{A}{url}, $token, $products[0], 4, 'after');
is(scalar(grep { /^\w+ 2\d\d$/ } @after), 8,
	sprintf('gateway A, %.0f s after the promotion: 4 POSTs and 4 GETs at once, one per pool slot, all 2xx', time() - $t_promoted))
  or diag(join("\n", @after));

# --- what the clients saw
my (@req, @bad_status, @no_retry_after, @bad_body);
for my $c (0 .. 3)
{
	open(my $log, '<', "$dir/client.$c") or die;
	while (my $line = <$log>)
	{
		chomp $line;
		my %q;
		@q{qw(kind t0 t1 status retry id key body)} = split /\t/, $line, 8;
		$q{client} = $c;
		$q{gw} = $client_gw{$c};
		push @req, \%q;
	}
}
my $show = sub {
	my $q = shift;
	sprintf('client %d (gateway %s) %s at kill%+.2f s: %s %s', $q->{client}, $q->{gw}, $q->{kind},
		$q->{t0} - $t_kill, $q->{status}, $q->{body} // '');
};
for my $q (@req)
{
	if ($q->{status} =~ /^2/)
	{
		push @bad_body, $q unless $q->{id} ne '' && ($q->{kind} eq 'POST' || $q->{id} == $products[ $q->{client} ]);
	}
	elsif ($q->{status} != 503)
	{
		push @bad_status, $q;
	}
	elsif (!($q->{retry} =~ /^\d+$/ && $q->{retry} >= 1))
	{
		push @no_retry_after, $q;
	}
}
my @posts = grep { $_->{kind} eq 'POST' } @req;
my @acked = grep { $_->{status} =~ /^2/ && $_->{id} ne '' } @posts;
my @failed = grep { $_->{status} !~ /^2/ } @req;
ok(scalar(grep { $_->{t1} < $t_kill && $_->{status} =~ /^2/ } @req) >= 20, 'requests succeeded before the kill');
ok(@failed > 0, 'the outage was seen by the clients (some requests failed)');
is(scalar(@bad_status), 0, 'every failed request answered 503: no 500, 502, 504 nor connection reset (599)')
  or diag(join("\n", map { $show->($_) } @bad_status[0 .. ($#bad_status < 9 ? $#bad_status : 9)]));
is(scalar(@no_retry_after), 0, 'every 503 has a Retry-After of at least 1 s')
  or diag(join("\n", map { $show->($_) } @no_retry_after[0 .. ($#no_retry_after < 9 ? $#no_retry_after : 9)]));
is(scalar(@bad_body), 0, 'every 2xx has its body: a POST the move id, a GET the one product asked for')
  or diag(join("\n", map { $show->($_) } @bad_body[0 .. ($#bad_body < 9 ? $#bad_body : 9)]));
my @late = grep { $_->{t0} > $t_promoted + 5 && $_->{status} !~ /^2/ } @req;
is(scalar(@late), 0, 'no request started 5 s after the promotion returned fails')
  or diag(join("\n", map { $show->($_) } @late[0 .. ($#late < 9 ? $#late : 9)]));
my $recovery = 0;
for my $c (0 .. 3)
{
	my ($first) = sort { $a->{t1} <=> $b->{t1} }
	  grep { $_->{client} == $c && $_->{kind} eq 'POST' && $_->{t0} >= $t_promoted && $_->{status} =~ /^2/ } @req;
	my $after = $first ? $first->{t1} - $t_promoted : undef;
	ok(defined $after && $after <= 5, "client $c: a POST succeeds within 5 s after the promotion returned")
	  or diag("client $c: " . (defined $after ? sprintf('%.2f s', $after) : 'none'));
	$recovery = $after if defined $after && $after > $recovery;
}
my @b_reads = grep { $_->{gw} eq 'B' && $_->{kind} eq 'GET' } @req;
my @b_reads_down = grep { $_->{t0} > $t_kill && $_->{t1} < $t_promote } @b_reads;
ok(@b_reads_down > 0 && !grep({ $_->{status} != 200 } @b_reads),
	'gateway B (db-read-uri prefer-standby): every GET answered 200, also between the kill and the promotion')
  or diag(join("\n", map { $show->($_) } grep { $_->{status} != 200 } @b_reads));
my ($first_fail) = sort { $a <=> $b } map { $_->{t0} } @failed;
my ($last_fail) = sort { $b <=> $a } map { $_->{t1} } @failed;
diag(sprintf('requests %d, POSTs %d, acknowledged %d, 503s %d (gateway A %d, B %d); GETs of gateway B during the outage %d',
	scalar(@req), scalar(@posts), scalar(@acked), scalar(grep { $_->{status} == 503 } @req),
	scalar(grep { $_->{status} == 503 && $_->{gw} eq 'A' } @req),
	scalar(grep { $_->{status} == 503 && $_->{gw} eq 'B' } @req), scalar(@b_reads_down)));
diag(sprintf('kill -9 at 0, promote called at %.2f s, returned at %.2f s; failures from %.2f s to %.2f s (outage seen by the clients %.2f s); '
	  . 'slowest client back %.2f s after the promotion returned',
	$t_promote - $t_kill, $t_promoted - $t_kill, ($first_fail // $t_kill) - $t_kill, ($last_fail // $t_kill) - $t_kill,
	($last_fail // 0) - ($first_fail // 0), $recovery));

# --- on the new primary: every acknowledged POST, and a retry of the others posts them once
my $list = join(',', map { $_->{id} } @acked) || 'NULL';
my $found = $standby->safe_psql('postgres', qq{SELECT count(*) FROM stock.move WHERE id IN ($list) AND state = 'done'});
diag("acknowledged POSTs: " . scalar(@acked) . ", found on the new primary: $found");
is($found, scalar(@acked), 'every acknowledged POST is on the new primary');
my @unacked = grep { !($_->{status} =~ /^2/ && $_->{id} ne '') } @posts;
my $retried_ok = 0;
for my $q (@unacked)
{
	my ($c, $i) = $q->{key} =~ /^gw-(\d+)-(\d+)$/;
	my $res = $http->post("$gw{A}{url}/rpc/receive", {
		headers => { Authorization => "Bearer $token", 'Content-Type' => 'application/json', 'Idempotency-Key' => $q->{key} },
		content => encode_json({ product => $products[$c] + 0, qty => 2, unit_cost => 1.25, ref => "GW-$c-$i" }) });
	$retried_ok++ if $res->{status} =~ /^2/;
}
is($retried_ok, scalar(@unacked), 'a retry of every unacknowledged POST with its Idempotency-Key answers 2xx');
is($standby->safe_psql('postgres', q{SELECT count(*) || ' ' || count(DISTINCT ref) FROM stock.move WHERE ref ~ '^GW-'}),
	scalar(@posts) . ' ' . scalar(@posts), 'then every POST the clients made is posted exactly once');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM stock.verify_valuation()}), '0', 'stock.verify_valuation is clean');
is($standby->safe_psql('postgres', q{SELECT ok || ' ' || (first_bad_id IS NULL) FROM erp.audit_verify(NULL, true)}),
	'true true', 'erp.audit_verify is clean');

for my $name (sort keys %gw)
{
	ok(kill(0, $gw{$name}{pid}), "gateway $name still runs");
	kill 'TERM', $gw{$name}{pid};
	waitpid($gw{$name}{pid}, 0);
	delete $children{ $gw{$name}{pid} };
	is($? >> 8, 0, "gateway $name exits 0 on SIGTERM");
}
$standby->stop;

done_testing();
