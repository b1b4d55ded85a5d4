-- Billing terms and rate cards; calendars, service levels and the levels of each contract.

-- Named, reusable rate cards. rows: [{"id", "activity", "location", "shift", "mode",
-- "amount", "effective_from", "effective_to"}], validated by the service.
CREATE TABLE rate_cards (
    id          uuid PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    description text NOT NULL DEFAULT '',
    rows        jsonb NOT NULL DEFAULT '[]',
    version     int NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The billing terms as the API wrote them (null: not billed by Burnrate); rate_card_id
-- repeats the card they name, so a card in use cannot go and its contracts are found.
ALTER TABLE contracts
    ADD COLUMN billing jsonb,
    ADD COLUMN rate_card_id uuid REFERENCES rate_cards (id);
CREATE INDEX contracts_rate_card ON contracts (rate_card_id) WHERE rate_card_id IS NOT NULL;

-- When service-level clocks run. hours: [{"weekday", "start", "end"}] (empty for 24x7);
-- ical_holidays: [{"date", "summary"}] from the last iCalendar file uploaded.
CREATE TABLE calendars (
    id                  uuid PRIMARY KEY,
    name                text NOT NULL UNIQUE,
    kind                text NOT NULL CHECK (kind IN ('24x7', 'business')),
    timezone            text NOT NULL,
    hours               jsonb NOT NULL DEFAULT '[]',
    holiday_country     text,
    holiday_subdivision text,
    extra_holidays      jsonb NOT NULL DEFAULT '[]',
    ical_holidays       jsonb NOT NULL DEFAULT '[]',
    version             int NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = '24x7') = (hours = '[]'::jsonb))
);

-- The catalogue of levels the MSP offers. targets: [{"metric", "priority", "category",
-- "minutes", "calendar"}].
CREATE TABLE service_levels (
    id               uuid PRIMARY KEY,
    name             text NOT NULL UNIQUE,
    description      text NOT NULL DEFAULT '',
    calendar_id      uuid REFERENCES calendars (id),
    targets          jsonb NOT NULL,
    price            numeric(14, 4) CHECK (price >= 0),
    currency         text NOT NULL DEFAULT 'EUR',
    price_period     text NOT NULL DEFAULT 'monthly'
        CHECK (price_period IN ('monthly', 'quarterly', 'yearly')),
    at_risk_percents int[] NOT NULL DEFAULT '{50,75}',
    reopen           text NOT NULL DEFAULT 'resume' CHECK (reopen IN ('resume', 'new_cycle')),
    priority_change  text NOT NULL DEFAULT 'from_opening'
        CHECK (priority_change IN ('from_opening', 'carry_elapsed')),
    version          int NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- A contract's level from a date on, copied (terms: a ServiceLevelTerms with its calendar)
-- when assigned: editing the catalogue later does not rewrite what the contract had. Rows
-- are only ever added.
CREATE TABLE contract_service_levels (
    contract_id      uuid NOT NULL REFERENCES contracts (id) ON DELETE CASCADE,
    effective_from   date NOT NULL,
    service_level_id uuid,
    terms            jsonb NOT NULL,
    price            numeric(14, 4),
    currency         text,
    price_period     text,
    actor            text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (contract_id, effective_from)
);

-- Editable examples: two calendars and gold, silver, bronze.
INSERT INTO calendars (id, name, kind, timezone, hours, holiday_country)
VALUES
    (gen_random_uuid(), '24x7', '24x7', 'Europe/Amsterdam', '[]', NULL),
    (gen_random_uuid(), 'Business hours NL', 'business', 'Europe/Amsterdam',
     '[{"weekday": 1, "start": "08:00:00", "end": "18:00:00"},
       {"weekday": 2, "start": "08:00:00", "end": "18:00:00"},
       {"weekday": 3, "start": "08:00:00", "end": "18:00:00"},
       {"weekday": 4, "start": "08:00:00", "end": "18:00:00"},
       {"weekday": 5, "start": "08:00:00", "end": "18:00:00"}]', 'NL');

INSERT INTO service_levels (id, name, description, calendar_id, targets, price)
SELECT gen_random_uuid(), 'gold',
       'Resolution within 1 hour for P1, round the clock',
       (SELECT id FROM calendars WHERE name = '24x7'),
       '[{"metric": "first_response", "priority": "P1", "minutes": 15, "calendar": "24x7"},
         {"metric": "first_response", "priority": "P2", "minutes": 30, "calendar": "24x7"},
         {"metric": "first_response", "priority": "P3", "minutes": 60, "calendar": "24x7"},
         {"metric": "first_response", "priority": "P4", "minutes": 120, "calendar": "24x7"},
         {"metric": "resolution", "priority": "P1", "minutes": 60, "calendar": "24x7"},
         {"metric": "resolution", "priority": "P2", "minutes": 240, "calendar": "24x7"},
         {"metric": "resolution", "priority": "P3", "minutes": 480, "calendar": "24x7"},
         {"metric": "resolution", "priority": "P4", "minutes": 1440, "calendar": "24x7"}]'::jsonb,
       1500
UNION ALL
SELECT gen_random_uuid(), 'silver',
       'Resolution within 8 business hours (08:00-18:00 Mon-Fri, Dutch holidays off)',
       (SELECT id FROM calendars WHERE name = 'Business hours NL'),
       '[{"metric": "first_response", "priority": "P1", "minutes": 30, "calendar": "business"},
         {"metric": "first_response", "priority": "P2", "minutes": 60, "calendar": "business"},
         {"metric": "first_response", "priority": "P3", "minutes": 120, "calendar": "business"},
         {"metric": "first_response", "priority": "P4", "minutes": 240, "calendar": "business"},
         {"metric": "resolution", "priority": "P1", "minutes": 480, "calendar": "business"},
         {"metric": "resolution", "priority": "P2", "minutes": 480, "calendar": "business"},
         {"metric": "resolution", "priority": "P3", "minutes": 960, "calendar": "business"},
         {"metric": "resolution", "priority": "P4", "minutes": 1440, "calendar": "business"},
         {"metric": "resolution", "category": "e-mail outage", "minutes": 240,
          "calendar": "business"}]'::jsonb,
       750
UNION ALL
SELECT gen_random_uuid(), 'bronze',
       'Resolution within 3 business days (30 business hours, 08:00-18:00 Mon-Fri)',
       (SELECT id FROM calendars WHERE name = 'Business hours NL'),
       '[{"metric": "first_response", "priority": "P1", "minutes": 240, "calendar": "business"},
         {"metric": "first_response", "priority": "P2", "minutes": 480, "calendar": "business"},
         {"metric": "first_response", "priority": "P3", "minutes": 480, "calendar": "business"},
         {"metric": "first_response", "priority": "P4", "minutes": 480, "calendar": "business"},
         {"metric": "resolution", "priority": "P1", "minutes": 1800, "calendar": "business"},
         {"metric": "resolution", "priority": "P2", "minutes": 1800, "calendar": "business"},
         {"metric": "resolution", "priority": "P3", "minutes": 1800, "calendar": "business"},
         {"metric": "resolution", "priority": "P4", "minutes": 1800, "calendar": "business"},
         {"metric": "resolution", "category": "e-mail outage", "minutes": 240,
          "calendar": "business"}]'::jsonb,
       250;
