-- Every released version installs, and upgrades to the current one.
DROP EXTENSION fk_guard;
CREATE EXTENSION fk_guard VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'fk_guard';
\dx+ fk_guard
ALTER EXTENSION fk_guard UPDATE;
SELECT extversion = (SELECT default_version FROM pg_available_extensions WHERE name = 'fk_guard') AS at_default
  FROM pg_extension WHERE extname = 'fk_guard';

-- An upgraded installation equals a fresh one, object by object: each
-- function's full definition (body, SET clauses, volatility), each view's
-- query, each table's columns and constraints, ACLs, comments, and what
-- pg_dump keeps.  A change forgotten in an upgrade script shows here.
CREATE FUNCTION pg_temp.fk_guard_definitions()
RETURNS TABLE (object text, definition text)
LANGUAGE sql AS $$
  SELECT pg_describe_object(d.classid, d.objid, 0),
         concat_ws(E'\n',
           CASE d.classid
             WHEN 'pg_proc'::regclass THEN
               (SELECT pg_get_functiondef(p.oid) || coalesce(p.proacl::text, '') FROM pg_proc p WHERE p.oid = d.objid)
             WHEN 'pg_class'::regclass THEN
               (SELECT concat_ws(E'\n', c.relkind, c.relacl::text,
                         CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid) END,
                         (SELECT string_agg(format('%s %s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
                                                   CASE WHEN a.attnotnull THEN ' NOT NULL' END,
                                                   ' DEFAULT ' || pg_get_expr(ad.adbin, ad.adrelid)), ', ' ORDER BY a.attnum)
                            FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                           WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
                         (SELECT string_agg(k.conname || ' ' || pg_get_constraintdef(k.oid), ', ' ORDER BY k.conname)
                            FROM pg_constraint k WHERE k.conrelid = c.oid),
                         (SELECT string_agg(pg_get_indexdef(i.indexrelid), ', ' ORDER BY pg_get_indexdef(i.indexrelid))
                            FROM pg_index i WHERE i.indrelid = c.oid))
                  FROM pg_class c WHERE c.oid = d.objid)
           END,
           obj_description(d.objid, d.classid::regclass::name))
    FROM pg_depend d
   WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
     AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'fk_guard')
  UNION ALL
  SELECT 'extension configuration', (SELECT string_agg(c::regclass::text, ', ' ORDER BY c::regclass::text)
                                       FROM pg_extension e, unnest(e.extconfig) c WHERE e.extname = 'fk_guard')
$$;
CREATE TEMP TABLE upgraded AS SELECT '1.0' AS from_version, * FROM pg_temp.fk_guard_definitions();

-- The same from every other earlier version.
DO $$
DECLARE
  v text;
BEGIN
  FOR v IN SELECT version FROM pg_available_extension_versions
            WHERE name = 'fk_guard' AND version NOT IN ('1.0', (SELECT default_version FROM pg_available_extensions
                                                                 WHERE name = 'fk_guard'))
  LOOP
    DROP EXTENSION fk_guard;
    EXECUTE format('CREATE EXTENSION fk_guard VERSION %L', v);
    ALTER EXTENSION fk_guard UPDATE;
    INSERT INTO upgraded SELECT v, * FROM pg_temp.fk_guard_definitions();
  END LOOP;
END
$$;
SELECT string_agg(DISTINCT from_version, ', ' ORDER BY from_version) AS upgraded_from FROM upgraded;

-- A role delegated audits (GRANT EXECUTE ON PROCEDURE fk_audit_run) keeps them
-- through ALTER EXTENSION UPDATE from every version that has the procedure.
CREATE ROLE fkg_upgrade_auditor;
CREATE TEMP TABLE delegation (from_version text, may_audit boolean, grantable boolean);
DO $$
DECLARE
  v text;
BEGIN
  FOR v IN SELECT version FROM pg_available_extension_versions
            WHERE name = 'fk_guard' AND version NOT IN ('1.0', '1.1', (SELECT default_version FROM pg_available_extensions
                                                                        WHERE name = 'fk_guard'))
  LOOP
    DROP EXTENSION fk_guard;
    EXECUTE format('CREATE EXTENSION fk_guard VERSION %L', v);
    GRANT EXECUTE ON PROCEDURE fk_audit_run(regclass) TO fkg_upgrade_auditor WITH GRANT OPTION;
    ALTER EXTENSION fk_guard UPDATE;
    INSERT INTO delegation
    SELECT v, has_function_privilege('fkg_upgrade_auditor', 'fk_audit_run(regclass, boolean)', 'EXECUTE'),
           has_function_privilege('fkg_upgrade_auditor', 'fk_audit_run(regclass, boolean)', 'EXECUTE WITH GRANT OPTION');
  END LOOP;
END
$$;
SELECT count(*) > 3 AS versions, string_agg(from_version, ', ' ORDER BY from_version) FILTER (WHERE NOT (may_audit AND grantable)) AS delegation_lost
  FROM delegation;

DROP EXTENSION fk_guard;
DROP ROLE fkg_upgrade_auditor;
CREATE EXTENSION fk_guard;
SELECT bool_and(n > 15) AS compared FROM (SELECT count(*) AS n FROM upgraded GROUP BY from_version) c;
SELECT u.from_version, x.*
  FROM (SELECT DISTINCT from_version FROM upgraded) u,
       LATERAL ((SELECT object, definition, 'only after upgrade' AS difference FROM upgraded w
                  WHERE w.from_version = u.from_version
                 EXCEPT SELECT *, 'only after upgrade' FROM pg_temp.fk_guard_definitions())
                UNION ALL
                (SELECT *, 'only when fresh' FROM pg_temp.fk_guard_definitions()
                 EXCEPT SELECT object, definition, 'only when fresh' FROM upgraded w
                  WHERE w.from_version = u.from_version)) x
 ORDER BY 1, 2, 4;
