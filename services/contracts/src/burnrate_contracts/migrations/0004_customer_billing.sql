-- A customer's billing details (CustomerBilling as JSON: legal name, address, country,
-- VAT id, Peppol endpoint); NULL: none given. Carried by the customer.* events.
ALTER TABLE customers ADD COLUMN billing jsonb;
