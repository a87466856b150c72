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
