-- Issue 4: webhooks and suppressed deliveries, the in-app feed, opt-outs, and what the
-- templates need of the contract (teams for the feed, end date, terms for internal mails).

ALTER TABLE contracts
    ADD COLUMN teams text[] NOT NULL DEFAULT '{}',
    ADD COLUMN end_date date,
    ADD COLUMN currency text NOT NULL DEFAULT 'EUR',
    ADD COLUMN overage_rate numeric;

-- A webhook delivery: recipient is the URL, body_text the exact JSON body that is signed
-- (kept, so a retry sends the same bytes with the same signature).
-- 'suppressed': never sent, on purpose (opted out, or over the mail limit); reason says which.
ALTER TABLE deliveries
    DROP CONSTRAINT deliveries_channel_check,
    DROP CONSTRAINT deliveries_role_check,
    DROP CONSTRAINT deliveries_state_check,
    ADD CONSTRAINT deliveries_channel_check CHECK (channel IN ('email', 'webhook')),
    ADD CONSTRAINT deliveries_role_check
        CHECK (role IN ('owner', 'contact', 'extra', 'webhook')),
    ADD CONSTRAINT deliveries_state_check
        CHECK (state IN ('queued', 'retrying', 'sent', 'failed', 'suppressed')),
    ADD CONSTRAINT deliveries_webhook_body CHECK (channel <> 'webhook' OR body_text IS NOT NULL),
    ADD COLUMN reason text,
    ADD CONSTRAINT deliveries_suppressed_reason CHECK ((state = 'suppressed') = (reason IS NOT NULL));

-- The mail limit counts mails per contract, rule, period and address.
CREATE INDEX deliveries_limit ON deliveries (contract_id, rule_id, period_start, lower(recipient))
    WHERE channel = 'email' AND state <> 'suppressed';
CREATE INDEX deliveries_channel_due ON deliveries (channel, next_attempt_at)
    WHERE state IN ('queued', 'retrying');

-- Addresses that receive no alert mail at all (compared case-insensitively).
CREATE TABLE opt_outs (
    email       text PRIMARY KEY CHECK (email = lower(email)),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The in-app feed: one entry per alert and audience (a contract team, or the owner by e-mail).
CREATE TABLE feed_entries (
    id            uuid PRIMARY KEY,
    alert_id      uuid NOT NULL,
    contract_id   uuid NOT NULL,
    audience      text NOT NULL CHECK (audience IN ('team', 'owner')),
    audience_key  text NOT NULL,
    trigger       text NOT NULL,
    stage         text NOT NULL,
    period_start  date NOT NULL,
    period_end    date NOT NULL,
    headline      text NOT NULL,
    facts         jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    read_at       timestamptz,
    UNIQUE (alert_id, audience, audience_key)
);
CREATE INDEX feed_by_audience ON feed_entries (audience, audience_key, created_at, id);
CREATE INDEX feed_unread ON feed_entries (audience, audience_key, created_at, id)
    WHERE read_at IS NULL;
