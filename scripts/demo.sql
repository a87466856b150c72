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
