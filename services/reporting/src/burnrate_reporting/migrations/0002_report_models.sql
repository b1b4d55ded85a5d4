-- Issue 5: the delivery report over many periods, the per-person split, the event log that
-- `burnrate-reporting rebuild` replays, and the contract terms the report shows.

-- Contract terms carried by ContractChanged (defaults match the event's defaults).
ALTER TABLE contracts
    ADD COLUMN lifecycle        text NOT NULL DEFAULT 'active',
    ADD COLUMN currency         text NOT NULL DEFAULT 'EUR',
    ADD COLUMN rollover_policy  text NOT NULL DEFAULT 'none',
    ADD COLUMN allowance_policy text NOT NULL DEFAULT 'overage_allowed';

-- Totals per contract period (the sum of `consumption` over teams and activities), kept by
-- the same handler, so the contract screen joins one row per contract instead of summing.
CREATE TABLE period_totals (
    contract_id           uuid NOT NULL,
    period_start          date NOT NULL,
    executed_seconds      bigint NOT NULL,
    worklogs              bigint NOT NULL,
    outside_dates_seconds bigint NOT NULL,
    PRIMARY KEY (contract_id, period_start)
);
INSERT INTO period_totals
SELECT contract_id, period_start, sum(executed_seconds), sum(worklogs), sum(outside_dates_seconds)
FROM consumption GROUP BY contract_id, period_start;

-- Sums of consumption deltas per contract period and person (ConsumptionRecorded.author;
-- 'unknown' when the producer did not say). Deltas from before this table are not split.
CREATE TABLE consumption_by_author (
    contract_id      uuid NOT NULL,
    period_start     date NOT NULL,
    author           text NOT NULL,
    executed_seconds bigint NOT NULL,
    worklogs         bigint NOT NULL,
    PRIMARY KEY (contract_id, period_start, author)
);

-- Every envelope the read models were built from, in the order it was handled (same
-- transaction as its effect), so `rebuild` can replay them into fresh tables.
CREATE TABLE event_log (
    seq         bigserial PRIMARY KEY,
    event_id    uuid NOT NULL UNIQUE,
    type        text NOT NULL,
    occurred_at timestamptz NOT NULL,
    envelope    jsonb NOT NULL,
    handled_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX event_log_occurred ON event_log (occurred_at);

-- The contract screen sorts by these and filters customers by name.
CREATE INDEX contracts_code ON contracts (code, id);
CREATE INDEX contracts_end ON contracts (end_date, id);
