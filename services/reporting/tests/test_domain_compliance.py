"""The compliance rules of ``domain.compliance`` (unit): how each clock counts, percentiles,
buckets in the contract's zone, quarters and the reason of a breach."""

import datetime as dt
import uuid

import pytest
from burnrate_reporting.api.sla_pages import week_in_words
from burnrate_reporting.domain import compliance as cp

UTC = dt.UTC


def clock(metric="resolution", *, met, elapsed=600, state="stopped", cycle=1, paused=0):
    return cp.Clock(metric, cycle, 60, "24x7", state, elapsed, paused, None, None, met)


def ticket(opened, *, clocks=(), breaches=(), resolved=None, zone="Europe/Amsterdam"):
    return cp.Ticket(
        ticket_id=uuid.uuid4(),
        reference="SUP-1",
        contract_id=uuid.uuid4(),
        contract_code="K",
        priority="P1",
        category=None,
        level="gold",
        opened_at=opened,
        resolved_at=resolved,
        timezone=zone,
        clocks=tuple(clocks),
        breaches=tuple(breaches),
    )


OPENED = dt.datetime(2026, 3, 2, 9, tzinfo=UTC)
BREACH = cp.Breach(
    "resolution", 1, 60, OPENED + dt.timedelta(hours=1), OPENED + dt.timedelta(hours=1)
)


@pytest.mark.parametrize(
    ("clocks", "breaches", "resolved", "expected"),
    [
        ([clock(met=True)], [], None, [(True, False)]),
        ([clock(met=True)], [BREACH], None, [(False, True)]),  # a breach is final
        ([clock(met=False)], [], None, [(False, True)]),
        ([clock(met=None, state="running")], [], None, [(False, False)]),
        ([], [], OPENED, [(True, False)]),  # no clocks published, resolved: met
        ([], [BREACH], None, [(False, True)]),
        ([], [], None, []),
    ],
)
def test_how_each_clock_counts(clocks, breaches, resolved, expected):
    outcomes = cp.outcomes(ticket(OPENED, clocks=clocks, breaches=breaches, resolved=resolved))
    assert [(o.met, o.breached) for o in outcomes] == expected


def test_percentiles_interpolate_like_percentile_cont():
    assert cp.percentile([], 0.5) is None
    assert cp.percentile([10], 0.9) == 10
    assert cp.percentile([1200, 4000], 0.5) == 2600
    assert cp.percentile([1200, 4000], 0.9) == pytest.approx(3720)
    assert cp.percentile([4, 1, 3, 2], 0.5) == 2.5


def test_percent_met_rounds_down():
    assert cp.percent_met(0, 0) is None
    assert str(cp.percent_met(2, 1)) == "66.6"
    assert str(cp.percent_met(9999, 1)) == "99.9"


def test_a_ticket_counts_in_its_local_month():
    # 31 March 23:30 UTC is 1 April in Amsterdam
    late = ticket(dt.datetime(2026, 3, 31, 23, 30, tzinfo=UTC), clocks=[clock(met=True)])
    result = cp.compliance([late], "month", dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert [g.period_start for g in result.groups] == [dt.date(2026, 4, 1)]
    result = cp.compliance([late], "month", dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    assert result.groups == []


def test_quarters():
    assert cp.parse_quarter("2026-Q3") == dt.date(2026, 7, 1)
    assert cp.parse_quarter("2026-q1") == dt.date(2026, 1, 1)
    for bad in ("2026-Q5", "2026", "26-Q1", "2026-Q"):
        with pytest.raises(ValueError):
            cp.parse_quarter(bad)
    assert cp.bucket_label(dt.date(2026, 10, 1), "quarter") == "2026-Q4"
    assert cp.next_bucket(dt.date(2026, 10, 1), "quarter") == dt.date(2027, 1, 1)
    assert cp.bucket_start(dt.date(2026, 5, 17), "quarter") == dt.date(2026, 4, 1)


def test_the_reason_of_a_breach():
    (late,) = cp.outcomes(ticket(OPENED, clocks=[clock(met=False, elapsed=5400, paused=1800)]))
    assert cp.reason(late) == (
        "The resolution target of 1 h (round the clock) was missed: resolved after 1 h 30 min, "
        "30 min late; 30 min waiting on the customer not counted."
    )
    (open_,) = cp.outcomes(ticket(OPENED, breaches=[BREACH]))
    assert cp.reason(open_) == (
        "The resolution target of 1 h was missed: still open when it fell due "
        "at 2026-03-02 10:00 UTC."
    )


def test_working_hours_in_words():
    assert week_in_words({d: ["08:00–18:00"] for d in range(1, 6)}) == [("Mon–Fri", "08:00–18:00")]
    split = {
        1: ["08:00–12:00", "13:00–17:00"],
        2: ["08:00–12:00", "13:00–17:00"],
        5: ["09:00–12:00"],
    }
    assert week_in_words(split) == [
        ("Mon–Tue", "08:00–12:00, 13:00–17:00"),
        ("Fri", "09:00–12:00"),
    ]
