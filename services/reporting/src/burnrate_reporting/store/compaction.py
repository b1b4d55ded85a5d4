"""The event log's compaction: old consumption events summed per contract period."""

from __future__ import annotations

import datetime as dt

from burnrate_common.db import Connection

#: Consumption deltas that occurred before $1 (versions 1 and 2) become one version 2 event
#: per contract period, with one line per (team, activity, author, location) summing theirs.
#: Replaying it adds what the originals added to each of the four sums (all keyed by a subset
#: of that line key), so `rebuild` gives the same tables; lines summing to zero are kept, since the
#: rows they created exist. Each new event takes the smallest seq of those it replaces.
_COMPACT_CONSUMPTION = """
    WITH old AS (
        DELETE FROM event_log
        WHERE type = 'consumption.recorded' AND occurred_at < $1
        RETURNING seq, occurred_at, envelope),
    line AS (
        SELECT o.seq, o.occurred_at, o.envelope -> 'data' AS d, l
        FROM old o
        CROSS JOIN LATERAL jsonb_array_elements(
            CASE WHEN (o.envelope ->> 'version')::int >= 2 THEN o.envelope -> 'data' -> 'lines'
                 ELSE jsonb_build_array(o.envelope -> 'data') END) l),
    summed AS (
        SELECT d ->> 'contract_id' AS contract_id, d ->> 'period_start' AS period_start,
               max(d ->> 'period_end') AS period_end, l ->> 'team' AS team,
               l ->> 'activity' AS activity, l ->> 'author' AS author,
               l ->> 'location' AS location,
               sum((l ->> 'delta_seconds')::bigint) AS seconds,
               sum((l ->> 'delta_worklogs')::bigint) AS worklogs,
               sum(coalesce((l ->> 'delta_outside_dates_seconds')::bigint, 0)) AS outside,
               min(seq) AS seq, max(occurred_at) AS occurred_at, count(DISTINCT seq) AS events
        FROM line GROUP BY 1, 2, 4, 5, 6, 7),
    merged AS (
        SELECT contract_id, period_start, max(period_end) AS period_end, min(seq) AS seq,
               max(occurred_at) AS occurred_at, gen_random_uuid() AS id,
               jsonb_agg(jsonb_build_object(
                   'team', team, 'activity', activity, 'author', author,
                   'delta_seconds', seconds, 'delta_worklogs', worklogs,
                   'delta_outside_dates_seconds', outside, 'location', location)
                   ORDER BY team, activity, author, location)
                   AS lines
        FROM summed GROUP BY contract_id, period_start),
    written AS (
        INSERT INTO event_log (seq, event_id, type, occurred_at, envelope)
        SELECT seq, id, 'consumption.recorded', occurred_at,
               jsonb_build_object(
                   'id', id, 'type', 'consumption.recorded', 'version', 2,
                   'occurred_at', occurred_at, 'producer', 'reporting',
                   'correlation_id', 'compaction:' || id, 'causation_id', NULL,
                   'key', contract_id,
                   'data', jsonb_build_object('contract_id', contract_id,
                                              'period_start', period_start,
                                              'period_end', period_end, 'lines', lines))
        FROM merged
        RETURNING 1)
    INSERT INTO event_log_compactions (occurred_before, events_removed, events_written)
    SELECT $1, (SELECT count(*) FROM old), (SELECT count(*) FROM written)
    RETURNING events_removed, events_written"""


async def compact_consumption_events(
    conn: Connection, occurred_before: dt.datetime
) -> tuple[int, int]:
    """Replace the consumption events that occurred before the horizon by their per-period
    sums; (events removed, events written). One statement, so one transaction."""
    row = await conn.fetchrow(_COMPACT_CONSUMPTION, occurred_before)
    assert row is not None
    return row["events_removed"], row["events_written"]
