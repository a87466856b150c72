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
    ('stock.validate(bigint,numeric,text)'),
    ('stock.receive(bigint,numeric,numeric,bigint,text,timestamp with time zone,text,text)'),
    ('stock.deliver(bigint,numeric,bigint,text,timestamp with time zone,text,text)'),
    ('stock.transfer(bigint,numeric,bigint,bigint,text,timestamp with time zone,text,text)'),
    ('stock.scrap(bigint,numeric,bigint,text,timestamp with time zone,text,text)'),
    ('stock.adjust(bigint,bigint,numeric,text)'),
    ('stock.valuation(bigint,timestamp with time zone)'),
    ('stock.valuation_report(bigint,timestamp with time zone)'),
    ('stock.set_standard_price(bigint,numeric)'),
    ('stock.return_move(bigint,numeric,text)'),
    ('stock.verify_valuation(bigint)'),
    ('stock.replay_problems(bigint,bigint)'),
    ('stock.apply_landed_cost(bigint[],numeric,text,text,text)'),
    ('stock.revalue(bigint,numeric,text,text)'),
    ('stock.set_cost_method(bigint,text)'),
    ('stock.set_lock_date(bigint,date)')
ON CONFLICT DO NOTHING;

-- Valuation snapshots (#16.3, sql/stock/snapshot.sql).
INSERT INTO erp.app_routine (routine) VALUES ('stock.build_valuation_snapshots(bigint)') ON CONFLICT DO NOTHING;

-- The HTTP contract, schema api (sql/api/, docs/api.md).
INSERT INTO erp.app_routine (routine) VALUES
    ('api.receive(bigint,numeric,numeric,bigint,text,timestamp with time zone,text,text)'),
    ('api.deliver(bigint,numeric,bigint,text,timestamp with time zone,text,text)'),
    ('api.transfer(bigint,numeric,bigint,bigint,text,timestamp with time zone,text,text)'),
    ('api.scrap(bigint,numeric,bigint,text,timestamp with time zone,text,text)'),
    ('api.adjust(bigint,bigint,numeric,text)'),
    ('api.validate(bigint,numeric,text)'),
    ('api.return_move(bigint,numeric,text)'),
    ('api.valuation_report(bigint,timestamp with time zone)')
ON CONFLICT DO NOTHING;
