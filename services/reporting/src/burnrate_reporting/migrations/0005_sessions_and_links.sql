-- Issue 20: the pages' login sessions and the customers' report links, each a revocable row.
-- Neither is a read model: `rebuild` leaves them alone.

-- A staff member's login: the cookie carries a random token, this table its SHA-256 hash.
-- Valid until it expires or is revoked (logout), and only while the key it was opened with
-- is not revoked and still carries reports:read (checked against the `api_keys` replica at
-- every request, so an `apikey.revoked` ends every session of that key).
CREATE TABLE ui_sessions (
    token_hash  text PRIMARY KEY,
    -- NULL: opened with the bootstrap key (development and tests)
    key_id      uuid,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX ui_sessions_key ON ui_sessions (key_id);
CREATE INDEX ui_sessions_expires ON ui_sessions (expires_at);

-- A customer report link minted through the API: its signed token names this row, and it
-- opens the reports only while the row is not revoked and the minting key is not revoked.
CREATE TABLE report_links (
    id          uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    -- NULL: minted with the bootstrap key
    key_id      uuid,
    key_name    text NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX report_links_customer ON report_links (customer_id, created_at DESC, id);
CREATE INDEX report_links_key ON report_links (key_id);
