-- Protection, privileges, audit and dump registration of pgerp_mrp.
SELECT erp.protect('mrp.workcenter');
SELECT erp.protect('mrp.bom');
SELECT erp.protect('mrp.bom_line');
SELECT erp.protect('mrp.bom_byproduct');
SELECT erp.protect('mrp.bom_operation');
SELECT erp.protect('mrp.production');
SELECT erp.protect('mrp.production_move');
SELECT erp.protect('mrp.planning');
SELECT erp.protect('mrp.demand');
SELECT erp.protect('mrp.mrp_run');
SELECT erp.protect('mrp.planned_order');
SELECT erp.protect('mrp.plan_record');
SELECT erp.protect('mrp.pegging');
SELECT erp.protect('mrp.run_message');
SELECT erp.protect('mrp.reorder_rule');
SELECT erp.protect('purchase.supplier_info');
SELECT erp.protect('purchase.order');
SELECT erp.protect('purchase.order_line');

INSERT INTO erp.app_table (table_name, privileges) VALUES
    ('mrp.workcenter', 'SELECT'),
    ('mrp.bom', 'SELECT, UPDATE (active, sequence)'),
    ('mrp.bom_line', 'SELECT'),
    ('mrp.bom_byproduct', 'SELECT'),
    ('mrp.bom_operation', 'SELECT'),
    ('mrp.production', 'SELECT'),
    ('mrp.production_move', 'SELECT'),
    ('mrp.planning', 'SELECT'),
    ('mrp.demand', 'SELECT, DELETE'),
    ('mrp.mrp_run', 'SELECT'),
    ('mrp.planned_order', 'SELECT'),
    ('mrp.plan_record', 'SELECT'),
    ('mrp.pegging', 'SELECT'),
    ('mrp.run_message', 'SELECT'),
    ('mrp.reorder_rule', 'SELECT, UPDATE (min_qty, max_qty, multiple, trigger, active), DELETE'),
    ('purchase.supplier_info', 'SELECT, UPDATE (active)'),
    ('purchase.order', 'SELECT'),
    ('purchase.order_line', 'SELECT');

-- The HTTP contract's views (sql/api/).
INSERT INTO erp.app_table (table_name, privileges) VALUES
    ('api.boms', 'SELECT'),
    ('api.bom_lines', 'SELECT'),
    ('api.workcenters', 'SELECT'),
    ('api.productions', 'SELECT'),
    ('api.purchase_orders', 'SELECT'),
    ('api.purchase_order_lines', 'SELECT'),
    ('api.supplier_prices', 'SELECT'),
    ('api.reorder_rules', 'SELECT, INSERT, UPDATE, DELETE'),
    ('api.mrp_runs', 'SELECT'),
    ('api.planned_orders', 'SELECT'),
    ('api.plan_records', 'SELECT');

-- Audited from the start: what changes costs and commitments.
SELECT erp.audit('mrp.bom');
SELECT erp.audit('mrp.bom_line');
SELECT erp.audit('mrp.production');
SELECT erp.audit('mrp.planning');
SELECT erp.audit('mrp.reorder_rule');
SELECT erp.audit('purchase.supplier_info');
SELECT erp.audit('purchase.order');
SELECT erp.audit('purchase.order_line');

SELECT pg_catalog.pg_extension_config_dump('mrp.workcenter', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.workcenter_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.bom', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.bom_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.bom_line', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.bom_line_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.bom_byproduct', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.bom_byproduct_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.bom_operation', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.bom_operation_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.production', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.production_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.production_move', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.planning', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.demand', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.demand_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.mrp_run', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.mrp_run_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.planned_order', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.planned_order_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.plan_record', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.pegging', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.pegging_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.run_message', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.run_message_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.reorder_rule', '');
SELECT pg_catalog.pg_extension_config_dump('mrp.reorder_rule_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('purchase.supplier_info', '');
SELECT pg_catalog.pg_extension_config_dump('purchase.supplier_info_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('purchase.order', '');
SELECT pg_catalog.pg_extension_config_dump('purchase.order_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('purchase.order_line', '');
SELECT pg_catalog.pg_extension_config_dump('purchase.order_line_id_seq', '');

REVOKE ALL ON ALL ROUTINES IN SCHEMA mrp FROM PUBLIC;
REVOKE ALL ON ALL ROUTINES IN SCHEMA purchase FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA mrp FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA purchase FROM PUBLIC;
