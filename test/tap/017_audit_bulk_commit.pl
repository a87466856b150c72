# Bulk writes of an audited table, committed (#16; src/audit/buffer.c): the entries of a
# multi-row INSERT are sealed into the hash chain and erp.audit_verify() finds the chain
# intact; a statement whose audit_flush trigger does not fire (disabled here, as for a
# partition attached after erp.audit()) still gets its entries, written before commit;
# a rolled-back transaction leaves none.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('audit_bulk');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pgerp'
pgerp.housekeeping_interval = 0
});
$node->start;
$node->safe_psql('postgres', 'SET client_min_messages = warning; CREATE EXTENSION pgerp');

sub q1 { return $node->safe_psql('postgres', $_[0]); }

q1(q{
	CREATE TABLE public.bulk (id int PRIMARY KEY, note text, secret bytea);
	SELECT erp.audit('public.bulk');
});
my $mark = q1(q{SELECT coalesce(max(id), 0) FROM erp.audit_log});
q1(q{INSERT INTO public.bulk SELECT i, 'row ' || i, '\xdeadbeef' FROM generate_series(1, 3) i});
is(q1(qq{SELECT string_agg(op || ':' || (pk->>'id') || ':' || (changes->>'note') || ':' || (changes->>'secret'), ',' ORDER BY id)
           FROM erp.audit_log WHERE id > $mark}),
	'insert:1:row 1:[redacted],insert:2:row 2:[redacted],insert:3:row 3:[redacted]',
	'INSERT ... SELECT of 3 rows, committed: 3 entries in row order, the bytea redacted');
ok(q1(q{SELECT erp.audit_seal()}) >= 3, 'the entries are sealed');
is(q1(qq{SELECT count(*) FROM erp.audit_log l JOIN erp.audit_chain c ON c.entry_id = l.id WHERE l.id > $mark}),
	'3', 'all three are in the chain');
is(q1(q{SELECT ok::text || ':' || coalesce(first_bad_id::text, '-') FROM erp.audit_verify(NULL, true)}), 'true:-',
	'and the whole chain verifies');

# no audit_flush: the entries wait in the buffer and are written before commit
q1(q{ALTER TABLE public.bulk DISABLE TRIGGER audit_flush});
$mark = q1(q{SELECT coalesce(max(id), 0) FROM erp.audit_log});
is(q1(qq{BEGIN;
	INSERT INTO public.bulk SELECT i, 'late ' || i, NULL FROM generate_series(10, 12) i;
	SELECT count(*) FROM erp.audit_log WHERE id > $mark;
	COMMIT;}), '0', 'without audit_flush the statement\'s entries are not written at its end');
is(q1(qq{SELECT string_agg(pk->>'id', ',' ORDER BY id) FROM erp.audit_log WHERE id > $mark}), '10,11,12',
	'but at commit, in row order');
$mark = q1(q{SELECT coalesce(max(id), 0) FROM erp.audit_log});
q1(q{BEGIN; INSERT INTO public.bulk VALUES (20, 'undone', NULL); ROLLBACK;});
q1(q{INSERT INTO public.bulk VALUES (21, 'autocommit', NULL)});
is(q1(qq{SELECT string_agg(pk->>'id', ',' ORDER BY id) FROM erp.audit_log WHERE id > $mark}), '21',
	'a rolled-back transaction leaves no entry; the next one writes only its own');
q1(q{ALTER TABLE public.bulk ENABLE TRIGGER audit_flush});
ok(q1(q{SELECT erp.audit_seal()}) >= 4, 'those are sealed too');
is(q1(q{SELECT ok::text FROM erp.audit_verify()}), 'true', 'and the chain verifies');

done_testing();
