-- Stock lock date (#15, docs/lock_date.md): per company, the last day whose
-- valuation is closed. Valued postings dated on or before it are refused
-- (55000) at the entry of every posting function, before it writes. A day
-- is a UTC calendar day: a posting is locked when its date is before the
-- midnight (UTC) that ends the lock date.

CREATE TABLE stock.valuation_lock (
    company_id bigint PRIMARY KEY REFERENCES erp.company (id),
    lock_date date NOT NULL CHECK (isfinite(lock_date)),
    set_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    set_by bigint
);
COMMENT ON TABLE stock.valuation_lock IS
    'Stock lock date per company: valued moves dated on or before it (UTC days) are refused; set by stock.set_lock_date()';
COMMENT ON COLUMN stock.valuation_lock.set_by IS 'User who set it (erp.app_user); NULL: a superuser with nobody signed in';
SELECT pg_catalog.pg_extension_config_dump('stock.valuation_lock', '');

-- The advisory lock key of a company's lock date: postings hold it shared,
-- stock.set_lock_date() exclusively, so that no posting that read the old
-- lock date commits after a new one.
CREATE FUNCTION stock._lock_date_key(p_company bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT pg_catalog.hashtextextended('pgerp stock.valuation_lock', p_company)
$$;

-- Is a move between these two locations of p_company valued (exactly one
-- of them internal)? Unknown locations: false (the posting refuses them).
CREATE FUNCTION stock._is_valued(p_company bigint, p_from bigint, p_to bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT count(*) = 2 AND count(*) FILTER (WHERE l.usage = 'internal') = 1
      FROM stock.location l WHERE l.company_id = p_company AND l.id IN (p_from, p_to) AND p_from <> p_to
$$;

-- Refuse a valued posting of p_company dated p_date when it falls on or
-- before the company's lock date (55000, the lock date in the detail), and
-- an infinite date (22008). p_what names the posting in the message.
-- Called at the entry of each posting function, before any write.
CREATE FUNCTION stock._check_lock_date(p_company bigint, p_date timestamptz, p_what text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_lock date;
BEGIN
    IF p_date IS NULL THEN
        RETURN;   -- callers refuse a NULL date with their own message
    END IF;
    PERFORM stock._check_date(p_date, 'date', false);   -- finite (22008), as the posting checks it
    PERFORM pg_catalog.pg_advisory_xact_lock_shared(stock._lock_date_key(p_company));
    SELECT l.lock_date INTO v_lock FROM stock.valuation_lock l WHERE l.company_id = p_company;
    IF v_lock IS NOT NULL AND p_date < (v_lock + 1)::timestamp AT TIME ZONE 'UTC' THEN
        RAISE EXCEPTION '% is dated on or before the stock lock date', p_what
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('The lock date of company %s is %s (UTC); the %s is dated %s.',
                                  p_company, v_lock, p_what, p_date),
                  HINT = 'Date the posting after the lock date.';
    END IF;
END $$;

-- Close the valuation of a company up to p_date (needs stock.valuation:lock).
-- It moves forward only; a superuser may move it back (others: 42501).
-- Not in the future (22023), finite (22008). Audited (erp.audit_log).
CREATE FUNCTION stock.set_lock_date(p_company bigint, p_date date) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_old date;
    v_today date := (pg_catalog.now() AT TIME ZONE 'UTC')::date;
BEGIN
    IF p_company IS NULL OR p_date IS NULL THEN
        RAISE EXCEPTION 'company and lock date must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT erp._is_bootstrap() THEN
        PERFORM erp._require_signed_in();
        PERFORM erp.require_permission('stock.valuation:lock', p_company);
    END IF;
    IF NOT isfinite(p_date) THEN
        RAISE EXCEPTION 'lock date must be a finite date'
            USING ERRCODE = 'datetime_field_overflow', DETAIL = format('The lock date given is %s.', p_date);
    END IF;
    IF p_date > v_today THEN
        RAISE EXCEPTION 'lock date may not be in the future' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('The lock date given is %s; today is %s (UTC).', p_date, v_today);
    END IF;
    PERFORM stock._ensure_company(p_company);
    -- wait for the postings of the company in progress, hold off new ones
    PERFORM pg_catalog.pg_advisory_xact_lock(stock._lock_date_key(p_company));
    SELECT l.lock_date INTO v_old FROM stock.valuation_lock l WHERE l.company_id = p_company FOR UPDATE;
    IF p_date < v_old AND NOT erp._caller_is_superuser() THEN
        RAISE EXCEPTION 'only a superuser may move the stock lock date back'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('The lock date of company %s is %s; %s is earlier.', p_company, v_old, p_date);
    END IF;
    IF p_date IS NOT DISTINCT FROM v_old THEN
        RETURN;
    END IF;
    INSERT INTO stock.valuation_lock AS l (company_id, lock_date, set_by)
    VALUES (p_company, p_date, erp.current_user_id())
    ON CONFLICT (company_id) DO UPDATE SET lock_date = EXCLUDED.lock_date, set_at = pg_catalog.now(), set_by = EXCLUDED.set_by;
END $$;
COMMENT ON FUNCTION stock.set_lock_date(bigint, date) IS
    'Set the stock lock date of a company (needs stock.valuation:lock): valued moves dated on or before it are refused (55000); forward only unless a superuser';

SELECT erp.protect('stock.valuation_lock');
INSERT INTO erp.app_table (table_name, privileges) VALUES ('stock.valuation_lock', 'SELECT');
SELECT erp.audit('stock.valuation_lock');
