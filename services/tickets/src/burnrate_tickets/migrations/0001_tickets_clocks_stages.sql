-- Replica of the contracts service's contracts: whose they are, their zone, the Jira
-- projects that route to them, and their service levels (fed by contract.* events).
CREATE TABLE contracts (
    id                uuid PRIMARY KEY,
    customer_id       uuid NOT NULL,
    code              text NOT NULL,
    timezone          text NOT NULL,
    start_date        date NOT NULL,
    end_date          date NOT NULL,
    lifecycle         text NOT NULL,
    jira_project_keys text[] NOT NULL DEFAULT '{}',
    service_levels    jsonb NOT NULL DEFAULT '[]',
    -- occurred_at of the event this row reflects: an older event never overwrites a newer one.
    changed_at        timestamptz NOT NULL
);
CREATE INDEX contracts_customer ON contracts (customer_id);
CREATE INDEX contracts_jira_keys ON contracts USING gin (jira_project_keys);

-- One row per ticket of a source. A ticket whose contract is not known (yet) is kept with
-- contract_id NULL and what its source said (asked_*), and attributed when it arrives.
CREATE TABLE tickets (
    id                 uuid PRIMARY KEY,
    source             text NOT NULL,
    external_id        text NOT NULL,
    reference          text NOT NULL,
    contract_id        uuid,
    customer_id        uuid,
    asked_contract_id  uuid,
    asked_customer_id  uuid,
    project_key        text,
    attribution        text NOT NULL,
    opening_priority   text NOT NULL CHECK (opening_priority IN ('P1', 'P2', 'P3', 'P4')),
    priority           text NOT NULL CHECK (priority IN ('P1', 'P2', 'P3', 'P4')),
    category           text,
    status             text NOT NULL,
    status_kind        text NOT NULL,
    -- the service level in force when the ticket opened, as it was then
    level              text,
    level_terms        jsonb,
    opened_at          timestamptz NOT NULL,
    -- false: opened from a later event of a source whose creation has not arrived yet
    opening_confirmed  boolean NOT NULL DEFAULT true,
    resolved_at        timestamptz,
    closed_at          timestamptz,
    -- business seconds on the resolution clock when it was last resolved (expected_at)
    resolution_seconds bigint,
    announced          boolean NOT NULL DEFAULT false,
    confirmed_at       timestamptz,
    rating             smallint CHECK (rating BETWEEN 1 AND 5),
    comment            text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, external_id)
);
CREATE INDEX tickets_contract ON tickets (contract_id, opened_at DESC, id);
CREATE INDEX tickets_customer ON tickets (customer_id, opened_at DESC, id);
CREATE INDEX tickets_listed ON tickets (opened_at DESC, id);
CREATE INDEX tickets_unattributed ON tickets (created_at, id) WHERE contract_id IS NULL;
CREATE INDEX tickets_resolved ON tickets (contract_id, priority)
    WHERE resolution_seconds IS NOT NULL;

-- What happened to a ticket, each event once per source and event id, replayed in the
-- order it happened (occurred_at, then arrival).
CREATE TABLE ticket_events (
    seq         bigserial,
    ticket_id   uuid NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    source      text NOT NULL,
    event_id    text NOT NULL,
    kind        text NOT NULL,
    occurred_at timestamptz NOT NULL,
    status      text,
    status_kind text,
    by_whom     text,
    public      boolean,
    priority    text,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, event_id)
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, occurred_at, seq);

-- The instant the next stage of each running clock falls due: the timer reads only the
-- rows due now (the index), so a round costs what falls due, not what is open.
CREATE TABLE due_stages (
    ticket_id uuid NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    metric    text NOT NULL,
    cycle     integer NOT NULL,
    stage     integer NOT NULL,
    due_at    timestamptz NOT NULL,
    PRIMARY KEY (ticket_id, metric, cycle)
);
CREATE INDEX due_stages_due ON due_stages (due_at);

-- "Each stage fires once per ticket, metric and cycle" is this key. Stages passed over by a
-- higher one reached at the same time are kept with announced = false.
CREATE TABLE fired_stages (
    ticket_id  uuid NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    metric     text NOT NULL,
    cycle      integer NOT NULL,
    stage      integer NOT NULL,
    reached_at timestamptz NOT NULL,
    fired_at   timestamptz NOT NULL,
    announced  boolean NOT NULL,
    PRIMARY KEY (ticket_id, metric, cycle, stage)
);
