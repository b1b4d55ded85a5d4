-- Issue 3 (speed): the outbox keeps each envelope as the JSON text it was written as (json,
-- not jsonb: nothing to convert on the way in or out; lz4 rather than pglz), and the fields
-- the AMQP properties need in columns of their own, so the relay never parses an envelope.
-- A batch of 10,000 worklogs writes ~4 MB of worklog.recorded events: as jsonb, storing and
-- reading them back cost the database ~60 ms per batch, as json with lz4 ~14 ms.
-- Rows written before this migration have NULL there; the relay reads them from the JSON.
ALTER TABLE outbox
    ALTER COLUMN envelope TYPE json USING envelope::json,
    ALTER COLUMN envelope SET COMPRESSION lz4,
    ADD COLUMN occurred_at timestamptz,
    ADD COLUMN correlation_id text,
    ADD COLUMN producer text,
    ADD COLUMN key text,
    ADD COLUMN version integer;
