-- Mails that are not alerts ("notices": a statement sent to the customer, a resolved
-- ticket's confirmation link) are deliveries too: the same queue, sender, Message-ID,
-- idempotency key (alert_id, channel, recipient) — alert_id then names the notice — and
-- per-address cap. They answer to no rule.
ALTER TABLE deliveries ALTER COLUMN rule_id DROP NOT NULL;
