-- Demo data for make start: a group with two subsidiaries, three users.
-- Runs as the superuser with nobody signed in (the bootstrap rule).
DO $$
DECLARE
    v_group bigint := erp.create_company('Demo Group', NULL, 'USD');
    v_a bigint := erp.create_company('Subsidiary A', v_group, 'USD');
    v_b bigint := erp.create_company('Subsidiary B', v_group, 'EUR');
    v_admin bigint := erp.create_user('admin', 'admin-demo-1', 'Demo Administrator');
    v_alice bigint := erp.create_user('alice', 'alice-demo-1', 'Alice (Subsidiary A)');
    v_bob bigint := erp.create_user('bob', 'bob-demo-1', 'Bob (Subsidiary B)');
BEGIN
    PERFORM erp.grant_role(v_admin, 'admin', v_group, true);
    PERFORM erp.grant_role(v_alice, 'stock_manager', v_a);
    PERFORM erp.grant_role(v_bob, 'stock_manager', v_b);
    PERFORM erp.create_partner(v_a, 'Acme Supplies', 'vendor', 'sales@acme.example', '+1 555 0100');
    PERFORM erp.create_partner(v_a, 'Northwind Retail', 'customer', 'buyer@northwind.example');
    PERFORM erp.create_partner(v_b, 'Globex GmbH', 'vendor', 'info@globex.example', '+49 30 1234567');
    PERFORM erp.create_partner(v_b, 'Initech', 'both');
END $$;

-- Stock: a warehouse per subsidiary, a few products, three weeks of
-- receipts and deliveries (dated in the past, in order).
DO $$
DECLARE
    v_a bigint := (SELECT id FROM erp.company WHERE name = 'Subsidiary A');
    v_b bigint := (SELECT id FROM erp.company WHERE name = 'Subsidiary B');
    v_bolt bigint;
    v_paint bigint;
    v_cable bigint;
    v_gear bigint;
    v_day timestamptz := date_trunc('day', now()) - interval '21 days';
BEGIN
    PERFORM stock.create_warehouse(v_a, 'A-WH', 'Subsidiary A main warehouse');
    PERFORM stock.create_warehouse(v_b, 'B-WH', 'Subsidiary B main warehouse');
    v_bolt := stock.create_product(v_a, 'BOLT-M8', 'Bolt M8', 'fifo');
    v_paint := stock.create_product(v_a, 'PAINT-RED', 'Red paint', 'avco', 0, 'L');
    v_cable := stock.create_product(v_a, 'CABLE-2', 'Cable 2 mm', 'standard', 1.20, 'm');
    v_gear := stock.create_product(v_b, 'GEAR-40', 'Gear 40 teeth', 'fifo');
    FOR i IN 0 .. 20 LOOP
        IF i % 7 = 0 THEN
            PERFORM stock.receive(v_bolt, 500, 0.12 + i * 0.001, NULL, 'PO-A-' || i, v_day + i * interval '1 day');
            PERFORM stock.receive(v_paint, 40, 8.50 + i * 0.05, NULL, 'PO-A-' || i, v_day + i * interval '1 day');
            PERFORM stock.receive(v_cable, 300, 1.25, NULL, 'PO-A-' || i, v_day + i * interval '1 day');
            PERFORM stock.receive(v_gear, 60, 4.10 + i * 0.02, NULL, 'PO-B-' || i, v_day + i * interval '1 day');
        END IF;
        PERFORM stock.deliver(v_bolt, 55 + i, NULL, 'SO-A-' || i, v_day + i * interval '1 day' + interval '12 hours');
        PERFORM stock.deliver(v_paint, 4.5, NULL, 'SO-A-' || i, v_day + i * interval '1 day' + interval '12 hours');
        PERFORM stock.deliver(v_cable, 35, NULL, 'SO-A-' || i, v_day + i * interval '1 day' + interval '12 hours');
        PERFORM stock.deliver(v_gear, 7, NULL, 'SO-B-' || i, v_day + i * interval '1 day' + interval '12 hours');
    END LOOP;
END $$;

-- Manufacturing and purchasing: a small product family in Subsidiary A. A
-- bracket kit (phantom: 4 bolts, 2 m of cable), a painted frame made from
-- bolts, paint and the kit at two work centers, and a vendor for every
-- component. One order is manufactured; a purchase order is half received.
DO $$
DECLARE
    v_a bigint := (SELECT id FROM erp.company WHERE name = 'Subsidiary A');
    v_acme bigint := (SELECT id FROM erp.partner WHERE company_id = v_a AND name = 'Acme Supplies');
    v_bolt bigint := (SELECT id FROM stock.product WHERE company_id = v_a AND sku = 'BOLT-M8');
    v_paint bigint := (SELECT id FROM stock.product WHERE company_id = v_a AND sku = 'PAINT-RED');
    v_cable bigint := (SELECT id FROM stock.product WHERE company_id = v_a AND sku = 'CABLE-2');
    v_kit bigint := stock.create_product(v_a, 'KIT-BRACKET', 'Bracket kit');
    v_frame bigint := stock.create_product(v_a, 'FRAME-RED', 'Red frame', 'fifo');
    v_weld bigint := mrp.create_workcenter(v_a, 'WELD', 45);
    v_paintshop bigint := mrp.create_workcenter(v_a, 'PAINTSHOP', 30);
    v_mo bigint;
    v_po bigint;
BEGIN
    PERFORM mrp.create_bom(v_kit, 1, jsonb_build_array(jsonb_build_object('product', v_bolt, 'qty', 4),
                                                        jsonb_build_object('product', v_cable, 'qty', 2)), 'phantom');
    PERFORM mrp.create_bom(v_frame, 1,
        jsonb_build_array(jsonb_build_object('product', v_kit, 'qty', 2),
                          jsonb_build_object('product', v_paint, 'qty', 250, 'uom', 'mL', 'scrap_pct', 5)),
        'normal', NULL,
        jsonb_build_array(jsonb_build_object('name', 'weld', 'workcenter', v_weld, 'minutes', 12),
                          jsonb_build_object('name', 'paint', 'workcenter', v_paintshop, 'minutes', 6)));
    PERFORM purchase.add_supplier(v_bolt, v_acme, 0.13, 3);
    PERFORM purchase.add_supplier(v_bolt, v_acme, 0.11, 7, 1000);
    PERFORM purchase.add_supplier(v_paint, v_acme, 8.90, 5);
    PERFORM purchase.add_supplier(v_cable, v_acme, 1.22, 4);
    v_mo := mrp.create_mo(v_frame, 10);
    PERFORM mrp.confirm_mo(v_mo);
    PERFORM mrp.reserve_mo(v_mo);
    PERFORM mrp.produce_mo(v_mo);
    PERFORM mrp.confirm_mo(mrp.create_mo(v_frame, 25, now() + interval '7 days'));
    v_po := purchase.create_order(v_acme, jsonb_build_array(jsonb_build_object('product', v_bolt, 'qty', 1200),
                                                            jsonb_build_object('product', v_cable, 'qty', 150)));
    PERFORM purchase.confirm(v_po);
    PERFORM purchase.receive(v_po, jsonb_build_array(jsonb_build_object('product', v_bolt, 'qty', 600),
                                                     jsonb_build_object('product', v_cable, 'qty', 150)));
END $$;

-- Planning: the frame is made, its components bought; weekly demand for
-- frames; a reorder rule on bolts; one MRP run and one replenishment.
DO $$
DECLARE
    v_a bigint := (SELECT id FROM erp.company WHERE name = 'Subsidiary A');
    v_wh bigint := (SELECT id FROM stock.warehouse WHERE company_id = v_a AND code = 'A-WH');
    v_frame bigint := (SELECT id FROM stock.product WHERE company_id = v_a AND sku = 'FRAME-RED');
    v_bolt bigint := (SELECT id FROM stock.product WHERE company_id = v_a AND sku = 'BOLT-M8');
BEGIN
    PERFORM mrp.set_planning(v_frame, 'make', 3, 'fixed', 10, 5);
    PERFORM mrp.set_planning(v_bolt, 'buy', NULL, 'l4l', NULL, 200, 0, 100);
    FOR w IN 1 .. 8 LOOP
        PERFORM mrp.add_demand(v_frame, 6 + w % 3 * 4, current_date + w * 7, 'FC-W' || w);
    END LOOP;
    PERFORM mrp.add_reorder_rule(v_bolt, v_wh, 300, 1000, 100);
    PERFORM mrp.run(v_a, current_date, 'week', 12);
    PERFORM mrp.replenish(v_a);
END $$;
