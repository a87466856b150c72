-- Tamper-evident audit trail (src/audit/trigger.c, docs/security.md).
--
-- Writers append entries with no hash and never wait for each other.
-- erp.audit_seal() (pg_cron, every minute) chains the entries of settled
-- transactions, in (transaction id, entry id) order, with SHA-256 over the
-- previous hash and the entry; erp.audit_verify() recomputes the chain.

CREATE TABLE erp.audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id bigint,
    user_id bigint,
    db_role text NOT NULL,
    tx xid8 NOT NULL,
    at timestamptz NOT NULL,
    rel text NOT NULL,
    op text NOT NULL CHECK (op IN ('insert', 'update', 'delete', 'truncate', 'purge', 'unaudit')),
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
    anchor_hash bytea NOT NULL DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000'
);
COMMENT ON TABLE erp.audit_seal_state IS 'Head of the audit hash chain and how far sealing got';

CREATE FUNCTION erp._audit_trigger() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'pgerp_audit_trigger';

CREATE FUNCTION erp._audit_note(p_rel text, p_op text, p_changes jsonb) RETURNS void
    LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'pgerp_audit_note';

-- The bytes an entry's hash covers: independent of DateStyle and TimeZone.
CREATE FUNCTION erp._audit_entry_bytes(l erp.audit_log) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT convert_to(jsonb_build_array(l.id, l.company_id, l.user_id, l.db_role, l.tx::text,
                                        to_char(l.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                                        l.rel, l.op, l.pk, l.changes)::text, 'UTF8')
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
    IF p_table IN ('erp.audit_log'::regclass, 'erp.audit_chain'::regclass, 'erp.audit_seal_state'::regclass) THEN
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
    FOR v_rel IN SELECT r FROM (SELECT p_table AS r UNION SELECT t.relid FROM pg_partition_tree(p_table) t) x
                  WHERE EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = x.r AND g.tgname = 'audit_truncate')
    LOOP
        EXECUTE format('DROP TRIGGER audit_truncate ON %s', v_rel);
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
           last_seq = v_seq, last_hash = v_prev;
    RETURN n;
END $$;
COMMENT ON FUNCTION erp.audit_seal() IS
    'Hash-chain the audit entries of ended transactions; returns how many were sealed, 0 when another sealer is at work (pg_cron runs it every minute; needs erp.audit_log:read)';

CREATE FUNCTION erp.audit_head(OUT seq bigint, OUT hash bytea)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT s.last_seq, s.last_hash FROM erp.audit_seal_state s
$$;
COMMENT ON FUNCTION erp.audit_head() IS
    'Newest chain position and hash: keep copies outside the database to detect a rewritten chain';

CREATE FUNCTION erp.audit_verify(p_from bigint DEFAULT NULL)
RETURNS TABLE (ok boolean, first_bad_id bigint, checked bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s erp.audit_seal_state;
    v_start bigint;
    v_prev bytea;
    v_expect bigint;
    v_n bigint := 0;
    v_forged bigint;
    c record;
BEGIN
    PERFORM erp.require_permission('erp.audit_log:read');
    IF NOT current_setting('transaction_read_only')::boolean THEN
        PERFORM erp.audit_seal();
    END IF;
    SELECT * INTO s FROM erp.audit_seal_state;
    IF NOT FOUND THEN
        RETURN QUERY SELECT true, NULL::bigint, 0::bigint;
        RETURN;
    END IF;
    IF p_from IS NULL THEN
        v_start := s.anchor_seq + 1;
        v_prev := s.anchor_hash;
    ELSE
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
                RETURN QUERY SELECT false, p_from, 0::bigint;
                RETURN;
            END IF;
        END IF;
    END IF;
    v_expect := v_start;
    FOR c IN SELECT ch.seq, ch.entry_id, ch.hash, l AS entry, l.id IS NOT NULL AS present
               FROM erp.audit_chain ch LEFT JOIN erp.audit_log l ON l.id = ch.entry_id
              WHERE ch.seq >= v_start ORDER BY ch.seq
    LOOP
        IF c.seq <> v_expect OR NOT c.present
           OR sha256(v_prev || erp._audit_entry_bytes(c.entry)) <> c.hash THEN
            RETURN QUERY SELECT false, c.entry_id, v_n;
            RETURN;
        END IF;
        v_prev := c.hash;
        v_expect := v_expect + 1;
        v_n := v_n + 1;
    END LOOP;
    -- the head must be where the state says (a cut tail, or a rewritten state)
    IF v_expect - 1 <> s.last_seq OR v_prev <> s.last_hash THEN
        RETURN QUERY SELECT false, NULL::bigint, v_n;
        RETURN;
    END IF;
    -- an entry slipped in behind the sealer's back
    SELECT min(l.id) INTO v_forged FROM erp.audit_log l
     WHERE l.tx < s.tx_done AND (p_from IS NULL OR l.id >= p_from)
       AND NOT EXISTS (SELECT 1 FROM erp.audit_chain ch WHERE ch.entry_id = l.id);
    IF v_forged IS NOT NULL AND s.system_id = (SELECT cs.system_identifier FROM pg_control_system() cs) THEN
        RETURN QUERY SELECT false, v_forged, v_n;
        RETURN;
    END IF;
    RETURN QUERY SELECT true, NULL::bigint, v_n;
END $$;
COMMENT ON FUNCTION erp.audit_verify(bigint) IS
    'Seal, then recompute the hash chain (from an entry id, or from the start); first_bad_id is the first altered, removed or inserted entry (needs erp.audit_log:read)';

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

INSERT INTO erp.app_table (table_name, privileges) VALUES ('erp.audit_log', 'SELECT');
