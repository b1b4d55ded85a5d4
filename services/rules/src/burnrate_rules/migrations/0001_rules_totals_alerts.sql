-- Replica of the contracts service's contracts and their periods (fed by contract.* events).
CREATE TABLE contracts (
    id          uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    code        text NOT NULL,
    title       text NOT NULL,
    owner_email text NOT NULL,
    timezone    text NOT NULL,
    start_date  date NOT NULL,
    end_date    date NOT NULL,
    -- occurred_at of the event this row reflects: an older event never overwrites a newer one.
    changed_at  timestamptz NOT NULL
);

CREATE TABLE contract_periods (
    contract_id     uuid NOT NULL REFERENCES contracts (id) ON DELETE CASCADE,
    start_date      date NOT NULL,
    end_date        date NOT NULL,
    planned_seconds bigint NOT NULL,
    PRIMARY KEY (contract_id, start_date)
);

-- Running totals per contract period. No foreign key to the replica: a delta may arrive
-- before its contract, and is kept until the contract is known.
CREATE TABLE period_totals (
    contract_id      uuid NOT NULL,
    period_start     date NOT NULL,
    period_end       date NOT NULL,
    executed_seconds bigint NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (contract_id, period_start)
);

CREATE TABLE rules (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    -- NULL: the rule applies to every contract.
    contract_id uuid REFERENCES contracts (id),
    trigger     text NOT NULL,
    stages      integer[] NOT NULL CHECK (cardinality(stages) > 0),
    overage     boolean NOT NULL,
    audience    jsonb NOT NULL,
    enabled     boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rules_created ON rules (created_at, id);
CREATE INDEX rules_contract ON rules (contract_id);

CREATE TABLE alerts (
    alert_id         uuid PRIMARY KEY,
    rule_id          uuid NOT NULL REFERENCES rules (id),
    contract_id      uuid NOT NULL,
    period_start     date NOT NULL,
    period_end       date NOT NULL,
    stage            text NOT NULL,
    trigger          text NOT NULL,
    planned_seconds  bigint NOT NULL,
    executed_seconds bigint NOT NULL,
    raised_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (rule_id, contract_id, period_start, stage)
);
CREATE INDEX alerts_raised ON alerts (raised_at, alert_id);
CREATE INDEX alerts_contract ON alerts (contract_id, raised_at, alert_id);

-- "Each stage fires once per contract period" is this key, not a check. Every stage crossed
-- by one change points at the one alert raised for the highest of them.
CREATE TABLE fired_stages (
    rule_id      uuid NOT NULL REFERENCES rules (id),
    contract_id  uuid NOT NULL,
    period_start date NOT NULL,
    stage        text NOT NULL,
    alert_id     uuid NOT NULL REFERENCES alerts (alert_id) DEFERRABLE INITIALLY DEFERRED,
    fired_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rule_id, contract_id, period_start, stage)
);
CREATE INDEX fired_stages_period ON fired_stages (contract_id, period_start);
