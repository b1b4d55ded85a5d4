-- Replica of the contracts service's customers (fed by customer.*): the buyer's billing
-- details an invoice names. changed_at: occurred_at of the event the row reflects.
CREATE TABLE customers (
    id                 uuid PRIMARY KEY,
    name               text NOT NULL,
    legal_name         text,
    address_lines      text[] NOT NULL DEFAULT '{}',
    city               text,
    postcode           text,
    country            text,
    vat_id             text,
    peppol_endpoint_id text,
    peppol_scheme      text,
    deleted            boolean NOT NULL DEFAULT false,
    changed_at         timestamptz NOT NULL
);

-- The version of the worklog a line was rated from, and whether the line corrects an
-- invoiced worklog: an invoiced worklog whose replica version is newer than every settled
-- line of it has been corrected or deleted since.
ALTER TABLE statement_lines
    ADD COLUMN worklog_version integer NOT NULL DEFAULT 0,
    ADD COLUMN correction boolean NOT NULL DEFAULT false;
CREATE INDEX statement_lines_worklog ON statement_lines (worklog_id);

-- Correcting lines settled by a credit note instead of on a later statement.
CREATE TABLE settled_corrections (
    credit_note_id  uuid NOT NULL REFERENCES invoices (id),
    contract_id     uuid NOT NULL,
    statement_id    uuid NOT NULL REFERENCES statements (id),
    worklog_id      uuid NOT NULL,
    worklog_version integer NOT NULL,
    seconds         bigint NOT NULL,
    amount          numeric NOT NULL,
    PRIMARY KEY (credit_note_id, worklog_id)
);
CREATE INDEX settled_corrections_contract ON settled_corrections (contract_id);
