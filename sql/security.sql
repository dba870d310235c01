-- An ordinary role attacks a superuser who runs fk_guard over tables that role
-- owns.  Every attack must leave the attacker without superuser, the canary
-- table alive, and no attacker code run with the superuser's rights.

CREATE ROLE fkg_attacker;
CREATE ROLE fkg_reader;
GRANT CREATE ON SCHEMA public TO fkg_attacker;   -- as on clusters created before PostgreSQL 15
CREATE TABLE fkg_canary (x int);

SET ROLE fkg_attacker;
-- Attacker code: records whose rights it ran with, then tries to escalate.
CREATE TABLE public.attack_log (ran_as name);
GRANT INSERT ON public.attack_log TO PUBLIC;
CREATE FUNCTION public.attack() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.attack_log VALUES (current_user);
  BEGIN
    ALTER ROLE fkg_attacker SUPERUSER;
  EXCEPTION WHEN OTHERS THEN NULL;
  END;
  BEGIN
    DROP TABLE public.fkg_canary;
  EXCEPTION WHEN OTHERS THEN NULL;
  END;
  RETURN false;
END
$$;
GRANT EXECUTE ON FUNCTION public.attack() TO PUBLIC;

-- Operators and functions planted in public that would beat the built-ins
-- for an unqualified name (no exact built-in match exists for these).
CREATE FUNCTION public.evil_oid_eq(oid, integer) RETURNS boolean LANGUAGE sql
  AS 'SELECT public.attack() OR $1 OPERATOR(pg_catalog.=) $2::oid';
CREATE OPERATOR public.= (LEFTARG = oid, RIGHTARG = integer, FUNCTION = public.evil_oid_eq);
CREATE FUNCTION public.evil_int2s_eq(smallint[], smallint[]) RETURNS boolean LANGUAGE sql
  AS 'SELECT public.attack() OR $1 OPERATOR(pg_catalog.=) $2';
CREATE OPERATOR public.= (LEFTARG = smallint[], RIGHTARG = smallint[], FUNCTION = public.evil_int2s_eq);
CREATE FUNCTION public.cardinality(smallint[]) RETURNS integer LANGUAGE sql
  AS 'SELECT CASE WHEN public.attack() THEN 0 ELSE pg_catalog.cardinality($1) END';
CREATE FUNCTION public.format(text, name, name) RETURNS text LANGUAGE sql
  AS 'SELECT CASE WHEN public.attack() THEN NULL ELSE pg_catalog.format($1, $2, $3) END';
CREATE FUNCTION public.has_table_privilege(regclass, text) RETURNS boolean LANGUAGE sql
  AS 'SELECT public.attack() OR pg_catalog.has_table_privilege($1::oid, $2)';
CREATE FUNCTION public.quote_ident(name) RETURNS text LANGUAGE sql
  AS 'SELECT CASE WHEN public.attack() THEN NULL ELSE pg_catalog.quote_ident($1::text) END';

-- A type of the attacker's own whose cast to json runs attacker code: fk_orphans
-- renders the key of an orphan of this type.
CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
CREATE FUNCTION public.mood_json(public.mood) RETURNS json LANGUAGE sql
  AS 'SELECT CASE WHEN public.attack() THEN NULL ELSE pg_catalog.to_json($1::text) END';
CREATE CAST (public.mood AS json) WITH FUNCTION public.mood_json(public.mood);
CREATE TABLE public.moods (m public.mood PRIMARY KEY);
CREATE TABLE public.mood_log (id int, m public.mood);
INSERT INTO public.moods VALUES ('ok');
INSERT INTO public.mood_log VALUES (1, 'ok'), (2, 'sad');
ALTER TABLE public.mood_log ADD FOREIGN KEY (m) REFERENCES public.moods NOT VALID;
RESET ROLE;

-- The superuser's own tables, with an orphan.
CREATE TABLE sec_parent (id int PRIMARY KEY);
CREATE TABLE sec_child (id int, parent_id int REFERENCES sec_parent);
SET session_replication_role = replica;
INSERT INTO sec_child VALUES (1, 404);
RESET session_replication_role;

-- The superuser runs everything fk_guard offers, with public on its search_path.
SHOW search_path;
SELECT constraint_name, child_table, key FROM fk_orphans() ORDER BY 1;
SELECT constraint_name, orphan_rows, missing_keys FROM fk_orphan_summary() ORDER BY 1;
SELECT constraint_name, key FROM fk_orphans('public.mood_log');
SELECT constraint_name, orphans_at_last_audit IS NULL AS never_audited, jsonb_array_length(findings) > 0 AS has_findings
  FROM fk_audit ORDER BY 1;
\set VERBOSITY terse
CALL fk_audit_run();
\set VERBOSITY default
SELECT status, foreign_keys, orphan_rows FROM fk_audit_runs ORDER BY run_id DESC LIMIT 1;

-- The attacker gained nothing: its code ran only with its own rights.
SELECT rolsuper FROM pg_roles WHERE rolname = 'fkg_attacker';
SELECT to_regclass('fkg_canary') IS NOT NULL AS canary_alive;
SELECT ran_as, count(*) > 0 AS ran FROM public.attack_log GROUP BY ran_as ORDER BY 1;

-- Visibility in fk_audit: orphan counts only where fk_orphan_summary would show them.
CREATE TABLE sec_rls_parent (id int PRIMARY KEY);
CREATE TABLE sec_rls_child (id int, parent_id int REFERENCES sec_rls_parent);
CREATE TABLE sec_col_parent (id int PRIMARY KEY, secret text);
CREATE TABLE sec_col_child (id int, parent_id int REFERENCES sec_col_parent);
SET session_replication_role = replica;
INSERT INTO sec_rls_child VALUES (1, 1);
INSERT INTO sec_col_child VALUES (1, 1);
RESET session_replication_role;
ALTER TABLE sec_rls_parent ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON sec_child, sec_parent, sec_rls_child, sec_rls_parent, sec_col_child TO fkg_reader;
GRANT SELECT (secret) ON sec_col_parent TO fkg_reader;
\set VERBOSITY terse
CALL fk_audit_run();
\set VERBOSITY default
SET ROLE fkg_reader;
SELECT constraint_name, last_audit_at IS NOT NULL AS audit_shown, orphans_at_last_audit,
       findings @> '[{"code": "orphans_found"}]' AS orphans_finding
  FROM fk_audit WHERE constraint_name LIKE 'sec%' ORDER BY 1;
-- ... and the same verdict from fk_orphan_summary itself.
SELECT constraint_name, orphan_rows FROM fk_orphan_summary() WHERE constraint_name LIKE 'sec%' ORDER BY 1;
-- The history tables themselves are not readable, and findings work without them.
SELECT count(*) FROM fk_audit_results;
SELECT count(*) FROM fk_guard_bulk_loaded;
RESET ROLE;

-- A schema its creator keeps closed (no USAGE for others), with tables granted
-- to PUBLIC: skipped in the all-tables scan, never an error.
CREATE SCHEMA sec_closed;
CREATE TABLE sec_closed.parent (id int PRIMARY KEY);
CREATE TABLE sec_closed.child (parent_id int REFERENCES sec_closed.parent);
GRANT SELECT ON sec_closed.parent, sec_closed.child TO PUBLIC;
SELECT 'sec_closed.child'::regclass::oid AS closed_child \gset
SET ROLE fkg_reader;
SELECT constraint_name, orphan_rows FROM fk_orphan_summary() WHERE constraint_name LIKE 'sec%' ORDER BY 1;
SELECT * FROM fk_orphans(:closed_child);
RESET ROLE;

-- A child whose owner may not read the parent's key: refused, never checked
-- with the caller's rights.
CREATE TABLE sec_owned_parent (id int PRIMARY KEY);
GRANT REFERENCES ON sec_owned_parent TO fkg_attacker;
SET ROLE fkg_attacker;
CREATE TABLE public.sec_owned_child (parent_id int REFERENCES sec_owned_parent);
RESET ROLE;
SELECT * FROM fk_orphans('sec_owned_child');
SELECT constraint_name FROM fk_orphans() WHERE constraint_name LIKE 'sec_owned%';

-- Fixes for another role's table name that role to run them as (a SET ROLE
-- wrapper would not confine the table's code: it could RESET ROLE).
SELECT f->>'fix' AS fix, f->>'run_as' AS run_as FROM fk_audit, jsonb_array_elements(findings) f
 WHERE constraint_name = 'mood_log_m_fkey' AND f->>'code' = 'unindexed_fk';

-- Audits: delegated with one GRANT; others may neither audit nor forge history.
CREATE ROLE fkg_auditor;
GRANT EXECUTE ON PROCEDURE fk_audit_run(regclass, boolean) TO fkg_auditor;
GRANT SELECT ON sec_child, sec_parent TO fkg_auditor;
SET ROLE fkg_auditor;
\set VERBOSITY terse
CALL fk_audit_run('sec_child');
\set VERBOSITY default
INSERT INTO fk_audit_runs (status) VALUES ('completed');
INSERT INTO fk_audit_results VALUES (1, 1, 'x', 'x', 'x', now(), true, 0, 0);
SELECT fk_audit_check_table(1, 'sec_child');
-- Nor can an auditor record a clean audit that skipped tables, calling the steps itself.
SELECT fk_audit_start(NULL) AS forged_run \gset
SELECT replace(fkg_test.error_of('SELECT fk_audit_finish(' || :forged_run || ')'), 'run ' || :forged_run, 'run <forged>')
       AS refused;
SET ROLE fkg_attacker;
SELECT fk_audit_start(NULL);
SELECT fk_audit_check_table(1, 'sec_child');
SELECT fk_audit_finish(1);
CALL fk_audit_run();
RESET ROLE;
SELECT target, status, runner, foreign_keys, orphan_rows FROM fk_audit_runs WHERE runner = 'fkg_auditor'
 ORDER BY run_id;

-- Still nothing gained, after all of the above.
SELECT rolsuper FROM pg_roles WHERE rolname = 'fkg_attacker';
SELECT to_regclass('fkg_canary') IS NOT NULL AS canary_alive;
SELECT ran_as FROM public.attack_log WHERE ran_as <> 'fkg_attacker';

DROP SCHEMA sec_closed CASCADE;
DROP TABLE sec_child, sec_parent, sec_rls_child, sec_rls_parent, sec_col_child, sec_col_parent,
  public.sec_owned_child, sec_owned_parent, fkg_canary;
DROP OWNED BY fkg_attacker, fkg_reader, fkg_auditor CASCADE;
DROP ROLE fkg_attacker, fkg_reader, fkg_auditor;
DELETE FROM fk_audit_results;
DELETE FROM fk_audit_runs;
