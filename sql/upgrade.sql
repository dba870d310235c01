-- Every released version installs, and upgrades to the current one.
DROP EXTENSION fk_guard;
CREATE EXTENSION fk_guard VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'fk_guard';
\dx+ fk_guard
ALTER EXTENSION fk_guard UPDATE;
SELECT extversion = (SELECT default_version FROM pg_available_extensions WHERE name = 'fk_guard') AS at_default
  FROM pg_extension WHERE extname = 'fk_guard';
-- An upgraded installation has the same objects as a fresh one.
CREATE TEMP TABLE upgraded AS
  SELECT pg_describe_object(classid, objid, 0) AS object FROM pg_depend
   WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
     AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'fk_guard');
DROP EXTENSION fk_guard;
CREATE EXTENSION fk_guard;
SELECT object, 'only after upgrade' AS difference FROM upgraded
EXCEPT SELECT pg_describe_object(classid, objid, 0), 'only after upgrade' FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'fk_guard')
UNION ALL
SELECT pg_describe_object(classid, objid, 0), 'only when fresh' FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'fk_guard')
EXCEPT SELECT object, 'only when fresh' FROM upgraded;
