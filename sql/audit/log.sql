-- Tamper-evident audit trail (src/audit/trigger.c, docs/security.md).
--
-- Writers append entries with no hash and never wait for each other.
-- erp.audit_seal() (pg_cron, every minute) chains the entries of settled
-- transactions, in (transaction id, entry id) order, with SHA-256 over the
-- previous hash and the entry; erp.audit_verify() recomputes the chain
-- from the last verified position, without the sealer's lock.

-- The operations the pack writes into the log (C, src/audit/op_check.c): the
-- CHECK of erp.audit_log.op, a call because every flush's INSERT parses the
-- table's CHECK again (op IN (...) was five times the node text). Keep it and
-- src/auth/events.c in step.
CREATE FUNCTION erp._audit_op(text) RETURNS boolean
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'pgerp_audit_op';

CREATE TABLE erp.audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id bigint,
    user_id bigint,
    db_role text NOT NULL,
    tx xid8 NOT NULL,
    at timestamptz NOT NULL,
    rel text NOT NULL,
    op text NOT NULL CHECK (erp._audit_op(op)),
    pk jsonb,
    changes jsonb NOT NULL
);
CREATE INDEX audit_log_tx_idx ON erp.audit_log (tx);
COMMENT ON TABLE erp.audit_log IS
    'Append-only audit trail: who (pgerp user, database role), when, transaction, company, table, key and changes (bytea columns redacted)';
COMMENT ON COLUMN erp.audit_log.changes IS
    'insert/delete: {column: value}; update: {column: [old, new]} of the changed columns; values as text, bytea as [redacted]';

-- The chain: entry seq holds sha256(hash of seq-1 || entry text).
CREATE TABLE erp.audit_chain (
    seq bigint PRIMARY KEY,
    entry_id bigint NOT NULL UNIQUE,
    hash bytea NOT NULL
);
COMMENT ON TABLE erp.audit_chain IS 'Hash chain over erp.audit_log, in sealing order (see erp.audit_seal)';

CREATE TABLE erp.audit_seal_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    system_id bigint NOT NULL,       -- the cluster that sealed; another one (a restore) rescans
    tx_done xid8 NOT NULL,           -- every entry of a transaction below this is sealed
    last_seq bigint NOT NULL,
    last_hash bytea NOT NULL,
    anchor_seq bigint NOT NULL DEFAULT 0,      -- chain entries up to here were purged
    anchor_hash bytea NOT NULL DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000',
    sealed_at timestamptz            -- when a sealer last ran (erp.health() reports its age)
);
COMMENT ON TABLE erp.audit_seal_state IS 'Head of the audit hash chain and how far sealing got';

-- The last chain position that erp.audit_verify() found intact, and its
-- hash: the next verification starts there. Not dumped: a restored
-- database verifies from the anchor once.
CREATE TABLE erp.audit_verified (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    seq bigint NOT NULL,
    hash bytea NOT NULL,
    verified_at timestamptz NOT NULL
);
COMMENT ON TABLE erp.audit_verified IS 'Verification checkpoint: erp.audit_verify() continues from this chain position';

CREATE FUNCTION erp._audit_trigger() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'pgerp_audit_trigger';

CREATE FUNCTION erp._audit_note(p_rel text, p_op text, p_changes jsonb) RETURNS void
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pgerp_audit_note';

-- The bytes an entry's hash covers: independent of DateStyle and TimeZone.
-- Every name is qualified and there is no SET clause, so that the planner
-- inlines it into the sealer's and the verifier's queries.
CREATE FUNCTION erp._audit_entry_bytes(l erp.audit_log) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT pg_catalog.convert_to(
               pg_catalog.jsonb_build_array(l.id, l.company_id, l.user_id, l.db_role, l.tx::pg_catalog.text,
                   pg_catalog.to_char(l.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                   l.rel, l.op, l.pk, l.changes)::pg_catalog.text, 'UTF8')
$$;

-- Refuse UPDATE, DELETE and TRUNCATE, whoever asks. erp.audit_purge()
-- (superusers) works with session_replication_role = replica, under which
-- these triggers do not fire, and leaves an entry saying what it removed.
CREATE FUNCTION erp._audit_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only'
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = format('%s on %s.%s is refused.', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME),
              HINT = 'Superusers remove old entries with erp.audit_purge().';
END $$;
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON erp.audit_log
    FOR EACH ROW EXECUTE FUNCTION erp._audit_append_only();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON erp.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION erp._audit_append_only();
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON erp.audit_chain
    FOR EACH ROW EXECUTE FUNCTION erp._audit_append_only();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON erp.audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION erp._audit_append_only();

-- Entries of a company are read with erp.audit_log:read on it; entries of
-- tables without a company (keys, roles) with that permission on the
-- selected company.
ALTER TABLE erp.audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE erp.audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY pgerp_read ON erp.audit_log FOR SELECT
    USING (CASE WHEN company_id IS NULL THEN erp.has_permission('erp.audit_log:read')
                ELSE erp.company_allowed(company_id, 'erp.audit_log:read') END);
ALTER TABLE erp.audit_chain ENABLE ROW LEVEL SECURITY;
ALTER TABLE erp.audit_seal_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE erp.audit_verified ENABLE ROW LEVEL SECURITY;

CREATE FUNCTION erp.audit(p_table regclass)
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
        IF p_table = 'erp.app_user'::regclass THEN
            -- the trigger's arguments name text columns recorded as changed
            -- but never shown, as bytea ones are: the password hash. A user
            -- is audited when created, not when a restore copies it back
            -- (erp.app_user's rows are restored before the log's, whose ids
            -- they would take): a restored row is older than its transaction.
            EXECUTE format('CREATE TRIGGER audit AFTER UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION erp._audit_trigger(%L)',
                           p_table, 'password_hash');
            EXECUTE format('CREATE TRIGGER audit_insert AFTER INSERT ON %s FOR EACH ROW'
                           ' WHEN (NEW.created_at >= pg_catalog.transaction_timestamp()) EXECUTE FUNCTION erp._audit_trigger(%L)',
                           p_table, 'password_hash');
        ELSE
            EXECUTE format('CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION erp._audit_trigger()', p_table);
        END IF;
    END IF;
    -- the row trigger queues each entry; audit_flush writes a statement's
    -- entries at its end, in one INSERT (src/audit/buffer.c). Statement
    -- triggers fire on the statement's target only: every member of a
    -- partition tree gets one (and commit writes what a partition attached
    -- later queued)
    FOR v_rel IN SELECT p_table UNION SELECT t.relid FROM pg_partition_tree(p_table) t
    LOOP
        CONTINUE WHEN EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = v_rel AND g.tgname = 'audit_flush');
        EXECUTE format('CREATE TRIGGER audit_flush AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH STATEMENT EXECUTE FUNCTION erp._audit_trigger()', v_rel);
    END LOOP;
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

CREATE FUNCTION erp.unaudit(p_table regclass)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_rel regclass;
BEGIN
    PERFORM erp.require_superuser('stop auditing a table');
    IF NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = p_table AND t.tgname = 'audit') THEN
        RAISE EXCEPTION '% is not audited', p_table USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = p_table AND t.tgname = 'audit' AND t.tgparentid <> 0) THEN
        RAISE EXCEPTION '% is audited through its partitioned table', p_table
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Call erp.unaudit() on the partitioned table.';
    END IF;
    EXECUTE format('DROP TRIGGER audit ON %s', p_table);
    EXECUTE format('DROP TRIGGER IF EXISTS audit_insert ON %s', p_table);
    FOR v_rel IN SELECT r FROM (SELECT p_table AS r UNION SELECT t.relid FROM pg_partition_tree(p_table) t) x
                  WHERE EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = x.r AND g.tgname = 'audit_truncate')
    LOOP
        EXECUTE format('DROP TRIGGER audit_truncate ON %s', v_rel);
    END LOOP;
    FOR v_rel IN SELECT r FROM (SELECT p_table AS r UNION SELECT t.relid FROM pg_partition_tree(p_table) t) x
                  WHERE EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = x.r AND g.tgname = 'audit_flush')
    LOOP
        EXECUTE format('DROP TRIGGER audit_flush ON %s', v_rel);
    END LOOP;
    PERFORM erp._audit_note((SELECT format('%s.%s', n.nspname, c.relname) FROM pg_class c
                               JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = p_table),
                            'unaudit', '{}');
END $$;
COMMENT ON FUNCTION erp.unaudit(regclass) IS 'Stop auditing a table; the log keeps an entry saying so (superuser)';

-- Chain the entries of every transaction that has ended. One sealer at a
-- time (a row lock on the state); writers never wait for it.
CREATE FUNCTION erp.audit_seal()
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s erp.audit_seal_state;
    v_sys bigint := (SELECT c.system_identifier FROM pg_control_system() c);
    v_xmin xid8;
    v_prev bytea;
    v_seq bigint;
    v_rescan boolean;
    r erp.audit_log;
    n bigint := 0;
BEGIN
    PERFORM erp.require_permission('erp.audit_log:read');
    INSERT INTO erp.audit_seal_state (system_id, tx_done, last_seq, last_hash)
    VALUES (v_sys, '0', 0, '\x0000000000000000000000000000000000000000000000000000000000000000')
    ON CONFLICT DO NOTHING;
    -- another sealer at work (or a session that sealed and left its transaction
    -- open): leave it to that one rather than wait
    SELECT * INTO s FROM erp.audit_seal_state FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    v_xmin := pg_snapshot_xmin(pg_current_snapshot());
    -- restored into another cluster: transaction ids restarted, so look at
    -- every unsealed entry once
    v_rescan := s.system_id <> v_sys;
    v_prev := s.last_hash;
    v_seq := s.last_seq;
    FOR r IN SELECT l.* FROM erp.audit_log l
              WHERE (v_rescan OR (l.tx >= s.tx_done AND l.tx < v_xmin))
                AND NOT EXISTS (SELECT 1 FROM erp.audit_chain c WHERE c.entry_id = l.id)
              ORDER BY l.tx, l.id
    LOOP
        v_seq := v_seq + 1;
        v_prev := sha256(v_prev || erp._audit_entry_bytes(r));
        INSERT INTO erp.audit_chain (seq, entry_id, hash) VALUES (v_seq, r.id, v_prev);
        n := n + 1;
    END LOOP;
    UPDATE erp.audit_seal_state
       SET system_id = v_sys,
           tx_done = CASE WHEN v_rescan OR v_xmin > s.tx_done THEN v_xmin ELSE s.tx_done END,
           last_seq = v_seq, last_hash = v_prev, sealed_at = clock_timestamp();
    RETURN n;
END $$;
COMMENT ON FUNCTION erp.audit_seal() IS
    'Hash-chain the audit entries of ended transactions; returns how many were sealed, 0 when another sealer is at work (run by the job worker housekeeping every pgerp.housekeeping_interval; needs erp.audit_log:read)';

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

CREATE FUNCTION erp.audit_head(OUT seq bigint, OUT hash bytea)
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

CREATE FUNCTION erp.audit_purge(p_before timestamptz)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s erp.audit_seal_state;
    v_through bigint;
    v_hash bytea;
    v_n bigint;
BEGIN
    PERFORM erp.require_superuser('purge the audit log');
    IF p_before IS NULL THEN
        RAISE EXCEPTION 'cut-off time must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM erp.audit_seal();
    SELECT * INTO s FROM erp.audit_seal_state FOR UPDATE;
    -- only a prefix of the chain goes, so what remains still verifies
    SELECT coalesce(min(ch.seq) - 1, s.last_seq) INTO v_through
      FROM erp.audit_chain ch JOIN erp.audit_log l ON l.id = ch.entry_id
     WHERE l.at >= p_before AND ch.seq > s.anchor_seq;
    IF v_through <= s.anchor_seq THEN
        RETURN 0;
    END IF;
    SELECT ch.hash INTO v_hash FROM erp.audit_chain ch WHERE ch.seq = v_through;
    SET LOCAL session_replication_role = replica;
    DELETE FROM erp.audit_log l USING erp.audit_chain ch
     WHERE ch.entry_id = l.id AND ch.seq > s.anchor_seq AND ch.seq <= v_through;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    DELETE FROM erp.audit_chain ch WHERE ch.seq > s.anchor_seq AND ch.seq <= v_through;
    UPDATE erp.audit_seal_state SET anchor_seq = v_through, anchor_hash = v_hash;
    SET LOCAL session_replication_role = origin;
    PERFORM erp._audit_note('erp.audit_log', 'purge',
                            jsonb_build_object('before', p_before, 'deleted', v_n, 'through_seq', v_through,
                                               'through_hash', encode(v_hash, 'hex')));
    RETURN v_n;
END $$;
COMMENT ON FUNCTION erp.audit_purge(timestamptz) IS
    'Delete sealed entries older than the cut-off (a prefix of the chain), leaving an entry that says so (superuser)';

-- Audited from the start: role grants and role definitions, data keys, partners.
SELECT erp.audit('erp.user_role');
SELECT erp.audit('erp.role');
SELECT erp.audit('erp.crypto_key');
SELECT erp.audit('erp.partner');
-- Users (creation, password changes, activation: never the password hash)
-- and companies (creation, changes, deactivation).
SELECT erp.audit('erp.app_user');
SELECT erp.audit('erp.company');

INSERT INTO erp.app_table (table_name, privileges) VALUES ('erp.audit_log', 'SELECT');
