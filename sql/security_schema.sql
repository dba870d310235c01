-- fk_guard installed in a schema that an ordinary role can write: names in
-- its views and functions were bound when the extension was created, and
-- bodies pin search_path, so objects the role plants there capture nothing.

DROP EXTENSION fk_guard;
CREATE ROLE fkg_planter;
CREATE SCHEMA "Shared Ext";
GRANT CREATE, USAGE ON SCHEMA "Shared Ext" TO fkg_planter;

SET ROLE fkg_planter;
CREATE TABLE "Shared Ext".ran (ran_as name);
GRANT INSERT ON "Shared Ext".ran TO PUBLIC;
CREATE FUNCTION "Shared Ext".attack() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "Shared Ext".ran VALUES (current_user);
  BEGIN
    ALTER ROLE fkg_planter SUPERUSER;
  EXCEPTION WHEN OTHERS THEN NULL;
  END;
  RETURN false;
END
$$;
GRANT EXECUTE ON FUNCTION "Shared Ext".attack() TO PUBLIC;
-- Better matches than the built-ins for what fk_audit and the audit steps use.
CREATE FUNCTION "Shared Ext".int2s_eq(smallint[], smallint[]) RETURNS boolean LANGUAGE sql
  AS 'SELECT "Shared Ext".attack() OR $1 OPERATOR(pg_catalog.=) $2';
CREATE OPERATOR "Shared Ext".= (LEFTARG = smallint[], RIGHTARG = smallint[], FUNCTION = "Shared Ext".int2s_eq);
CREATE FUNCTION "Shared Ext".oid_int_eq(oid, integer) RETURNS boolean LANGUAGE sql
  AS 'SELECT "Shared Ext".attack() OR $1 OPERATOR(pg_catalog.=) $2::oid';
CREATE OPERATOR "Shared Ext".= (LEFTARG = oid, RIGHTARG = integer, FUNCTION = "Shared Ext".oid_int_eq);
CREATE FUNCTION "Shared Ext".cardinality(smallint[]) RETURNS integer LANGUAGE sql
  AS 'SELECT CASE WHEN "Shared Ext".attack() THEN 0 ELSE pg_catalog.cardinality($1) END';
CREATE FUNCTION "Shared Ext".unnest(smallint[]) RETURNS SETOF smallint LANGUAGE sql
  AS 'SELECT x FROM pg_catalog.unnest($1) x WHERE NOT "Shared Ext".attack()';
CREATE FUNCTION "Shared Ext".has_table_privilege(regclass, text) RETURNS boolean LANGUAGE sql
  AS 'SELECT "Shared Ext".attack() OR pg_catalog.has_table_privilege($1::oid, $2)';
CREATE FUNCTION "Shared Ext".format(text, name, name) RETURNS text LANGUAGE sql
  AS 'SELECT CASE WHEN "Shared Ext".attack() THEN NULL ELSE pg_catalog.format($1, $2, $3) END';
RESET ROLE;

CREATE EXTENSION fk_guard SCHEMA "Shared Ext";
CREATE TABLE ss_parent (id int PRIMARY KEY);
CREATE TABLE ss_child (id int, parent_id int REFERENCES ss_parent);
SET session_replication_role = replica;
INSERT INTO ss_child VALUES (1, 7);
RESET session_replication_role;

-- The superuser uses it with the extension's schema first on its search_path.
SET search_path = "Shared Ext", public;
SELECT constraint_name, key FROM fk_orphans();
\set VERBOSITY terse
CALL fk_audit_run();
\set VERBOSITY default
SELECT constraint_name, fk_indexed, orphans_at_last_audit, findings -> 0 ->> 'code' AS first_finding
  FROM fk_audit ORDER BY 1;
-- The fix names the extension's schema once, quoted.
SELECT f->>'fix' AS fix, f->>'execute' AS execute FROM fk_audit, jsonb_array_elements(findings) f WHERE f->>'code' = 'orphans_found';
RESET search_path;

-- Nothing ran with the superuser's rights.
SELECT rolsuper FROM pg_roles WHERE rolname = 'fkg_planter';
SELECT ran_as, count(*) FROM "Shared Ext".ran GROUP BY ran_as;

DROP TABLE ss_child, ss_parent;
DROP EXTENSION fk_guard;
DROP SCHEMA "Shared Ext" CASCADE;
DROP ROLE fkg_planter;
CREATE EXTENSION fk_guard;
