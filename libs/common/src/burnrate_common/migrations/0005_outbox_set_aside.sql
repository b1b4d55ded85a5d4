-- An event the relay cannot publish, however often it tries (a property the broker refuses,
-- say), is set aside after a bounded number of attempts so the events behind it flow on:
-- moved here with its last error, listed at GET /v1/outbox/set-aside and replayable.
ALTER TABLE outbox
    ADD COLUMN attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN last_error text;

CREATE TABLE outbox_set_aside (
    id             uuid PRIMARY KEY,
    type           text NOT NULL,
    body           bytea NOT NULL,
    occurred_at    timestamptz NOT NULL,
    correlation_id text NOT NULL,
    producer       text NOT NULL,
    key            text NOT NULL,
    version        integer NOT NULL,
    headers        jsonb,
    created_at     timestamptz NOT NULL,
    attempts       integer NOT NULL,
    last_error     text NOT NULL,
    set_aside_at   timestamptz NOT NULL DEFAULT now()
);
