# Helpers shared by the Perl TAP tests of test/tap (used as
# `use FindBin; use lib "$FindBin::Bin/lib"; use PgerpTest qw(poll);`).
package PgerpTest;

use strict;
use warnings;
use Exporter 'import';
use Test::More;
use Time::HiRes qw(time usleep);

our @EXPORT_OK = qw(poll);

# poll(node, query, expected, timeout): run the query until it prints
# expected (timeout in seconds, default 30); false, with a diag, on timeout.
sub poll
{
	my ($node, $query, $expected, $timeout) = @_;
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

1;
