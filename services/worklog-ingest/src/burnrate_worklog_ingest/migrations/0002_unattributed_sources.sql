-- Issue 3: worklogs that match no contract are kept (unattributed), Jira project keys route
-- worklogs, and a source's own version decides which of two deliveries is newer.

-- A Jira project key may route to several contracts (by team and by date).
CREATE TABLE contract_project_keys (
    project_key text NOT NULL,
    contract_id uuid NOT NULL REFERENCES contracts (id) ON DELETE CASCADE,
    PRIMARY KEY (project_key, contract_id)
);
CREATE INDEX contract_project_keys_contract ON contract_project_keys (contract_id);

ALTER TABLE worklogs
    ALTER COLUMN contract_id DROP NOT NULL,
    ALTER COLUMN period_start DROP NOT NULL,
    ALTER COLUMN period_end DROP NOT NULL,
    ADD COLUMN project_key text,
    -- why no contract matched (NULL once attributed)
    ADD COLUMN unattributed_reason text,
    -- the source's own last-modified time (Jira `updated`, Tempo `updatedAt`): a delivery
    -- older than the stored one changes nothing
    ADD COLUMN source_updated_at timestamptz,
    ADD CONSTRAINT worklogs_attributed_whole CHECK (
        (contract_id IS NULL) = (period_start IS NULL)
        AND (contract_id IS NULL) = (period_end IS NULL)
        AND (contract_id IS NULL) = (unattributed_reason IS NOT NULL));

CREATE INDEX worklogs_unattributed ON worklogs (created_at, id)
    WHERE contract_id IS NULL AND deleted_at IS NULL;
-- When a contract arrives, the unattributed worklogs naming its accounts or keys are routed.
CREATE INDEX worklogs_unattributed_account ON worklogs (work_account)
    WHERE contract_id IS NULL AND deleted_at IS NULL;
CREATE INDEX worklogs_unattributed_project ON worklogs (project_key)
    WHERE contract_id IS NULL AND deleted_at IS NULL;

-- Jira issues seen in jira:issue_* webhooks: a worklog webhook names only the issue id.
CREATE TABLE jira_issues (
    issue_id    text PRIMARY KEY,
    issue_key   text NOT NULL,
    project_key text NOT NULL,
    seen_at     timestamptz NOT NULL DEFAULT now()
);
