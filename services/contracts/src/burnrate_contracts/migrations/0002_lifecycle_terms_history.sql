-- Lifecycle, commercial terms, per-period overrides, optimistic concurrency, audit history.

ALTER TABLE contracts
    ADD COLUMN lifecycle text NOT NULL DEFAULT 'active'
        CHECK (lifecycle IN ('draft', 'active', 'closed')),
    ADD COLUMN version int NOT NULL DEFAULT 1,
    ADD COLUMN jira_project_keys text[] NOT NULL DEFAULT '{}',
    ADD COLUMN currency text NOT NULL DEFAULT 'EUR' CHECK (currency ~ '^[A-Z]{3}$'),
    ADD COLUMN overage_rate numeric(12, 4) CHECK (overage_rate >= 0),
    ADD COLUMN allowance_policy text NOT NULL DEFAULT 'overage_allowed'
        CHECK (allowance_policy IN ('overage_allowed', 'warn_only', 'hard_stop')),
    ADD COLUMN rollover_policy text NOT NULL DEFAULT 'none'
        CHECK (rollover_policy IN ('none', 'next_period', 'capped')),
    ADD COLUMN rollover_cap_hours numeric(10, 2) CHECK (rollover_cap_hours >= 0),
    ADD COLUMN rollover_expires_after_periods int CHECK (rollover_expires_after_periods >= 1),
    ADD COLUMN prorate_partial_periods boolean NOT NULL DEFAULT false,
    -- [{"start_date": "2026-12-01", "planned_hours": "20"}], validated against the periods
    ADD COLUMN period_overrides jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN closed_at timestamptz;

ALTER TABLE customers ADD COLUMN version int NOT NULL DEFAULT 1;

CREATE INDEX contracts_end_date ON contracts (end_date, id);
CREATE INDEX contracts_owner ON contracts (lower(owner_email));
CREATE INDEX contracts_teams ON contracts USING gin (teams);

-- Every change of a contract or a customer: who (API key name), when, field-by-field diff.
CREATE TABLE history (
    seq          bigserial PRIMARY KEY,
    aggregate    text NOT NULL CHECK (aggregate IN ('contract', 'customer')),
    aggregate_id uuid NOT NULL,
    version      int NOT NULL,
    action       text NOT NULL,
    actor        text NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    changes      jsonb NOT NULL,
    UNIQUE (aggregate, aggregate_id, version)
);

-- Text search on code and title: a trigram index when pg_trgm can be had, plain ILIKE otherwise.
DO $$
DECLARE
    trgm_schema text;
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
    EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported
                   OR unique_violation OR duplicate_object THEN
        RAISE NOTICE 'pg_trgm not installed here; contract search uses plain ILIKE';
    END;
    SELECT n.nspname INTO trgm_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm';
    IF trgm_schema IS NOT NULL THEN
        EXECUTE format(
            'CREATE INDEX contracts_search ON contracts USING gin '
            '((code || '' '' || title) %I.gin_trgm_ops)', trgm_schema);
    END IF;
END $$;
