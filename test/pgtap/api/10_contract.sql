-- The api contract's shape: every view and its columns, security_invoker,
-- one base table per view, comments, privileges of the application role,
-- and the foreign keys the HTTP handler follows for embedding.
BEGIN;
\ir ../setup.sql
SELECT plan(48);

SELECT columns_are('api', 'companies', ARRAY['id', 'company_id', 'parent_id', 'name', 'currency', 'price_precision',
                   'currency_rounding', 'active', 'created_at'], 'api.companies columns');
SELECT columns_are('api', 'partners', ARRAY['company_id', 'id', 'name', 'kind', 'email', 'phone', 'tax_id', 'active',
                   'created_at'], 'api.partners columns');
SELECT columns_are('api', 'users', ARRAY['id', 'login', 'name', 'active', 'created_at'], 'api.users columns: no secrets');
SELECT columns_are('api', 'products', ARRAY['company_id', 'id', 'sku', 'name', 'cost_method', 'standard_price', 'uom',
                   'tracking', 'active', 'created_at'], 'api.products columns');
SELECT columns_are('api', 'warehouses', ARRAY['company_id', 'id', 'code', 'name', 'location_id'], 'api.warehouses columns');
SELECT columns_are('api', 'locations', ARRAY['company_id', 'id', 'name', 'usage', 'warehouse_id', 'active'], 'api.locations columns');
SELECT columns_are('api', 'lots', ARRAY['company_id', 'id', 'product_id', 'name', 'created_at'], 'api.lots columns');
SELECT columns_are('api', 'moves', ARRAY['company_id', 'id', 'product_id', 'qty', 'uom', 'uom_qty', 'location_id',
                   'location_dest_id', 'state', 'reserved_qty', 'unit_cost', 'value', 'date', 'ref', 'lot_id',
                   'origin_move_id', 'backorder_of', 'done_at', 'created_at'], 'api.moves columns');
SELECT columns_are('api', 'quants', ARRAY['company_id', 'product_id', 'location_id', 'lot_id', 'quantity', 'reserved',
                   'in_date'], 'api.quants columns');
SELECT columns_are('api', 'valuation_layers', ARRAY['company_id', 'id', 'product_id', 'move_id', 'created_at', 'quantity',
                   'unit_cost', 'value', 'remaining_qty', 'remaining_value', 'description', 'parent_layer_id'],
                   'api.valuation_layers columns');
SELECT columns_are('api', 'journal_entries', ARRAY['company_id', 'id', 'date', 'ref', 'move_id', 'layer_id', 'created_at'],
                   'api.journal_entries columns');
SELECT columns_are('api', 'journal_lines', ARRAY['company_id', 'id', 'entry_id', 'account_id', 'debit', 'credit'],
                   'api.journal_lines columns');
SELECT columns_are('api', 'boms', ARRAY['company_id', 'id', 'product_id', 'qty', 'type', 'sequence', 'active', 'created_at'],
                   'api.boms columns');
SELECT columns_are('api', 'bom_lines', ARRAY['company_id', 'id', 'bom_id', 'product_id', 'qty', 'uom', 'uom_qty', 'scrap_pct'],
                   'api.bom_lines columns');
SELECT columns_are('api', 'workcenters', ARRAY['company_id', 'id', 'code', 'cost_per_hour', 'capacity', 'active'],
                   'api.workcenters columns');
SELECT columns_are('api', 'productions', ARRAY['company_id', 'id', 'product_id', 'bom_id', 'qty', 'state', 'due_at',
                   'location_id', 'backorder_of', 'components_value', 'operations_cost', 'byproducts_value',
                   'finished_value', 'unit_cost', 'created_at', 'done_at'], 'api.productions columns');
SELECT columns_are('api', 'purchase_orders', ARRAY['company_id', 'id', 'vendor_id', 'state', 'date_planned', 'location_id',
                   'backorder_of', 'created_at', 'confirmed_at', 'done_at'], 'api.purchase_orders columns');
SELECT columns_are('api', 'purchase_order_lines', ARRAY['company_id', 'id', 'order_id', 'product_id', 'qty', 'price', 'move_id'],
                   'api.purchase_order_lines columns');
SELECT columns_are('api', 'supplier_prices', ARRAY['company_id', 'id', 'product_id', 'vendor_id', 'price', 'lead_days',
                   'min_qty', 'active'], 'api.supplier_prices columns');
SELECT columns_are('api', 'reorder_rules', ARRAY['company_id', 'id', 'product_id', 'warehouse_id', 'min_qty', 'max_qty',
                   'multiple', 'trigger', 'active'], 'api.reorder_rules columns');
SELECT columns_are('api', 'mrp_runs', ARRAY['company_id', 'id', 'start_date', 'bucket', 'horizon', 'warehouse_id',
                   'started_at', 'finished_at', 'planned_orders'], 'api.mrp_runs columns');
SELECT columns_are('api', 'planned_orders', ARRAY['company_id', 'id', 'run_id', 'product_id', 'qty', 'release_date',
                   'due_date', 'kind', 'past_due', 'vendor_id', 'firmed_ref'], 'api.planned_orders columns');
SELECT columns_are('api', 'plan_records', ARRAY['company_id', 'run_id', 'product_id', 'bucket', 'bucket_start', 'gross',
                   'scheduled', 'projected', 'net', 'planned_receipt', 'planned_release'], 'api.plan_records columns');
SELECT columns_are('api', 'jobs', ARRAY['company_id', 'id', 'kind', 'args', 'status', 'priority', 'run_at', 'attempts',
                   'max_attempts', 'last_error', 'last_sqlstate', 'result', 'enqueued_by', 'enqueued_at', 'started_at',
                   'finished_at'], 'api.jobs columns');

-- the resources of the contract (api.partner, made by erp.encrypt_column, is the 25th view)
CREATE TEMP TABLE t_res (v name) ON COMMIT DROP;
INSERT INTO t_res VALUES ('companies'), ('partners'), ('users'), ('products'), ('warehouses'), ('locations'), ('lots'),
    ('moves'), ('quants'), ('valuation_layers'), ('journal_entries'), ('journal_lines'), ('boms'), ('bom_lines'),
    ('workcenters'), ('productions'), ('purchase_orders'), ('purchase_order_lines'), ('supplier_prices'),
    ('reorder_rules'), ('mrp_runs'), ('planned_orders'), ('plan_records'), ('jobs');
SELECT set_eq($$SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'api'::regnamespace AND c.relkind = 'v'
                  AND c.relname <> 'partner'$$,
              $$SELECT v FROM t_res$$, 'schema api has exactly the 24 resources (and api.partner)');
SELECT is((SELECT array_agg(v ORDER BY v) FROM t_res
            WHERE v <> 'users' AND NOT coalesce((SELECT 'security_invoker=true' = ANY (c.reloptions) FROM pg_class c
                                             WHERE c.oid = ('api.' || v)::regclass), false)),
          NULL, 'every view but users is security_invoker');
SELECT is((SELECT array_agg(v ORDER BY v) FROM t_res
            WHERE (SELECT count(DISTINCT d.refobjid) FROM pg_rewrite r JOIN pg_depend d
                     ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_class'::regclass
                   JOIN pg_class t ON t.oid = d.refobjid AND t.relkind = 'r'
                  WHERE r.ev_class = ('api.' || v)::regclass) <> (CASE WHEN v = 'users' THEN 2 ELSE 1 END)),
          NULL, 'every view reads one table (users: app_user, and user_role in its filter)');
SELECT is((SELECT array_agg(v ORDER BY v) FROM t_res
            WHERE obj_description(('api.' || v)::regclass, 'pg_class') IS NULL),
          NULL, 'every view has a comment');
SELECT is((SELECT array_agg(p.oid::regprocedure::text ORDER BY 1) FROM pg_proc p
            WHERE p.pronamespace = 'api'::regnamespace AND obj_description(p.oid, 'pg_proc') IS NULL),
          NULL, 'every api function has a comment');
SELECT is((SELECT array_agg(p.oid::regprocedure::text ORDER BY 1) FROM pg_proc p
            WHERE p.pronamespace = 'api'::regnamespace AND p.proargnames::text ~ '(^|[{,])p_'),
          NULL, 'no api function argument has a p_ prefix');
SELECT is((SELECT array_agg(p.proname::text ORDER BY 1) FROM pg_proc p
            WHERE p.pronamespace = 'api'::regnamespace AND p.provolatile = 's'),
          ARRAY['bom_cost', 'valuation_report'], 'the read-only functions (GET) are STABLE, the others VOLATILE');
SELECT is((SELECT array_agg(p.proname::text ORDER BY 1) FROM pg_proc p
            WHERE p.pronamespace = 'api'::regnamespace AND p.prosecdef
              AND array_to_string(p.proconfig, ',') = 'search_path=pg_catalog, pg_temp'),
          ARRAY['switch_company'], 'only switch_company is SECURITY DEFINER, with a safe search_path');
SELECT is((SELECT array_agg(p.proname::text ORDER BY 1) FROM pg_proc p
            WHERE p.pronamespace = 'api'::regnamespace AND (p.prosecdef OR p.proretset) AND p.proname <> 'switch_company'),
          ARRAY['valuation_report'], 'only valuation_report is SETOF');
SELECT is((SELECT array_agg(v ORDER BY v) FROM t_res WHERE NOT has_table_privilege('pgerp_app', 'api.' || v, 'SELECT')),
          NULL, 'pgerp_app may SELECT every resource');
SELECT is((SELECT array_agg(p.oid::regprocedure::text ORDER BY 1) FROM pg_proc p
            WHERE p.pronamespace = 'api'::regnamespace AND NOT has_function_privilege('pgerp_app', p.oid, 'EXECUTE')),
          NULL, 'pgerp_app may EXECUTE every api function');
SELECT is((SELECT array_agg(p.oid::regprocedure::text ORDER BY 1) FROM pg_proc p
            WHERE p.pronamespace = 'api'::regnamespace AND has_function_privilege('public', p.oid, 'EXECUTE')),
          NULL, 'PUBLIC executes no api function');
SELECT is((SELECT array_agg(t.relname || ':' || x.priv ORDER BY 1)
             FROM (VALUES ('products', 'INSERT'), ('products', 'UPDATE'), ('partners', 'INSERT'), ('partners', 'UPDATE'),
                          ('warehouses', 'INSERT'), ('reorder_rules', 'INSERT'), ('reorder_rules', 'UPDATE'),
                          ('reorder_rules', 'DELETE')) x(rel, priv)
             JOIN pg_class t ON t.oid = ('api.' || x.rel)::regclass
            WHERE NOT has_table_privilege('pgerp_app', t.oid, x.priv)), NULL,
          'pgerp_app may write the writable resources');
SELECT is((SELECT array_agg(v ORDER BY v) FROM t_res
            WHERE has_table_privilege('pgerp_app', 'api.' || v, 'INSERT')
               OR has_table_privilege('pgerp_app', 'api.' || v, 'UPDATE')
               OR has_table_privilege('pgerp_app', 'api.' || v, 'DELETE')),
          ARRAY['partners', 'products', 'reorder_rules', 'warehouses']::name[], 'and nothing else');
SELECT is(has_table_privilege('pgerp_app', 'erp.app_user', 'SELECT'), false, 'erp.app_user stays unreadable to pgerp_app');

-- The foreign keys embedding follows (on the base tables).
CREATE FUNCTION pg_temp.fk(p_from regclass, p_cols text[], p_to regclass) RETURNS boolean LANGUAGE sql AS $$
    SELECT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.contype = 'f' AND c.conrelid = p_from AND c.confrelid = p_to
                      AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a
                            WHERE a.attrelid = p_from AND a.attnum = ANY (c.conkey))
                          = (SELECT array_agg(x ORDER BY x) FROM unnest(p_cols) x))
$$;
SELECT ok(pg_temp.fk('stock.move', '{company_id,product_id}', 'stock.product'), 'moves -> products (and back)');
SELECT ok(pg_temp.fk('stock.journal_line', '{company_id,entry_id}', 'stock.journal_entry'), 'journal_entries -> journal_lines');
SELECT ok(pg_temp.fk('purchase.order_line', '{company_id,order_id}', 'purchase.order'), 'purchase_orders -> purchase_order_lines');
SELECT ok(pg_temp.fk('purchase.order_line', '{company_id,product_id}', 'stock.product'), 'purchase_order_lines -> products');
SELECT ok(pg_temp.fk('mrp.bom_line', '{bom_id,company_id}', 'mrp.bom'), 'boms -> bom_lines');
SELECT ok(pg_temp.fk('mrp.bom_line', '{company_id,product_id}', 'stock.product'), 'bom_lines -> products');
SELECT ok(pg_temp.fk('mrp.planned_order', '{company_id,product_id}', 'stock.product'), 'planned_orders -> products');
SELECT ok(pg_temp.fk('erp.partner', '{company_id}', 'erp.company'), 'partners -> companies');
SELECT is((SELECT array_agg(x ORDER BY x) FROM unnest(ARRAY['stock.journal_entry.move_id', 'mrp.plan_record.product_id',
                                                             'mrp.planned_order.vendor_id', 'stock.location.warehouse_id']) x
            WHERE EXISTS (SELECT 1 FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
                           WHERE c.contype = 'f'
                             AND c.conrelid = (split_part(x, '.', 1) || '.' || split_part(x, '.', 2))::regclass
                             AND a.attname = split_part(x, '.', 3))),
          NULL, 'documented as missing: no foreign key on these columns (docs/api.md), so no embedding through them');

SELECT * FROM finish();
ROLLBACK;
