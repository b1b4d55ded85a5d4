-- Reports split by where the work was done: sums of consumption deltas per contract period
-- and location (ConsumptionLine.location). A location not said is kept as '' (a worklog's
-- location, when said, is never empty); the API shows it as null.
CREATE TABLE consumption_by_location (
    contract_id      uuid NOT NULL,
    period_start     date NOT NULL,
    location         text NOT NULL,
    executed_seconds bigint NOT NULL,
    worklogs         bigint NOT NULL,
    PRIMARY KEY (contract_id, period_start, location)
);
-- What was counted before the lines carried a location: not said. So the split adds up to
-- the period's totals, and a rebuild (whose old events say no location) agrees.
INSERT INTO consumption_by_location (contract_id, period_start, location, executed_seconds,
                                     worklogs)
SELECT contract_id, period_start, '', executed_seconds, worklogs FROM period_totals;
