-- Issue 4: every trigger, rule scope (customer) and opt-outs, the daily clock.

-- The contract's lifecycle (only active contracts alert) and the last local day the daily
-- clock evaluated it (NULL: evaluate at the next tick; reset when the contract or a rule
-- that applies to it changes).
ALTER TABLE contracts
    ADD COLUMN lifecycle text NOT NULL DEFAULT 'active',
    ADD COLUMN clock_date date;

ALTER TABLE period_totals
    ADD COLUMN outside_dates_seconds bigint NOT NULL DEFAULT 0;

-- Scope: every contract (both NULL), one customer's, or one contract.
ALTER TABLE rules
    ADD COLUMN customer_id uuid,
    ADD CONSTRAINT rules_one_scope CHECK (contract_id IS NULL OR customer_id IS NULL);
CREATE INDEX rules_customer ON rules (customer_id) WHERE customer_id IS NOT NULL;

-- A contract that opted out of a rule for every contract (or for its customer's).
CREATE TABLE rule_opt_outs (
    rule_id     uuid NOT NULL REFERENCES rules (id) ON DELETE CASCADE,
    contract_id uuid NOT NULL REFERENCES contracts (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rule_id, contract_id)
);
CREATE INDEX rule_opt_outs_contract ON rule_opt_outs (contract_id);

-- fired_stages' primary key is what makes a stage fire once. An alert names the period it
-- was raised in, which for "days before the end" is not the period its stages are keyed on.
ALTER TABLE alerts
    DROP CONSTRAINT alerts_rule_id_contract_id_period_start_stage_key,
    ADD COLUMN customer_id uuid,
    ADD COLUMN days_before_end integer,
    ADD COLUMN forecast_seconds bigint,
    ADD COLUMN forecast_exhaustion_date date,
    ADD COLUMN unused_seconds bigint,
    ADD COLUMN outside_dates_seconds bigint;
CREATE INDEX alerts_rule ON alerts (rule_id, raised_at, alert_id);
CREATE INDEX alerts_period ON alerts (period_start);
