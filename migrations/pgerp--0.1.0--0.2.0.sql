\echo Use "ALTER EXTENSION pgerp UPDATE TO '0.2.0'" to load this file. \quit
-- pgerp 0.1.0 -> 0.2.0. Sections by topic; each keeps the upgrade equal to a
-- fresh install of what sql/ now holds (test/upgrade/ checks it).

-- ==== published routines: an explicit allow-list (#11.20) ====

CREATE TABLE erp.app_routine (
    routine text PRIMARY KEY
);

CREATE FUNCTION erp._echo(p_value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN p_value IS NULL THEN 'NULL'
                WHEN pg_catalog.length(p_value) <= 64 THEN pg_catalog.quote_literal(p_value)
                ELSE pg_catalog.quote_literal(pg_catalog.left(p_value, 61) || '...') END
$$;

CREATE OR REPLACE FUNCTION erp._apply_app_access(p_role regrole)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_schema name;
    v_fn regprocedure;
    v_tab record;
BEGIN
    FOR v_schema IN SELECT s.schema_name FROM erp.app_schema s
                     WHERE EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = s.schema_name)
    LOOP
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO %s', v_schema, p_role);
        -- what is not on the allow-list is taken back (an upgrade may unpublish)
        FOR v_fn IN SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                     WHERE n.nspname = v_schema
                       AND NOT EXISTS (SELECT 1 FROM erp.app_routine r
                                        WHERE pg_catalog.to_regprocedure(r.routine) OPERATOR(pg_catalog.=) p.oid)
        LOOP
            EXECUTE format('REVOKE EXECUTE ON ROUTINE %s FROM %s', v_fn, p_role);
        END LOOP;
    END LOOP;
    -- routines of an extension not installed yet are skipped
    FOR v_fn IN SELECT pg_catalog.to_regprocedure(r.routine) FROM erp.app_routine r
                 WHERE pg_catalog.to_regprocedure(r.routine) IS NOT NULL ORDER BY r.routine
    LOOP
        EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO %s', v_fn, p_role);
    END LOOP;
    -- rows left by a dropped extension point at tables that no longer exist
    FOR v_tab IN SELECT t.table_name, t.privileges FROM erp.app_table t
                  WHERE EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.table_name) LOOP
        EXECUTE format('GRANT %s ON TABLE %s TO %s', v_tab.privileges, v_tab.table_name, p_role);
    END LOOP;
END $$;

-- What an application role may execute in schemas erp and api: the explicit
-- allow-list (docs/security.md). A routine not listed here is not granted to
-- application roles, whatever its name; add a line to publish one.
INSERT INTO erp.app_routine (routine) VALUES
    ('erp.sign_in(text,text,bigint)'),
    ('erp.use_token(text,boolean)'),
    ('erp.switch_company(bigint)'),
    ('erp.sign_out()'),
    ('erp.current_user_id()'),
    ('erp.current_company_id()'),
    ('erp.allowed_company_ids()'),
    ('erp.has_permission(text)'),
    ('erp.permitted_companies(text)'),
    ('erp.company_allowed(bigint,text)'),
    ('erp.role_companies(text[])'),
    ('erp.require_permission(text,bigint)'),
    ('erp.create_company(text,bigint,text)'),
    ('erp.create_user(text,text,text)'),
    ('erp.set_password(bigint,text)'),
    ('erp.create_partner(bigint,text,text,text,text)'),
    ('erp.create_role(text,text,text[])'),
    ('erp.grant_role(bigint,text,bigint,boolean)'),
    ('erp.revoke_role(bigint,text,bigint)'),
    ('erp.protect(regclass)'),
    ('erp.add_record_rule(regclass,text,text)'),
    ('erp.drop_record_rule(bigint)'),
    ('erp.grant_app_access(regrole)'),
    ('erp.encrypt(text,text)'),
    ('erp.decrypt(bytea,text)'),
    ('erp.blind_index(text,text)'),
    ('erp.mask(text,text)'),
    ('erp.rotate_key(text)'),
    ('erp.plain(text)'),
    ('erp.reveal(bytea,text,bigint,text)'),
    ('erp.reencrypt(regclass,name,integer)'),
    ('erp.rotate_master_key(text)'),
    ('erp.retire_key(text,integer)'),
    ('erp.audit_seal()'),
    ('erp.audit_head()'),
    ('erp.audit_verify(bigint,boolean)'),
    ('erp.current_job_id()'),
    ('erp.job_progress(numeric,text)'),
    ('erp.running_jobs()'),
    ('erp.run_pending(integer)'),
    ('erp.enqueue(text,jsonb,timestamp with time zone,integer)'),
    ('erp.cancel_job(bigint)'),
    ('erp.reencrypt_job(bigint,jsonb)')
ON CONFLICT DO NOTHING;

-- ==== record rules (#11.1-3) ====


-- ==== accounts, tokens and sessions (#11.4, 13, 16, 18) ====


-- ==== field encryption (#11.5) ====


-- ==== jobs (#11.6, 19) ====


-- ==== numeric and date bounds (#11.8, 11, 17) ====


-- ==== audit (#11.15) ====

-- the checkpoint of incremental verification (not dumped: see sql/audit/log.sql)
CREATE TABLE erp.audit_verified (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    seq bigint NOT NULL,
    hash bytea NOT NULL,
    verified_at timestamptz NOT NULL
);
COMMENT ON TABLE erp.audit_verified IS 'Verification checkpoint: erp.audit_verify() continues from this chain position';
ALTER TABLE erp.audit_verified ENABLE ROW LEVEL SECURITY;

-- inlined into the sealer's and the verifier's queries (no SET clause)
CREATE OR REPLACE FUNCTION erp._audit_entry_bytes(l erp.audit_log) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT pg_catalog.convert_to(
               pg_catalog.jsonb_build_array(l.id, l.company_id, l.user_id, l.db_role, l.tx::pg_catalog.text,
                   pg_catalog.to_char(l.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                   l.rel, l.op, l.pk, l.changes)::pg_catalog.text, 'UTF8')
$$;

CREATE OR REPLACE FUNCTION erp.audit(p_table regclass)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_rel regclass;
BEGIN
    PERFORM erp.require_superuser('audit a table');
    IF p_table IS NULL THEN
        RAISE EXCEPTION 'table must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF p_table IN ('erp.audit_log'::regclass, 'erp.audit_chain'::regclass, 'erp.audit_seal_state'::regclass,
                   'erp.audit_verified'::regclass) THEN
        RAISE EXCEPTION 'the audit tables cannot be audited' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = p_table AND c.relkind IN ('r', 'p')) THEN
        RAISE EXCEPTION '% is not a table', p_table USING ERRCODE = 'wrong_object_type';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = p_table AND t.tgname = 'audit') THEN
        -- on a partitioned table the row trigger is cloned to every partition, present and future
        EXECUTE format('CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION erp._audit_trigger()', p_table);
    END IF;
    -- statement triggers are not cloned: each leaf partition gets its own
    -- TRUNCATE trigger, and entries name the partition, as row entries do
    -- (a partition attached later needs another call of erp.audit on the parent)
    FOR v_rel IN SELECT p_table WHERE (SELECT c.relkind FROM pg_class c WHERE c.oid = p_table) = 'r'
                  UNION SELECT t.relid FROM pg_partition_tree(p_table) t WHERE t.isleaf
    LOOP
        CONTINUE WHEN EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = v_rel AND g.tgname = 'audit_truncate');
        EXECUTE format('CREATE TRIGGER audit_truncate AFTER TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION erp._audit_trigger()', v_rel);
    END LOOP;
END $$;
COMMENT ON FUNCTION erp.audit(regclass) IS
    'Record every INSERT, UPDATE, DELETE and TRUNCATE of the table in erp.audit_log (superuser)';

-- Figures of the whole chain (its head, how many entries a verification
-- checked) are for a superuser with nobody signed in and for an auditor of
-- every active company; an auditor of some companies is told only about the
-- entries they may read (docs/security.md, "Audit trail").
CREATE FUNCTION erp._audit_database_wide() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT erp._is_bootstrap()
        OR (erp.current_user_id() IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM erp.company c
                             WHERE c.active AND NOT erp.company_allowed(c.id, 'erp.audit_log:read')))
$$;

CREATE OR REPLACE FUNCTION erp.audit_head(OUT seq bigint, OUT hash bytea)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM erp.require_permission('erp.audit_log:read');
    IF NOT erp._audit_database_wide() THEN
        RAISE EXCEPTION 'permission denied for "erp.audit_log:read"'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'The head of the audit chain counts the entries of every company: it needs the permission on every active company.',
                  HINT = 'Ask an auditor of the whole group, or a superuser.';
    END IF;
    SELECT s.last_seq, s.last_hash INTO seq, hash FROM erp.audit_seal_state s;
END $$;
COMMENT ON FUNCTION erp.audit_head() IS
    'Newest chain position and hash: keep copies outside the database to detect a rewritten chain (needs erp.audit_log:read on every active company)';

-- The verification itself, under one snapshot (a STABLE function reads with
-- the snapshot of the statement that calls it): the seal state, the chain
-- and the log as they were together, while sealers and purges go on. It
-- takes no lock beyond those of reading. From p_from (an entry id), from
-- the anchor (p_full), or else from the checkpoint of erp.audit_verified,
-- whose chain row must still carry the recorded hash.
CREATE FUNCTION erp._audit_check(p_from bigint, p_full boolean,
    OUT ok boolean, OUT bad_id bigint, OUT checked bigint, OUT checked_visible bigint,
    OUT through_seq bigint, OUT through_hash bytea)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s erp.audit_seal_state;
    v erp.audit_verified;
    v_start bigint;
    v_prev bytea;
    v_mine bigint[] := erp.permitted_companies('erp.audit_log:read');
    v_global boolean := erp.has_permission('erp.audit_log:read');
    v_bad_seq bigint;
    v_end bigint;
    v_counts_ok boolean := false;
BEGIN
    checked := 0;
    checked_visible := 0;
    SELECT * INTO s FROM erp.audit_seal_state;
    IF NOT FOUND THEN
        ok := true;
        RETURN;
    END IF;
    IF p_from IS NOT NULL THEN
        SELECT ch.seq INTO v_start FROM erp.audit_chain ch WHERE ch.entry_id = p_from;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'audit entry % is not sealed', p_from
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'Entries are sealed once their transaction has ended; purged entries are gone.';
        END IF;
        IF v_start = s.anchor_seq + 1 THEN
            v_prev := s.anchor_hash;
        ELSE
            SELECT ch.hash INTO v_prev FROM erp.audit_chain ch WHERE ch.seq = v_start - 1;
            IF NOT FOUND THEN
                ok := false;
                bad_id := p_from;
                RETURN;
            END IF;
        END IF;
    ELSE
        v_start := s.anchor_seq + 1;
        v_prev := s.anchor_hash;
        SELECT * INTO v FROM erp.audit_verified;
        IF FOUND AND NOT p_full AND v.seq >= s.anchor_seq THEN
            -- the checkpoint must still be in the chain as it was verified
            IF v.seq > s.last_seq THEN
                ok := false;        -- the chain was cut below the checkpoint
                RETURN;
            END IF;
            IF v.seq = s.anchor_seq THEN
                v_prev := s.anchor_hash;
            ELSE
                SELECT ch.hash INTO v_prev FROM erp.audit_chain ch WHERE ch.seq = v.seq;
            END IF;
            IF v_prev IS DISTINCT FROM v.hash THEN
                ok := false;
                bad_id := (SELECT ch.entry_id FROM erp.audit_chain ch WHERE ch.seq = v.seq);
                RETURN;
            END IF;
            v_start := v.seq + 1;
        END IF;
    END IF;

    -- every link from v_start to the head, in one pass: a position skipped, an
    -- entry gone, or a hash that is not sha256(previous hash || entry bytes);
    -- the window runs over the narrow chain rows, in the order of its key
    SELECT min(x.seq) FILTER (WHERE x.bad), count(*), count(*) FILTER (WHERE x.visible), max(x.seq)
      INTO v_bad_seq, checked, checked_visible, v_end
      FROM (SELECT w.seq,
                   w.seq <> w.prev_seq + 1 OR l.id IS NULL
                     OR sha256(w.prev_hash || erp._audit_entry_bytes(l)) <> w.hash AS bad,
                   CASE WHEN l.company_id IS NULL THEN v_global ELSE l.company_id = ANY (v_mine) END AS visible
              FROM (SELECT ch.seq, ch.entry_id, ch.hash,
                           lag(ch.seq, 1, v_start - 1) OVER (ORDER BY ch.seq) AS prev_seq,
                           lag(ch.hash, 1, v_prev) OVER (ORDER BY ch.seq) AS prev_hash
                      FROM erp.audit_chain ch
                     WHERE ch.seq >= v_start AND ch.seq <= s.last_seq) w
              LEFT JOIN erp.audit_log l ON l.id = w.entry_id) x;
    IF v_bad_seq IS NOT NULL THEN
        -- what was checked: the links before the bad one
        ok := false;
        bad_id := (SELECT ch.entry_id FROM erp.audit_chain ch WHERE ch.seq = v_bad_seq);
        SELECT count(*), count(*) FILTER (WHERE CASE WHEN l.company_id IS NULL THEN v_global
                                                     ELSE l.company_id = ANY (v_mine) END)
          INTO checked, checked_visible
          FROM erp.audit_chain ch LEFT JOIN erp.audit_log l ON l.id = ch.entry_id
         WHERE ch.seq >= v_start AND ch.seq < v_bad_seq;
        RETURN;
    END IF;
    -- the head must be where the state says (a cut tail, or a rewritten state)
    v_end := coalesce(v_end, v_start - 1);
    IF v_end <> s.last_seq
       OR (v_end = s.anchor_seq AND s.anchor_hash <> s.last_hash)
       OR (v_end > s.anchor_seq AND (SELECT ch.hash FROM erp.audit_chain ch WHERE ch.seq = v_end) IS DISTINCT FROM s.last_hash) THEN
        ok := false;
        RETURN;
    END IF;
    -- an entry slipped in behind the sealer's back (not after a restore into
    -- another cluster, whose transaction ids started again): every entry is
    -- either chained or of a transaction at or above the horizon. Counting
    -- is cheap; the search for the entry only runs when the counts differ
    -- (and for a re-verification).
    IF s.system_id = (SELECT cs.system_identifier FROM pg_control_system() cs) THEN
        IF p_from IS NULL AND NOT p_full THEN
            v_counts_ok := (SELECT count(*) FROM erp.audit_log)
                           - (SELECT count(*) FROM erp.audit_log l
                               WHERE l.tx >= s.tx_done
                                 AND NOT EXISTS (SELECT 1 FROM erp.audit_chain ch WHERE ch.entry_id = l.id))
                           = s.last_seq - s.anchor_seq;
        END IF;
        IF NOT v_counts_ok THEN
            SELECT min(l.id) INTO bad_id FROM erp.audit_log l
             WHERE l.tx < s.tx_done AND (p_from IS NULL OR l.id >= p_from)
               AND NOT EXISTS (SELECT 1 FROM erp.audit_chain ch WHERE ch.entry_id = l.id);
            -- none found by an incremental verification: sealed entries are
            -- gone below the checkpoint (a full re-verification names them)
            IF bad_id IS NOT NULL OR (p_from IS NULL AND NOT p_full) THEN
                ok := false;
                RETURN;
            END IF;
        END IF;
    END IF;
    ok := true;
    through_seq := s.last_seq;
    through_hash := s.last_hash;
END $$;

DROP FUNCTION erp.audit_verify(bigint);

-- Verify what was sealed since the last verification (or, for a superuser,
-- from an entry or from the anchor), without sealing and without the
-- sealer's lock: a verification never holds up erp.audit_seal(). An intact
-- chain moves the checkpoint to the head it checked.
CREATE FUNCTION erp.audit_verify(p_from bigint DEFAULT NULL, p_full boolean DEFAULT false)
RETURNS TABLE (ok boolean, first_bad_id bigint, checked bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
BEGIN
    PERFORM erp.require_permission('erp.audit_log:read');
    IF p_full IS NULL THEN
        RAISE EXCEPTION 'p_full must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF (p_from IS NOT NULL OR p_full) AND NOT erp._is_bootstrap() THEN
        RAISE EXCEPTION 'permission denied to re-verify the audit chain'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Verifying again from an entry or from the start needs a superuser with nobody signed in.',
                  HINT = 'Call erp.audit_verify() without arguments: it checks what was sealed since the last verification.';
    END IF;
    SELECT * INTO r FROM erp._audit_check(p_from, p_full);
    IF r.ok AND r.through_seq IS NOT NULL AND NOT current_setting('transaction_read_only')::boolean THEN
        INSERT INTO erp.audit_verified AS v (seq, hash, verified_at)
        VALUES (r.through_seq, r.through_hash, now())
        ON CONFLICT (singleton) DO UPDATE
            SET seq = excluded.seq, hash = excluded.hash, verified_at = excluded.verified_at
          WHERE v.seq < excluded.seq
             OR ((p_full OR p_from IS NOT NULL) AND (v.seq, v.hash) IS DISTINCT FROM (excluded.seq, excluded.hash));
    END IF;
    IF erp._audit_database_wide() THEN
        RETURN QUERY SELECT r.ok, r.bad_id, r.checked;
    ELSE
        -- what this auditor may read: their entries, and no database-wide count
        RETURN QUERY SELECT r.ok,
            (SELECT l.id FROM erp.audit_log l
              WHERE l.id = r.bad_id
                AND CASE WHEN l.company_id IS NULL THEN erp.has_permission('erp.audit_log:read')
                         ELSE erp.company_allowed(l.company_id, 'erp.audit_log:read') END),
            r.checked_visible;
    END IF;
END $$;
COMMENT ON FUNCTION erp.audit_verify(bigint, boolean) IS
    'Recompute the hash chain from the last verified position to the head (a superuser: from an entry id, or from the anchor with p_full); first_bad_id is the first altered, removed or inserted entry; checked counts the entries checked that the caller may read (needs erp.audit_log:read)';


-- ==== other ====

-- #11.17 (echoed values cut to 64 characters): RAISE lines of core and rbac
-- functions. Each line is replaced inside the function as the sections above
-- left it (pg_get_functiondef keeps comments, grants and the owner), so that
-- other changes to the same functions stand whatever the order of sections.
DO $echo$
DECLARE
    e record;
    f oid;
    v_def text;
BEGIN
    FOR e IN SELECT * FROM (VALUES
        ('create_company', $x$'invalid currency code %', coalesce(quote_literal(p_currency), 'NULL')$x$,
                           $x$'invalid currency code %', erp._echo(p_currency)$x$),
        ('create_partner', $x$'invalid partner kind %', coalesce(quote_literal(p_kind), 'NULL')$x$,
                           $x$'invalid partner kind %', erp._echo(p_kind)$x$),
        ('create_user', $x$'invalid login %', coalesce(quote_literal(p_login), 'NULL')$x$,
                        $x$'invalid login %', erp._echo(p_login)$x$),
        ('create_user', $x$'login % is already taken', quote_literal(v_login)$x$,
                        $x$'login % is already taken', erp._echo(v_login)$x$),
        ('_lookup_grant_args', $x$'role % does not exist', coalesce(quote_literal(p_role), 'NULL')$x$,
                               $x$'role % does not exist', erp._echo(p_role)$x$),
        ('grant_role', $x$'permission denied to grant role %', quote_literal(p_role)$x$,
                       $x$'permission denied to grant role %', erp._echo(p_role)$x$),
        ('revoke_role', $x$'user % holds no role % on company %', p_user, quote_literal(p_role), p_company$x$,
                        $x$'user % holds no role % on company %', p_user, erp._echo(p_role), p_company$x$),
        ('create_role', $x$'invalid role code %', coalesce(quote_literal(p_code), 'NULL')$x$,
                        $x$'invalid role code %', erp._echo(p_code)$x$),
        ('create_role', $x$'role % already exists', quote_literal(p_code)$x$,
                        $x$'role % already exists', erp._echo(p_code)$x$)) AS t(fn, old, new)
    LOOP
        FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p
                  WHERE p.pronamespace = 'erp'::pg_catalog.regnamespace AND p.proname = e.fn LOOP
            v_def := pg_catalog.pg_get_functiondef(f);
            IF pg_catalog.strpos(v_def, e.old) > 0 THEN
                EXECUTE pg_catalog.replace(v_def, e.old, e.new);
            END IF;
        END LOOP;
    END LOOP;
END $echo$;


-- ==== last: grants of the application roles ====

-- as the install's finish.sql: nothing new is PUBLIC
REVOKE ALL ON ALL ROUTINES IN SCHEMA erp FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA erp FROM PUBLIC;
SELECT erp._apply_app_access(r.role_name) FROM erp.app_role r;
