"""Who gets in (issue 20): the pages' login is a server-side session that logout and a key's
revocation end, and the login form is rate limited; customer links are records that a
DELETE or the minting key's revocation end, and none is minted without a link secret; bad
tokens are error pages, never a 500; CSV cells cannot run as formulas. Over the real broker
and PostgreSQL."""

import base64
import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import uuid

import httpx
import pytest
from burnrate_common.auth import hash_key
from burnrate_common.clock import FixedClock
from burnrate_common.events import (
    ApiKeyIssued,
    ApiKeyRevoked,
    ContractChanged,
    ContractPeriod,
    CustomerChanged,
    EventType,
    new_event,
)
from burnrate_reporting.bootstrap import build
from burnrate_reporting.settings import ReportingSettings
from burnrate_testing import eventually, publish, serve

pytestmark = pytest.mark.integration

H = 3600
NOW = dt.datetime(2026, 3, 15, 12, 0, tzinfo=dt.UTC)
SECRET = "access-test-link-secret"
READER = "br_reader-key-for-the-pages"
FORM = {"content-type": "application/x-www-form-urlencoded"}


def customer(customer_id, name="Acme"):
    return new_event(
        EventType.CUSTOMER_CREATED,
        CustomerChanged(id=customer_id, name=name, contacts=[]),
        key=customer_id,
        producer="contracts",
    )


def contract(contract_id, customer_id, code, title=None):
    payload = ContractChanged(
        id=contract_id,
        customer_id=customer_id,
        code=code,
        title=title if title is not None else f"{code} support",
        owner_email="owner@msp.example",
        start_date=dt.date(2026, 1, 1),
        end_date=dt.date(2026, 12, 31),
        timezone="Europe/Amsterdam",
        period="monthly",
        planned_hours=40,
        teams=["servicedesk"],
        work_accounts=[],
        periods=[
            ContractPeriod(
                start_date=dt.date(2026, m, 1),
                end_date=dt.date(2026, m + 1, 1) - dt.timedelta(days=1)
                if m < 12
                else dt.date(2026, 12, 31),
                planned_seconds=40 * H,
            )
            for m in range(1, 13)
        ],
    )
    return new_event(EventType.CONTRACT_CREATED, payload, key=contract_id, producer="contracts")


def issued(key_id, key, scopes=("reports:read",)):
    return new_event(
        EventType.APIKEY_ISSUED,
        ApiKeyIssued(id=key_id, name="psa", key_hash=hash_key(key), scopes=list(scopes)),
        key=str(key_id),
        producer="contracts",
    )


def revoked(key_id):
    return new_event(
        EventType.APIKEY_REVOKED, ApiKeyRevoked(id=key_id), key=str(key_id), producer="contracts"
    )


class Access:
    def __init__(self, api, isolation):
        self.api, self.isolation = api, isolation
        self.acme, self.k = uuid.uuid4(), uuid.uuid4()
        self.key_id = uuid.uuid4()

    async def send(self, *events):
        await publish(self.isolation.amqp_url, self.isolation.amqp_prefix, *events)

    async def key_known(self, revoked_too=False):
        async def check():
            async with self.api.app.state.runtime.pool.acquire() as conn:
                row = await conn.fetchrow(
                    "SELECT revoked_at FROM api_keys WHERE id = $1", self.key_id
                )
            assert row is not None and (row["revoked_at"] is not None) == revoked_too
            return True

        await eventually(check)

    def browser(self):
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.api.app), base_url="http://service"
        )


def _settings(isolation, **overrides):
    values = {
        "report_link_secret": SECRET,
        "reporting_public_url": "https://reports.msp.example",
        "auth_failures_per_minute": 30,
    }
    return isolation.settings(ReportingSettings, **(values | overrides))


@pytest.fixture
async def access(isolation):
    async with serve(build(_settings(isolation), clock=FixedClock(NOW))) as api:
        a = Access(api, isolation)
        await a.send(issued(a.key_id, READER), customer(a.acme), contract(a.k, a.acme, "K-1"))

        async def listed():
            items = (await api.get("/v1/contracts")).json()["items"]
            assert [i["code"] for i in items] == ["K-1"]
            return True

        await eventually(listed)
        await a.key_known()
        yield a


async def login(web, key):
    return await web.post("/ui/login", content=f"api_key={key}&next=/ui/contracts", headers=FORM)


# --- the pages' login ----------------------------------------------------------------------


async def test_the_login_cookie_is_a_session_that_logout_and_revocation_end(access):
    async with access.browser() as web:
        logged_in = await login(web, READER)
        assert logged_in.status_code == 303
        token = web.cookies.get("burnrate_session")
        # The cookie holds a random token, not the key, and the database only its hash.
        assert token and READER not in logged_in.headers["set-cookie"]
        async with access.api.app.state.runtime.pool.acquire() as conn:
            stored = await conn.fetchval("SELECT token_hash FROM ui_sessions")
        assert stored == hashlib.sha256(token.encode()).hexdigest()
        assert (await web.get("/ui/contracts")).status_code == 200

        await web.post("/ui/logout")
        assert not web.cookies.get("burnrate_session")
        # The old token (kept by someone who copied the cookie) no longer opens anything.
        web.cookies.set("burnrate_session", token, path="/ui")
        assert (await web.get("/ui/contracts")).status_code == 303
        # Nor does the key itself as a cookie.
        web.cookies.set("burnrate_session", READER, path="/ui")
        assert (await web.get("/ui/contracts")).status_code == 303

    async with access.browser() as web:
        await login(web, READER)
        assert (await web.get("/ui/contracts")).status_code == 200
        await access.send(revoked(access.key_id))
        await access.key_known(revoked_too=True)
        # The key's revocation (through the replica) ends its sessions at once.
        assert (await web.get("/ui/contracts")).status_code == 303
        refused = await login(web, READER)
        assert refused.status_code == 401


async def test_the_login_form_is_rate_limited(isolation):
    settings = _settings(isolation, auth_failures_per_minute=3)
    async with serve(build(settings, clock=FixedClock(NOW))) as api:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=api.app), base_url="http://service"
        ) as web:
            for _ in range(3):
                assert (await login(web, "br_guess")).status_code == 401
            limited = await login(web, "br_guess")
            assert limited.status_code == 429
            assert 1 <= int(limited.headers["retry-after"]) <= 60
            assert "try again in" in limited.text and "<form" in limited.text
            # Even the right key waits: the limit is on the address, before the key is read.
            assert (await login(web, "test-admin-key")).status_code == 429
            # The API shares the limit (the same failures, the same addresses).
            assert (
                await web.get("/v1/contracts", headers={"Authorization": "Bearer nope"})
            ).status_code == 429


# --- customer links --------------------------------------------------------------------


async def test_links_are_records_revoked_by_delete_and_by_the_key(access):
    as_reader = {"Authorization": f"Bearer {READER}"}
    api = access.api
    first = await api.post(f"/v1/customers/{access.acme}/report-links", headers=as_reader)
    assert first.status_code == 201, first.text
    link = first.json()
    async with access.browser() as web:
        opened = await web.get(f"/ui/c/{link['token']}")
        assert opened.status_code == 200 and "K-1" in opened.text

        listed = (await api.get(f"/v1/customers/{access.acme}/report-links")).json()
        assert [(x["id"], x["minted_by"], x["active"]) for x in listed] == [
            (link["id"], "psa", True)
        ]
        assert "token" not in listed[0]
        gone = await api.delete(f"/v1/customers/{access.acme}/report-links/{link['id']}")
        assert gone.status_code == 204
        closed = await web.get(f"/ui/c/{link['token']}")
        assert closed.status_code == 403 and "K-1" not in closed.text
        report = await web.get(f"/ui/c/{link['token']}/contracts/{access.k}/report.csv")
        assert report.status_code == 403
        assert (
            await api.delete(f"/v1/customers/{uuid.uuid4()}/report-links/{link['id']}")
        ).status_code == 404

        second = (
            await api.post(f"/v1/customers/{access.acme}/report-links", headers=as_reader)
        ).json()
        by_admin = (await api.post(f"/v1/customers/{access.acme}/report-links")).json()
        assert (await web.get(f"/ui/c/{second['token']}")).status_code == 200
        await access.send(revoked(access.key_id))
        await access.key_known(revoked_too=True)
        # The minting key is revoked: its links stop working; the others' do not.
        assert (await web.get(f"/ui/c/{second['token']}")).status_code == 403
        assert (await web.get(f"/ui/c/{by_admin['token']}")).status_code == 200
        states = {
            x["id"]: x["active"]
            for x in (await api.get(f"/v1/customers/{access.acme}/report-links")).json()
        }
        assert states == {link["id"]: False, second["id"]: False, by_admin["id"]: True}


async def test_no_link_secret_no_links(isolation):
    settings = _settings(isolation, report_link_secret=None)
    acme = uuid.uuid4()
    async with serve(build(settings, clock=FixedClock(NOW))) as api:
        await publish(isolation.amqp_url, isolation.amqp_prefix, customer(acme))

        async def known():
            response = await api.post(f"/v1/customers/{acme}/report-links")
            assert response.status_code != 404
            return response

        refused = await eventually(known)
        assert refused.status_code == 503
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "BURNRATE_REPORT_LINK_SECRET" in refused.json()["detail"]
        # A token signed with the old built-in development constant opens nothing.
        old_constant = b"development-only-report-link-secret"
        payload = _b64(json.dumps({"c": str(acme), "e": 4102444800}).encode())
        forged = f"{payload}.{_b64(hmac.new(old_constant, payload.encode(), 'sha256').digest())}"
        page = await api.get(f"/ui/c/{forged}")
        assert page.status_code == 403 and "This link has expired" in page.text


# --- bad input: error pages, not 500s --------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def signed(data) -> str:
    payload = _b64(json.dumps(data).encode())
    digest = hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(digest)}"


async def test_bad_tokens_are_error_pages(access):
    acme = str(access.acme)
    tokens = [
        "é",
        "ü.ü",
        "x" * 5000,
        f"{_b64(b'{}')}.é€",
        signed({"c": acme, "e": 10**20}),
        signed({"c": acme, "e": 1e300}),
        signed({"c": acme, "e": -(10**20)}),
        signed({"c": acme, "e": True}),
        signed({"c": acme, "e": [1]}),
        signed([acme, 4102444800]),
        signed({"c": [acme], "e": 4102444800}),
        signed({"c": 42, "e": 4102444800}),
        signed({"c": acme, "e": 4102444800, "l": ["x"]}),
        signed({"c": acme, "e": 4102444800, "l": "not-a-uuid"}),
        signed({"c": acme, "e": 4102444800, "l": str(uuid.uuid4())}),  # no such record
        signed("text"),
        signed(None),
    ]
    async with access.browser() as web:
        for token in tokens:
            for path in ("", f"/contracts/{access.k}/report", f"/contracts/{access.k}/report.csv"):
                response = await web.get(f"/ui/c/{token}{path}")
                assert response.status_code == 403, (token, path, response.status_code)
                assert "This link has expired" in response.text
                assert "K-1" not in response.text


async def test_csv_cells_never_run_as_formulas(access):
    titles = {
        "TAB": "\t=1+2",
        "CR": "\r=cmd|' /C calc'!A0",
        "LF": "\n=1+2",
        "EQ": '=HYPERLINK("http://evil.example","x")',
        "PLUS": "+1+1",
        "MINUS": "-2+3",
        "AT": "@SUM(A1:A2)",
        "PLAIN": "Plain title",
    }
    ids = {code: uuid.uuid4() for code in titles}
    await access.send(
        *[contract(ids[code], access.acme, code, title) for code, title in titles.items()]
    )

    async def exported():
        response = await access.api.get("/v1/contracts", params={"format": "csv", "limit": 50})
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert len(rows) == len(titles) + 1
        return response, rows

    response, rows = await eventually(exported)
    shown = {r["code"]: r["title"] for r in rows}
    for code, title in titles.items():
        expected = title if code == "PLAIN" else "'" + title
        assert shown[code] == expected, code
    roll_up = await access.api.get(f"/v1/customers/{access.acme}/report", params={"format": "csv"})
    titles_there = {r["code"]: r["title"] for r in csv.DictReader(io.StringIO(roll_up.text))}
    assert titles_there["TAB"] == "'\t=1+2" and titles_there["AT"] == "'@SUM(A1:A2)"
    assert response.headers["content-disposition"] == 'attachment; filename="contracts.csv"'
