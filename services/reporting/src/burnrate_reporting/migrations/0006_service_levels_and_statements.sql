-- Issues 21 and 22: the service levels a contract carries, the tickets and their clocks, the
-- stages of the targets (at risk, breached), and the statements and invoices of billing. Read
-- models like the others: fed by events only, idempotent, independent of arrival order.

-- Every service-level version of the contract (ContractChanged.service_levels, as JSON), so
-- the pages show the customer what they bought: level, targets, calendar.
ALTER TABLE contracts ADD COLUMN service_levels jsonb NOT NULL DEFAULT '[]';

-- A ticket's newest published state (ticket.opened|updated|resolved): full state, the newest
-- version by the event's occurred_at wins. `clocks` is TicketChanged.clocks (each metric of
-- each cycle: business seconds elapsed, paused seconds, met), replaced with the row.
CREATE TABLE tickets (
    ticket_id   uuid PRIMARY KEY,
    contract_id uuid NOT NULL,
    customer_id uuid NOT NULL,
    reference   text NOT NULL,
    source      text NOT NULL,
    priority    text NOT NULL,
    category    text,
    status      text NOT NULL,
    level       text,
    opened_at   timestamptz NOT NULL,
    resolved_at timestamptz,
    clocks      jsonb NOT NULL DEFAULT '[]',
    version_at  timestamptz NOT NULL
);
CREATE INDEX tickets_contract ON tickets (contract_id, opened_at);
CREATE INDEX tickets_customer ON tickets (customer_id, opened_at);

-- Each stage a ticket's clock reached (sla.at_risk, sla.breached: stage 100), once per ticket,
-- metric, cycle and stage, as tickets fires them.
CREATE TABLE sla_stages (
    ticket_id      uuid NOT NULL,
    metric         text NOT NULL,
    cycle          int NOT NULL,
    stage          int NOT NULL,
    contract_id    uuid NOT NULL,
    customer_id    uuid NOT NULL,
    reference      text NOT NULL,
    priority       text NOT NULL,
    level          text NOT NULL,
    category       text,
    target_minutes int NOT NULL,
    due_at         timestamptz NOT NULL,
    expected_at    timestamptz,
    reached_at     timestamptz NOT NULL,
    timezone       text,
    PRIMARY KEY (ticket_id, metric, cycle, stage)
);
CREATE INDEX sla_stages_contract ON sla_stages (contract_id);
CREATE INDEX sla_stages_customer ON sla_stages (customer_id);

-- A statement's newest figures (statement.updated|sent|approved), per contract period; when it
-- was first sent and approved (whatever order those events arrive in).
CREATE TABLE statements (
    statement_id         uuid PRIMARY KEY,
    contract_id          uuid NOT NULL,
    customer_id          uuid NOT NULL,
    period_start         date NOT NULL,
    period_end           date NOT NULL,
    status               text NOT NULL,
    currency             text NOT NULL,
    allowance_seconds    bigint NOT NULL,
    in_allowance_seconds bigint NOT NULL,
    charged_seconds      bigint NOT NULL,
    charged_amount       numeric NOT NULL,
    subtotal             numeric NOT NULL,
    vat                  numeric NOT NULL,
    total                numeric NOT NULL,
    forecast_amount      numeric,
    budget               numeric,
    sent_at              timestamptz,
    approved_at          timestamptz,
    version_at           timestamptz NOT NULL
);
CREATE INDEX statements_contract ON statements (contract_id, period_start);
CREATE INDEX statements_customer ON statements (customer_id, period_start);

-- Invoices and credit notes (invoice.issued|credited): immutable, written once.
CREATE TABLE invoices (
    invoice_id   uuid PRIMARY KEY,
    number       text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('invoice', 'credit_note')),
    statement_id uuid NOT NULL,
    contract_id  uuid NOT NULL,
    customer_id  uuid NOT NULL,
    currency     text NOT NULL,
    subtotal     numeric NOT NULL,
    vat          numeric NOT NULL,
    total        numeric NOT NULL,
    issued_at    timestamptz NOT NULL,
    corrects     text
);
CREATE INDEX invoices_statement ON invoices (statement_id);
CREATE INDEX invoices_contract ON invoices (contract_id);
