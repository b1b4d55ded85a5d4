-- Which customer a Zendesk organization is: a Zendesk ticket of a mapped organization is
-- attributed to that customer's contract without query parameters on the webhook.
CREATE TABLE zendesk_organizations (
    org_id      text PRIMARY KEY,
    customer_id uuid NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The organization a ticket's source named (Zendesk), so a mapping made after the ticket
-- arrived still attributes it.
ALTER TABLE tickets ADD COLUMN organization_id text;
CREATE INDEX tickets_unattributed_organization ON tickets (organization_id)
    WHERE contract_id IS NULL AND organization_id IS NOT NULL;
