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
    ('erp.audit_verify(bigint)'),
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

-- NaN > 0 and 'Infinity' > 0 hold in PostgreSQL: an infinite rounding made
-- every stock value NaN (#11.8).
ALTER TABLE erp.company
    DROP CONSTRAINT company_currency_rounding_check,
    ADD CONSTRAINT company_currency_rounding_check CHECK (currency_rounding > 0 AND currency_rounding < 'Infinity') NOT VALID;
-- a company left with an infinite rounding by 0.1.0 keeps the constraint NOT
-- VALID (new values are checked) and the update warns instead of failing
DO $$
BEGIN
    ALTER TABLE erp.company VALIDATE CONSTRAINT company_currency_rounding_check;
EXCEPTION WHEN check_violation THEN
    RAISE WARNING 'constraint company_currency_rounding_check of erp.company is left NOT VALID: a currency rounding is not a finite number'
        USING HINT = 'Correct erp.company.currency_rounding, then run ALTER TABLE erp.company VALIDATE CONSTRAINT company_currency_rounding_check.';
END $$;

-- ==== audit (#11.15) ====


-- ==== other ====


-- ==== last: grants of the application roles ====

-- as the install's finish.sql: nothing new is PUBLIC
REVOKE ALL ON ALL ROUTINES IN SCHEMA erp FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA erp FROM PUBLIC;
SELECT erp._apply_app_access(r.role_name) FROM erp.app_role r;
