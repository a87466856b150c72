\echo Use "ALTER EXTENSION pgerp_mrp UPDATE TO '0.2.0'" to load this file. \quit
-- pgerp_mrp 0.1.0 -> 0.2.0 (see migrations/pgerp--0.1.0--0.2.0.sql).

-- ==== published routines (#11.20) ====

-- What an application role may execute in schemas mrp and purchase (see sql/core/publish.sql).
INSERT INTO erp.app_routine (routine) VALUES
    ('mrp.create_workcenter(bigint,text,numeric,numeric)'),
    ('mrp.create_bom(bigint,numeric,jsonb,text,jsonb,jsonb)'),
    ('mrp.explode(bigint,numeric)'),
    ('mrp.explode_all(bigint,numeric)'),
    ('mrp.bom_cost(bigint)'),
    ('mrp.update_standard_price(bigint)'),
    ('mrp.create_mo(bigint,numeric,timestamp with time zone,bigint)'),
    ('mrp.confirm_mo(bigint)'),
    ('mrp.reserve_mo(bigint)'),
    ('mrp.produce_mo(bigint,numeric)'),
    ('mrp.cancel_mo(bigint)'),
    ('mrp.set_planning(bigint,text,integer,text,numeric,numeric,numeric,numeric)'),
    ('mrp.add_demand(bigint,numeric,date,text)'),
    ('mrp.run(bigint,date,text,integer,bigint)'),
    ('mrp.firm(bigint)'),
    ('mrp.add_reorder_rule(bigint,bigint,numeric,numeric,numeric,text)'),
    ('mrp.replenish(bigint,boolean)'),
    ('mrp.run_job(bigint,jsonb)'),
    ('mrp.replenish_job(bigint,jsonb)'),
    ('purchase.add_supplier(bigint,bigint,numeric,integer,numeric)'),
    ('purchase.best_supplier(bigint,numeric,bigint)'),
    ('purchase.create_order(bigint,jsonb,timestamp with time zone,bigint)'),
    ('purchase.confirm(bigint)'),
    ('purchase.receive(bigint,jsonb)'),
    ('purchase.cancel(bigint)')
ON CONFLICT DO NOTHING;

-- ==== record rules in the function API (#11.3) ====


-- ==== planning lock (#11.7) ====


-- ==== BOM depth (#11.10) ====


-- ==== bounds of planning inputs (#11.12) ====


-- ==== other ====


-- ==== last: grants of the application roles ====

-- as the install's finish.sql: nothing new is PUBLIC
REVOKE ALL ON ALL ROUTINES IN SCHEMA mrp FROM PUBLIC;
REVOKE ALL ON ALL ROUTINES IN SCHEMA purchase FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA mrp FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA purchase FROM PUBLIC;
SELECT erp._apply_app_access(r.role_name) FROM erp.app_role r;
