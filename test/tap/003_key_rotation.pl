# Master key rotation: erp.rotate_master_key() re-wraps every data key under
# the new key in one transaction (a rollback leaves the old key in use); once
# the setting points at the new file, every session decrypts again. Data key
# rotation, re-encryption and retirement across sessions. Neither key material
# nor the plaintext written through encrypted columns reaches the server log.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('rotation');
$node->init;
my $dir = $node->basedir;

sub key_file
{
	my ($name, $hex, $mode) = @_;
	my $file = "$dir/$name";
	open(my $fh, '>', $file) or die "cannot write $file: $!";
	print $fh "$hex\n";
	close($fh);
	chmod $mode // 0600, $file;
	return $file;
}
my $hex_a = join('', map { sprintf('%02x', int(rand(256))) } 1 .. 32);
my $hex_b = join('', map { sprintf('%02x', int(rand(256))) } 1 .. 32);
my $key_a = key_file('a.key', $hex_a);
my $key_b = key_file('b.key', $hex_b);
my $key_open = key_file('open.key', $hex_b, 0644);

$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'pgerp'\npgerp.master_key_file = '$key_a'\nlog_statement = 'none'\nlog_min_messages = debug1");
$node->start;
$node->safe_psql('postgres', 'SET client_min_messages = warning; CREATE EXTENSION pgerp');

my $canary = 'canary' . join('', map { sprintf('%02x', int(rand(256))) } 1 .. 8);
$node->safe_psql('postgres', qq{
	SELECT erp.create_company('Rotation Co');
	SELECT erp.create_partner(1, 'P' || n, 'customer', 'user' || n || '\@example.com', '+1 555 ' || n)
	  FROM generate_series(1, 50) n;
	SELECT erp.create_partner(1, 'Canary', 'customer', '$canary\@example.com');
});
my $emails = q{SELECT md5(string_agg(email, ',' ORDER BY id)) FROM api.partner};
my $before = $node->safe_psql('postgres', $emails);

# a rotation that rolls back changes nothing, in this session or another
is($node->safe_psql('postgres', qq{
	BEGIN; SELECT erp.rotate_master_key('$key_b'); ROLLBACK;
	SELECT md5(string_agg(email, ',' ORDER BY id)) FROM api.partner}), "2\n$before",
	'after a rolled-back rotation the same session still decrypts with the old key');

my ($ret, $out, $err) = $node->psql('postgres', "SELECT erp.rotate_master_key('$key_open')");
like($err, qr/cannot use the master key file.*group or others may access it/s, 'a key file others may read is refused');
($ret, $out, $err) = $node->psql('postgres', "SELECT erp.rotate_master_key('$key_a')");
like($err, qr/the new master key is the current one/, 'rotating to the current key is refused');
($ret, $out, $err) = $node->psql('postgres', "SELECT erp.rotate_master_key('$dir/none.key')");
like($err, qr/cannot use the master key file.*does not exist/s, 'a missing key file is refused');

my $wrapped = q{SELECT md5(string_agg(wrapped_key::text, ',' ORDER BY id)) FROM erp.crypto_key};
my $wrapped_before = $node->safe_psql('postgres', $wrapped);
is($node->safe_psql('postgres', qq{SELECT erp.rotate_master_key('$key_b'); $emails}), "2\n$before",
	'rotation re-wraps both data keys and the rotating session goes on decrypting');
isnt($node->safe_psql('postgres', $wrapped), $wrapped_before, 'the stored wrapped keys changed');

($ret, $out, $err) = $node->psql('postgres', $emails);
like($err, qr/could not unwrap data key/, 'a new session still configured with the old key cannot unwrap');

$node->safe_psql('postgres', "ALTER SYSTEM SET pgerp.master_key_file = '$key_b'");
$node->reload;
is($node->safe_psql('postgres', $emails), $before, 'once the setting points at the new file, every value decrypts');
$node->restart;
is($node->safe_psql('postgres', $emails), $before, 'and after a restart');

# data key rotation and re-encryption, committing per batch (outside a transaction block)
$node->safe_psql('postgres', q{SELECT erp.rotate_key('erp.partner.email')});
($ret, $out, $err) = $node->psql('postgres', q{CALL erp.reencrypt('erp.partner', 'email', 10)});
like($err, qr/re-encrypted 51 values of erp\.partner\.email/, 'reencrypt rewrites every value in batches of 10');
is($node->safe_psql('postgres', q{SELECT count(*) FROM erp.partner p JOIN erp.crypto_key k ON k.id = erp._cipher_key_id(p.email)
	WHERE k.version = 1}), '0', 'no value uses version 1 any more');
$node->safe_psql('postgres', q{SELECT erp.retire_key('erp.partner.email', 1)});
is($node->safe_psql('postgres', $emails), $before, 'after retiring version 1 every value still decrypts');
is($node->safe_psql('postgres', q{SELECT count(*) FROM erp.partner
	WHERE email_bidx = erp.blind_index('USER7@example.com', 'erp.partner.email')}), '1', 'blind index search still works');

$node->stop;
my $log = slurp_file($node->logfile);
unlike($log, qr/$canary/, 'the server log holds no plaintext written through an encrypted column');
unlike($log, qr/\Q$hex_a\E|\Q$hex_b\E|\Q@{[substr($hex_a, 0, 16)]}\E|\Q@{[substr($hex_b, 0, 16)]}\E/i,
	'the server log holds no master key material');

# The update from 0.1.0 binds values of format 1 (no company) to their row's
# company (#11.5). The 0.1.0 install runs on this build's library, whose
# trigger writes format 2, so the values of 0.1.0 are made with its encoder
# (pgerp_crypto_encrypt_v1) past the triggers, as 0.1.0 left them.
my $old = PostgreSQL::Test::Cluster->new('upgrade');
$old->init;
$old->append_conf('postgresql.conf', "shared_preload_libraries = 'pgerp'\npgerp.master_key_file = '$key_a'");
$old->start;
$old->safe_psql('postgres', q{
	SET client_min_messages = warning;
	CREATE EXTENSION pgerp VERSION '0.1.0';
	SELECT erp.create_company('Group');
	SELECT erp.create_company('A', 1);
	SELECT erp.create_company('B', 1);
	SELECT erp.create_partner(2 + n % 2, 'P' || n, 'customer', 'User' || n || '@Example.com', '+1 555 ' || n)
	  FROM generate_series(1, 40) n;
	CREATE FUNCTION public.enc_v1(text, text) RETURNS bytea LANGUAGE C STRICT
	    AS '$libdir/pgerp', 'pgerp_crypto_encrypt_v1';
	ALTER TABLE erp.partner DISABLE TRIGGER zz_encrypt_email;
	ALTER TABLE erp.partner DISABLE TRIGGER zz_encrypt_phone;
	UPDATE erp.partner SET email = public.enc_v1(erp._open(email, 'erp.partner.email'), 'erp.partner.email'),
	                       phone = public.enc_v1(erp._open(phone, 'erp.partner.phone'), 'erp.partner.phone');
	ALTER TABLE erp.partner ENABLE TRIGGER zz_encrypt_email;
	ALTER TABLE erp.partner ENABLE TRIGGER zz_encrypt_phone;
});
my $plain = q{SELECT md5(string_agg(company_id || erp._open(email, 'erp.partner.email') || erp._open(phone, 'erp.partner.phone'), ',' ORDER BY id))
	FROM erp.partner};
my $plain_before = $old->safe_psql('postgres', $plain);
is($old->safe_psql('postgres', q{SELECT count(*) FROM erp.partner WHERE get_byte(email, 0) = 1 AND get_byte(phone, 0) = 1}),
	'40', '0.1.0: 40 partners with e-mail and phone of format 1');

$old->safe_psql('postgres', "ALTER SYSTEM SET pgerp.master_key_file = ''");
$old->reload;
($ret, $out, $err) = $old->psql('postgres', 'ALTER EXTENSION pgerp UPDATE');
like($err, qr/no master key is configured/, 'without the master key the update refuses to leave values of format 1 behind');
is($old->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'pgerp'}), '0.1.0',
	'and the extension stays at 0.1.0');
$old->safe_psql('postgres', "ALTER SYSTEM RESET pgerp.master_key_file");
$old->reload;

$old->safe_psql('postgres', 'SET client_min_messages = warning; ALTER EXTENSION pgerp UPDATE');
is($old->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE get_byte(email, 0) = 2 AND erp._cipher_company(email) = company_id
	                                                  AND get_byte(phone, 0) = 2 AND erp._cipher_company(phone) = company_id),
	                                 count(DISTINCT company_id) FROM erp.partner}),
	'40|2', 'after the update every e-mail and phone is of format 2, bound to its partner\'s company (A or B)');
is($old->safe_psql('postgres', $plain), $plain_before, 'and decrypts to what 0.1.0 stored');
is($old->safe_psql('postgres', q{SELECT name FROM erp.partner
	WHERE email_bidx = erp.blind_index('user7@example.com', 'erp.partner.email')}), 'P7', 'blind indexes still find them');
$old->stop;
done_testing();
