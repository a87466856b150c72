# Issue #14: point-in-time recovery with pgBackRest. A node archives its WAL
# through pgBackRest and has a full backup; a user posts (the first
# postings), the time is noted, a "bad" batch is posted (deliveries and a
# revaluation) and archived. Restored to the noted time on a second node,
# every first posting is there and nothing of the bad batch; the valuation,
# the quants and the audit chain are clean, the node is a primary and takes
# new postings. Diag: the RTO and what the archive bounds (the RPO).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use PgerpTest qw(poll);
use Time::HiRes qw(time usleep);

plan skip_all => 'pgbackrest is not installed' if system('pgbackrest version >/dev/null 2>&1') != 0;

# --- the node: the pack preloaded, the master key, WAL archived by pgBackRest
my $node = PostgreSQL::Test::Cluster->new('pitr');
$node->init(allows_streaming => 1);    # wal_level replica: archiving needs it
my $base = $node->basedir;
my $key = "$base/master.key";
open(my $kf, '>', $key) or die "cannot write $key: $!";
print $kf join('', map { sprintf('%02x', int(rand(256))) } 1 .. 32);
close($kf);
chmod(0600, $key);
my $conf = "$base/pgbackrest.conf";
mkdir("$base/$_") or die "mkdir $base/$_: $!" for qw(repo log lock);
open(my $cf, '>', $conf) or die "cannot write $conf: $!";
print $cf "[global]
repo1-path=$base/repo
log-path=$base/log
lock-path=$base/lock
log-level-console=warn
log-level-file=detail
start-fast=y
compress-type=none
process-max=1

[t]
pg1-path=" . $node->data_dir . "
pg1-socket-path=" . $node->host . "
pg1-port=" . $node->port . "
";
close($cf);
my $pgbackrest = "pgbackrest --config=$conf --stanza=t";
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_cron,pgerp'
pgerp.master_key_file = '$key'
pgerp.job_workers = 1
max_connections = 30
archive_mode = on
archive_command = '$pgbackrest archive-push %p'
});
$node->start;
$node->safe_psql('postgres', q{SET client_min_messages = warning; CREATE EXTENSION pg_cron; CREATE EXTENSION pgerp_stock CASCADE;
	CREATE ROLE pgerp_app LOGIN NOSUPERUSER NOBYPASSRLS; SELECT erp.grant_app_access('pgerp_app')});
$node->safe_psql('postgres', q{
DO $$
DECLARE
    a bigint := erp.create_company('PITR A');
    alice bigint := erp.create_user('alice', 'alice-pass-1');
BEGIN
    PERFORM erp.grant_role(alice, 'stock_manager', a);
    PERFORM stock.create_warehouse(a, 'A-WH', 'A main warehouse');
    FOR i IN 1 .. 4 LOOP
        PERFORM stock.receive(stock.create_product(a, 'A-' || i, 'Product A' || i, 'fifo'), 100, 1.50 + i);
    END LOOP;
END $$});
my @p = split / /, $node->safe_psql('postgres',
	q{SELECT string_agg(id::text, ' ' ORDER BY sku) FROM stock.product WHERE sku LIKE 'A-%'});

command_ok([ split(/ /, "$pgbackrest stanza-create") ], 'pgbackrest stanza-create');
command_ok([ split(/ /, "$pgbackrest --type=full backup") ], 'a full backup');

# as_alice(sql): the statements as the application role signed in as alice,
# each in its own transaction; their output lines.
my $token = $node->safe_psql('postgres', q{SELECT erp.sign_in('alice', 'alice-pass-1')});
sub as_alice
{
	my ($target, $sql) = @_;
	return $target->safe_psql('postgres', qq{SET ROLE pgerp_app; SELECT erp.use_token('$token') \\g /dev/null
$sql});
}

# What the bad batch changes: products 1-3's value and quantity, and their quants.
my $values = qq{SELECT string_agg(format('%s:%s:%s', product_id, qty, value), ' ' ORDER BY product_id)
	FROM stock.product_value WHERE product_id IN ($p[0], $p[1], $p[2])};
my $quants = qq{SELECT string_agg(format('%s:%s:%s', product_id, location_id, quantity), ' ' ORDER BY product_id, location_id)
	FROM stock.quant WHERE product_id IN ($p[0], $p[1], $p[2])};

# --- the first postings, the time, the bad batch
my @good = split /\n/, as_alice($node, qq{
SELECT stock.receive($p[0], 10, 2.00, NULL, 'GOOD-1');
SELECT stock.receive($p[1], 5, 3.00, NULL, 'GOOD-2');
SELECT stock.deliver($p[0], 4, NULL, 'GOOD-3');
SELECT stock.deliver($p[2], 2, NULL, 'GOOD-4');
SELECT stock.receive($p[2], 7, 2.25, NULL, 'GOOD-5');});
is(scalar(grep { /^\d+$/ } @good), 5, 'alice posts five moves');
my $values_at_target = $node->safe_psql('postgres', $values);
my $quants_at_target = $node->safe_psql('postgres', $quants);
sleep(1);
# in UTC, to the microsecond (pgBackRest takes it as PostgreSQL prints it)
my $target = $node->safe_psql('postgres',
	q{SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'});
sleep(1);
my @bad = split /\n/, as_alice($node, qq{
SELECT stock.deliver($p[0], 50, NULL, 'BAD-1');
SELECT stock.deliver($p[1], 30, NULL, 'BAD-2');
SELECT stock.revalue($p[0], 100.00, 'BAD-3');});
@bad = grep { /^\d+$/ } @bad;
is(scalar(@bad), 2, 'alice posts the bad batch: two deliveries and a revaluation');
is($node->safe_psql('postgres', q{SELECT count(*) FROM stock.valuation_layer WHERE description = 'Revaluation BAD-3'}),
	'1', 'the revaluation is there before the restore');
isnt($node->safe_psql('postgres', $values), $values_at_target, 'the bad batch changed the products\' values');
isnt($node->safe_psql('postgres', $quants), $quants_at_target, 'and their quants');

my $walfile = $node->safe_psql('postgres', q{SELECT pg_walfile_name(pg_current_wal_lsn())});
$node->safe_psql('postgres', q{SELECT pg_switch_wal()});
ok(poll($node, qq{SELECT last_archived_wal >= '$walfile' FROM pg_stat_archiver}, 't', 60),
	'the segment of the bad batch is archived');
my ($last_wal, $rpo) = split /\|/, $node->safe_psql('postgres',
	qq{SELECT last_archived_wal, round(extract(epoch FROM last_archived_time - '$target'::timestamptz), 1) FROM pg_stat_archiver});
$node->stop;

# --- restore to the noted time into a second node's empty directory: the
# old node stays as it was until the restore is verified (docs/ha.md runbook)
my $restored = PostgreSQL::Test::Cluster->new('restored');
my $data = $restored->data_dir;
mkdir($data, 0700) or die "mkdir $data: $!";
my $t0 = time();
command_ok([ split(/ /, "$pgbackrest --pg1-path=$data --type=time"), "--target=$target",
	'--target-action=promote', 'restore' ], "pgbackrest restore --type=time --target='$target'");
my $t_restore = time() - $t0;
# the restored postgresql.conf is the first node's (pack, key file): this node's
# port and socket, and its own pg1-path so it archives its new timeline
$restored->append_conf('postgresql.conf', "port = " . $restored->port . "
unix_socket_directories = '" . $restored->host . "'
archive_command = '$pgbackrest --pg1-path=$data archive-push %p'
");
$restored->start;
ok(poll($restored, q{SELECT pg_is_in_recovery()}, 'f', 60), 'the restored node is promoted');
my $after = as_alice($restored, qq{SELECT stock.receive($p[3], 3, 4.00, NULL, 'AFTER-1')});
my $rto = time() - $t0;
like($after, qr/^\d+$/, 'a new posting succeeds after the restore (the token from before is still valid)');
diag(sprintf('RTO: restore %.1f s, start, recovery and promotion to the first posting %.1f s, in all %.1f s',
	$t_restore, $rto - $t_restore, $rto));
diag("RPO: target $target; WAL archived up to $last_wal, $rpo s after the target: any time up to the last "
	. 'archived commit can be reached, later commits are lost (bounded by archive_timeout)');

# --- the first postings, none of the bad batch
my $good = join(',', @good);
is($restored->safe_psql('postgres', qq{SELECT string_agg(id::text, ',' ORDER BY id) FROM stock.move WHERE ref LIKE 'GOOD-%' AND state = 'done'}),
	$good, 'every first posting is there, done, with its move id');
# a lost transaction's ids may be handed out again (sequences restart from
# their last WAL record), so the posting made after the restore is left out
is($restored->safe_psql('postgres', qq{SELECT count(*) FROM stock.move WHERE (id IN (} . join(',', @bad) . qq{) AND id <> $after) OR ref LIKE 'BAD-%'}),
	'0', 'no move of the bad batch, by id or by reference');
is($restored->safe_psql('postgres', q{SELECT count(*) FROM stock.valuation_layer WHERE description = 'Revaluation BAD-3'}),
	'0', 'no revaluation of the bad batch');
is($restored->safe_psql('postgres', $values), $values_at_target, 'the products\' quantities and values are those of the target');
is($restored->safe_psql('postgres', $quants), $quants_at_target, 'and so are their quants');
is($restored->safe_psql('postgres', qq{SELECT state || ' ' || ref FROM stock.move WHERE id = $after}), 'done AFTER-1',
	'the posting after the restore is done');

# --- clean: valuation, quants, audit chain; a primary
is($restored->safe_psql('postgres', q{SELECT count(*) FROM stock.verify_valuation()}), '0', 'stock.verify_valuation is clean');
is($restored->safe_psql('postgres', q{
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
is($restored->safe_psql('postgres', q{SELECT ok || ' ' || (first_bad_id IS NULL) FROM erp.audit_verify(NULL, true)}),
	'true true', 'erp.audit_verify is clean');
is($restored->safe_psql('postgres', q{SELECT erp.health()->>'role'}), 'primary', 'erp.health() reports a primary');

# --- the restored node archives its new timeline into the same stanza
$walfile = $restored->safe_psql('postgres', q{SELECT pg_walfile_name(pg_current_wal_lsn())});
$restored->safe_psql('postgres', q{SELECT pg_switch_wal()});
ok(poll($restored, qq{SELECT last_archived_wal >= '$walfile' AND failed_count = 0 FROM pg_stat_archiver}, 't', 60),
	"the restored node archives its timeline ($walfile)");
$restored->stop;

done_testing();
