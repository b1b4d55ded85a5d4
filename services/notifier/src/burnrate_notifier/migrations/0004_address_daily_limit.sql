-- The daily cap per address counts each address's mails of the last 24 hours, all rules.
CREATE INDEX deliveries_address_day ON deliveries (lower(recipient), created_at)
    WHERE channel = 'email' AND state <> 'suppressed';
-- Suppressed deliveries listed by their reason.
CREATE INDEX deliveries_reason ON deliveries (reason, created_at, id) WHERE reason IS NOT NULL;
