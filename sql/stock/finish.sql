-- Protection, privileges and dump registration of pgerp_stock.
SELECT erp.protect('stock.company_setting');
SELECT erp.protect('stock.location');
SELECT erp.protect('stock.warehouse');
SELECT erp.protect('stock.account');
SELECT erp.protect('stock.product');
SELECT erp.protect('stock.lot');
SELECT erp.protect('stock.move');
SELECT erp.protect('stock.quant');
SELECT erp.protect('stock.valuation_layer');
SELECT erp.protect('stock.product_value');
SELECT erp.protect('stock.journal_entry');
SELECT erp.protect('stock.journal_line');
SELECT erp.protect('stock.landed_cost');
SELECT erp.protect('stock.idempotency_key');
SELECT erp.protect('stock.standard_price_history');
SELECT erp.protect('stock.cost_method_history');

INSERT INTO erp.app_table (table_name, privileges) VALUES
    ('stock.uom', 'SELECT'),
    ('stock.company_setting', 'SELECT'),
    ('stock.location', 'SELECT'),
    ('stock.warehouse', 'SELECT'),
    ('stock.account', 'SELECT'),
    ('stock.product', 'SELECT, UPDATE (name, active)'),
    ('stock.lot', 'SELECT'),
    ('stock.move', 'SELECT'),
    ('stock.quant', 'SELECT'),
    ('stock.valuation_layer', 'SELECT'),
    ('stock.product_value', 'SELECT'),
    ('stock.journal_entry', 'SELECT'),
    ('stock.journal_line', 'SELECT'),
    ('stock.landed_cost', 'SELECT'),
    ('stock.idempotency_key', 'SELECT'),
    ('stock.standard_price_history', 'SELECT'),
    ('stock.cost_method_history', 'SELECT');

-- The HTTP contract's views (sql/api/).
INSERT INTO erp.app_table (table_name, privileges) VALUES
    ('api.products', 'SELECT, INSERT, UPDATE'),
    ('api.warehouses', 'SELECT, INSERT'),
    ('api.locations', 'SELECT'),
    ('api.lots', 'SELECT'),
    ('api.quants', 'SELECT'),
    ('api.moves', 'SELECT'),
    ('api.valuation_layers', 'SELECT'),
    ('api.journal_entries', 'SELECT'),
    ('api.journal_lines', 'SELECT');

SELECT pg_catalog.pg_extension_config_dump('stock.company_setting', '');
SELECT pg_catalog.pg_extension_config_dump('stock.location', '');
SELECT pg_catalog.pg_extension_config_dump('stock.location_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stock.warehouse', '');
SELECT pg_catalog.pg_extension_config_dump('stock.warehouse_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stock.account', '');
SELECT pg_catalog.pg_extension_config_dump('stock.account_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stock.product', '');
SELECT pg_catalog.pg_extension_config_dump('stock.product_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stock.lot', '');
SELECT pg_catalog.pg_extension_config_dump('stock.lot_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stock.move', '');
SELECT pg_catalog.pg_extension_config_dump('stock.move_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stock.quant', '');
SELECT pg_catalog.pg_extension_config_dump('stock.valuation_layer', '');
SELECT pg_catalog.pg_extension_config_dump('stock.valuation_layer_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stock.product_value', '');
SELECT pg_catalog.pg_extension_config_dump('stock.journal_entry', '');
SELECT pg_catalog.pg_extension_config_dump('stock.journal_entry_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stock.journal_line', '');
SELECT pg_catalog.pg_extension_config_dump('stock.journal_line_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stock.landed_cost', '');
SELECT pg_catalog.pg_extension_config_dump('stock.landed_cost_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stock.idempotency_key', '');

REVOKE ALL ON ALL ROUTINES IN SCHEMA stock FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA stock FROM PUBLIC;

-- Audited from the start: moves, valuation layers, product cost settings.
SELECT erp.audit('stock.move');
SELECT erp.audit('stock.valuation_layer');
SELECT erp.audit('stock.product');
