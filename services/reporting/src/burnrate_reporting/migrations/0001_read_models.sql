-- Read models of the reporting service, fed by events only (no other service's tables).
-- Every write is idempotent per event (the inbox) and independent of arrival order:
-- consumption is a sum of deltas; full-state rows keep the newest version by the event's
-- occurred_at (version_at). So the tables can be rebuilt by replaying the events.
-- No foreign keys between facts and contracts: a delta may arrive before its contract.

CREATE TABLE customers (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    contacts    jsonb NOT NULL DEFAULT '[]',
    version_at  timestamptz NOT NULL
);

CREATE TABLE contracts (
    id            uuid PRIMARY KEY,
    customer_id   uuid NOT NULL,
    code          text NOT NULL,
    title         text NOT NULL,
    owner_email   text NOT NULL,
    start_date    date NOT NULL,
    end_date      date NOT NULL,
    timezone      text NOT NULL,
    period        text NOT NULL,
    planned_hours numeric(12, 2) NOT NULL,
    teams         text[] NOT NULL DEFAULT '{}',
    work_accounts text[] NOT NULL DEFAULT '{}',
    -- occurred_at of the earliest contract event seen: the list's stable order.
    created_at    timestamptz NOT NULL,
    version_at    timestamptz NOT NULL
);
CREATE INDEX contracts_created ON contracts (created_at, id);
CREATE INDEX contracts_customer ON contracts (customer_id, created_at, id);

-- The periods as the contracts service computed them (full state, replaced on update).
CREATE TABLE contract_periods (
    contract_id     uuid NOT NULL REFERENCES contracts (id) ON DELETE CASCADE,
    start_date      date NOT NULL,
    end_date        date NOT NULL,
    planned_seconds bigint NOT NULL,
    PRIMARY KEY (contract_id, start_date)
);

-- Sums of consumption deltas per contract period, team and activity.
CREATE TABLE consumption (
    contract_id           uuid NOT NULL,
    period_start          date NOT NULL,
    team                  text NOT NULL,
    activity              text NOT NULL,
    executed_seconds      bigint NOT NULL,
    worklogs              bigint NOT NULL,
    outside_dates_seconds bigint NOT NULL,
    PRIMARY KEY (contract_id, period_start, team, activity)
);

-- Worklogs flagged outside the contract dates, for the report's list; plus the tombstones
-- (deleted, or corrected back inside) so a late, older version cannot bring one back.
CREATE TABLE outside_dates_worklogs (
    id            uuid PRIMARY KEY,
    contract_id   uuid NOT NULL,
    period_start  date NOT NULL,
    source        text NOT NULL,
    external_id   text NOT NULL,
    author        text NOT NULL,
    team          text NOT NULL,
    activity      text NOT NULL,
    started_at    timestamptz NOT NULL,
    seconds       bigint NOT NULL,
    ticket        text,
    outside_dates boolean NOT NULL,
    deleted       boolean NOT NULL,
    version_at    timestamptz NOT NULL
);
CREATE INDEX outside_dates_listed ON outside_dates_worklogs (contract_id, period_start, started_at)
    WHERE outside_dates AND NOT deleted;

CREATE TABLE alerts (
    alert_id         uuid PRIMARY KEY,
    rule_id          uuid NOT NULL,
    rule_name        text NOT NULL,
    contract_id      uuid NOT NULL,
    period_start     date NOT NULL,
    period_end       date NOT NULL,
    trigger          text NOT NULL,
    stage            text NOT NULL,
    planned_seconds  bigint NOT NULL,
    executed_seconds bigint NOT NULL,
    raised_at        timestamptz NOT NULL
);
CREATE INDEX alerts_last ON alerts (contract_id, raised_at DESC, alert_id DESC);
CREATE INDEX alerts_period ON alerts (contract_id, period_start, raised_at);

-- The latest outcome of each delivery, counted per contract.
CREATE TABLE notifications (
    delivery_id uuid PRIMARY KEY,
    alert_id    uuid NOT NULL,
    contract_id uuid NOT NULL,
    channel     text NOT NULL,
    recipient   text NOT NULL,
    status      text NOT NULL CHECK (status IN ('sent', 'failed')),
    attempts    int NOT NULL,
    error       text,
    version_at  timestamptz NOT NULL
);
CREATE INDEX notifications_contract ON notifications (contract_id, status);
