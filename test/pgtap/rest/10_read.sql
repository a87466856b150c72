-- erp.http_request reads: select, filters, logic, order, paging, counts, media types, embedding.
BEGIN;
\ir ../setup.sql
\ir fixture.psql
SELECT plan(63);

-- ------------------------------------------------ select
SELECT is(pg_temp.get_json('/author', 'select=id,name&order=id'),
          '[{"id":1,"name":"Ada"},{"id":2,"name":"Blaise"},{"id":3,"name":"Cyrano, \"le\" poète"},{"id":4,"name":"Dora"}]'::jsonb,
          'select two columns, ordered');
SELECT is(pg_temp.get_json('/author', 'select=who:name,birth:born::text&id=eq.1'),
          '[{"who":"Ada","birth":"1815-12-10"}]'::jsonb, 'renaming and a cast');
SELECT is(pg_temp.get_json('/author', 'select=id,data->>city,n:data->n,first:data->langs->0&id=eq.1'),
          '[{"id":1,"city":"London","n":3,"first":"en"}]'::jsonb, 'JSON paths: ->> text, -> json, array index');
SELECT is(jsonb_array_length(pg_temp.get_json('/author')), 4, 'no select is every column of every row');
SELECT is((pg_temp.get_json('/author', 'id=eq.2') -> 0) ->> 'rating', '3.5', 'numeric stays exact');
SELECT is(pg_temp.outcome('GET', '/author', 'select=nope'), '400 42703', 'an unknown column is 400 42703');
SELECT is(pg_temp.outcome('GET', '/author', 'select=id::nosuchtype'), '400 42704', 'an unknown cast type is 400 42704');
SELECT is(pg_temp.outcome('GET', '/nosuch'), '404 PGRST205', 'an unknown resource is 404 PGRST205');
SELECT is(pg_temp.outcome('GET', '/_hidden'), '404 PGRST205', 'names starting with _ are never served');
SELECT is(pg_temp.outcome('GET', '/author', 'select=id,name)'), '400 PGRST100', 'a select that does not parse is PGRST100');

-- ------------------------------------------------ filters
SELECT is(pg_temp.get_json('/author', 'select=id&id=gt.1&id=lte.3&order=id'), '[{"id":2},{"id":3}]', 'gt and lte together');
SELECT is(pg_temp.get_json('/author', 'select=id&id=neq.1&order=id'), '[{"id":2},{"id":3},{"id":4}]', 'neq');
SELECT is(pg_temp.get_json('/author', 'select=id&id=gte.4'), '[{"id":4}]', 'gte');
SELECT is(pg_temp.get_json('/author', 'select=id&id=lt.2'), '[{"id":1}]', 'lt');
SELECT is(pg_temp.get_json('/author', 'select=id&name=like.*r*&order=id'), '[{"id":3},{"id":4}]', 'like with * wildcards');
SELECT is(pg_temp.get_json('/author', 'select=id&name=ilike.a*'), '[{"id":1}]', 'ilike');
SELECT is(pg_temp.get_json('/author', 'select=id&name=match.^B'), '[{"id":2}]', 'match');
SELECT is(pg_temp.get_json('/author', 'select=id&name=imatch.^d'), '[{"id":4}]', 'imatch');
SELECT is(pg_temp.get_json('/author', 'select=id&id=in.(1,3)&order=id'), '[{"id":1},{"id":3}]', 'in');
SELECT is(pg_temp.get_json('/author', 'select=id&name=in.("Cyrano, \"le\" poète",Ada)&order=id'),
          '[{"id":1},{"id":3}]', 'in with a quoted item holding a comma and quotes');
SELECT is(pg_temp.get_json('/author', 'select=id&born=is.null'), '[{"id":3}]', 'is.null');
SELECT is(pg_temp.get_json('/author', 'select=id&born=not.is.null&order=id'), '[{"id":1},{"id":2},{"id":4}]', 'not.is.null');
SELECT is(pg_temp.get_json('/book', 'select=id&published=is.true&order=id'), '[{"id":1},{"id":3}]', 'is.true');
SELECT is(pg_temp.get_json('/book', 'select=id&published=isdistinct.true&order=id'), '[{"id":2},{"id":4}]', 'isdistinct');
SELECT is(pg_temp.get_json('/author', 'select=id&tags=cs.{poetry}'), '[{"id":1}]', 'cs (contains)');
SELECT is(pg_temp.get_json('/author', 'select=id&tags=cd.{math,poetry}&order=id'), '[{"id":1},{"id":2},{"id":4}]', 'cd (contained in)');
SELECT is(pg_temp.get_json('/author', 'select=id&tags=ov.{poetry,chess}'), '[{"id":1}]', 'ov (overlap)');
SELECT is(pg_temp.get_json('/author', 'select=id&data->>city=eq.Paris'), '[{"id":4}]', 'a filter on a JSON path');
SELECT is(pg_temp.get_json('/book', 'select=id&body=fts(english).engine'), '[{"id":1}]', 'fts with a configuration');
SELECT is(pg_temp.get_json('/book', 'select=id&body=plfts.friend'), '[{"id":2}]', 'plfts');
SELECT is(pg_temp.get_json('/book', 'select=id&body=phfts(english).faith and reason'), '[{"id":3}]', 'phfts');
SELECT is(pg_temp.get_json('/book', 'select=id&body=wfts(english).notes -letters'), '[{"id":1}]', 'wfts');
SELECT is(pg_temp.get_json('/author', 'select=id&id=not.eq.1&id=not.in.(2,3)'), '[{"id":4}]', 'not.eq and not.in');
SELECT is(pg_temp.get_json('/author', 'select=id&or=(id.eq.1,name.eq.Dora)&order=id'), '[{"id":1},{"id":4}]', 'or');
SELECT is(pg_temp.get_json('/author', 'select=id&or=(id.eq.2,and(rating.gte.4,born.lt.1900-01-01))&order=id'),
          '[{"id":1},{"id":2}]', 'and nested in or');
SELECT is(pg_temp.get_json('/author', 'select=id&not.or=(id.eq.1,id.eq.2)&born=not.is.null'), '[{"id":4}]', 'not.or');
SELECT is(pg_temp.get_json('/author', 'select=id&id=eq(any).{1,4}&order=id'), '[{"id":1},{"id":4}]', 'eq(any)');
SELECT is(pg_temp.outcome('GET', '/author', 'id=eq.notanumber'), '400 22P02', 'a value the column type refuses is 400 22P02');
SELECT is(pg_temp.outcome('GET', '/author', 'id=nop.1'), '400 PGRST100', 'an unknown operator is PGRST100');
SELECT is(pg_temp.get_json('/author', 'select=id&name=eq.'':1; DROP TABLE t_rest.book --'), '[]',
          'a value is a parameter, never SQL');

-- ------------------------------------------------ order, paging, counts
SELECT is(pg_temp.get_json('/author', 'select=id&order=born.desc.nullslast'), '[{"id":4},{"id":1},{"id":2},{"id":3}]', 'desc nullslast');
SELECT is(pg_temp.get_json('/author', 'select=id&order=born.asc.nullsfirst'), '[{"id":3},{"id":2},{"id":1},{"id":4}]', 'asc nullsfirst');
SELECT is(pg_temp.get_json('/author', 'select=id&order=id&limit=2&offset=1'), '[{"id":2},{"id":3}]', 'limit and offset');
SELECT results_eq($$SELECT status, headers ->> 'Content-Range' FROM pg_temp.http('GET', '/author', 'order=id&limit=2')$$,
                  $$VALUES (200, '0-1/*')$$, 'Content-Range without a count');
SELECT results_eq($$SELECT status, headers ->> 'Content-Range', headers ->> 'Preference-Applied'
                    FROM pg_temp.http('GET', '/author', 'order=id&limit=2', '{"prefer": "count=exact"}')$$,
                  $$VALUES (206, '0-1/4', 'count=exact')$$, 'count=exact on a partial page: 206 and the total');
SELECT results_eq($$SELECT status, headers ->> 'Content-Range' FROM pg_temp.http('GET', '/author', 'order=id', '{"range": "1-2"}')$$,
                  $$VALUES (200, '1-2/*')$$, 'the Range header');
SELECT results_eq($$SELECT status, headers ->> 'Content-Range' FROM pg_temp.http('GET', '/author', 'id=gt.100', '{"prefer": "count=exact"}')$$,
                  $$VALUES (200, '*/0')$$, 'an empty result with a count');
SELECT is(pg_temp.outcome('GET', '/author', 'offset=10', '{"prefer": "count=exact"}'), '416 PGRST103', 'an offset past the end is 416');
SELECT is(pg_temp.outcome('GET', '/author', '', '{"range": "3-1"}'), '416 PGRST103', 'an inverted range is 416');
SELECT ok((SELECT (headers ->> 'Content-Range') ~ '^0-3/[0-9]+$' FROM pg_temp.http('GET', '/author', '', '{"prefer": "count=planned"}')),
          'count=planned gives an estimated total');
SELECT is((SELECT headers ->> 'Content-Range' FROM pg_temp.http('GET', '/author', '', '{"prefer": "count=estimated"}')), '0-3/4',
          'count=estimated is exact on a small table');

-- ------------------------------------------------ media types
SELECT results_eq($$SELECT status, body::jsonb, headers ->> 'Content-Type'
                    FROM pg_temp.http('GET', '/author', 'select=id,name&id=eq.1', '{"accept": "application/vnd.pgrst.object+json"}')$$,
                  $$VALUES (200, '{"id":1,"name":"Ada"}'::jsonb, 'application/vnd.pgrst.object+json; charset=utf-8')$$,
                  'a single object');
SELECT results_eq($$SELECT status, body::jsonb FROM pg_temp.http('GET', '/author', 'id=gt.1', '{"accept": "application/vnd.pgrst.object+json"}')$$,
                  $$VALUES (406, '{"code":"PGRST116","details":"The result contains 3 rows","hint":null,"message":"Cannot coerce the result to a single JSON object"}'::jsonb)$$,
                  'several rows for an object: 406 PGRST116');
SELECT is(pg_temp.outcome('GET', '/author', 'id=eq.99', '{"accept": "application/vnd.pgrst.object+json"}'), '406 PGRST116', 'no row for an object: 406');
SELECT results_eq($$SELECT body, headers ->> 'Content-Type' FROM pg_temp.http('GET', '/author', 'select=id,name&order=id&id=in.(1,3)', '{"accept": "text/csv"}')$$,
                  $$VALUES (E'id,name\n1,Ada\n3,"Cyrano, ""le"" poète"', 'text/csv; charset=utf-8')$$, 'text/csv with quoting');
SELECT is(pg_temp.outcome('GET', '/author', '', '{"accept": "text/xml"}'), '406 PGRST107', 'an unavailable media type is 406');

-- ------------------------------------------------ embedding
SELECT is(pg_temp.get_json('/book', 'select=title,author:author!book_author_id_fkey(name)&id=eq.1'),
          '[{"title":"Notes","author":{"name":"Ada"}}]', 'to-one embed as an object, disambiguated by constraint');
SELECT is(pg_temp.get_json('/book', 'select=title,author!author_id(name)&id=eq.3'),
          '[{"title":"Pensees","author":{"name":"Blaise"}}]', 'disambiguated by column');
SELECT results_eq($$SELECT status, body::jsonb ->> 'code' FROM pg_temp.http('GET', '/book', 'select=title,author(name)')$$,
                  $$VALUES (300, 'PGRST201')$$, 'an ambiguous embed is 300 PGRST201');
SELECT is(pg_temp.get_json('/author', 'select=name,book!author_id(title)&id=eq.1&book.order=title.desc'),
          '[{"name":"Ada","book":[{"title":"Notes"},{"title":"Letters"}]}]', 'to-many embed as an array, ordered');
SELECT is(pg_temp.get_json('/author', 'select=id,book!author_id!inner(id)&book.price=gt.14&order=id'),
          '[{"id":2,"book":[{"id":3}]},{"id":4,"book":[{"id":4}]}]', '!inner with an embedded filter drops parents');
SELECT is(pg_temp.get_json('/authors', 'select=name,books_view(title)&id=eq.2'),
          '[{"name":"Blaise","books_view":[{"title":"Pensees"}]}]', 'views embed through their base tables'' foreign keys');
SELECT is(pg_temp.outcome('GET', '/author', 'select=id,tag(*)'), '400 PGRST200', 'no relationship is 400 PGRST200');

SELECT * FROM finish();
ROLLBACK;
