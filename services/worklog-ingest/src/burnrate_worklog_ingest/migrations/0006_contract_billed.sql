-- Billing rates every hour of a billed contract from its worklog events, so the worklogs of
-- such a contract are all announced (worklog.recorded), not only those outside its dates.
-- The replica learns it from contract.* (ContractChanged.billing set). A row replicated
-- before this column starts as not billed: its next contract.* event sets it, and turning
-- billed announces the worklogs the contract already has (service.routing).
ALTER TABLE contracts ADD COLUMN billed boolean NOT NULL DEFAULT false;
