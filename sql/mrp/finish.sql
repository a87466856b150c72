-- Protection, privileges, audit and dump registration of pgerp_mrp.
SELECT erp.protect('mrp.workcenter');
SELECT erp.protect('mrp.bom');
SELECT erp.protect('mrp.bom_line');
SELECT erp.protect('mrp.bom_byproduct');
SELECT erp.protect('mrp.bom_operation');
SELECT erp.protect('mrp.production');
SELECT erp.protect('mrp.production_move');
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
    ('purchase.supplier_info', 'SELECT, UPDATE (active)'),
    ('purchase.order', 'SELECT'),
    ('purchase.order_line', 'SELECT');

-- Audited from the start: what changes costs and commitments.
SELECT erp.audit('mrp.bom');
SELECT erp.audit('mrp.bom_line');
SELECT erp.audit('mrp.production');
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
