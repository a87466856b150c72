-- Period snapshots of the valuation (#16.3): per product, the quantity and
-- value of its layers dated before each UTC month boundary, so that a report at
-- a past date reads one snapshot per product plus the layers after it instead
-- of the whole history. docs/valuation.md, "Period snapshots".

-- The UTC month boundary at or before a date, and the first one after it:
-- timestamp arithmetic in UTC whatever the session's TimeZone.
CREATE FUNCTION stock._month_start(p_at timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT pg_catalog.date_trunc('month', p_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
$$;
CREATE FUNCTION stock._month_after(p_at timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (pg_catalog.date_trunc('month', p_at AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC'
$$;

-- period_end is an exclusive bound: a snapshot holds the layers with
-- created_at < period_end (a layer dated exactly at a boundary belongs to the
-- next period). Rows of a product cover consecutive boundaries, from the first
-- after its first layer to the latest built; invalidation removes a suffix.
CREATE TABLE stock.valuation_snapshot (
    company_id bigint NOT NULL,
    product_id bigint NOT NULL,
    period_end timestamptz NOT NULL CHECK (isfinite(period_end)),
    qty numeric NOT NULL CHECK (stock._finite(qty)),
    value numeric NOT NULL CHECK (stock._finite(value)),
    built_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- a report reads one period of a company: qty and value in the index, an index-only scan (#16.3)
    CONSTRAINT valuation_snapshot_pkey PRIMARY KEY (company_id, period_end, product_id) INCLUDE (qty, value),
    FOREIGN KEY (company_id, product_id) REFERENCES stock.product (company_id, id)
);
SELECT pg_catalog.pg_extension_config_dump('stock.valuation_snapshot', '');
-- a product's snapshots in date order: invalidation and the per-product lookups
CREATE INDEX valuation_snapshot_product_idx ON stock.valuation_snapshot (company_id, product_id, period_end);
COMMENT ON TABLE stock.valuation_snapshot IS
    'Quantity and value of a product''s layers dated before period_end (a UTC month boundary); built by stock.build_valuation_snapshots and the housekeeping chore, removed when a layer dated before period_end is written';
SELECT erp.protect('stock.valuation_snapshot');
INSERT INTO erp.app_table (table_name, privileges) VALUES ('stock.valuation_snapshot', 'SELECT');

-- the report reads the layers of a company after a boundary
CREATE INDEX valuation_layer_company_date_idx ON stock.valuation_layer (company_id, created_at);

-- A layer written, changed or removed with a date before some snapshot of
-- its product makes that snapshot and every later one stale: they go, and
-- the next build writes them again. By layer date, not by posting path: a
-- first move dated last month and the replay's corrections dated at later
-- moves' dates stale snapshots as back-dated moves do. Security definer: the
-- poster may not delete snapshots (row security).
CREATE FUNCTION stock._snapshot_stale() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        DELETE FROM stock.valuation_snapshot s
         WHERE s.company_id = NEW.company_id AND s.product_id = NEW.product_id AND s.period_end > NEW.created_at;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM stock.valuation_snapshot s
         WHERE s.company_id = OLD.company_id AND s.product_id = OLD.product_id AND s.period_end > OLD.created_at;
    END IF;
    RETURN NULL;
END $$;
-- No snapshot ends after the start of the current UTC month (builds stop
-- there), so a layer dated in the current month cannot stale one: an ordinary
-- posting pays this WHEN and nothing else. clock_timestamp(), not now(): a
-- posting that waited for a build started after a month boundary compares with
-- the boundary that build may have written.
CREATE TRIGGER valuation_snapshot_stale AFTER INSERT ON stock.valuation_layer
    FOR EACH ROW WHEN (NEW.created_at < pg_catalog.timezone('UTC', pg_catalog.date_trunc('month', pg_catalog.timezone('UTC', pg_catalog.clock_timestamp()))))
    EXECUTE FUNCTION stock._snapshot_stale();
-- postings only ever change remaining_qty / remaining_value: this never fires for them
CREATE TRIGGER valuation_snapshot_stale_update AFTER UPDATE OF company_id, product_id, created_at, quantity, value
    ON stock.valuation_layer FOR EACH ROW EXECUTE FUNCTION stock._snapshot_stale();
CREATE TRIGGER valuation_snapshot_stale_delete AFTER DELETE ON stock.valuation_layer
    FOR EACH ROW EXECUTE FUNCTION stock._snapshot_stale();

CREATE FUNCTION stock._snapshot_truncated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM stock.valuation_snapshot;
    RETURN NULL;
END $$;
CREATE TRIGGER valuation_snapshot_stale_truncate AFTER TRUNCATE ON stock.valuation_layer
    FOR EACH STATEMENT EXECUTE FUNCTION stock._snapshot_truncated();

-- Write the missing snapshots of a company up to the start of the current UTC
-- month: for each product with a layer before it and no snapshot there, from
-- its latest remaining snapshot (or its first layer) on, one row per month.
-- The products' running totals are share-locked first: a posting of one of
-- them (which takes its row FOR UPDATE) either committed before the layers are
-- read, or waits until the snapshots are committed and then stales them.
CREATE FUNCTION stock._build_snapshots(p_company bigint) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_end timestamptz := stock._month_start(pg_catalog.now());
    v_products bigint[];
    v_rows bigint;
BEGIN
    SELECT array_agg(p.id ORDER BY p.id) INTO v_products
      FROM stock.product p
     WHERE p.company_id = p_company
       AND NOT EXISTS (SELECT 1 FROM stock.valuation_snapshot s
                        WHERE s.company_id = p_company AND s.period_end = v_end AND s.product_id = p.id)
       AND EXISTS (SELECT 1 FROM stock.valuation_layer l
                    WHERE l.company_id = p_company AND l.product_id = p.id AND l.created_at < v_end);
    IF v_products IS NULL THEN
        RETURN jsonb_build_object('products', 0, 'snapshots', 0);
    END IF;
    PERFORM 1 FROM stock.product_value pv
      WHERE pv.company_id = p_company AND pv.product_id = ANY (v_products)
      ORDER BY pv.product_id FOR KEY SHARE;
    INSERT INTO stock.valuation_snapshot (company_id, product_id, period_end, qty, value)
    WITH cand AS (
        SELECT c.product_id, e.period_end AS since, coalesce(e.qty, 0) AS qty0, coalesce(e.value, 0) AS value0
          FROM unnest(v_products) c(product_id)
          LEFT JOIN LATERAL (SELECT s.period_end, s.qty, s.value FROM stock.valuation_snapshot s
                              WHERE s.company_id = p_company AND s.product_id = c.product_id AND s.period_end < v_end
                              ORDER BY s.period_end DESC LIMIT 1) e ON true
    ), monthly AS (
        SELECT c.product_id, stock._month_after(l.created_at) AS period_end, sum(l.quantity) AS dq, sum(l.value) AS dv
          FROM cand c
          JOIN stock.valuation_layer l ON l.company_id = p_company AND l.product_id = c.product_id
           AND l.created_at >= coalesce(c.since, '-infinity') AND l.created_at < v_end
         GROUP BY 1, 2
    ), spans AS (
        SELECT c.product_id, c.qty0, c.value0, coalesce(stock._month_after(c.since), f.first) AS first
          FROM cand c
          LEFT JOIN (SELECT m.product_id, min(m.period_end) AS first FROM monthly m GROUP BY 1) f
            ON f.product_id = c.product_id
    )
    SELECT p_company, s.product_id, t.period_end,
           s.qty0 + coalesce(sum(m.dq) OVER w, 0), s.value0 + coalesce(sum(m.dv) OVER w, 0)
      FROM spans s
     CROSS JOIN LATERAL (SELECT g AT TIME ZONE 'UTC' AS period_end
                           FROM generate_series(s.first AT TIME ZONE 'UTC', v_end AT TIME ZONE 'UTC', interval '1 month') g) t
      LEFT JOIN monthly m ON m.product_id = s.product_id AND m.period_end = t.period_end
     WHERE s.first IS NOT NULL
    WINDOW w AS (PARTITION BY s.product_id ORDER BY t.period_end)
     ORDER BY t.period_end, s.product_id   -- a period's rows together: the report reads one period
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN jsonb_build_object('products', cardinality(v_products), 'snapshots', v_rows);
END $$;

-- What an admin calls to bring a company's snapshots up to date now (after a
-- batch of back-dated postings, or before month-end reports) instead of
-- waiting for the chore. Needs stock.valuation:lock, as closing a period does.
CREATE FUNCTION stock.build_valuation_snapshots(p_company bigint) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_company IS NULL THEN
        RAISE EXCEPTION 'company must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT erp._is_bootstrap() THEN
        PERFORM erp._require_signed_in();
        PERFORM erp.require_permission('stock.valuation:lock', p_company);
    END IF;
    PERFORM stock._ensure_company(p_company);
    RETURN stock._build_snapshots(p_company);
END $$;
COMMENT ON FUNCTION stock.build_valuation_snapshots(bigint) IS
    'Write the missing valuation snapshots of a company up to the start of the current UTC month (needs stock.valuation:lock); returns how many products and rows';

-- The hourly chore (erp.housekeeping_chore): every company with postings. A
-- run with nothing to write reads one index entry per product.
CREATE FUNCTION stock._build_snapshots_chore() RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c bigint;
    r jsonb;
    v_companies integer := 0;
    v_products bigint := 0;
    v_rows bigint := 0;
BEGIN
    FOR c IN SELECT co.id FROM erp.company co
              WHERE EXISTS (SELECT 1 FROM stock.product_value pv WHERE pv.company_id = co.id)
              ORDER BY co.id
    LOOP
        r := stock._build_snapshots(c);
        v_companies := v_companies + 1;
        v_products := v_products + (r ->> 'products')::bigint;
        v_rows := v_rows + (r ->> 'snapshots')::bigint;
    END LOOP;
    RETURN jsonb_build_object('companies', v_companies, 'products', v_products, 'snapshots', v_rows);
END $$;
COMMENT ON FUNCTION stock._build_snapshots_chore() IS
    'Hourly chore of pgerp_stock (erp.housekeeping_chore): write the missing valuation snapshots of every company';
INSERT INTO erp.housekeeping_chore (routine, every) VALUES ('stock._build_snapshots_chore()', interval '1 hour');
