-- Issue 3 (speed): a worklog's key (source, external_id) is an identifier, compared byte for
-- byte. Under the database's locale every comparison in the unique index went through the
-- locale's collation (strcoll and a locale lookup each): profiled during a bulk load, about
-- a tenth of PostgreSQL's CPU. Equality, so uniqueness, is the same under "C"; only an
-- ORDER BY on these columns would sort differently, and none does (the batch insert already
-- sorts its keys by "C", which is also Python's order of str).
ALTER TABLE worklogs
    ALTER COLUMN source TYPE text COLLATE "C",
    ALTER COLUMN external_id TYPE text COLLATE "C";
