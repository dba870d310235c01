-- Without shared_preload_libraries the violation views explain what is
-- missing, while fk_orphans keeps working.
SELECT fk_guard_preloaded();
SELECT fkg_test.error_of('SELECT * FROM fk_violations');
SELECT fkg_test.error_of('SELECT * FROM fk_violation_stats');
SELECT fkg_test.error_of('SELECT fk_guard_reset()');
SELECT count(*) FROM fk_guard_constraint_violations();
SELECT count(*) FROM fk_orphans();

-- fk_guard_reset() is for superusers (and whoever they grant it to).
SELECT has_function_privilege('public', 'fk_guard_reset()', 'EXECUTE') AS public_may_reset;
SELECT has_table_privilege('public', 'fk_violations', 'SELECT') AS public_may_read;
