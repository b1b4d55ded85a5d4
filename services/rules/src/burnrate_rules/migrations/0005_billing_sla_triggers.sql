-- Issues 21 and 22: the billing triggers (allowance_reached, budget_exceeded_forecast) and
-- the service-level triggers (sla_at_risk, sla_breached).

-- Replica of billing's statement figures, one row per contract period (fed by statement.*:
-- each event carries the period's figures in full). No foreign key to the replica: a
-- statement may arrive before its contract, and is evaluated when the contract arrives.
CREATE TABLE statement_figures (
    contract_id          uuid NOT NULL,
    period_start         date NOT NULL,
    period_end           date NOT NULL,
    statement_id         uuid NOT NULL,
    status               text NOT NULL,
    currency             text NOT NULL,
    allowance_seconds    bigint NOT NULL,
    in_allowance_seconds bigint NOT NULL,
    charged_seconds      bigint NOT NULL,
    charged_amount       numeric NOT NULL,
    forecast_amount      numeric,
    budget               numeric,
    -- occurred_at of the event this row reflects: an older event never overwrites a newer one.
    changed_at           timestamptz NOT NULL,
    PRIMARY KEY (contract_id, period_start)
);

-- "Each stage fires once per ticket, metric and cycle" is this key, as fired_stages' is
-- "once per contract period" for the other triggers (which keeps its own key unchanged).
CREATE TABLE sla_fired_stages (
    rule_id     uuid NOT NULL REFERENCES rules (id),
    ticket_id   uuid NOT NULL,
    metric      text NOT NULL,
    cycle       integer NOT NULL,
    stage       text NOT NULL,
    contract_id uuid NOT NULL,
    alert_id    uuid NOT NULL REFERENCES alerts (alert_id) DEFERRABLE INITIALLY DEFERRED,
    fired_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rule_id, ticket_id, metric, cycle, stage)
);
CREATE INDEX sla_fired_stages_contract ON sla_fired_stages (contract_id, ticket_id);

-- What the new alerts say besides their stage (AlertFacts).
ALTER TABLE alerts
    ADD COLUMN currency text,
    ADD COLUMN allowance_seconds bigint,
    ADD COLUMN charged_seconds bigint,
    ADD COLUMN charged_amount numeric,
    ADD COLUMN forecast_amount numeric,
    ADD COLUMN budget numeric,
    ADD COLUMN ticket_id uuid,
    ADD COLUMN ticket_reference text,
    ADD COLUMN ticket_priority text,
    ADD COLUMN service_level text,
    ADD COLUMN sla_metric text,
    ADD COLUMN sla_cycle integer,
    ADD COLUMN sla_target_minutes integer,
    ADD COLUMN sla_due_at timestamptz,
    ADD COLUMN sla_expected_at timestamptz;
