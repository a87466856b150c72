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
    ('mrp.produce_mo(bigint,numeric,text)'),
    ('mrp.cancel_mo(bigint)'),
    ('mrp.set_planning(bigint,text,integer,text,numeric,numeric,numeric,numeric)'),
    ('mrp.add_demand(bigint,numeric,date,text)'),
    ('mrp.run(bigint,date,text,integer,bigint)'),
    ('mrp.firm(bigint)'),
    ('mrp.add_reorder_rule(bigint,bigint,numeric,numeric,numeric,text)'),
    ('mrp.replenish(bigint,boolean)'),
    ('mrp.run_job(bigint,jsonb)'),
    ('mrp.replenish_job(bigint,jsonb)'),
    ('mrp._job_arg(jsonb,text,text,text)'),
    ('purchase.add_supplier(bigint,bigint,numeric,integer,numeric)'),
    ('purchase.best_supplier(bigint,numeric,bigint)'),
    ('purchase.create_order(bigint,jsonb,timestamp with time zone,bigint)'),
    ('purchase.confirm(bigint)'),
    ('purchase.receive(bigint,jsonb,text)'),
    ('purchase.cancel(bigint)')
ON CONFLICT DO NOTHING;

-- The HTTP contract, schema api (sql/api/, docs/api.md).
INSERT INTO erp.app_routine (routine) VALUES
    ('api.bom_cost(bigint)'),
    ('api.create_mo(bigint,numeric,timestamp with time zone,bigint)'),
    ('api.confirm_mo(bigint)'),
    ('api.produce_mo(bigint,numeric,text)'),
    ('api.create_purchase_order(bigint,jsonb,timestamp with time zone,bigint)'),
    ('api.confirm_purchase_order(bigint)'),
    ('api.receive_purchase_order(bigint,jsonb,text)'),
    ('api.run_mrp(bigint,date,text,integer,bigint)'),
    ('api.replenish(bigint,boolean)'),
    ('api.firm(bigint)')
ON CONFLICT DO NOTHING;
