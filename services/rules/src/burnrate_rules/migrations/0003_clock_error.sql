-- A contract the daily clock set aside for the day (its evaluation raised): why, and when.
-- Cleared by its next evaluation that succeeds.
ALTER TABLE contracts
    ADD COLUMN clock_error text,
    ADD COLUMN clock_error_at timestamptz;
