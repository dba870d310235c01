-- test_setup.sql: the helpers every other pg_regress file may use; make
-- installcheck runs it first, and any file runs alone after it:
--   make installcheck REGRESS="test_setup audit"

CREATE SCHEMA fkg_test;
-- The roles the security tests create may use the helpers too.
GRANT USAGE ON SCHEMA fkg_test TO PUBLIC;

-- PostgreSQL's own verdict: every row of the constraint's table is inserted
-- again, in a subtransaction, into a scratch copy carrying the same foreign key,
-- validated and immediate.  The rows it rejects are the orphans.
CREATE FUNCTION fkg_test.rejected_rows(con oid)
RETURNS TABLE (child_table regclass, child_ctid tid)
LANGUAGE plpgsql AS $$
DECLARE
  c pg_constraint;
  source text;
  r record;
BEGIN
  SELECT * INTO c FROM pg_constraint WHERE oid = con;
  source := CASE WHEN (SELECT relkind FROM pg_class WHERE oid = c.conrelid) = 'p' THEN '' ELSE 'ONLY ' END
            || c.conrelid::regclass::text;
  EXECUTE format('CREATE TABLE fkg_test.scratch (LIKE %s)', c.conrelid::regclass);
  EXECUTE 'ALTER TABLE fkg_test.scratch ADD CONSTRAINT scratch_fk '
          || regexp_replace(pg_get_constraintdef(con),
                            ' (NOT VALID|DEFERRABLE|NOT DEFERRABLE|INITIALLY DEFERRED|INITIALLY IMMEDIATE)', '', 'g');
  FOR r IN EXECUTE format('SELECT tableoid::regclass AS t, ctid AS id FROM %s', source) LOOP
    BEGIN
      EXECUTE format('INSERT INTO fkg_test.scratch SELECT * FROM %s WHERE tableoid = $1 AND ctid = $2', source)
        USING r.t, r.id;
    EXCEPTION WHEN foreign_key_violation THEN
      child_table := r.t;
      child_ctid := r.id;
      RETURN NEXT;
    END;
  END LOOP;
  DROP TABLE fkg_test.scratch;
END
$$;

-- Rows on which fk_orphans() and PostgreSQL disagree (none, when all is well),
-- over every declared foreign key in the database.
CREATE FUNCTION fkg_test.disagreements()
RETURNS TABLE (constraint_name name, child_table regclass, child_ctid tid, only_in text)
LANGUAGE sql AS $$
  WITH ours AS (SELECT o.constraint_name, o.child_table, o.child_ctid FROM fk_orphans() o),
       theirs AS (SELECT c.conname, r.child_table, r.child_ctid
                    FROM pg_constraint c, fkg_test.rejected_rows(c.oid) r
                   WHERE c.contype = 'f' AND c.conparentid = 0)
  (SELECT *, 'fk_orphans' FROM ours EXCEPT SELECT *, 'fk_orphans' FROM theirs)
  UNION ALL
  (SELECT *, 'postgres' FROM theirs EXCEPT SELECT *, 'postgres' FROM ours)
$$;

-- An error's SQLSTATE and message, as one value (for bad-input tests).
CREATE FUNCTION fkg_test.error_of(query text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE query;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
