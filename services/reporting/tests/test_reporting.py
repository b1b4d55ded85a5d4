"""Reporting fed by events over the real RabbitMQ, read back through its API."""

import calendar
import datetime as dt
import uuid

import pytest
from burnrate_common.auth import hash_key
from burnrate_common.clock import FixedClock
from burnrate_common.events import (
    AlertRaised,
    ApiKeyIssued,
    Audience,
    ConsumptionRecorded,
    ContractChanged,
    ContractPeriod,
    CustomerChanged,
    EventType,
    NotificationOutcome,
    Worklog,
    WorklogsChanged,
    new_event,
)
from burnrate_reporting.bootstrap import build
from burnrate_reporting.settings import ReportingSettings
from burnrate_testing import eventually, publish, serve
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.integration

H = 3600
D = dt.date
# 13:00 in Amsterdam, but already 01:00 on the 16th in Auckland.
NOW = dt.datetime(2026, 3, 15, 12, 0, tzinfo=dt.UTC)
YEAR_START, YEAR_END, MARCH = D(2026, 1, 1), D(2026, 12, 31), D(2026, 3, 1)


# --- events as the other services publish them ------------------------------------------


def customer_event(customer_id, name="Acme", event_type=EventType.CUSTOMER_CREATED):
    payload = CustomerChanged(id=customer_id, name=name, contacts=[])
    return new_event(event_type, payload, key=customer_id, producer="contracts")


def monthly_periods(start, end, hours):
    periods, index = [], 0
    while True:
        first = _add_months(start, index)
        if first > end:
            return periods
        last = min(_add_months(start, index + 1) - dt.timedelta(days=1), end)
        periods.append(ContractPeriod(start_date=first, end_date=last, planned_seconds=hours * H))
        index += 1


def _add_months(anchor, months):
    year, month = divmod(anchor.month - 1 + months, 12)
    year, month = anchor.year + year, month + 1
    return D(year, month, min(anchor.day, calendar.monthrange(year, month)[1]))


def contract_event(
    contract_id,
    customer_id,
    *,
    code,
    start=YEAR_START,
    end=YEAR_END,
    hours=40,
    timezone="Europe/Amsterdam",
    title=None,
    event_type=EventType.CONTRACT_CREATED,
):
    payload = ContractChanged(
        id=contract_id,
        customer_id=customer_id,
        code=code,
        title=title or f"{code} support",
        owner_email="owner@msp.example",
        start_date=start,
        end_date=end,
        timezone=timezone,
        period="monthly",
        planned_hours=hours,
        teams=["servicedesk", "field"],
        work_accounts=[],
        periods=monthly_periods(start, end, hours),
    )
    return new_event(event_type, payload, key=contract_id, producer="contracts")


def delta(contract_id, period_start, team, activity, seconds, *, worklogs=1, outside=0):
    period_end = _add_months(period_start, 1) - dt.timedelta(days=1)
    payload = ConsumptionRecorded(
        contract_id=contract_id,
        period_start=period_start,
        period_end=period_end,
        team=team,
        activity=activity,
        delta_seconds=seconds,
        delta_worklogs=worklogs,
        delta_outside_dates_seconds=outside,
    )
    return new_event(
        EventType.CONSUMPTION_RECORDED, payload, key=contract_id, producer="worklog-ingest"
    )


def worklog_event(event_type, worklog_id, contract_id, *, started_at, seconds, outside_dates):
    payload = Worklog(
        id=worklog_id,
        source="jira",
        external_id=f"WL-{worklog_id.hex[:6]}",
        contract_id=contract_id,
        period_start=D(2026, 2, 1),
        author="tech1@msp.example",
        team="field",
        activity="on_site_repair",
        started_at=started_at,
        seconds=seconds,
        outside_dates=outside_dates,
        ticket="SUP-7",
    )
    return new_event(
        event_type,
        WorklogsChanged(contract_id=contract_id, worklogs=[payload]),
        key=contract_id,
        producer="worklog-ingest",
    )


def alert_event(contract_id, stage, trigger, executed_hours, period_start=MARCH):
    payload = AlertRaised(
        alert_id=uuid.uuid4(),
        rule_id=uuid.UUID(int=7),
        rule_name="40-hour month",
        contract_id=contract_id,
        period_start=period_start,
        period_end=_add_months(period_start, 1) - dt.timedelta(days=1),
        trigger=trigger,
        stage=stage,
        planned_seconds=40 * H,
        executed_seconds=executed_hours * H,
        audience=Audience(owner=True, customer_contacts=True),
    )
    return new_event(EventType.ALERT_RAISED, payload, key=contract_id, producer="rules")


def outcome_event(event_type, contract_id, delivery_id, attempts):
    payload = NotificationOutcome(
        delivery_id=delivery_id,
        alert_id=uuid.UUID(int=1),
        contract_id=contract_id,
        channel="email",
        recipient="ann@acme.example",
        attempts=attempts,
        error="421 try later" if event_type is EventType.NOTIFICATION_FAILED else None,
    )
    return new_event(event_type, payload, key=contract_id, producer="notifier")


# --- fixtures and helpers -------------------------------------------------------------


@pytest.fixture
async def api(isolation):
    async with serve(build(isolation.settings(ReportingSettings), clock=FixedClock(NOW))) as client:
        yield client


@pytest.fixture
def send(isolation):
    async def send(*envelopes):
        await publish(isolation.amqp_url, isolation.amqp_prefix, *envelopes)

    return send


async def consumed(api, event_type, status="success"):
    """How many events of a type the service has handled, by outcome (from /metrics)."""
    text = (await api.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "burnrate_reporting_messages_consumed_total" and sample.labels == {
                "type": event_type.value,
                "status": status,
            }:
                return sample.value
    return 0


async def wait_consumed(api, event_type, count, status="success"):
    async def check():
        assert await consumed(api, event_type, status) == count
        return True

    await eventually(check)


def report_of(api, contract_id, **params):
    async def check():
        response = await api.get(f"/v1/contracts/{contract_id}/consumption", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    return check


async def report_when(api, contract_id, condition, **params):
    async def check():
        report = await report_of(api, contract_id, **params)()
        assert condition(report), report
        return report

    return await eventually(check)


def raised(report_alerts):
    return [(a["stage"], a["trigger"]) for a in report_alerts]


# --- the 40-hour month ----------------------------------------------------------------


async def test_the_forty_hour_month(api, send):
    customer, contract = uuid.uuid4(), uuid.uuid4()
    march, feb = D(2026, 3, 1), D(2026, 2, 1)
    alerts = [
        alert_event(contract, "70", "percent_consumed", 28),
        alert_event(contract, "90", "percent_consumed", 36),
        alert_event(contract, "overage", "overage", 41),
    ]
    delivered, retried, lost = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    first_attempt_failed = outcome_event(EventType.NOTIFICATION_FAILED, contract, retried, 1)
    retry_succeeded = outcome_event(EventType.NOTIFICATION_SENT, contract, retried, 2)
    await send(
        customer_event(customer),
        contract_event(contract, customer, code="ACME-40"),
        delta(contract, march, "servicedesk", "phone_support", 10 * H),
        delta(contract, march, "servicedesk", "phone_support", 10 * H),
        delta(contract, march, "servicedesk", "phone_support", 8 * H),
        delta(contract, march, "servicedesk", "remote_support", 8 * H),
        delta(contract, march, "field", "on_site_repair", 12 * H),
        delta(contract, march, "field", "on_site_repair", 12 * H),
        # Another period and another contract do not count in March.
        delta(contract, feb, "field", "on_site_repair", 5 * H),
        delta(uuid.uuid4(), march, "field", "on_site_repair", 7 * H),
        *alerts,
        outcome_event(EventType.NOTIFICATION_SENT, contract, delivered, 1),
        # A retried delivery: its success counts, even when the older failure arrives last.
        retry_succeeded,
        first_attempt_failed,
        outcome_event(EventType.NOTIFICATION_FAILED, contract, lost, 5),
    )

    report = await report_when(
        api,
        contract,
        lambda r: r["executed_seconds"] == 60 * H and len(r["alerts"]) == 3,
        period="2026-03",
    )
    assert [dt.datetime.fromisoformat(a.pop("raised_at")) for a in report["alerts"]] == [
        a.occurred_at for a in alerts
    ]
    assert report == {
        "contract_id": str(contract),
        "customer_id": str(customer),
        "customer_name": "Acme",
        "code": "ACME-40",
        "title": "ACME-40 support",
        "period": {"start_date": "2026-03-01", "end_date": "2026-03-31"},
        "planned_hours": 40.0,
        "executed_hours": 60.0,
        "remaining_hours": 0.0,
        "percent": 150.0,
        "overage_hours": 20.0,
        "outside_dates_hours": 0.0,
        "worklog_count": 6,
        "planned_seconds": 144_000,
        "executed_seconds": 216_000,
        "by_team": [
            {"team": "field", "executed_hours": 24.0, "executed_seconds": 86_400},
            {"team": "servicedesk", "executed_hours": 36.0, "executed_seconds": 129_600},
        ],
        "by_activity": [
            {"activity": "on_site_repair", "executed_hours": 24.0, "executed_seconds": 86_400},
            {"activity": "phone_support", "executed_hours": 28.0, "executed_seconds": 100_800},
            {"activity": "remote_support", "executed_hours": 8.0, "executed_seconds": 28_800},
        ],
        # The deltas (version 1) say no location.
        "by_location": [
            {
                "location": None,
                "executed_hours": 60.0,
                "executed_seconds": 216_000,
                "worklog_count": 6,
            }
        ],
        "outside_dates_worklogs": [],
        "alerts": [
            {"stage": "70", "trigger": "percent_consumed", "rule_name": "40-hour month"},
            {"stage": "90", "trigger": "percent_consumed", "rule_name": "40-hour month"},
            {"stage": "overage", "trigger": "overage", "rule_name": "40-hour month"},
        ],
    }
    # Today (15 March) is in March: the default period, and the same figures.
    assert await report_of(api, contract)() == await report_of(api, contract, period="2026-03-01")()
    february = await report_of(api, contract, period="2026-02")()
    assert (february["executed_hours"], february["percent"], february["alerts"]) == (5.0, 12.5, [])

    async def screen():
        items = (await api.get("/v1/contracts")).json()["items"]
        assert items and items[0]["notifications"] == {"sent": 2, "failed": 1}
        return items

    [item] = await eventually(screen)
    assert dt.datetime.fromisoformat(item.pop("last_alert").pop("raised_at")) == (
        alerts[-1].occurred_at
    )
    assert item == {
        "id": str(contract),
        "customer_id": str(customer),
        "customer_name": "Acme",
        "code": "ACME-40",
        "title": "ACME-40 support",
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "timezone": "Europe/Amsterdam",
        "status": "exhausted",
        # 15 March to 31 December, both included.
        "days_left": 292,
        "current_period": {
            "start_date": "2026-03-01",
            "end_date": "2026-03-31",
            "planned_hours": 40.0,
            "executed_hours": 60.0,
            "remaining_hours": 0.0,
            "percent": 150.0,
            "overage_hours": 20.0,
            "planned_seconds": 144_000,
            "executed_seconds": 216_000,
            # 60 h so far, plus the 16 days left at the rate of January and February (5 h in
            # 59 days): the delivery report's forecast of March.
            "forecast_hours": 61.36,
            "forecast_seconds": 216_000 + round(5 * H * 16 / 59),
            "forecast_basis": "mean_daily_rate_of_last_full_periods",
        },
        "notifications": {"sent": 2, "failed": 1},
    }


async def test_a_correction_delta_makes_the_totals_follow(api, send):
    contract, march = uuid.uuid4(), D(2026, 3, 1)
    await send(
        contract_event(contract, uuid.uuid4(), code="FIX"),
        delta(contract, march, "servicedesk", "phone_support", 36 * H, worklogs=4),
        delta(contract, march, "field", "on_site_repair", 24 * H, worklogs=2),
    )
    await report_when(api, contract, lambda r: r["executed_seconds"] == 60 * H)

    # A worklog edited from 3 h to 1 h: worklog-ingest sends −2 h, the worklog count unchanged.
    await send(delta(contract, march, "servicedesk", "phone_support", -2 * H, worklogs=0))
    report = await report_when(api, contract, lambda r: r["executed_seconds"] == 58 * H)
    assert (report["executed_hours"], report["remaining_hours"], report["overage_hours"]) == (
        58.0,
        0.0,
        18.0,
    )
    assert (report["percent"], report["worklog_count"]) == (145.0, 6)
    assert [(t["team"], t["executed_hours"]) for t in report["by_team"]] == [
        ("field", 24.0),
        ("servicedesk", 34.0),
    ]

    # Deleting both field worklogs takes the team off the split.
    await send(delta(contract, march, "field", "on_site_repair", -24 * H, worklogs=-2))
    report = await report_when(api, contract, lambda r: r["executed_seconds"] == 34 * H)
    assert [t["team"] for t in report["by_team"]] == ["servicedesk"]
    assert (report["percent"], report["remaining_hours"], report["worklog_count"]) == (85.0, 6.0, 4)


async def test_deltas_before_the_contract_still_count(api, send):
    customer, contract, march = uuid.uuid4(), uuid.uuid4(), D(2026, 3, 1)
    await send(
        delta(contract, march, "servicedesk", "phone_support", 10 * H),
        delta(contract, march, "field", "on_site_repair", 5 * H + 1_800),
    )
    await wait_consumed(api, EventType.CONSUMPTION_RECORDED, 2)
    unknown = await api.get(f"/v1/contracts/{contract}/consumption")
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["field"] == "contract_id"

    await send(contract_event(contract, customer, code="LATE"), customer_event(customer, "Late"))
    report = await eventually(report_of(api, contract))
    # 15.5 of 40 h is 38.75 %: 38.7 (percent is rounded down, burnrate_common.figures).
    assert (report["executed_hours"], report["percent"], report["remaining_hours"]) == (
        15.5,
        38.7,
        24.5,
    )
    assert report["worklog_count"] == 2


async def test_the_same_event_delivered_twice_counts_once(api, send):
    contract, march = uuid.uuid4(), D(2026, 3, 1)
    once = delta(contract, march, "servicedesk", "phone_support", 10 * H)
    created = contract_event(contract, uuid.uuid4(), code="TWICE")
    await send(created, once, once, created)
    await wait_consumed(api, EventType.CONSUMPTION_RECORDED, 1, "duplicate")
    await wait_consumed(api, EventType.CONTRACT_CREATED, 1, "duplicate")
    report = await eventually(report_of(api, contract))
    assert (report["executed_seconds"], report["worklog_count"]) == (10 * H, 1)


async def test_a_worklog_outside_the_dates_is_listed_until_deleted(api, send):
    # The contract ended on 28 February; a worklog on 2 March lands in its last period.
    contract, feb = uuid.uuid4(), D(2026, 2, 1)
    outside, inside = uuid.uuid4(), uuid.uuid4()
    after_end = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    recorded = worklog_event(
        EventType.WORKLOG_RECORDED,
        outside,
        contract,
        started_at=after_end,
        seconds=3 * H,
        outside_dates=True,
    )
    await send(
        contract_event(contract, uuid.uuid4(), code="ENDED", end=D(2026, 2, 28)),
        recorded,
        delta(contract, feb, "field", "on_site_repair", 3 * H, outside=3 * H),
        worklog_event(
            EventType.WORKLOG_RECORDED,
            inside,
            contract,
            started_at=dt.datetime(2026, 2, 10, 9, 0, tzinfo=dt.UTC),
            seconds=2 * H,
            outside_dates=False,
        ),
        delta(contract, feb, "field", "on_site_repair", 2 * H),
    )
    report = await report_when(
        api,
        contract,
        lambda r: r["executed_seconds"] == 5 * H and r["outside_dates_worklogs"],
        period="2026-02",
    )
    assert report["outside_dates_hours"] == 3.0
    assert report["outside_dates_worklogs"] == [
        {
            "id": str(outside),
            "author": "tech1@msp.example",
            "team": "field",
            "activity": "on_site_repair",
            "started_at": "2026-03-02T09:00:00Z",
            "hours": 3.0,
            "seconds": 3 * H,
            "ticket": "SUP-7",
        }
    ]
    # Expired, so there is no current period to default to.
    expired = await api.get(f"/v1/contracts/{contract}/consumption")
    assert expired.status_code == 404 and expired.json()["errors"][0]["field"] == "period"
    [item] = (await api.get("/v1/contracts")).json()["items"]
    assert (item["status"], item["current_period"]) == ("expired", None)

    deleted = worklog_event(
        EventType.WORKLOG_DELETED,
        outside,
        contract,
        started_at=after_end,
        seconds=3 * H,
        outside_dates=True,
    )
    await send(
        deleted,
        delta(contract, feb, "field", "on_site_repair", -3 * H, worklogs=-1, outside=-3 * H),
    )
    await report_when(
        api,
        contract,
        lambda r: r["outside_dates_worklogs"] == [] and r["executed_seconds"] == 2 * H,
        period="2026-02",
    )

    # The recorded event redelivered after the deletion (a retry, say) brings nothing back.
    late = recorded.model_copy(update={"id": uuid.uuid4()})
    await send(late)
    await wait_consumed(api, EventType.WORKLOG_RECORDED, 2)
    # The one inside the dates never reached reporting (the broker matched its headers); had
    # it been delivered, it would have been before these two (one queue, in order).
    assert await consumed(api, EventType.WORKLOG_RECORDED, "trimmed") == 0
    report = await report_of(api, contract, period="2026-02")()
    assert report["outside_dates_worklogs"] == []
    assert (report["outside_dates_hours"], report["worklog_count"]) == (0.0, 1)


# --- the contract screen --------------------------------------------------------------


async def test_contract_screen_status_filters_pagination_and_roll_up(api, send):
    acme, other = uuid.uuid4(), uuid.uuid4()
    active, exhausted, future, past, elsewhere, auckland = (uuid.uuid4() for _ in range(6))
    march = D(2026, 3, 1)
    created = [
        contract_event(active, acme, code="A"),
        contract_event(exhausted, acme, code="B"),
        contract_event(future, acme, code="N", start=D(2027, 1, 1), end=D(2027, 12, 31)),
        contract_event(past, acme, code="X", start=D(2025, 1, 1), end=D(2025, 12, 31)),
        contract_event(elsewhere, other, code="Y"),
        # Starts on the 16th, which it already is in Auckland.
        contract_event(
            auckland,
            other,
            code="Z",
            start=D(2026, 3, 16),
            end=D(2026, 9, 15),
            timezone="Pacific/Auckland",
        ),
    ]
    renamed = contract_event(
        active, acme, code="A", title="A renamed", event_type=EventType.CONTRACT_UPDATED
    )
    other_created = customer_event(other, "Other")
    customer_renamed = customer_event(other, "Other Ltd", EventType.CUSTOMER_UPDATED)
    # Updates overtake creations: the newer state stays, the list order does not move.
    await send(
        renamed,
        *created,
        customer_event(acme, "Acme"),
        customer_renamed,
        other_created,
        delta(active, march, "servicedesk", "phone_support", 10 * H),
        delta(exhausted, march, "servicedesk", "phone_support", 40 * H),
    )
    await wait_consumed(api, EventType.CONTRACT_CREATED, 6)
    await wait_consumed(api, EventType.CONSUMPTION_RECORDED, 2)
    await wait_consumed(api, EventType.CUSTOMER_CREATED, 2)
    await wait_consumed(api, EventType.CUSTOMER_UPDATED, 1)

    items = (await api.get("/v1/contracts")).json()["items"]
    assert [(i["code"], i["status"]) for i in items] == [
        ("A", "active"),
        ("B", "exhausted"),
        ("N", "not_started"),
        ("X", "expired"),
        ("Y", "active"),
        ("Z", "active"),
    ]
    by_code = {i["code"]: i for i in items}
    assert by_code["A"]["title"] == "A renamed"
    assert by_code["A"]["current_period"]["percent"] == 25.0
    assert by_code["B"]["current_period"]["percent"] == 100.0
    assert by_code["B"]["current_period"]["remaining_hours"] == 0.0
    assert by_code["B"]["current_period"]["overage_hours"] == 0.0
    assert by_code["N"]["current_period"] is None and by_code["N"]["last_alert"] is None
    assert by_code["Z"]["current_period"]["start_date"] == "2026-03-16"
    assert by_code["Y"]["customer_name"] == "Other Ltd"

    for status, codes in [
        ("active", ["A", "Y", "Z"]),
        ("exhausted", ["B"]),
        ("not_started", ["N"]),
        ("expired", ["X"]),
    ]:
        page = (await api.get("/v1/contracts", params={"status": status})).json()
        assert [i["code"] for i in page["items"]] == codes
        assert {i["status"] for i in page["items"]} == {status}

    pages, cursor = [], None
    while True:
        params = {"limit": 4} | ({"cursor": cursor} if cursor else {})
        page = (await api.get("/v1/contracts", params=params)).json()
        pages.append([i["code"] for i in page["items"]])
        if not (cursor := page["next_cursor"]):
            break
    assert pages == [["A", "B", "N", "X"], ["Y", "Z"]]
    filtered = (await api.get("/v1/contracts", params={"status": "active", "limit": 2})).json()
    assert [i["code"] for i in filtered["items"]] == ["A", "Y"]
    rest = await api.get(
        "/v1/contracts", params={"status": "active", "limit": 2, "cursor": filtered["next_cursor"]}
    )
    assert [i["code"] for i in rest.json()["items"]] == ["Z"]

    by_customer = (await api.get("/v1/contracts", params={"customer_id": str(other)})).json()
    assert [i["code"] for i in by_customer["items"]] == ["Y", "Z"]
    roll_up = (await api.get(f"/v1/customers/{acme}/contracts")).json()
    assert [i["code"] for i in roll_up["items"]] == ["A", "B", "N", "X"]
    assert roll_up["items"] == items[:4]
    exhausted_only = await api.get(
        f"/v1/customers/{acme}/contracts", params={"status": "exhausted"}
    )
    assert [i["code"] for i in exhausted_only.json()["items"]] == ["B"]

    # A later update keeps the contract's place in the list.
    await send(
        contract_event(
            active, acme, code="A", title="A again", event_type=EventType.CONTRACT_UPDATED
        )
    )
    await wait_consumed(api, EventType.CONTRACT_UPDATED, 2)
    items = (await api.get("/v1/contracts", params={"limit": 2})).json()["items"]
    assert [(i["code"], i["title"]) for i in items] == [("A", "A again"), ("B", "B support")]


# --- bad input and auth ---------------------------------------------------------------


async def test_bad_periods_and_unknown_contracts_are_problems(api, send):
    contract = uuid.uuid4()
    await send(contract_event(contract, uuid.uuid4(), code="P"))
    await eventually(report_of(api, contract))
    url = f"/v1/contracts/{contract}/consumption"

    for period in ["2026-13", "March", "2026-3", "2026-02-30", "2026-03-01T00:00", "", "x" * 11]:
        response = await api.get(url, params={"period": period})
        assert response.status_code == 422, (period, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in response.json()["errors"]] == ["period"]
    for period in ["2025-12", "2027-01", "2026-03-02"]:
        response = await api.get(url, params={"period": period})
        assert response.status_code == 404, (period, response.text)
        assert [e["field"] for e in response.json()["errors"]] == ["period"]
    assert (await api.get(url, params={"period": "2026-12"})).json()["period"] == {
        "start_date": "2026-12-01",
        "end_date": "2026-12-31",
    }

    unknown = await api.get(
        f"/v1/contracts/{uuid.uuid4()}/consumption", params={"period": "2026-03"}
    )
    assert unknown.status_code == 404
    assert [e["field"] for e in unknown.json()["errors"]] == ["contract_id"]
    not_a_uuid = await api.get("/v1/contracts/abc/consumption")
    assert not_a_uuid.status_code == 422
    assert [e["field"] for e in not_a_uuid.json()["errors"]] == ["contract_id"]

    for params, field in [
        ({"status": "late"}, "status"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"customer_id": "acme"}, "customer_id"),
    ]:
        response = await api.get("/v1/contracts", params=params)
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == [field]
    bad_cursor = await api.get("/v1/contracts", params={"cursor": "nope"})
    assert bad_cursor.status_code == 400 and bad_cursor.json()["errors"][0]["field"] == "cursor"
    nobody = await api.get(f"/v1/customers/{uuid.uuid4()}/contracts")
    assert nobody.status_code == 404 and nobody.json()["errors"][0]["field"] == "customer_id"


async def test_reads_need_a_key_with_reports_read(api, send):
    reader, other = "br_reader-key", "br_other-key"
    await send(
        new_event(
            EventType.APIKEY_ISSUED,
            ApiKeyIssued(
                id=uuid.uuid4(), name="psa", key_hash=hash_key(reader), scopes=["reports:read"]
            ),
            key="psa",
            producer="contracts",
        ),
        new_event(
            EventType.APIKEY_ISSUED,
            ApiKeyIssued(
                id=uuid.uuid4(), name="ops", key_hash=hash_key(other), scopes=["contracts:read"]
            ),
            key="ops",
            producer="contracts",
        ),
    )
    await wait_consumed(api, EventType.APIKEY_ISSUED, 2)
    paths = [
        "/v1/contracts",
        f"/v1/contracts/{uuid.uuid4()}/consumption",
        f"/v1/customers/{uuid.uuid4()}/contracts",
    ]
    for path in paths:
        missing = await api.get(path, headers={"Authorization": ""})
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        assert missing.json()["errors"][0]["field"] == "Authorization"
        wrong = await api.get(path, headers={"Authorization": "Bearer br_unknown"})
        assert wrong.status_code == 401
        forbidden = await api.get(path, headers={"Authorization": f"Bearer {other}"})
        assert forbidden.status_code == 403
        assert forbidden.json()["required_scope"] == "reports:read"
    allowed = await api.get("/v1/contracts", headers={"Authorization": f"Bearer {reader}"})
    assert allowed.status_code == 200 and allowed.json() == {"items": [], "next_cursor": None}
