# Issue #14: zero acknowledged loss with a synchronous standby, and the
# standby as a read replica. Four clients post stock moves, each recording
# a move id only after its COMMIT returned; the primary is killed with -9
# and the standby promoted. Every recorded move is on the new primary, the
# valuation, the quants and the audit chain are clean, and a job that was
# running at the crash is requeued and finishes there.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use PgerpTest qw(poll);
use Time::HiRes qw(time usleep);

my $workers = q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgerp job worker'};

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
max_connections = 30
synchronous_commit = on
});
$primary->start;
$primary->safe_psql('postgres', q{SET client_min_messages = warning; CREATE EXTENSION pg_cron; CREATE EXTENSION pgerp_stock CASCADE;
	CREATE ROLE pgerp_app LOGIN NOSUPERUSER NOBYPASSRLS; SELECT erp.grant_app_access('pgerp_app')});
$primary->safe_psql('postgres', q{
DO $$
DECLARE
    g bigint := erp.create_company('HA Group');
    a bigint := erp.create_company('HA A', g);
    b bigint := erp.create_company('HA B', g);
    alice bigint := erp.create_user('alice', 'alice-pass-1');
    bob bigint := erp.create_user('bob', 'bob-pass-1');
BEGIN
    PERFORM erp.grant_role(alice, 'stock_manager', a);
    PERFORM erp.grant_role(bob, 'stock_manager', b);
    PERFORM stock.create_warehouse(a, 'A-WH', 'A main warehouse');
    PERFORM stock.create_warehouse(b, 'B-WH', 'B main warehouse');
    FOR i IN 1 .. 4 LOOP
        PERFORM stock.receive(stock.create_product(a, 'A-' || i, 'Product A' || i, 'fifo'), 1000000, 1.50 + i);
    END LOOP;
    PERFORM stock.receive(stock.create_product(b, 'B-1', 'Product B1', 'fifo'), 10, 2);
END $$});
my $a_products = $primary->safe_psql('postgres',
	q{SELECT string_agg(id::text, ' ' ORDER BY sku) FROM stock.product WHERE sku LIKE 'A-%'});
my @products = split / /, $a_products;

$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;
# synchronous only now: before the standby exists every commit would wait
$primary->safe_psql('postgres', q{ALTER SYSTEM SET synchronous_standby_names = 'standby'; SELECT pg_reload_conf()});
ok(poll($primary, q{SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby'}, 'sync'),
	'the standby replicates synchronously');

# --- the standby as a read replica
my $token = $primary->safe_psql('postgres', q{SELECT erp.sign_in('alice', 'alice-pass-1')});
$primary->wait_for_catchup($standby);
my $signin = $standby->safe_psql('postgres', q{SELECT erp.sign_in('alice', 'alice-pass-1') IS NOT NULL});
is($signin, 't', 'erp.sign_in works on the standby');
my $as_alice = qq{SET ROLE pgerp_app; SELECT erp.use_token('$token') \\g /dev/null
};
is($standby->safe_psql('postgres', qq{$as_alice SELECT string_agg(DISTINCT c.name, ',') FROM stock.product p JOIN erp.company c ON c.id = p.company_id}),
	'HA A', 'use_token on the standby: row security shows alice only her company\'s products');
is($standby->safe_psql('postgres', qq{$as_alice SELECT count(*) FROM stock.product}), '4', 'four of them');
is($standby->safe_psql('postgres', qq{$as_alice SELECT count(*) FROM stock.verify_valuation()}), '0',
	'a report (stock.verify_valuation) runs on the standby');
my ($ret, $out, $err) = $standby->psql('postgres',
	qq{\\set VERBOSITY verbose\n$as_alice SELECT stock.receive($products[0], 1, 1)});
isnt($ret, 0, 'a posting on the standby fails');
like($err, qr/ERROR:  25006: cannot execute .* in a read-only transaction/, 'with SQLSTATE 25006');

# --- nothing runs on the standby
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', $workers), '0', 'no job worker on the standby');

# --- four clients, each recording a move id only after its COMMIT returned
my $dir = PostgreSQL::Test::Utils::tempdir();
my $connstr = $primary->connstr('postgres');
my $psql = $primary->installed_command(['psql'])->[0];
my @pids;
for my $c (0 .. 3)
{
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open(my $log, '>>', "$dir/acked.$c") or die;
		$log->autoflush(1);
		my $product = $products[$c];
		for (my $i = 0;; $i++)
		{
			my $sql = $i % 2
			  ? "SELECT stock.deliver($product, 1, NULL, 'SO-$c-$i')"
			  : "SELECT stock.receive($product, 2, 1.25, NULL, 'PO-$c-$i')";
			my $id = `$psql -X -A -t -q -d "$connstr" -c "$sql" 2>/dev/null`;
			chomp $id;
			print $log "$id\n" if $? == 0 && $id =~ /^\d+$/;
			usleep(50_000) if $? != 0;
		}
	}
	push @pids, $pid;
}
ok(poll($primary, q{SELECT count(*) >= 40 FROM stock.move WHERE ref ~ '^(PO|SO)-'}, 't', 60), 'the clients post');

# a job running at the crash: enqueued once the clients post, so that a slow
# machine cannot finish it before the kill
my $job = $primary->safe_psql('postgres', q{SELECT erp.enqueue('erp.sleep', '{"seconds": 6}')});
ok(poll($primary, qq{SELECT status FROM erp.job WHERE id = $job}, 'running'), 'a long job runs on the primary');
is($primary->safe_psql('postgres', qq{SELECT status FROM erp.job WHERE id = $job}), 'running', 'the job still runs at the crash');
$primary->kill9;
my $crash = time();
$standby->promote;
ok(poll($standby, q{SELECT pg_is_in_recovery()}, 'f'), 'the standby is promoted');
my $first_write = $standby->safe_psql('postgres', qq{SELECT stock.receive($products[0], 1, 1)});
diag(sprintf('kill -9 to the first accepted write on the promoted standby: %.2f s', time() - $crash));
kill 'KILL', @pids;
waitpid($_, 0) for @pids;

my @acked;
for my $c (0 .. 3)
{
	open(my $log, '<', "$dir/acked.$c") or die;
	push @acked, grep { /^\d+$/ } map { chomp; $_ } <$log>;
}
ok(@acked > 0, 'postings were acknowledged');
my $list = join(',', @acked);
my $found = $standby->safe_psql('postgres', qq{SELECT count(*) FROM stock.move WHERE id IN ($list) AND state = 'done'});
my $all = $standby->safe_psql('postgres', q{SELECT count(*) FROM stock.move WHERE ref ~ '^(PO|SO)-'});
diag("postings acknowledged: " . scalar(@acked) . ", found on the new primary: $found (moves by the clients there: $all)");
is($found, scalar(@acked), 'every acknowledged posting is on the new primary');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM stock.verify_valuation()}), '0', 'stock.verify_valuation is clean');
is($standby->safe_psql('postgres', q{
	WITH flow AS (
	    SELECT company_id, product_id, location_dest_id AS location_id, qty FROM stock.move WHERE state = 'done'
	    UNION ALL
	    SELECT company_id, product_id, location_id, -qty FROM stock.move WHERE state = 'done'
	), expected AS (
	    SELECT f.company_id, f.product_id, f.location_id, sum(f.qty) AS qty
	    FROM flow f JOIN stock.location l ON l.company_id = f.company_id AND l.id = f.location_id
	    WHERE l.usage = 'internal' GROUP BY 1, 2, 3
	), held AS (
	    SELECT company_id, product_id, location_id, sum(quantity) AS qty FROM stock.quant GROUP BY 1, 2, 3
	)
	SELECT count(*) FROM expected e FULL JOIN held h USING (company_id, product_id, location_id)
	WHERE coalesce(e.qty, 0) <> coalesce(h.qty, 0)}), '0', 'quants equal the done moves per product and location');
is($standby->safe_psql('postgres', q{SELECT ok || ' ' || (first_bad_id IS NULL) FROM erp.audit_verify(NULL, true)}),
	'true true', 'erp.audit_verify is clean');

# --- the job running at the crash is requeued and finishes on the new primary
ok(poll($standby, $workers, '1', 5), 'the job worker runs on the new primary within 5 s of the promotion');
ok(poll($standby, qq{SELECT status FROM erp.job WHERE id = $job}, 'done', 30),
	'the job running at the crash is requeued and finishes on the new primary');
$standby->stop;

done_testing();
