-- Issue 5 follow-ups: the current period's executed seconds in the screen row (so the percent
-- and executed sorts and the status filters read no `period_totals` per contract), trigram
-- indexes for the text search, and tombstones of deleted contracts and customers.

-- Executed seconds of the row's period, as `period_totals` holds them. Kept by the trigger
-- below on every write of `period_totals`, and set from it whenever the row is (re)computed.
-- Like the rest of the row it is read only while the row's window holds the clock.
ALTER TABLE contract_screen ADD COLUMN executed_seconds bigint NOT NULL DEFAULT 0;
-- Copies of the contract's dates (the row is rewritten in the transaction that changes
-- them), so status can be derived from the row alone.
ALTER TABLE contract_screen ADD COLUMN start_date date;
ALTER TABLE contract_screen ADD COLUMN end_date date;
UPDATE contract_screen s
SET executed_seconds = coalesce((SELECT t.executed_seconds FROM period_totals t
                                 WHERE t.contract_id = s.contract_id
                                   AND t.period_start = s.period_start), 0),
    start_date = c.start_date, end_date = c.end_date
FROM contracts c WHERE c.id = s.contract_id;

-- Every writer of a contract's screen row takes this transaction lock first (the trigger
-- blocking, the refresh task with "try" and skipping), then reads `period_totals` in a later
-- statement: a concurrent consumption is either seen by the refresh, or waits for it and then
-- writes its total into the refreshed row. A row-level lock would not do: a contract's first
-- `period_totals` row or its first screen row is not visible to the other transaction yet.
CREATE FUNCTION screen_lock_key(contract_id uuid) RETURNS int LANGUAGE sql IMMUTABLE
    RETURN hashtext(contract_id::text);

CREATE FUNCTION screen_follows_period_totals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(4242, screen_lock_key(NEW.contract_id));
    UPDATE contract_screen SET executed_seconds = NEW.executed_seconds
    WHERE contract_id = NEW.contract_id AND period_start = NEW.period_start
      AND executed_seconds <> NEW.executed_seconds;
    RETURN NULL;
END $$;
-- The tables of the schema it was created in, whatever the caller's search_path.
ALTER FUNCTION screen_follows_period_totals() SET search_path FROM CURRENT;

-- Row level: `add_consumption` writes one `period_totals` row per statement, so a
-- statement-level trigger (transition tables, one per event kind) would do the same work
-- with more machinery; measured, the row trigger costs less than the noise of a ~100 µs call.
CREATE TRIGGER period_totals_to_screen
    AFTER INSERT OR UPDATE OF executed_seconds ON period_totals
    FOR EACH ROW EXECUTE FUNCTION screen_follows_period_totals();

-- The percent and executed sorts and the exhausted / expiring filters walk these over the
-- rows whose window holds the clock (almost all); the others are computed at read time.
CREATE INDEX contract_screen_percent ON contract_screen (
    (coalesce(executed_seconds::numeric * 100 / nullif(planned_seconds, 0), -1)), contract_id);
CREATE INDEX contract_screen_executed ON contract_screen (executed_seconds, contract_id);
CREATE INDEX contract_screen_exhausted ON contract_screen (contract_id)
    WHERE executed_seconds >= planned_seconds;
CREATE INDEX contract_screen_days_left ON contract_screen ((end_date - local_date));

-- Text search (code, title, customer name, ILIKE '%…%'): trigram indexes when pg_trgm can be
-- installed (a trusted extension since PostgreSQL 13: the database's CREATE privilege is
-- enough) or already is. It lives in one schema for the whole database (public), not in the
-- service's, which tests and `rebuild` drop. Without it the search scans every contract.
DO $$
DECLARE
    ext_schema text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        BEGIN
            CREATE EXTENSION pg_trgm WITH SCHEMA public;
        EXCEPTION WHEN insufficient_privilege OR undefined_file OR unique_violation
                       OR duplicate_object THEN
            RAISE WARNING 'pg_trgm not installed (%): text search scans every contract',
                SQLERRM;
        END;
    END IF;
    SELECT extnamespace::regnamespace::text INTO ext_schema
    FROM pg_extension WHERE extname = 'pg_trgm';
    IF ext_schema IS NOT NULL THEN
        EXECUTE format('CREATE INDEX contracts_code_trgm ON contracts USING gin '
                       '(code %1$s.gin_trgm_ops)', ext_schema);
        EXECUTE format('CREATE INDEX contracts_title_trgm ON contracts USING gin '
                       '(title %1$s.gin_trgm_ops)', ext_schema);
        EXECUTE format('CREATE INDEX customers_name_trgm ON customers USING gin '
                       '(name %1$s.gin_trgm_ops)', ext_schema);
    END IF;
END $$;

-- Deleted contracts and customers: a version older than the deletion (a `contract.updated`
-- redelivered after a retry, say) must not bring the row back. Deletion is final upstream
-- (ids are never reused), so any later event for the id is ignored. The rows themselves are
-- deleted, so no read has to hide them.
CREATE TABLE deleted_contracts (
    id          uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    version_at  timestamptz NOT NULL
);
CREATE TABLE deleted_customers (
    id         uuid PRIMARY KEY,
    version_at timestamptz NOT NULL
);
-- The deletions handled before this migration, from the event log (as `rebuild` would).
INSERT INTO deleted_contracts (id, customer_id, version_at)
SELECT (envelope -> 'data' ->> 'id')::uuid, (envelope -> 'data' ->> 'customer_id')::uuid,
       max(occurred_at)
FROM event_log WHERE type = 'contract.deleted' GROUP BY 1, 2
ON CONFLICT (id) DO NOTHING;
INSERT INTO deleted_customers (id, version_at)
SELECT (envelope -> 'data' ->> 'id')::uuid, max(occurred_at)
FROM event_log WHERE type = 'customer.deleted' GROUP BY 1;
