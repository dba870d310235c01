-- Any identifier, in any schema, on or off the search_path.

CREATE SCHEMA "Ventes ""EU""";
CREATE SCHEMA off_path;
CREATE TABLE "Ventes ""EU"""."Clients Spéciaux" (
  "ID client" int,
  "Région" text,
  PRIMARY KEY ("Région", "ID client")
);
INSERT INTO "Ventes ""EU"""."Clients Spéciaux" VALUES (1, 'Île-de-France'), (2, 'Bretagne');
CREATE TABLE off_path."select" (
  "order" int,
  "Client's ID" int,
  "région\n" text
);
INSERT INTO off_path."select" VALUES (1, 1, 'Île-de-France'), (2, 2, 'Normandie'), (3, 3, 'Bretagne');
ALTER TABLE off_path."select" ADD CONSTRAINT "FK ""quoted"" name;--"
  FOREIGN KEY ("région\n", "Client's ID") REFERENCES "Ventes ""EU"""."Clients Spéciaux" ("Région", "ID client")
  NOT VALID;

SELECT * FROM fk_orphans();
SELECT * FROM fk_orphans('off_path."select"');
SELECT * FROM fk_orphan_summary();
SELECT * FROM fkg_test.disagreements();

-- Names appear qualified when their schema is off the search_path.
SET search_path = off_path, public;
SELECT child_table, parent_table FROM fk_orphans();
RESET search_path;

DROP SCHEMA "Ventes ""EU""" CASCADE;
DROP SCHEMA off_path CASCADE;
