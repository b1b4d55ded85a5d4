-- Issue 3 (speed): new rows keep the envelope as the bytes that are published (`body`),
-- not as json: PostgreSQL no longer checks ~4 MB of JSON text per 10,000-worklog batch
-- (it was valid when it was written), and the relay hands the bytes to the broker as they
-- come, without decoding them to text and encoding them again. lz4 as for `envelope`.
-- Rows written before this migration keep their `envelope`; the relay reads either.
ALTER TABLE outbox
    ADD COLUMN body bytea,
    ALTER COLUMN envelope DROP NOT NULL,
    ADD CONSTRAINT outbox_body_or_envelope CHECK (body IS NOT NULL OR envelope IS NOT NULL);
ALTER TABLE outbox ALTER COLUMN body SET COMPRESSION lz4;
