-- Idempotency keys of the posting functions (#14.6, docs/stock.md): a client
-- that cannot tell whether its commit landed (a failover, a lost connection)
-- retries with the same key and gets the first posting's result, posted once.
-- Keys are unique per company; the row holds the routine, its arguments in
-- canonical form (jsonb: numbers compare by value, dates as epoch seconds)
-- and the result. Rows are written only by the posting functions, in the
-- posting's transaction: a key exists exactly when its posting committed.

CREATE TABLE stock.idempotency_key (
    company_id bigint NOT NULL REFERENCES erp.company (id),
    key text NOT NULL,
    routine text NOT NULL,
    args jsonb NOT NULL,
    result jsonb,
    user_id bigint,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (company_id, key)
);
CREATE INDEX idempotency_key_created_idx ON stock.idempotency_key (created_at);
COMMENT ON TABLE stock.idempotency_key IS
    'Idempotency keys of postings, per company: routine, canonical arguments and the first result';

-- A timestamp argument in canonical form: epoch seconds (the session's time
-- zone does not matter), and NULL for now(), which is what the date
-- parameters default to, so that a retry in a later transaction that leaves
-- the date out matches the first call.
CREATE FUNCTION stock._idempotency_date(p_date timestamptz) RETURNS numeric
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_date = pg_catalog.now() THEN NULL ELSE EXTRACT(epoch FROM p_date) END
$$;

-- Claim p_key for a posting of p_company, or find the posting that used it.
-- replay = false: the key is new (or NULL) and now taken by this transaction;
-- the caller posts, then stores its result with stock._idempotency_done().
-- replay = true: the same routine with the same arguments committed before;
-- result is what it returned. Other arguments: 23505. Two transactions with
-- the same key serialize on the primary key: the second waits until the
-- first commits (then replays) or rolls back (then posts).
CREATE FUNCTION stock._idempotency_claim(p_company bigint, p_key text, p_routine text, p_args jsonb,
                                         OUT replay boolean, OUT result jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    k stock.idempotency_key;
BEGIN
    replay := false;
    IF p_key IS NULL THEN
        RETURN;
    END IF;
    IF p_key !~ '^[\x21-\x7e]{1,255}$' THEN
        RAISE EXCEPTION 'invalid idempotency key %', erp._echo(p_key)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'An idempotency key is 1 to 255 printable ASCII characters without spaces.';
    END IF;
    INSERT INTO stock.idempotency_key (company_id, key, routine, args, user_id)
    VALUES (p_company, p_key, p_routine, p_args, erp.current_user_id())
    ON CONFLICT (company_id, key) DO NOTHING;
    IF FOUND THEN
        RETURN;
    END IF;
    SELECT * INTO STRICT k FROM stock.idempotency_key i WHERE i.company_id = p_company AND i.key = p_key;
    IF k.routine <> p_routine OR k.args <> p_args THEN
        RAISE EXCEPTION 'idempotency key % was used for another posting', erp._echo(p_key)
            USING ERRCODE = 'unique_violation',
                  DETAIL = CASE WHEN k.routine <> p_routine
                                THEN format('The key was used by %s at %s.', k.routine, k.created_at)
                                ELSE format('The key was used by %s at %s with other arguments.', k.routine, k.created_at) END,
                  HINT = 'Retry with the same arguments, or use a new key for a new posting.';
    END IF;
    replay := true;
    result := k.result;
END $$;

-- The result of the posting that claimed p_key (nothing without a key).
CREATE FUNCTION stock._idempotency_done(p_company bigint, p_key text, p_result jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_key IS NOT NULL THEN
        UPDATE stock.idempotency_key SET result = p_result WHERE company_id = p_company AND key = p_key;
    END IF;
END $$;

-- Retention: keys older than p_age may go (a retry after that posts anew).
-- For erp._housekeeping(); returns how many were deleted.
CREATE FUNCTION stock._purge_idempotency_keys(p_age interval DEFAULT '7 days') RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    IF p_age IS NULL OR NOT isfinite(p_age) OR p_age < interval '0' THEN
        RAISE EXCEPTION 'retention must be a finite interval of zero or more'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The retention given is %s.', p_age);
    END IF;
    DELETE FROM stock.idempotency_key WHERE created_at < pg_catalog.now() - p_age;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
COMMENT ON FUNCTION stock._purge_idempotency_keys(interval) IS
    'Delete idempotency keys older than the retention (default 7 days); returns how many';

-- The chore the job workers' housekeeping runs once an hour
-- (erp.housekeeping_chore): purge at the retention pgerp.idempotency_key_retention.
CREATE FUNCTION stock._housekeeping() RETURNS jsonb
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object('idempotency_keys_purged',
        stock._purge_idempotency_keys(make_interval(secs => stock._idempotency_key_retention())))
$$;
COMMENT ON FUNCTION stock._housekeeping() IS
    'Hourly chore of pgerp_stock (erp.housekeeping_chore): purge the idempotency keys older than pgerp.idempotency_key_retention';
INSERT INTO erp.housekeeping_chore (routine, every) VALUES ('stock._housekeeping()', interval '1 hour');
