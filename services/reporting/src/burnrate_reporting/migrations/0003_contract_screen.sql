-- Issue 5: the contract screen without evaluating "today" per contract on every request, and
-- a smaller event log.

-- Each contract's current period as of one local date in its zone, and the instants between
-- which that date is "today" there. A read uses the row only while its clock falls in
-- [valid_from, valid_until), where the row is exactly what the per-request computation gave;
-- outside it (a local midnight passed before the refresh task ran) the read computes that
-- contract the old way. Written by the contract handler (at the database's clock) and
-- refreshed by the service's screen task when the local date rolls over. Derived from
-- `contracts`, `contract_periods` and the clock, not from events: `rebuild` refills it, and
-- does not compare it (its windows depend on when it was computed).
CREATE TABLE contract_screen (
    contract_id     uuid PRIMARY KEY REFERENCES contracts (id) ON DELETE CASCADE,
    local_date      date NOT NULL,
    valid_from      timestamptz NOT NULL,
    valid_until     timestamptz NOT NULL,
    -- The period containing local_date (NULL: none, before the start or after the end).
    period_start    date,
    period_end      date,
    planned_seconds bigint,
    refreshed_at    timestamptz NOT NULL DEFAULT now()
);
-- The refresh task finds the rows whose local date rolled over (or, after the clock was set
-- back, has not begun).
CREATE INDEX contract_screen_due ON contract_screen (valid_until);
CREATE INDEX contract_screen_early ON contract_screen (valid_from);

INSERT INTO contract_screen (contract_id, local_date, valid_from, valid_until, period_start,
                             period_end, planned_seconds)
SELECT c.id, t.local_today, t.local_today::timestamp AT TIME ZONE c.timezone,
       (t.local_today + 1)::timestamp AT TIME ZONE c.timezone,
       lp.start_date, lp.end_date, lp.planned_seconds
FROM contracts c
CROSS JOIN LATERAL (SELECT (now() AT TIME ZONE c.timezone)::date AS local_today) t
LEFT JOIN LATERAL (
    SELECT p.start_date, p.end_date, p.planned_seconds FROM contract_periods p
    WHERE p.contract_id = c.id AND p.start_date <= t.local_today
    ORDER BY p.start_date DESC LIMIT 1) lp ON lp.end_date >= t.local_today;

-- worklog.recorded events are logged with only the worklogs outside the dates (the only ones
-- the read models keep); trim what was logged before. Corrections and deletions stay whole:
-- they are the tombstones.
UPDATE event_log
SET envelope = jsonb_set(
        envelope, '{data,worklogs}',
        coalesce((SELECT jsonb_agg(w ORDER BY n)
                  FROM jsonb_array_elements(envelope -> 'data' -> 'worklogs') WITH ORDINALITY
                       AS x(w, n)
                  WHERE (w ->> 'outside_dates')::boolean), '[]'::jsonb))
WHERE type = 'worklog.recorded';

-- Compaction: consumption deltas that occurred before a horizon are replaced by one summed
-- delta per (contract, period, team, activity, author); their inbox rows stay, so `rebuild`
-- must not count them as unlogged. One row per compaction run.
CREATE TABLE event_log_compactions (
    id              bigserial PRIMARY KEY,
    occurred_before timestamptz NOT NULL,
    events_removed  bigint NOT NULL,
    events_written  bigint NOT NULL,
    compacted_at    timestamptz NOT NULL DEFAULT now()
);
