-- Issue 19: every duration a source really sends is accepted. The 24-hour cap goes; a
-- worklog longer than the attributable bound (service: schemas.MAX_ATTRIBUTABLE_SECONDS)
-- is stored unattributed with its reason instead of refused. Positive stays the rule.
ALTER TABLE worklogs DROP CONSTRAINT IF EXISTS worklogs_seconds_check;
ALTER TABLE worklogs ADD CONSTRAINT worklogs_seconds_positive CHECK (seconds > 0) NOT VALID;
ALTER TABLE worklogs VALIDATE CONSTRAINT worklogs_seconds_positive;

-- Issue 21: where the work was done (on site, remote...), as the source says it; optional.
ALTER TABLE worklogs ADD COLUMN location text;

-- Issue 19: nothing a source delivers is dropped. A webhook delivery or an import item that
-- could not be applied is kept here as it was received, with the reason, until a replay
-- applies it (then resolved_at and worklog_id say what became of it).
CREATE TABLE rejected_deliveries (
    id               uuid PRIMARY KEY,
    -- how it came in: jira (a webhook delivery), csv, ndjson, tempo (an item of an import)
    way_in           text NOT NULL,
    -- the worklog source it names (jira, tempo, toggl, harvest, csv, api...)
    source           text NOT NULL,
    reason           text NOT NULL,
    field            text,
    detail           text NOT NULL,
    -- the line in its file or stream (CSV, NDJSON), the index + 1 in a Tempo page
    line             integer,
    -- as received: the webhook body, the NDJSON line, the CSV header and row, the Tempo
    -- worklog (an oversized NDJSON line: its first bytes, see truncated)
    payload          bytea NOT NULL,
    truncated        boolean NOT NULL DEFAULT false,
    -- what else the way in needs to apply it again (query parameters, CSV mapping...)
    params           jsonb NOT NULL DEFAULT '{}',
    -- the same delivery received again is one row (sha-256 of way in, params, payload)
    digest           bytea NOT NULL UNIQUE,
    received_at      timestamptz NOT NULL DEFAULT now(),
    last_received_at timestamptz NOT NULL DEFAULT now(),
    times_received   integer NOT NULL DEFAULT 1,
    replays          integer NOT NULL DEFAULT 0,
    last_replayed_at timestamptz,
    resolved_at      timestamptz,
    resolution       text,
    worklog_id       uuid
);
CREATE INDEX rejected_deliveries_open ON rejected_deliveries (id) WHERE resolved_at IS NULL;

-- Issue 20: a Jira delivery is applied once. The SHA-256 of each signed body applied is
-- remembered while its signed timestamp is inside the replay window.
CREATE TABLE jira_deliveries (
    digest      bytea PRIMARY KEY,
    sent_at     timestamptz NOT NULL,
    identifier  text,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jira_deliveries_sent_at ON jira_deliveries (sent_at);
