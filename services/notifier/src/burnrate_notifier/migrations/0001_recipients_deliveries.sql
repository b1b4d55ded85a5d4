-- The recipients replica (fed by customer.* and contract.*) and the deliveries of alerts.

-- Replica rows carry the occurred_at of the event that wrote them, so a late, older full
-- state never overwrites a newer one.
CREATE TABLE customers (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    source_at   timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE contacts (
    id          uuid PRIMARY KEY,
    customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    name        text NOT NULL,
    email       text NOT NULL,
    language    text NOT NULL,
    position    int NOT NULL
);
CREATE INDEX contacts_customer ON contacts (customer_id, position);

-- No foreign key to customers: contract and customer events may arrive in either order.
CREATE TABLE contracts (
    id          uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    code        text NOT NULL,
    title       text NOT NULL,
    owner_email text NOT NULL,
    timezone    text NOT NULL,
    source_at   timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per alert, channel and recipient. The mail is rendered when the alert arrives and
-- kept here with its Message-ID, so a retry or a resend after a crash is the same message.
CREATE TABLE deliveries (
    id              uuid PRIMARY KEY,
    alert_id        uuid NOT NULL,
    rule_id         uuid NOT NULL,
    contract_id     uuid NOT NULL,
    period_start    date NOT NULL,
    trigger         text NOT NULL,
    stage           text NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('email')),
    recipient       text NOT NULL,
    role            text NOT NULL CHECK (role IN ('owner', 'contact', 'extra')),
    language        text NOT NULL CHECK (language IN ('en', 'nl')),
    state           text NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'retrying', 'sent', 'failed')),
    attempts        int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    message_id      text UNIQUE,
    subject         text,
    body_text       text,
    body_html       text,
    last_error      text,
    correlation_id  text NOT NULL,
    causation_id    uuid NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    UNIQUE (alert_id, channel, recipient),
    CHECK (channel <> 'email'
           OR (message_id IS NOT NULL AND subject IS NOT NULL
               AND body_text IS NOT NULL AND body_html IS NOT NULL)),
    CHECK ((state = 'sent') = (sent_at IS NOT NULL))
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state IN ('queued', 'retrying');
CREATE INDEX deliveries_created ON deliveries (created_at, id);
CREATE INDEX deliveries_state ON deliveries (state, created_at, id);
CREATE INDEX deliveries_contract ON deliveries (contract_id, created_at, id);
