-- The signed unsubscribe link of a mail (NULL: the owner's mail, which has none), kept so a
-- resend carries the same List-Unsubscribe header as the first try.
ALTER TABLE deliveries ADD COLUMN unsubscribe_url text;
