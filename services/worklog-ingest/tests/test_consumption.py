import datetime as dt
import uuid
from collections import Counter

from burnrate_worklog_ingest.domain.consumption import (
    ConsumptionKey,
    Delta,
    Share,
    change,
    summed,
)
from hypothesis import given
from hypothesis import strategies as st

CONTRACT = uuid.UUID(int=1)
MARCH, APRIL = dt.date(2026, 3, 1), dt.date(2026, 4, 1)
END = {MARCH: dt.date(2026, 3, 31), APRIL: dt.date(2026, 4, 30)}


def share(
    seconds, period=MARCH, team="servicedesk", activity="phone", outside=False, author="tech1"
):
    key = ConsumptionKey(CONTRACT, period, team, activity, author)
    return Share(key, END[period], seconds, outside)


def key(period=MARCH, team="servicedesk", activity="phone", author="tech1"):
    return ConsumptionKey(CONTRACT, period, team, activity, author)


def test_a_new_worklog_adds_its_seconds_and_one_worklog():
    assert change(None, share(3600)) == [Delta(key(), END[MARCH], 3600, 1, 0)]


def test_a_delete_takes_everything_back_including_outside_seconds():
    assert change(share(5400, outside=True), None) == [Delta(key(), END[MARCH], -5400, -1, -5400)]


def test_three_hours_corrected_to_one_is_minus_7200_on_the_same_key():
    assert change(share(10_800), share(3600)) == [Delta(key(), END[MARCH], -7200, 0, 0)]


def test_moving_to_another_period_moves_the_whole_worklog():
    assert change(share(3600), share(1800, period=APRIL)) == [
        Delta(key(MARCH), END[MARCH], -3600, -1, 0),
        Delta(key(APRIL), END[APRIL], 1800, 1, 0),
    ]


def test_lines_split_by_location_and_a_location_not_said_sorts_first():
    at_site = ConsumptionKey(CONTRACT, MARCH, "servicedesk", "phone", "tech1", "site A")
    shares = [Share(at_site, END[MARCH], 3600, False), share(1800), share(600)]
    assert summed((None, s) for s in shares) == [
        Delta(key(), END[MARCH], 2400, 2, 0),
        Delta(at_site, END[MARCH], 3600, 1, 0),
    ]
    assert change(share(3600), Share(at_site, END[MARCH], 3600, False)) == [
        Delta(key(), END[MARCH], -3600, -1, 0),
        Delta(at_site, END[MARCH], 3600, 1, 0),
    ]


def test_moving_to_another_team_or_activity():
    assert change(share(3600), share(3600, team="field")) == [
        Delta(key(team="field"), END[MARCH], 3600, 1, 0),
        Delta(key(), END[MARCH], -3600, -1, 0),
    ]
    assert change(share(3600), share(3600, activity="onsite")) == [
        Delta(key(activity="onsite"), END[MARCH], 3600, 1, 0),
        Delta(key(), END[MARCH], -3600, -1, 0),
    ]


def test_another_author_is_another_key_so_reports_split_by_person():
    assert change(share(3600), share(3600, author="tech2")) == [
        Delta(key(), END[MARCH], -3600, -1, 0),
        Delta(key(author="tech2"), END[MARCH], 3600, 1, 0),
    ]
    assert summed([(None, share(600)), (None, share(900, author="tech2")), (None, share(300))]) == [
        Delta(key(), END[MARCH], 900, 2, 0),
        Delta(key(author="tech2"), END[MARCH], 900, 1, 0),
    ]


def test_an_edit_that_changes_no_totals_yields_no_delta():
    assert change(share(3600), share(3600)) == []


def test_coming_inside_the_dates_only_moves_outside_seconds():
    assert change(share(3600, outside=True), share(3600)) == [Delta(key(), END[MARCH], 0, 0, -3600)]


def test_a_batch_is_summed_per_key_and_zero_sums_are_dropped():
    changes = [
        (None, share(3600)),
        (None, share(1800, outside=True)),
        (None, share(600, team="field")),
        (share(600, team="field"), None),
        (None, share(900, period=APRIL)),
    ]
    assert summed(changes) == [
        Delta(key(MARCH), END[MARCH], 5400, 2, 1800),
        Delta(key(APRIL), END[APRIL], 900, 1, 0),
    ]


shares = st.builds(
    share,
    st.integers(1, 86_400),
    period=st.sampled_from([MARCH, APRIL]),
    team=st.sampled_from(["servicedesk", "field"]),
    activity=st.sampled_from(["phone", "onsite"]),
    outside=st.booleans(),
    author=st.sampled_from(["tech1", "tech2"]),
)
operations = st.lists(st.tuples(st.integers(0, 5), st.none() | shares), max_size=60)


@given(operations)
def test_summed_deltas_equal_the_totals_of_the_surviving_worklogs(ops):
    """Any sequence of creates, corrections and deletes over six worklogs."""
    live: dict[int, Share] = {}
    published: list[Delta] = []
    changes = []
    for worklog, after in ops:
        changes.append((live.get(worklog), after))
        published += change(live.get(worklog), after)
        if after is None:
            live.pop(worklog, None)
        else:
            live[worklog] = after

    def totals_of(deltas):
        totals: Counter = Counter()
        for d in deltas:
            totals[(d.key, "seconds")] += d.seconds
            totals[(d.key, "worklogs")] += d.worklogs
            totals[(d.key, "outside")] += d.outside_dates_seconds
        return totals

    expected: Counter = Counter()
    for s in live.values():
        expected[(s.key, "seconds")] += s.seconds
        expected[(s.key, "worklogs")] += 1
        expected[(s.key, "outside")] += s.seconds if s.outside_dates else 0

    def nonzero(counter):
        return {k: v for k, v in counter.items() if v != 0}

    # Published one change at a time, or summed over the whole sequence: the same totals.
    assert nonzero(totals_of(published)) == nonzero(expected)
    assert nonzero(totals_of(summed(changes))) == nonzero(expected)


created_rows = st.lists(
    st.fixed_dictionaries(
        {
            "contract_id": st.sampled_from([CONTRACT, uuid.UUID(int=2), None]),
            "period_start": st.sampled_from([MARCH, APRIL]),
            "team": st.sampled_from(["servicedesk", "field"]),
            "activity": st.sampled_from(["phone", "on-site"]),
            "author": st.sampled_from(["tech1", "tech2"]),
            # a location not said and said, on one key otherwise: None and text never compare
            "location": st.sampled_from([None, "site A", "service desk"]),
            "seconds": st.integers(1, 86_400),
            "outside_dates": st.booleans(),
            "deleted_at": st.sampled_from([None, dt.datetime(2026, 3, 2, tzinfo=dt.UTC)]),
        }
    ),
    max_size=40,
)


@given(created_rows)
def test_the_batch_fast_path_sums_like_summed(rows):
    from burnrate_worklog_ingest.service.ingest import created_deltas, share

    for row in rows:
        row["period_end"] = END[row["period_start"]]
    assert created_deltas(rows) == summed((None, share(row)) for row in rows)


def test_worklog_events_built_from_rows_carry_what_the_payload_model_would():
    """The batch path serialises stored rows without a model per worklog
    (``new_bulk_event``): the JSON must be exactly what the validated model gives."""
    from burnrate_common.events import (
        Envelope,
        EventType,
        Worklog,
        WorklogsChanged,
        routing_headers_of_body,
    )
    from burnrate_worklog_ingest.service import ingest

    amsterdam = dt.timezone(dt.timedelta(hours=1))
    rows = [
        {
            "id": uuid.uuid4(),
            "source": "jira",
            "external_id": str(n),
            "contract_id": CONTRACT if n else None,
            "period_start": MARCH,
            "period_end": END[MARCH],
            "author": "tech1",
            "team": "servicedesk",
            "activity": "phone",
            "started_at": dt.datetime(2026, 3, 31, 23, 30, tzinfo=amsterdam if n % 2 else dt.UTC),
            "seconds": 900 * n,
            "outside_dates": n == 2,
            "ticket": None if n == 3 else f"T-{n}",
            "work_account": "ACME" if n == 1 else None,
            "location": "on site" if n == 1 else None,
            "version": n,
            "created_at": dt.datetime(2026, 4, 1, tzinfo=dt.UTC),
        }
        for n in range(4)
    ]
    for billed in (frozenset(), frozenset({CONTRACT})):
        [event] = ingest.worklog_events(EventType.WORKLOG_RECORDED, rows, "test", billed)
        assert event.to_json() == event.model_dump_json().encode()
        sent = Envelope.model_validate_json(event.to_json())
        fields = Worklog.model_fields
        by_model = WorklogsChanged.model_validate(
            {
                "contract_id": CONTRACT,
                "worklogs": [{f: r[f] for f in fields} for r in rows if r["contract_id"]],
                "billed": bool(billed),
            }
        )
        assert sent.data == by_model.model_dump(mode="json")
        assert sent.payload() == by_model
        # The routing headers, as kept in the outbox and as read off the stored body.
        headers = {"outside_dates": True, "billed": bool(billed)}
        assert event.routing_headers() == headers
        assert routing_headers_of_body(event.type, event.to_json()) == headers


def test_a_new_row_holds_every_column_and_the_source_values_of_its_item():
    """``new_row`` writes its columns out field by field (it runs for every worklog of a
    batch): it must say what ``source_values`` (a correction's columns) and ``store`` say."""
    from burnrate_worklog_ingest import store
    from burnrate_worklog_ingest.domain.attribution import Attribution, RoutingError, Unroutable
    from burnrate_worklog_ingest.schemas import WORKLOG_IN
    from burnrate_worklog_ingest.service import ingest

    item = WORKLOG_IN.validate_python(
        {
            "source": "tempo",
            "external_id": 7,
            "work_account": " ACME ",
            "project_key": "OPS",
            "author": "tech1",
            "team": "servicedesk",
            "activity": "phone",
            "started_at": "2026-03-31T23:30:00+02:00",
            "seconds": 900,
            "ticket": "OPS-1",
            "source_updated_at": "2026-04-01T08:00:00Z",
        }
    )
    attributed = ingest.new_row(item, Attribution(CONTRACT, MARCH, END[MARCH], True))
    unattributed = ingest.new_row(
        item, RoutingError(Unroutable.UNKNOWN_WORK_ACCOUNT, "work_account", "-")
    )
    for row in (attributed, unattributed):
        assert set(store.INSERT_COLUMNS) <= row.keys()
        assert {k: row[k] for k in ingest.source_values(item)} == ingest.source_values(item)
        assert (row["source"], row["external_id"], row["work_account"], row["project_key"]) == (
            "tempo",
            "7",
            "ACME",
            "OPS",
        )
        assert type(row["source"]) is str
    assert (attributed["contract_id"], attributed["period_start"], attributed["period_end"]) == (
        CONTRACT,
        MARCH,
        END[MARCH],
    )
    assert attributed["outside_dates"] and attributed["unattributed_reason"] is None
    assert unattributed["contract_id"] is None and not unattributed["outside_dates"]
    assert unattributed["unattributed_reason"] == Unroutable.UNKNOWN_WORK_ACCOUNT.value


def test_announced_are_the_worklogs_outside_the_dates_and_those_of_billed_contracts():
    from burnrate_worklog_ingest.service.ingest import announced

    billed, unbilled = uuid.uuid4(), uuid.uuid4()
    rows = [
        {"contract_id": contract, "outside_dates": outside}
        for contract in (billed, unbilled)
        for outside in (False, True)
    ]
    assert announced(rows, frozenset()) == [rows[1], rows[3]]
    assert announced(rows, frozenset({billed})) == [rows[0], rows[1], rows[3]]
