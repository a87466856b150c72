# The master key file: no setting, a missing file, a file others may read and
# a malformed file each give a clear error with no key material; the rest of
# the pack works without it; a good file encrypts.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('keys');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pgerp'");
$node->start;
$node->safe_psql('postgres', 'SET client_min_messages = warning; CREATE EXTENSION pgerp');

sub encrypt_error
{
	my ($ret, $out, $err) = $node->psql('postgres', "SELECT erp.encrypt('canary-7f3a', 'erp.partner.email')");
	return $err;
}

like(encrypt_error(), qr/no master key is configured.*HINT:\s+Set pgerp.master_key_file/s,
	'without pgerp.master_key_file: an error whose hint names the setting');
is($node->safe_psql('postgres', q{SELECT erp.create_company('Works without a key') > 0}), 't',
	'the rest of the pack works without a master key');
is($node->safe_psql('postgres', q{SELECT erp.create_partner(1, 'No contact details') > 0}), 't',
	'a partner without e-mail or phone is created without a master key');
my ($pret, $pout, $perr) = $node->psql('postgres', q{SELECT erp.create_partner(1, 'Mailed', 'vendor', 'canary-mail@example.com')});
like($perr, qr/no master key is configured.*HINT:\s+Set pgerp.master_key_file/s,
	'a partner e-mail (an encrypted column) needs the master key, with the hint');
is($node->safe_psql('postgres', q{SELECT count(*) FROM erp.partner}), '1', 'and the failed call wrote nothing');

my $dir = $node->basedir;
sub use_key_file
{
	my ($file) = @_;
	$node->safe_psql('postgres', "ALTER SYSTEM SET pgerp.master_key_file = '$file'");
	$node->reload;
}

use_key_file("$dir/missing.key");
like(encrypt_error(), qr/cannot use the master key file.*does not exist/s, 'a missing file is refused');

my $key = "$dir/open.key";
open(my $fh, '>', $key) or die;
print $fh ('ab' x 32) . "\n";
close $fh;
chmod 0644, $key;
use_key_file($key);
like(encrypt_error(), qr/cannot use the master key file.*group or others may access it/s,
	'a file others may read is refused');

chmod 0600, $key;
open($fh, '>', "$dir/short.key") or die;
print $fh "abcdef\n";
close $fh;
chmod 0600, "$dir/short.key";
use_key_file("$dir/short.key");
like(encrypt_error(), qr/neither 64 hexadecimal digits nor 32 bytes/, 'a malformed file is refused');

use_key_file($key);
like(encrypt_error(), qr/context "erp.partner.email" has no data key/,
	'a good key file, but erp.encrypt makes no data key');
is($node->safe_psql('postgres', q{SELECT count(*) FROM erp.crypto_key}), '0', 'and none was made');
is($node->safe_psql('postgres', q{SELECT erp.create_partner(1, 'Mailed', 'vendor', 'canary-mail@example.com') > 0}), 't',
	'the first partner e-mail makes the key of the column encrypt_column registered without a master key');
is($node->safe_psql('postgres',
		q{SELECT erp.decrypt(erp.encrypt('canary-7f3a', 'erp.partner.email'), 'erp.partner.email'),
		         erp._open(email, 'erp.partner.email') FROM erp.partner WHERE name = 'Mailed'}),
	'canary-7f3a|canary-mail@example.com', 'a good key file: values round-trip');

my $log = slurp_file($node->logfile);
unlike($log, qr/abababababababab/, 'the server log holds no key material');

$node->stop;
done_testing();
