-- Replica of the contracts service's contracts, their periods and commercial terms
-- (fed by contract.* events). changed_at: occurred_at of the event the row reflects; an
-- older event never overwrites a newer one, and a deletion is kept as a tombstone.
CREATE TABLE contracts (
    id               uuid PRIMARY KEY,
    customer_id      uuid NOT NULL,
    code             text NOT NULL,
    title            text NOT NULL,
    timezone         text NOT NULL,
    start_date       date NOT NULL,
    end_date         date NOT NULL,
    lifecycle        text NOT NULL,
    currency         text NOT NULL,
    allowance_policy text NOT NULL,
    rollover         jsonb NOT NULL,
    -- BillingTerms; NULL: the contract is not billed by Burnrate
    billing          jsonb,
    changed_at       timestamptz NOT NULL
);
CREATE INDEX contracts_customer ON contracts (customer_id);

CREATE TABLE contract_periods (
    contract_id     uuid NOT NULL REFERENCES contracts (id) ON DELETE CASCADE,
    start_date      date NOT NULL,
    end_date        date NOT NULL,
    planned_seconds bigint NOT NULL,
    PRIMARY KEY (contract_id, start_date)
);

-- Replica of the worklogs (fed by worklog.*): the newest version wins; a deletion stays as
-- a tombstone (deleted = true) so an older version arriving late does not bring it back.
-- No foreign key to contracts: a worklog may arrive before its contract.
CREATE TABLE worklogs (
    id           uuid PRIMARY KEY,
    contract_id  uuid NOT NULL,
    period_start date NOT NULL,
    started_at   timestamptz NOT NULL,
    seconds      bigint NOT NULL,
    author       text NOT NULL,
    team         text NOT NULL,
    activity     text NOT NULL,
    location     text,
    ticket       text,
    version      integer NOT NULL,
    deleted      boolean NOT NULL DEFAULT false,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX worklogs_contract_period ON worklogs (contract_id, period_start) WHERE NOT deleted;

-- Tickets the customer confirmed closed (ticket.confirmed or the API).
CREATE TABLE ticket_confirmations (
    contract_id  uuid NOT NULL,
    reference    text NOT NULL,
    confirmed_at timestamptz NOT NULL,
    confirmed_by text NOT NULL,
    PRIMARY KEY (contract_id, reference)
);

-- Breached resolution targets (sla.breached): each credits the customer by the terms.
CREATE TABLE sla_breaches (
    ticket_id   uuid NOT NULL,
    metric      text NOT NULL,
    cycle       integer NOT NULL,
    contract_id uuid NOT NULL,
    reference   text NOT NULL,
    level       text NOT NULL,
    reached_at  timestamptz NOT NULL,
    PRIMARY KEY (ticket_id, metric, cycle)
);
CREATE INDEX sla_breaches_contract ON sla_breaches (contract_id, reached_at);

-- One statement per contract period. ``terms``: the commercial terms it is rated with
-- (taken when it is created, replaced only by the audited re-rate). ``figures``: the last
-- computed totals; ``ledger``: the allowance and rollover of the period (frozen once
-- invoiced, so later periods roll over from what was invoiced).
CREATE TABLE statements (
    id               uuid PRIMARY KEY,
    contract_id      uuid NOT NULL REFERENCES contracts (id),
    period_start     date NOT NULL,
    period_end       date NOT NULL,
    status           text NOT NULL DEFAULT 'draft' CHECK (
        status IN ('draft', 'in_review', 'sent', 'approved', 'disputed', 'invoiced')),
    terms            jsonb NOT NULL,
    figures          jsonb NOT NULL DEFAULT '{}',
    digest           text NOT NULL DEFAULT '',
    sent_at          timestamptz,
    link_expires_at  timestamptz,
    approved_by      text,
    approved_at      timestamptz,
    invoice_id       uuid,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (contract_id, period_start)
);

-- The lines of a statement as last computed (replaced as a whole when they change).
CREATE TABLE statement_lines (
    statement_id         uuid NOT NULL REFERENCES statements (id) ON DELETE CASCADE,
    position             integer NOT NULL,
    line_id              text NOT NULL,
    worklog_id           uuid NOT NULL,
    period_start         date NOT NULL,
    late                 boolean NOT NULL,
    date                 date NOT NULL,
    person               text NOT NULL,
    team                 text NOT NULL,
    ticket               text,
    activity             text NOT NULL,
    location             text,
    shift                text,
    actual_seconds       bigint NOT NULL,
    billable_seconds     bigint NOT NULL,
    in_allowance_seconds bigint NOT NULL,
    charged_seconds      bigint NOT NULL,
    rate                 numeric NOT NULL,
    rate_row             text,
    -- rate × charged hours, and what of it counts in the subtotal (by the line's status)
    value                numeric NOT NULL,
    amount               numeric NOT NULL,
    status               text NOT NULL,
    note                 text,
    PRIMARY KEY (statement_id, position)
);

-- Money moved onto or off a statement by a person (or by a service-level breach).
-- carry_out / carry_in come in pairs (pair_id); a credit granted on the next statement
-- is a credit row there with source_statement_id set.
CREATE TABLE adjustments (
    id                  uuid PRIMARY KEY,
    statement_id        uuid NOT NULL REFERENCES statements (id),
    kind                text NOT NULL CHECK (kind IN ('carry_out', 'carry_in', 'credit')),
    amount              numeric NOT NULL CHECK (amount >= 0),
    reason              text NOT NULL,
    source_statement_id uuid REFERENCES statements (id),
    pair_id             uuid,
    created_by          text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX adjustments_statement ON adjustments (statement_id);

-- Lines written off (cancelled) or disputed by the customer, by worklog.
CREATE TABLE line_marks (
    statement_id uuid NOT NULL REFERENCES statements (id),
    worklog_id   uuid NOT NULL,
    mark         text NOT NULL CHECK (mark IN ('cancelled', 'disputed', 'released')),
    reason       text NOT NULL,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (statement_id, worklog_id, mark)
);

-- Every change of a statement: who (the API key's name, the customer's name, or the
-- event that caused it), when, what, why.
CREATE TABLE statement_history (
    id           bigserial PRIMARY KEY,
    statement_id uuid NOT NULL REFERENCES statements (id),
    at           timestamptz NOT NULL,
    actor        text NOT NULL,
    action       text NOT NULL,
    reason       text,
    details      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX statement_history_statement ON statement_history (statement_id, id);

-- Gap-free numbers: one counter row per series and year, locked by the transaction that
-- issues the invoice (a rolled-back issue leaves no gap).
CREATE TABLE invoice_counters (
    series text NOT NULL,
    year   integer NOT NULL,
    last   integer NOT NULL,
    PRIMARY KEY (series, year)
);

CREATE TABLE invoices (
    id           uuid PRIMARY KEY,
    number       text NOT NULL UNIQUE,
    kind         text NOT NULL CHECK (kind IN ('invoice', 'credit_note')),
    statement_id uuid NOT NULL REFERENCES statements (id),
    contract_id  uuid NOT NULL,
    customer_id  uuid NOT NULL,
    currency     text NOT NULL,
    issued_at    timestamptz NOT NULL,
    issue_date   date NOT NULL,
    due_date     date NOT NULL,
    vat_rate     numeric NOT NULL,
    subtotal     numeric NOT NULL,
    vat          numeric NOT NULL,
    total        numeric NOT NULL,
    corrects     uuid REFERENCES invoices (id),
    reason       text,
    issued_by    text NOT NULL,
    -- everything an export needs, as issued: contract, period, lines, adjustments
    document     jsonb NOT NULL
);
CREATE INDEX invoices_contract ON invoices (contract_id, issued_at);
CREATE INDEX invoices_customer ON invoices (customer_id, issued_at);

-- Issued invoices and credit notes are immutable.
CREATE FUNCTION invoices_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'invoices are immutable; issue a credit note';
END $$;
CREATE TRIGGER invoices_immutable BEFORE UPDATE OR DELETE ON invoices
    FOR EACH ROW EXECUTE FUNCTION invoices_immutable();
