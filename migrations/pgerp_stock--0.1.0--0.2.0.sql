\echo Use "ALTER EXTENSION pgerp_stock UPDATE TO '0.2.0'" to load this file. \quit
-- pgerp_stock 0.1.0 -> 0.2.0 (see migrations/pgerp--0.1.0--0.2.0.sql).

-- ==== published routines (#11.20) ====

-- What an application role may execute in schema stock (see sql/core/publish.sql).
INSERT INTO erp.app_routine (routine) VALUES
    ('stock.round_to(numeric,numeric)'),
    ('stock.value_share(numeric,numeric,numeric,numeric)'),
    ('stock.convert_uom(numeric,text,text)'),
    ('stock.create_warehouse(bigint,text,text)'),
    ('stock.warehouse_location(bigint)'),
    ('stock.virtual_location(bigint,text)'),
    ('stock.set_allow_negative(bigint,boolean)'),
    ('stock.create_product(bigint,text,text,text,numeric,text,text)'),
    ('stock.on_hand(bigint,bigint)'),
    ('stock.available(bigint,bigint)'),
    ('stock.create_move(bigint,numeric,bigint,bigint,numeric,timestamp with time zone,text,text,text)'),
    ('stock.confirm(bigint)'),
    ('stock.reserve(bigint)'),
    ('stock.unreserve(bigint)'),
    ('stock.cancel(bigint)'),
    ('stock.validate(bigint,numeric)'),
    ('stock.receive(bigint,numeric,numeric,bigint,text,timestamp with time zone,text)'),
    ('stock.deliver(bigint,numeric,bigint,text,timestamp with time zone,text)'),
    ('stock.transfer(bigint,numeric,bigint,bigint,text,timestamp with time zone,text)'),
    ('stock.scrap(bigint,numeric,bigint,text,timestamp with time zone,text)'),
    ('stock.adjust(bigint,bigint,numeric)'),
    ('stock.valuation(bigint,timestamp with time zone)'),
    ('stock.valuation_report(bigint,timestamp with time zone)'),
    ('stock.set_standard_price(bigint,numeric)'),
    ('stock.return_move(bigint,numeric)'),
    ('stock.verify_valuation(bigint)'),
    ('stock.apply_landed_cost(bigint[],numeric,text,text)'),
    ('stock.revalue(bigint,numeric,text)'),
    ('stock.set_cost_method(bigint,text)')
ON CONFLICT DO NOTHING;

-- ==== record rules in the function API (#11.3) ====


-- ==== numeric and date bounds (#11.8, 11, 17) ====


-- ==== reservations (#11.9) ====


-- ==== other ====


-- ==== last: grants of the application roles ====

-- as the install's finish.sql: nothing new is PUBLIC
REVOKE ALL ON ALL ROUTINES IN SCHEMA stock FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA stock FROM PUBLIC;
SELECT erp._apply_app_access(r.role_name) FROM erp.app_role r;
