-- Whether PostgreSQL knows the contract's time zone: the daily clock picks the contracts
-- due today in SQL, by each one's zone, and one unknown zone would make that query fail for
-- every contract. A contract whose zone it does not know is left out of the clock, with the
-- reason in clock_error, until a change of the contract brings a zone it knows.
ALTER TABLE contracts ADD COLUMN zone_known boolean NOT NULL DEFAULT true;

DO $$
DECLARE
    zone text;
BEGIN
    FOR zone IN SELECT DISTINCT timezone FROM contracts LOOP
        BEGIN
            PERFORM now() AT TIME ZONE zone;
        EXCEPTION WHEN others THEN
            UPDATE contracts
            SET zone_known = false, clock_error_at = now(),
                clock_error = format('time zone "%s" is not known to PostgreSQL: the daily '
                                     'clock leaves this contract out until its time zone '
                                     'changes', zone)
            WHERE timezone = zone;
        END;
    END LOOP;
END
$$;
