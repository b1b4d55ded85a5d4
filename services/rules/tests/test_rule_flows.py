"""Consumption triggers, scope, opt-outs, PATCH, preview and alert filters, end to end."""

import asyncio
import datetime as dt
import uuid

import pytest
from burnrate_common.errors import Problem
from burnrate_common.events import EventType
from burnrate_rules.schemas import AudienceIn
from burnrate_rules.service.rules import check_webhook
from burnrate_rules.settings import RulesSettings
from burnrate_testing import eventually

pytestmark = pytest.mark.integration

FEB = (dt.date(2026, 2, 1), dt.date(2026, 2, 28))


def utc(text):
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def staged(alerts):
    return [(a["rule_name"], a["trigger"], a["stage"], a["executed_hours"]) for a in alerts]


async def test_hours_remaining_overage_and_outside_dates_each_fire_once_per_period(rig):
    contract_id = await rig.add_contract(planned_hours=40)
    c = str(contract_id)
    await rig.create_rule(name="left", contract_id=c, trigger="hours_remaining", stages=[10, 5])
    await rig.create_rule(name="over", contract_id=c, trigger="overage", stages=[0, 10])
    await rig.create_rule(
        name="outside", contract_id=c, trigger="worklog_outside_dates", stages=None
    )

    await rig.consume(contract_id, 30)  # 10 h left
    await rig.consume(contract_id, 6)  # 4 h left: past 5 h
    await rig.consume(contract_id, -8)  # a correction: 12 h left
    await rig.consume(contract_id, 8)  # back: nothing fires again
    await rig.consume(contract_id, 9, outside_hours=2)  # 45 h: 12.5 % over, 2 h outside
    await rig.consume(contract_id, 1, outside_hours=1)  # more outside: once per period
    # (alerts raised by one event share raised_at; their order among themselves is by id)
    assert sorted(staged(await rig.alerts())) == sorted(
        [
            ("left", "hours_remaining", "10h", 30.0),
            ("left", "hours_remaining", "5h", 36.0),
            ("over", "overage", "overage+10", 45.0),
            ("outside", "worklog_outside_dates", "outside_dates", 45.0),
        ]
    )
    # A new period re-arms every stage.
    await rig.consume(contract_id, 1, FEB, outside_hours=1)
    feb = await rig.alerts(period="2026-02")
    assert [(a["stage"], a["outside_dates_hours"]) for a in feb] == [("outside_dates", 1.0)]
    events = await eventually(lambda: _events(rig, 5))
    outside = [e.data for e in events if e.data["trigger"] == "worklog_outside_dates"]
    assert [(e["period_start"], e["outside_dates_seconds"]) for e in outside] == [
        ("2026-01-01", 2 * 3600),
        ("2026-02-01", 3600),
    ]
    over = next(e.data for e in events if e.data["trigger"] == "overage")
    assert (over["stage"], over["customer_id"], over["forecast_seconds"]) == (
        "overage+10",
        str(rig.customer_id),
        None,
    )
    # The totals view lists every fired stage, the lower overage stage included.
    january = (await rig.api.get(f"/v1/contracts/{contract_id}/totals")).json()["periods"][0]
    assert sorted(f["stage"] for f in january["fired_stages"]) == sorted(
        ["10h", "5h", "overage", "overage+10", "outside_dates"]
    )


async def _events(rig, count):
    events = rig.probe.of_type(EventType.ALERT_RAISED)
    return events if len(events) >= count else None


async def test_scope_customer_opt_outs_and_patch(rig):
    other_customer = uuid.uuid4()
    mine = await rig.add_contract()
    opted = await rig.add_contract()
    theirs = await rig.add_contract(customer_id=other_customer)
    everyone = await rig.create_rule(name="everyone", stages=[50], overage=False)
    customer = await rig.create_rule(
        name="customer", customer_id=str(rig.customer_id), stages=[60], overage=False
    )
    assert customer["customer_id"] == str(rig.customer_id) and customer["contract_id"] is None

    response = await rig.api.put(f"/v1/rules/{everyone['id']}/opt-outs/{opted}")
    assert response.status_code == 200 and response.json()["contract_id"] == str(opted)
    again = await rig.api.put(f"/v1/rules/{everyone['id']}/opt-outs/{opted}")
    assert again.json() == response.json()  # idempotent
    listed = (await rig.api.get(f"/v1/rules/{everyone['id']}/opt-outs")).json()["items"]
    assert [o["contract_id"] for o in listed] == [str(opted)]

    for contract_id in (mine, opted, theirs):
        await rig.consume(contract_id, 25)  # 62.5 %
    got = sorted((a["rule_name"], a["contract_id"]) for a in await rig.alerts())
    assert got == sorted(
        [
            ("everyone", str(mine)),
            ("customer", str(mine)),
            ("customer", str(opted)),
            ("everyone", str(theirs)),
        ]
    )

    # Back in: the next evaluation (here the clock, the same day) catches up.
    gone = await rig.api.delete(f"/v1/rules/{everyone['id']}/opt-outs/{opted}")
    assert gone.status_code == 204
    await rig.tick()
    assert [a["contract_id"] for a in await rig.alerts(rule_id=everyone["id"])][-1] == str(opted)

    # PATCH: disable, change stages and audience.
    patched = await rig.api.patch(
        f"/v1/rules/{customer['id']}",
        json={"stages": [60, 80], "audience": {"owner": False, "teams": True}},
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["stages"], body["audience"]["teams"], body["audience"]["owner"]) == (
        [60, 80],
        True,
        False,
    )
    off = await rig.api.patch(f"/v1/rules/{everyone['id']}", json={"enabled": False})
    assert off.json()["enabled"] is False
    await rig.consume(mine, 8)  # 82.5 %
    latest = (await rig.alerts(contract_id=mine))[-1]
    assert (latest["rule_name"], latest["stage"]) == ("customer", "80")
    events = await eventually(lambda: _events(rig, 6))
    audience = next(e.data["audience"] for e in events if e.data["stage"] == "80")
    assert audience == {
        "owner": False,
        "teams": True,
        "customer_contacts": False,
        "emails": [],
        "webhook_url": None,
        "include_internal": False,
    }
    # A rule set for one contract cannot be opted out of: it is disabled instead.
    single = await rig.create_rule(name="single", contract_id=str(mine), stages=[99])
    refused = await rig.api.put(f"/v1/rules/{single['id']}/opt-outs/{mine}")
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "rule_id"
    unknown = await rig.api.put(f"/v1/rules/{everyone['id']}/opt-outs/{uuid.uuid4()}")
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["field"] == "contract_id"


async def test_preview_shows_what_would_fire_without_raising_it(rig):
    soon = await rig.add_contract(end_date=dt.date(2026, 2, 10))
    later = await rig.add_contract()
    await rig.consume(soon, 30)
    rule = await rig.create_rule(
        name="end", trigger="days_before_end", stages=[30, 7], overage=False, enabled=False
    )
    rig.clock.set(utc("2026-01-20T09:00:00"))  # 21 days before 10 February
    response = await rig.api.post(f"/v1/rules/{rule['id']}/preview")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["contracts_evaluated"], body["evaluated_at"]) == (2, "2026-01-20T09:00:00Z")
    assert body["items"] == [
        {
            "contract_id": str(soon),
            "customer_id": str(rig.customer_id),
            "period_start": "2026-01-01",
            "period_end": "2026-01-31",
            "trigger": "days_before_end",
            "stage": "30d",
            "stages": ["30d"],
            "planned_hours": 40.0,
            "executed_hours": 30.0,
            "days_before_end": 21,
            "forecast_hours": None,
            "forecast_exhaustion_date": None,
            "unused_hours": None,
            "outside_dates_hours": None,
            "currency": None,
            "charged_hours": None,
            "charged_amount": None,
            "forecast_amount": None,
            "budget": None,
        }
    ]
    await rig.tick()
    assert await rig.alerts() == []  # disabled, and the preview raised nothing
    await rig.api.patch(f"/v1/rules/{rule['id']}", json={"enabled": True})
    await rig.tick()
    assert [(a["contract_id"], a["stage"]) for a in await rig.alerts()] == [(str(soon), "30d")]
    after = (await rig.api.post(f"/v1/rules/{rule['id']}/preview")).json()
    assert after["items"] == []  # fired stages are not previewed again
    await asyncio.sleep(0.3)
    assert len(rig.probe.of_type(EventType.ALERT_RAISED)) == 1
    assert later


async def test_alert_filters(rig):
    contract_id = await rig.add_contract()
    percent = await rig.create_rule(name="p", stages=[50])
    await rig.create_rule(name="h", trigger="hours_remaining", stages=[20])
    await rig.consume(contract_id, 42)
    await rig.consume(contract_id, 21, FEB)
    everything = await rig.alerts()
    assert sorted((a["period_start"], a["trigger"], a["stage"]) for a in everything) == sorted(
        [
            ("2026-01-01", "overage", "overage"),
            ("2026-01-01", "hours_remaining", "20h"),
            ("2026-02-01", "percent_consumed", "50"),
            ("2026-02-01", "hours_remaining", "20h"),
        ]
    )
    assert [a["stage"] for a in await rig.alerts(trigger="overage")] == ["overage"]
    assert len(await rig.alerts(rule_id=percent["id"], period="2026-02")) == 1
    assert len(await rig.alerts(period="2026-01-01", trigger="hours_remaining")) == 1
    assert await rig.alerts(period="2026-01-02") == []
    assert await rig.alerts(contract_id=uuid.uuid4()) == []
    for params, field in [({"period": "2026-13"}, "period"), ({"trigger": "nope"}, "trigger")]:
        response = await rig.api.get("/v1/alerts", params=params)
        assert response.status_code == 422, params
        assert response.json()["errors"][0]["field"] == field


def body(**overrides):
    return {"name": "r", "trigger": "percent_consumed", "stages": [70]} | overrides


BAD_RULES = [
    (body(trigger="hours_remaining", stages=[5, 10]), "stages"),
    (body(trigger="days_before_end", stages=[7, 30]), "stages"),
    (body(trigger="days_before_end", stages=[4000]), "stages"),
    (body(trigger="days_before_end", stages=None), "stages"),
    (body(trigger="period_unused", stages=[0]), "stages"),
    (body(trigger="forecast_over_plan", stages=[50]), "stages"),
    (body(trigger="worklog_outside_dates", stages=[2]), "stages"),
    (body(trigger="overage", stages=[0], overage=True), "overage"),
    (body(trigger="moon_phase"), "trigger"),
    (body(trigger="sla_at_risk", stages=None), "stages"),
    (body(trigger="sla_at_risk", stages=[75, 100]), "stages"),
    (body(trigger="sla_breached", stages=[75]), "stages"),
    (body(trigger="allowance_reached", stages=[1]), "stages"),
    (body(trigger="budget_exceeded_forecast", stages=[0], overage=True), "overage"),
    (body(audience={"webhook_url": "ftp://hooks.example/x"}), "audience.webhook_url"),
    (body(audience={"webhook_url": "not a url"}), "audience.webhook_url"),
    (body(audience={"emails": ["a@b.example", "bad@"]}), "audience.emails.1"),
    (body(audience={"owner": False, "include_internal": True}), "audience"),
    (body(contract_id=str(uuid.uuid4()), customer_id=str(uuid.uuid4())), "customer_id"),
]


async def test_bad_input_names_the_field(rig):
    for rule, field in BAD_RULES:
        response = await rig.api.post("/v1/rules", json=rule)
        assert response.status_code == 422, (rule, response.text)
        assert [e["field"] for e in response.json()["errors"]] == [field], rule
    assert (await rig.api.get("/v1/rules")).json()["items"] == []

    ok = await rig.api.post(
        "/v1/rules",
        json=body(audience={"owner": False, "webhook_url": "http://localhost:9000/hook"}),
    )
    assert ok.status_code == 201  # plain http is accepted in development
    rule_id = ok.json()["id"]
    for patch, field in [
        ({"stages": [90, 70]}, "stages"),
        ({"stages": None}, "stages"),
        ({"enabled": "maybe"}, "enabled"),
        ({"trigger": "overage"}, "trigger"),
        ({"audience": {"emails": ["x"]}}, "audience.emails.0"),
    ]:
        response = await rig.api.patch(f"/v1/rules/{rule_id}", json=patch)
        assert response.status_code == 422, (patch, response.text)
        assert [e["field"] for e in response.json()["errors"]] == [field], patch
    missing = await rig.api.patch(f"/v1/rules/{uuid.uuid4()}", json={"enabled": False})
    assert missing.status_code == 404
    assert (await rig.api.get(f"/v1/rules/{rule_id}")).json()["stages"] == [70]


def test_webhooks_must_be_https_outside_development():
    production = RulesSettings(environment="production")
    plain = AudienceIn(webhook_url="http://hooks.example/x")
    with pytest.raises(Problem) as refused:
        check_webhook(production, plain)
    assert (refused.value.status, refused.value.field) == (422, "audience.webhook_url")
    check_webhook(production, AudienceIn(webhook_url="https://hooks.example/x"))
    check_webhook(RulesSettings(environment="development"), plain)


#: URLs the notifier could never call (its shared parser refuses them), refused when the
#: rule is written, with the parser's reason: they used to be accepted, and the notifier's
#: HTTP client then raised on each call.
UNCALLABLE_WEBHOOKS = [
    ("http://0177.0.0.1/", "is not an IPv4 address in its plain form"),
    ("http://127.1/", "is not an IPv4 address in its plain form"),
    ("http://999.1.1.1/hook", "is not an IPv4 address in its plain form"),
    ("http://[::1%25eth0]/", "with a zone"),
    ("http://hooks.example/a b", "printable ASCII only"),
    ("http://hooks.example/a\\b", "must be percent-encoded"),
    ("http://hooks.example/#x", "no #fragment"),
    ("http://xn--00h.example/", "not a valid xn-- label"),
]


async def test_a_webhook_url_the_notifier_could_not_call_is_refused_at_create_and_patch(rig):
    for url, reason in UNCALLABLE_WEBHOOKS:
        response = await rig.api.post(
            "/v1/rules", json=body(audience={"owner": False, "webhook_url": url})
        )
        assert response.status_code == 422, (url, response.text)
        [error] = response.json()["errors"]
        assert error["field"] == "audience.webhook_url" and reason in error["message"], url
    assert (await rig.api.get("/v1/rules")).json()["items"] == []

    rule = await rig.api.post(
        "/v1/rules", json=body(audience={"owner": False, "webhook_url": "http://127.0.0.1/h"})
    )
    assert rule.status_code == 201, rule.text
    for url, reason in UNCALLABLE_WEBHOOKS:
        response = await rig.api.patch(
            f"/v1/rules/{rule.json()['id']}", json={"audience": {"webhook_url": url}}
        )
        assert response.status_code == 422, (url, response.text)
        [error] = response.json()["errors"]
        assert error["field"] == "audience.webhook_url" and reason in error["message"], url
    stored = (await rig.api.get(f"/v1/rules/{rule.json()['id']}")).json()
    assert stored["audience"]["webhook_url"] == "http://127.0.0.1/h"


async def test_a_contract_whose_evaluation_raises_is_skipped_by_the_preview_with_the_reason(rig):
    """A contract in a zone Python cannot load ("UTC+3", which PostgreSQL takes) made the
    preview of every rule covering it a 500; it is listed as skipped, the others shown."""
    soon = await rig.add_contract(end_date=dt.date(2026, 2, 10))
    odd = await rig.add_contract(end_date=dt.date(2026, 2, 10), timezone="UTC+3")
    rule = await rig.create_rule(
        name="end", trigger="days_before_end", stages=[30], overage=False, enabled=False
    )
    rig.clock.set(utc("2026-01-20T09:00:00"))
    response = await rig.api.post(f"/v1/rules/{rule['id']}/preview")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["contracts_evaluated"] == 1
    assert [i["contract_id"] for i in body["items"]] == [str(soon)]
    [skipped] = body["contracts_skipped"]
    assert skipped["contract_id"] == str(odd)
    assert skipped["reason"].startswith("ZoneInfoNotFoundError: ")
