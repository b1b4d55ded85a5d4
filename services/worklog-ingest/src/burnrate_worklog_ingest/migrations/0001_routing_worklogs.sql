-- The routing replica: what worklog-ingest needs of each contract to attribute a worklog to
-- a contract period. Fed by contract.created / contract.updated (full state each time).

CREATE TABLE contracts (
    id            uuid PRIMARY KEY,
    timezone      text NOT NULL,
    start_date    date NOT NULL,
    end_date      date NOT NULL,
    teams         text[] NOT NULL DEFAULT '{}',
    -- occurred_at of the event this state comes from: an older event never overwrites it.
    changed_at    timestamptz NOT NULL,
    replicated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE contract_periods (
    contract_id     uuid NOT NULL REFERENCES contracts (id) ON DELETE CASCADE,
    start_date      date NOT NULL,
    end_date        date NOT NULL,
    planned_seconds bigint NOT NULL,
    PRIMARY KEY (contract_id, start_date)
);

-- A work account may route to several contracts with non-overlapping dates.
CREATE TABLE contract_work_accounts (
    work_account text NOT NULL,
    contract_id  uuid NOT NULL REFERENCES contracts (id) ON DELETE CASCADE,
    PRIMARY KEY (work_account, contract_id)
);
CREATE INDEX contract_work_accounts_contract ON contract_work_accounts (contract_id);

CREATE TABLE worklogs (
    id            uuid PRIMARY KEY,
    source        text NOT NULL,
    external_id   text NOT NULL,
    -- No foreign key into the replica: the replica may be rebuilt from events, and worklogs
    -- are the system of record here.
    contract_id   uuid NOT NULL,
    work_account  text,
    period_start  date NOT NULL,
    period_end    date NOT NULL,
    outside_dates boolean NOT NULL DEFAULT false,
    author        text NOT NULL,
    team          text NOT NULL,
    activity      text NOT NULL,
    started_at    timestamptz NOT NULL,
    seconds       integer NOT NULL CHECK (seconds > 0 AND seconds <= 86400),
    ticket        text,
    version       integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz,
    -- The same worklog sent twice (retries, webhook replays) is one worklog.
    CONSTRAINT worklogs_source_external_id UNIQUE (source, external_id)
);
CREATE INDEX worklogs_listing ON worklogs (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX worklogs_by_contract ON worklogs (contract_id, created_at, id)
    WHERE deleted_at IS NULL;
