"""Rate cards, billing terms, calendars and service levels through the API, against the real
PostgreSQL and RabbitMQ: the contract events carry the resolved terms."""

import datetime as dt
import re

import pytest
from burnrate_common.clock import FixedClock
from burnrate_common.events import EventType
from burnrate_contracts.bootstrap import build
from burnrate_contracts.settings import ContractsSettings
from burnrate_testing import eventually, serve

pytestmark = pytest.mark.integration

# 16 June 2026 in Amsterdam
NOW = dt.datetime(2026, 6, 15, 22, 30, tzinfo=dt.UTC)

CARD = {
    "name": "Standard 2026",
    "description": "Every activity €50.00/h, night ×1.5",
    "rows": [
        {"id": "all", "mode": "price", "amount": "50.00"},
        {"id": "night", "shift": "night", "mode": "multiply", "amount": "1.5"},
        {"id": "onsite", "activity": "on-site repair", "mode": "add", "amount": "10"},
    ],
}
NIGHT = {"name": "night", "weekdays": [1, 2, 3, 4, 5], "start": "22:00", "end": "06:00"}


def contract_body(customer_id, **overrides):
    body = {
        "customer_id": customer_id,
        "code": "ACME-2026",
        "title": "Acme support 2026",
        "owner_email": "owner@msp.example",
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "timezone": "Europe/Amsterdam",
        "planned_hours": 5,
    }
    return body | overrides


@pytest.fixture
async def api(isolation, probe):
    await probe.start("contract.*")
    async with serve(build(isolation.settings(ContractsSettings), clock=FixedClock(NOW))) as c:
        yield c


@pytest.fixture
async def customer(api):
    return (await api.post("/v1/customers", json={"name": "Acme"})).json()["id"]


@pytest.fixture
async def card(api):
    response = await api.post("/v1/rate-cards", json=CARD)
    assert response.status_code == 201, response.text
    assert response.headers["etag"] == '"1"'
    return response.json()


def events(probe, event_type, contract_id):
    return [e for e in probe.of_type(event_type) if e.key == contract_id]


async def _count(probe, event_type, contract_id, n):
    return len(events(probe, event_type, contract_id)) >= n


def billing(card_id, **overrides):
    body = {
        "rate_card_id": card_id,
        "rate_overrides": [
            {
                "id": "b-night",
                "replaces": "night",
                "shift": "night",
                "location": "site B",
                "mode": "multiply",
                "amount": "1.75",
            },
            {"id": "remote", "location": "remote", "mode": "price", "amount": "40"},
        ],
        "shifts": [
            NIGHT,
            {"name": "weekend", "kind": "weekend"},
            {"name": "holiday", "kind": "holiday"},
        ],
        "holiday_country": "NL",
        "extra_holidays": ["2026-12-24"],
        "rounding": {"increment_minutes": 15, "minimum_minutes": 60, "level": "worklog"},
        "vat_rate": "0.21",
        "period_fee": "250.00",
        "debt_cap": "500",
        "budget": "1000",
        "ticket_confirmation_required": True,
        "service_credit": {"percent_of_fee": "5", "cap_per_period": "50"},
    }
    return body | overrides


# --------------------------------------------------------------------------------------------
# rate cards and billing terms


async def test_the_contract_event_carries_the_card_rows_and_overrides_resolved(
    api, probe, customer, card
):
    response = await api.post(
        "/v1/contracts", json=contract_body(customer, billing=billing(card["id"]))
    )
    assert response.status_code == 201, response.text
    contract = response.json()
    assert contract["billing"]["rate_card"] == "Standard 2026"
    assert [r["id"] for r in contract["billing"]["rows"]] == [
        "card:all",
        "card:onsite",
        "contract:b-night",
        "contract:remote",
    ]
    assert (await api.get(f"/v1/rate-cards/{card['id']}")).json()["contracts"] == 1

    await eventually(lambda: _count(probe, EventType.CONTRACT_CREATED, contract["id"], 1))
    terms = events(probe, EventType.CONTRACT_CREATED, contract["id"])[0].data["billing"]
    assert terms["rate_card"] == "Standard 2026"
    assert terms["rows"] == [
        {
            "id": "card:all",
            "activity": None,
            "location": None,
            "shift": None,
            "mode": "price",
            "amount": "50.00",
            "effective_from": None,
            "effective_to": None,
        },
        {
            "id": "card:onsite",
            "activity": "on-site repair",
            "location": None,
            "shift": None,
            "mode": "add",
            "amount": "10",
            "effective_from": None,
            "effective_to": None,
        },
        {
            "id": "contract:b-night",
            "activity": None,
            "location": "site B",
            "shift": "night",
            "mode": "multiply",
            "amount": "1.75",
            "effective_from": None,
            "effective_to": None,
        },
        {
            "id": "contract:remote",
            "activity": None,
            "location": "remote",
            "shift": None,
            "mode": "price",
            "amount": "40",
            "effective_from": None,
            "effective_to": None,
        },
    ]
    assert terms["shifts"][0] == {
        "name": "night",
        "kind": "window",
        "weekdays": [1, 2, 3, 4, 5],
        "start": "22:00:00",
        "end": "06:00:00",
    }
    assert (terms["holiday_country"], terms["extra_holidays"]) == ("NL", ["2026-12-24"])
    assert terms["rounding"] == {"increment_minutes": 15, "minimum_minutes": 60, "level": "worklog"}
    assert (terms["vat_rate"], terms["period_fee"], terms["debt_cap"], terms["budget"]) == (
        "0.21",
        "250.00",
        "500",
        "1000",
    )
    assert terms["ticket_confirmation_required"] is True
    assert terms["partial_invoicing"] is True
    assert terms["service_credit"] == {
        "percent_of_fee": "5",
        "fixed_amount": None,
        "cap_per_period": "50",
    }
    # no base rate given: the contract's overage rate, else 0
    assert terms["base_rate"] == "0"


async def test_changing_a_card_publishes_every_contract_using_it(api, probe, customer, card):
    one = (
        await api.post("/v1/contracts", json=contract_body(customer, billing=billing(card["id"])))
    ).json()
    two = (
        await api.post(
            "/v1/contracts",
            json=contract_body(
                customer, code="B-2026", billing={"rate_card_id": card["id"], "shifts": [NIGHT]}
            ),
        )
    ).json()
    url = f"/v1/rate-cards/{card['id']}"
    rows = [r | {"amount": "55.00"} if r["id"] == "all" else r for r in card["rows"]]
    assert (await api.patch(url, json={"rows": rows})).status_code == 428
    changed = await api.patch(url, json={"rows": rows}, headers={"If-Match": '"1"'})
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == '"2"'

    for contract in (one, two):
        await eventually(lambda c=contract: _count(probe, EventType.CONTRACT_UPDATED, c["id"], 1))
        data = events(probe, EventType.CONTRACT_UPDATED, contract["id"])[0].data
        assert data["billing"]["rows"][0] == data["billing"]["rows"][0] | {
            "id": "card:all",
            "amount": "55.00",
        }
    assert (await api.get(f"/v1/contracts/{two['id']}")).json()["billing"]["rows"][0][
        "amount"
    ] == "55.00"

    # the night row is replaced by contract one's override: removing it is refused whole
    without_night = [r for r in rows if r["id"] != "night"]
    refused = await api.patch(url, json={"rows": without_night}, headers={"If-Match": '"2"'})
    assert refused.status_code == 409, refused.text
    assert refused.json()["errors"][0]["field"] == "rows"
    assert "ACME-2026" in refused.json()["errors"][0]["message"]
    assert (await api.get(url)).headers["etag"] == '"2"'

    # a card in use cannot go
    gone = await api.delete(url)
    assert gone.status_code == 409 and gone.json()["errors"][0]["field"] == "card_id"


async def test_billing_terms_change_by_patch_and_can_be_removed(api, probe, customer, card):
    contract = (
        await api.post("/v1/contracts", json=contract_body(customer, overage_rate="80"))
    ).json()
    assert contract["billing"] is None
    url = f"/v1/contracts/{contract['id']}"
    patched = await api.patch(
        url,
        json={"billing": {"rate_card_id": card["id"], "shifts": [NIGHT], "vat_rate": "0.09"}},
        headers={"If-Match": '"1"'},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["billing"]["effective_base_rate"] == "80.0000"
    await eventually(lambda: _count(probe, EventType.CONTRACT_UPDATED, contract["id"], 1))
    data = events(probe, EventType.CONTRACT_UPDATED, contract["id"])[0].data
    assert data["billing"]["vat_rate"] == "0.09" and data["billing"]["base_rate"] == "80.0000"
    history = (await api.get(f"{url}/history")).json()["items"]
    assert history[-1]["changes"]["billing"]["from"] is None

    removed = await api.patch(url, json={"billing": None}, headers={"If-Match": '"2"'})
    assert removed.status_code == 200 and removed.json()["billing"] is None
    await eventually(lambda: _count(probe, EventType.CONTRACT_UPDATED, contract["id"], 2))
    assert events(probe, EventType.CONTRACT_UPDATED, contract["id"])[1].data["billing"] is None
    assert (await api.delete(f"/v1/rate-cards/{card['id']}")).status_code == 204


UNKNOWN = "00000000-0000-0000-0000-000000000001"


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        (
            {"rate_overrides": [{"replaces": "nope", "amount": "1"}]},
            "billing.rate_overrides.0.replaces",
        ),
        ({"rate_card_id": UNKNOWN}, "billing.rate_card_id"),
        ({"shifts": [NIGHT, {"name": "late", "start": "21:00", "end": "23:00"}]}, "billing.shifts"),
        ({"rate_overrides": [{"amount": "-5"}]}, "billing.rate_overrides.0.amount"),
        (
            {"rate_overrides": [{"shift": "weekend", "amount": "2", "mode": "multiply"}]},
            "billing.rate_overrides.0.shift",
        ),
        ({"debt_cap": "-1"}, "billing.debt_cap"),
        ({"holiday_country": "XX"}, "billing.holiday_country"),
        ({"holiday_country": "DE", "holiday_subdivision": "ZZ"}, "billing.holiday_subdivision"),
        ({"vat_rate": "21"}, "billing.vat_rate"),
        ({"service_credit": {"cap_per_period": "5"}}, "billing.service_credit.fixed_amount"),
    ],
)
async def test_bad_billing_terms_name_the_field_and_write_nothing(
    api, customer, card, terms, field
):
    body = contract_body(customer, billing={"rate_card_id": card["id"], "shifts": [NIGHT]} | terms)
    response = await api.post("/v1/contracts", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == field
    assert (await api.get("/v1/contracts")).json()["items"] == []


async def test_an_unknown_currency_is_refused(api, customer):
    response = await api.post("/v1/contracts", json=contract_body(customer, currency="ABC"))
    assert response.status_code == 422
    assert response.json()["errors"][0] == {
        "field": "currency",
        "message": "'ABC' is not an ISO 4217 currency code",
    }


@pytest.mark.parametrize(
    ("rows", "field"),
    [
        ([{"amount": "-1"}], "rows.0.amount"),
        ([{"amount": "1", "mode": "multiply"}, {"amount": "2", "mode": "multiply"}], "rows.1"),
        ([{"id": "a", "amount": "1"}, {"id": "a", "amount": "2", "activity": "x"}], "rows.1.id"),
        (
            [{"amount": "1", "effective_from": "2026-02-01", "effective_to": "2026-01-01"}],
            "rows.0.effective_to",
        ),
    ],
)
async def test_bad_card_rows_are_named(api, rows, field):
    response = await api.post("/v1/rate-cards", json={"name": "X", "rows": rows})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert (await api.get("/v1/rate-cards")).json() == []


# --------------------------------------------------------------------------------------------
# calendars and the service catalogue


async def test_gold_silver_bronze_are_shipped_in_the_catalogue(api):
    levels = (await api.get("/v1/service-levels")).json()
    assert [(lv["name"], lv["price"]) for lv in levels] == [
        ("bronze", "250.0000"),
        ("silver", "750.0000"),
        ("gold", "1500.0000"),
    ]
    by_name = {lv["name"]: lv for lv in levels}

    def minutes(level, metric, priority):
        return next(
            t["minutes"]
            for t in by_name[level]["targets"]
            if t["metric"] == metric and t["priority"] == priority
        )

    assert minutes("gold", "resolution", "P1") == 60
    assert by_name["gold"]["calendar"]["kind"] == "24x7"
    assert minutes("silver", "resolution", "P1") == 8 * 60
    assert minutes("bronze", "resolution", "P3") == 30 * 60
    assert minutes("bronze", "first_response", "P1") == 4 * 60
    business = by_name["bronze"]["calendar"]
    assert (business["timezone"], business["holiday_country"]) == ("Europe/Amsterdam", "NL")
    assert business["business_hours_per_week"] == "50.00"
    assert any(t["category"] == "e-mail outage" for t in by_name["silver"]["targets"])
    holidays = (
        await api.get(f"/v1/calendars/{business['id']}/holidays", params={"year": 2026})
    ).json()
    assert {"date": "2026-04-27", "name": "King's Day", "source": "country"} in holidays


async def test_times_of_day_are_answered_as_the_document_says(api):
    """``format: time`` (RFC 3339) needs an offset; the document declares the pattern the
    answers have."""
    document = (await api.get("/openapi.json")).json()
    pattern = document["components"]["schemas"]["WorkingHoursOut"]["properties"]["start"]
    calendars = (await api.get("/v1/calendars")).json()
    times = [h[end] for c in calendars for h in c["hours"] for end in ("start", "end")]
    assert times and all(re.fullmatch(pattern["pattern"], t) for t in times), times
    assert "format" not in pattern


ICAL = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//MSP//EN\r\n"
    "BEGIN:VEVENT\r\nUID:1@msp\r\nDTSTART;VALUE=DATE:20261224\r\nSUMMARY:Office closed\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


async def test_a_calendar_with_split_days_and_an_icalendar_file(api):
    body = {
        "name": "Split NL",
        "kind": "business",
        "timezone": "Europe/Amsterdam",
        "hours": [
            {"weekday": 1, "start": "13:00", "end": "17:00"},
            {"weekday": 1, "start": "08:00", "end": "12:00"},
        ],
        "holiday_country": "NL",
    }
    created = await api.post("/v1/calendars", json=body)
    assert created.status_code == 201, created.text
    calendar = created.json()
    assert [h["start"] for h in calendar["hours"]] == ["08:00:00", "13:00:00"]
    url = f"/v1/calendars/{calendar['id']}"
    uploaded = await api.put(
        f"{url}/ical", content=ICAL.encode(), headers={"content-type": "text/calendar"}
    )
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["days"] == 1 and uploaded.headers["etag"] == '"2"'
    bad = await api.put(f"{url}/ical", content=b"nope", headers={"content-type": "text/calendar"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body"
    holidays = (await api.get(f"{url}/holidays", params={"year": 2026})).json()
    assert {"date": "2026-12-24", "name": "Office closed", "source": "ical"} in holidays

    emptied = await api.patch(url, json={"hours": []}, headers={"If-Match": '"2"'})
    assert emptied.status_code == 422 and emptied.json()["errors"][0]["field"] == "hours"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"hours": []}, "hours"),
        (
            {
                "hours": [
                    {"weekday": 1, "start": "08:00", "end": "12:00"},
                    {"weekday": 1, "start": "11:00", "end": "13:00"},
                ]
            },
            "hours.1",
        ),
        ({"hours": [{"weekday": 8, "start": "08:00", "end": "12:00"}]}, "hours.0.weekday"),
        ({"hours": [{"weekday": 1, "start": "08:00+02:00", "end": "12:00"}]}, "hours.0.start"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        # longer than a file name may be: zoneinfo's OSError once answered 503
        ({"timezone": "0" * 27 + "\u0080" * 60 + "\u0130" * 100}, "timezone"),
        ({"holiday_country": "XX"}, "holiday_country"),
        ({"kind": "24x7"}, "hours"),
    ],
)
async def test_bad_calendars_are_named(api, body, field):
    base = {
        "name": "Cal",
        "kind": "business",
        "timezone": "Europe/Amsterdam",
        "hours": [{"weekday": 1, "start": "08:00", "end": "18:00"}],
    }
    response = await api.post("/v1/calendars", json=base | body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert [c["name"] for c in (await api.get("/v1/calendars")).json()] == [
        "24x7",
        "Business hours NL",
    ]


@pytest.mark.parametrize(
    ("targets", "field"),
    [
        ([{"metric": "resolution", "priority": "P1", "minutes": 0}], "targets.0.minutes"),
        ([{"metric": "resolution", "priority": "P5", "minutes": 60}], "targets.0.priority"),
        ([], "targets"),
        (
            [
                {"metric": "resolution", "priority": "P1", "minutes": 60},
                {"metric": "resolution", "priority": "P1", "minutes": 30},
            ],
            "targets.1",
        ),
    ],
)
async def test_bad_targets_are_named(api, targets, field):
    response = await api.post("/v1/service-levels", json={"name": "platinum", "targets": targets})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert len((await api.get("/v1/service-levels")).json()) == 3


# --------------------------------------------------------------------------------------------
# a contract's levels over time


async def test_levels_are_effective_dated_and_the_event_carries_every_version(api, probe, customer):
    levels = {lv["name"]: lv for lv in (await api.get("/v1/service-levels")).json()}
    body = contract_body(
        customer,
        service_levels=[
            {"effective_from": "2026-01-01", "service_level_id": levels["bronze"]["id"]}
        ],
    )
    created = await api.post("/v1/contracts", json=body)
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    assert [v["level"] for v in created.json()["service_levels"]] == ["bronze"]

    mine = (await api.get(f"/v1/contracts/{cid}/service-level")).json()
    assert mine["on"] == "2026-06-16" and mine["current"]["level"] == "bronze"
    assert mine["price"] == "250.0000" and mine["current"]["calendar"]["holiday_country"] == "NL"
    assert mine["current"]["calendar"]["hours"][0] == {
        "weekday": 1,
        "start": "08:00:00",
        "end": "18:00:00",
    }

    # the past is not rewritten: a version before today is refused
    past = await api.post(
        f"/v1/contracts/{cid}/service-levels",
        json={"effective_from": "2026-03-01", "service_level_id": levels["gold"]["id"]},
    )
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "effective_from"

    upgraded = await api.post(
        f"/v1/contracts/{cid}/service-levels",
        json={"effective_from": "2026-07-01", "service_level_id": levels["gold"]["id"]},
        headers={"If-Match": '"1"'},
    )
    assert upgraded.status_code == 200, upgraded.text
    assert upgraded.headers["etag"] == '"2"'

    # editing the catalogue does not change what the contract has
    gold = f"/v1/service-levels/{levels['gold']['id']}"
    edited = await api.patch(
        gold,
        json={
            "targets": [
                {"metric": "resolution", "priority": "P1", "minutes": 30, "calendar": "24x7"}
            ]
        },
        headers={"If-Match": '"1"'},
    )
    assert edited.status_code == 200, edited.text

    july = (await api.get(f"/v1/contracts/{cid}/service-level", params={"on": "2026-07-01"})).json()
    assert july["current"]["level"] == "gold"
    p1 = [
        t
        for t in july["current"]["targets"]
        if t["priority"] == "P1" and t["metric"] == "resolution"
    ]
    assert p1[0]["minutes"] == 60
    assert [v["effective_from"] for v in july["versions"]] == ["2026-01-01", "2026-07-01"]

    bespoke = await api.post(
        f"/v1/contracts/{cid}/service-levels",
        json={
            "effective_from": "2026-09-01",
            "bespoke": {
                "name": "Acme custom",
                "calendar_id": levels["silver"]["calendar"]["id"],
                "targets": [{"metric": "resolution", "category": "e-mail outage", "minutes": 240}],
            },
        },
    )
    assert bespoke.status_code == 200, bespoke.text

    await eventually(lambda: _count(probe, EventType.CONTRACT_UPDATED, cid, 2))
    data = events(probe, EventType.CONTRACT_UPDATED, cid)[-1].data
    assert [(v["level"], v["effective_from"]) for v in data["service_levels"]] == [
        ("bronze", "2026-01-01"),
        ("gold", "2026-07-01"),
        ("Acme custom", "2026-09-01"),
    ]
    assert data["service_levels"][1]["calendar"]["name"] == "24x7"
    assert data["service_levels"][2]["targets"] == [
        {
            "metric": "resolution",
            "priority": None,
            "category": "e-mail outage",
            "minutes": 240,
            "calendar": "business",
        }
    ]
    history = (await api.get(f"/v1/contracts/{cid}/history")).json()["items"]
    assert history[1]["action"] == "service level assigned"


async def test_bad_level_assignments(api, customer):
    contract = (await api.post("/v1/contracts", json=contract_body(customer))).json()
    url = f"/v1/contracts/{contract['id']}/service-levels"
    unknown = await api.post(
        url, json={"effective_from": "2026-07-01", "service_level_id": UNKNOWN}
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "service_level_id"
    neither = await api.post(url, json={"effective_from": "2026-07-01"})
    assert neither.status_code == 422 and neither.json()["errors"][0]["field"] == "bespoke"
    zero = await api.post(
        url,
        json={
            "effective_from": "2026-07-01",
            "bespoke": {
                "name": "x",
                "targets": [{"metric": "resolution", "priority": "P1", "minutes": 0}],
            },
        },
    )
    assert zero.status_code == 422
    assert zero.json()["errors"][0]["field"] == "bespoke.targets.0.minutes"
    after_end = await api.post(
        url,
        json={
            "effective_from": "2027-01-01",
            "bespoke": {
                "name": "x",
                "targets": [{"metric": "resolution", "priority": "P1", "minutes": 5}],
            },
        },
    )
    assert after_end.status_code == 422
    after = await api.get(f"/v1/contracts/{contract['id']}")
    assert after.headers["etag"] == '"1"' and after.json()["service_levels"] == []
