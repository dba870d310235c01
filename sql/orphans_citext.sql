-- citext (contrib): a foreign key compares with its own equality operators.
-- Runs where contrib's citext is installed (Debian's packages); the servers the
-- version matrix builds from source have no contrib/citext, and print the skip
-- of expected/orphans_citext_1.out.
SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'citext') AS have_citext \gset
\if :have_citext
\getenv abs_srcdir PG_ABS_SRCDIR
\set body :abs_srcdir '/sql/include/orphans_citext.sql'
\i :body
\else
\echo 'skipped: contrib/citext is not installed for this server'
\endif
