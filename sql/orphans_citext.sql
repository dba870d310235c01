-- citext (contrib): a foreign key compares with its own equality operators.
-- Runs where contrib's citext is installed (Debian's packages); the servers the
-- version matrix builds from source have no contrib/citext: the file stops
-- after saying so (expected/orphans_citext_1.out).
SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'citext') AS have_citext \gset
\if :have_citext
\else
\echo 'skipped: contrib/citext is not installed for this server'
\quit
\endif

CREATE EXTENSION citext;

-- The constraint's equality is case-insensitive.
CREATE TABLE tags (name citext PRIMARY KEY);
INSERT INTO tags VALUES ('Red'), ('Blue');
CREATE TABLE tagged (id int, tag citext);
INSERT INTO tagged VALUES (1, 'red'), (2, 'BLUE'), (3, 'green');
ALTER TABLE tagged ADD CONSTRAINT tagged_tag_fkey FOREIGN KEY (tag) REFERENCES tags NOT VALID;
SELECT key FROM fk_orphans('tagged');

-- missing_keys counts keys distinct under the constraint's equality: a citext
-- child of a text parent (compared with text's =) needs 'abc' and 'ABC' both.
CREATE TABLE text_parent (k text PRIMARY KEY);
CREATE TABLE citext_child (k citext);
INSERT INTO citext_child VALUES ('abc'), ('ABC');
ALTER TABLE citext_child ADD CONSTRAINT citext_child_fk FOREIGN KEY (k) REFERENCES text_parent NOT VALID;
SELECT constraint_name, orphan_rows, missing_keys FROM fk_orphan_summary('citext_child');

-- PostgreSQL agrees on every row of both.
SELECT * FROM fkg_test.disagreements();
DELETE FROM tagged t USING fk_orphans('tagged') o WHERE t.ctid = o.child_ctid;
ALTER TABLE tagged VALIDATE CONSTRAINT tagged_tag_fkey;

DROP TABLE tagged, tags, citext_child, text_parent;
DROP EXTENSION citext;
