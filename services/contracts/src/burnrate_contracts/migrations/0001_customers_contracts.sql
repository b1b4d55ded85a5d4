CREATE TABLE customers (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE contacts (
    id          uuid PRIMARY KEY,
    customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    name        text NOT NULL,
    email       text NOT NULL,
    language    text NOT NULL CHECK (language IN ('en', 'nl')),
    position    int NOT NULL,
    UNIQUE (customer_id, email)
);

CREATE TABLE contracts (
    id            uuid PRIMARY KEY,
    customer_id   uuid NOT NULL REFERENCES customers (id),
    code          text NOT NULL UNIQUE,
    title         text NOT NULL,
    owner_email   text NOT NULL,
    start_date    date NOT NULL,
    end_date      date NOT NULL CHECK (end_date >= start_date),
    timezone      text NOT NULL,
    period        text NOT NULL CHECK (period IN ('monthly', 'quarterly', 'yearly', 'term')),
    planned_hours numeric(10, 2) NOT NULL CHECK (planned_hours > 0),
    teams         text[] NOT NULL DEFAULT '{}',
    work_accounts text[] NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contracts_customer ON contracts (customer_id);
CREATE INDEX contracts_work_accounts ON contracts USING gin (work_accounts);
CREATE INDEX contracts_created ON contracts (created_at, id);
CREATE INDEX customers_created ON customers (created_at, id);
