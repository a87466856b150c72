-- erp.create_partner: stored values, bad input and its SQLSTATEs, permissions, nothing written after an error.
BEGIN;
\ir ../setup.sql
SELECT plan(34);

SELECT * FROM pg_temp.make_tree() \gset
SELECT pg_temp.make_user('pt_mgr', 'stock_manager', :a) AS pt_mgr \gset
SELECT pg_temp.make_user('pt_reader', 'stock_user', :a) AS pt_reader \gset
SELECT pg_temp.make_user('pt_admin', 'admin', :g) AS pt_admin \gset
-- A role with the partner permissions only (no erp.company:read).
SELECT erp.create_role('pt_clerk', 'Partner clerk', ARRAY['erp.partner:*']) AS clerk_role \gset
SELECT pg_temp.make_user('pt_clerk', 'pt_clerk', :a) AS pt_clerk \gset

-- Success
SELECT erp.sign_in('pt_mgr', 'pt_mgr-pass-1') IS NOT NULL AS signed \gset
SELECT erp.create_partner(:a, '  Acme Supplies  ', 'customer', '  sales@acme.example ', ' +1 555 0100 ') AS acme \gset
SELECT results_eq(
    format('SELECT company_id, name, kind, email, phone, tax_id, active FROM api.partner WHERE id = %s', :acme),
    format($$VALUES (%s::bigint, 'Acme Supplies'::text, 'customer'::text, 's***@acme.example'::text,
                     '+1 ****0100'::text, NULL::text, true)$$, :a),
    'the partner is stored with trimmed name; api.partner masks e-mail and phone without the decrypt permissions');
SELECT results_eq(
    format($$SELECT erp._open(email, 'erp.partner.email'), erp._open(phone, 'erp.partner.phone'),
                    email_bidx = erp.blind_index('SALES@acme.example', 'erp.partner.email')
               FROM erp.partner WHERE id = %s$$, :acme),
    $$VALUES ('sales@acme.example'::text, '+1 555 0100'::text, true)$$,
    'e-mail and phone are stored encrypted, trimmed, with a blind index');
SELECT erp.create_partner(:a, 'Plain Vendor') AS plain \gset
SELECT results_eq(format('SELECT kind, email, phone FROM api.partner WHERE id = %s', :plain),
                  $$VALUES ('vendor'::text, NULL::text, NULL::text)$$,
                  'kind defaults to vendor, e-mail and phone to NULL');
SELECT erp.create_partner(:a, 'Both Ways', 'both', NULL, '   ') AS both_ways \gset
SELECT results_eq(format('SELECT kind, phone FROM api.partner WHERE id = %s', :both_ways),
                  $$VALUES ('both'::text, NULL::text)$$,
                  'kind both is accepted and a blank phone is stored as NULL');
SELECT erp.create_partner(:a1, 'Child Co Vendor', 'vendor') AS child_vendor \gset
SELECT is((SELECT company_id FROM erp.partner WHERE id = :child_vendor), :'a1'::bigint,
          'a manager of A creates partners in its child A1');
SELECT is((SELECT count(*)::int FROM erp.partner WHERE id IN (:acme, :plain, :both_ways, :child_vendor)), 4,
          'each returned id is a stored partner');

-- Bad input (signed in as pt_mgr, who may create partners in A)
SELECT count(*) AS partners_before FROM erp.partner \gset
SELECT throws_ok($$SELECT erp.create_partner(NULL, 'No Company')$$, '22004',
                 'company must not be null', 'a NULL company is refused with 22004');
SELECT throws_ok(format('SELECT erp.create_partner(%s, NULL)', :a), '22023',
                 'partner name must not be empty', 'a NULL name is refused');
SELECT throws_ok(format('SELECT erp.create_partner(%s, %L)', :a, ''), '22023',
                 'partner name must not be empty', 'an empty name is refused');
SELECT throws_ok(format('SELECT erp.create_partner(%s, %L)', :a, '    '), '22023',
                 'partner name must not be empty', 'a name of spaces is refused');
SELECT throws_ok(format('SELECT erp.create_partner(%s, %L, %L)', :a, 'Supplier', 'supplier'), '22023',
                 'invalid partner kind ''supplier''', 'an unknown kind is refused');
SELECT throws_ok(format('SELECT erp.create_partner(%s, %L, %L)', :a, 'Upper', 'Customer'), '22023',
                 NULL, 'kinds are case-sensitive');
SELECT throws_ok(format('SELECT erp.create_partner(%s, %L, NULL)', :a, 'No Kind'), '22023',
                 'invalid partner kind NULL', 'a NULL kind is refused');
SELECT throws_ok(format('SELECT erp.create_partner(%s, %L, %L, %L)', :a, 'Bad Mail', 'vendor', 'not-an-email'),
                 '22023', 'invalid e-mail address', 'an e-mail without @ is refused, without repeating the address');
SELECT throws_ok(format('SELECT erp.create_partner(%s, %L, %L, %L)', :a, 'Bad Mail', 'vendor', 'a@localhost'),
                 '22023', NULL, 'an e-mail without a dotted domain is refused');
SELECT throws_ok(format('SELECT erp.create_partner(%s, %L, %L, %L)', :a, 'Bad Mail', 'vendor', 'a b@x.example'),
                 '22023', NULL, 'an e-mail with a space is refused');
SELECT throws_ok(format('SELECT erp.create_partner(%s, %L, %L, %L)', :a, 'Bad Mail', 'vendor', 'a@@x.example'),
                 '22023', NULL, 'an e-mail with two @ is refused');
SELECT throws_ok(format('SELECT erp.create_partner(%s, %L, %L, %L)', :a, 'Bad Mail', 'vendor', ''),
                 '22023', NULL, 'an empty e-mail is refused');
SELECT throws_ok(format('SELECT erp.create_partner(%s, %L)', (SELECT max(id) + 1000 FROM erp.company), 'Nowhere'),
                 '42501', NULL, 'a signed-in user gets 42501 for an unknown company (nothing to hold a permission on)');
SELECT is((SELECT count(*) FROM erp.partner), :'partners_before'::bigint,
          'no partner was written by the refused calls');

-- Permissions
SELECT throws_ok(format('SELECT erp.create_partner(%s, %L)', :b, 'Sibling Vendor'), '42501',
                 'permission denied for "erp.partner:create"', 'a manager of A cannot create partners in B');
SELECT is(pg_temp.error_detail(format('SELECT erp.create_partner(%s, %L)', :b, 'Sibling Vendor')),
          format('42501: Permission "erp.partner:create" is required on company %s.', :b),
          'the detail names erp.partner:create and the company');
SELECT throws_ok(format('SELECT erp.create_partner(%s, %L)', :g, 'Parent Vendor'), '42501', NULL,
                 'a manager of A cannot create partners in its parent G');
SELECT erp.sign_in('pt_reader', 'pt_reader-pass-1') IS NOT NULL AS signed \gset
SELECT throws_ok(format('SELECT erp.create_partner(%s, %L)', :a, 'Reader Vendor'), '42501',
                 'permission denied for "erp.partner:create"', 'a user with erp.partner:read only is refused');
SELECT is(pg_temp.error_detail(format('SELECT erp.create_partner(%s, %L)', :a, 'Reader Vendor')),
          format('42501: Permission "erp.partner:create" is required on company %s.', :a),
          'the detail names erp.partner:create');
SELECT erp.sign_out() AS signed_out \gset
SELECT throws_ok(format('SELECT erp.create_partner(%s, %L)', (SELECT max(id) + 1000 FROM erp.company), 'Nowhere'),
                 '22023', NULL, 'bootstrap gets 22023 for an unknown company');
SELECT is((SELECT count(*) FROM erp.partner), :'partners_before'::bigint,
          'no partner was written by the refused calls');

-- Under the application role (row security applies: create_partner is SECURITY INVOKER)
SET LOCAL ROLE pgerp_app;
SELECT throws_ok(format('SELECT erp.create_partner(%s, %L)', :a, 'Anonymous'), '42501', NULL,
                 'pgerp_app with nobody signed in is refused');
SELECT is(pg_temp.error_detail(format('SELECT erp.create_partner(%s, %L)', :a, 'Anonymous')),
          '42501: Permission "erp.partner:create" is required.',
          'the detail names erp.partner:create when nobody is signed in');
SELECT erp.sign_in('pt_mgr', 'pt_mgr-pass-1') IS NOT NULL AS signed \gset
SELECT erp.create_partner(:a, 'App Vendor', 'vendor', 'app@vendor.example') AS app_vendor \gset
SELECT is((SELECT name FROM erp.partner WHERE id = :app_vendor), 'App Vendor',
          'under pgerp_app a manager of A creates and then reads a partner of A');
SELECT throws_ok(format('SELECT erp.create_partner(%s, %L)', :b, 'App Sibling'), '42501', NULL,
                 'under pgerp_app a manager of A is refused in B');
SELECT erp.sign_in('pt_admin', 'pt_admin-pass-1') IS NOT NULL AS signed \gset
SELECT lives_ok(format('SELECT erp.create_partner(%s, %L)', :b, 'Admin B Vendor'),
                'under pgerp_app an admin of G creates a partner in B');
-- erp.partner:create is what the API requires; reading the company is not.
SELECT erp.sign_in('pt_clerk', 'pt_clerk-pass-1') IS NOT NULL AS signed \gset
SELECT lives_ok(format('SELECT erp.create_partner(%s, %L)', :a, 'Clerk Vendor'),
                'under pgerp_app a user holding erp.partner:* (but not erp.company:read) on A creates a partner there');
RESET ROLE;
SELECT erp.sign_out() AS signed_out \gset

SELECT results_eq(
    format($$SELECT company_id, count(*)::int FROM erp.partner
              WHERE company_id IN (%s, %s, %s, %s) AND name <> 'Clerk Vendor' GROUP BY 1 ORDER BY 1$$,
           :g, :a, :b, :a1),
    format('VALUES (%s::bigint, 4), (%s, 1), (%s, 1)', :a, :b, :a1),
    'exactly the successful calls wrote partners: in A, B and A1 and none in G');

SELECT * FROM finish();
ROLLBACK;
