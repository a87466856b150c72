# Failed sign-ins reach the audit trail and its hash chain although their own
# transaction rolls back (#4, #6): queued in shared memory, written by
# erp._flush_signin_audit() (pg_cron in make start), sealed by
# erp.audit_seal(), verified by erp.audit_verify().  Neither the failures nor
# the lockout put the password in the server log (errhidestmt).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('signin_audit');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pgerp'
# the test flushes and seals by hand: no housekeeping by the job workers
pgerp.housekeeping_interval = 0
# the test framework logs every statement: as a server should, log none, but
# the statements of errors (whose text would carry the password)
log_statement = none
log_min_error_statement = error
});
$node->start;
$node->safe_psql('postgres', 'SET client_min_messages = warning; CREATE EXTENSION pgerp');

sub q1 { return $node->safe_psql('postgres', $_[0]); }

q1(q{
	SELECT erp.create_company('Alpha');
	SELECT erp.grant_role(erp.create_user('mia', 'mia-secret-1'), 'stock_user', 1);
});
my $mia = q1(q{SELECT id FROM erp.app_user WHERE login = 'mia'});

# six wrong passwords: five failures and a lockout, then a refusal in the backoff
for my $i (1 .. 6)
{
	my ($ret, $out, $err) = $node->psql('postgres', "SELECT erp.sign_in('mia', 'Secret-Guess-$i')");
	like($err, qr/invalid login or password/, "wrong password $i: refused") if $i == 1 || $i == 6;
}
my ($ret, $out, $err) = $node->psql('postgres', "SELECT erp.sign_in('mia', 'mia-secret-1')");
like($err, qr/invalid login or password/, 'the right password is refused during the backoff');

is(q1(q{SELECT count(*) FROM erp.audit_log WHERE rel = 'erp.sign_in'}), '0',
	'nothing written by the failing transactions');
is(q1(q{SELECT erp._flush_signin_audit()}), '8', 'the flush writes the 8 queued events');
is(q1(q{SELECT string_agg(op || ':' || coalesce(user_id::text, '-') || ':' || (changes->>'address'), ',' ORDER BY id)
          FROM erp.audit_log WHERE rel = 'erp.sign_in'}),
	join(',', (map { "sign_in_failure:$mia:local" } 1 .. 5), "lockout:$mia:local", 'sign_in_failure:-:local',
		'sign_in_failure:-:local'),
	'five failures, the lockout, then two refusals during the backoff (not checked: no user)');
is(q1(q{SELECT erp._flush_signin_audit()}), '0', 'a second flush finds nothing');

ok(q1(q{SELECT erp.audit_seal()}) >= 8, 'the entries are sealed into the hash chain');
is(q1(q{SELECT count(*) FROM erp.audit_log l JOIN erp.audit_chain c ON c.entry_id = l.id WHERE l.rel = 'erp.sign_in'}),
	'8', 'every sign-in entry is in the chain');
is(q1(q{SELECT ok FROM erp.audit_verify()}), 't', 'and the chain verifies');

my $log = slurp_file($node->logfile);
like($log, qr/failed sign-in of login "mia" from local/, 'failures are in the server log');
like($log, qr/sign-ins of login mia refused for 30 s/, 'so is the lockout');
unlike($log, qr/Secret-Guess|mia-secret-1/, 'no password reaches the server log');

$node->stop;
done_testing();
