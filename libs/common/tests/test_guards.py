"""The checks every route gets before its handler reads the body (``guards``, ``auth``)."""

from typing import Annotated

import pytest
from burnrate_common.auth import Principal, require
from burnrate_common.runtime import ServiceDefinition
from burnrate_common.settings import ServiceSettings
from burnrate_testing import serve
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, field_validator

pytestmark = pytest.mark.integration

router = APIRouter(prefix="/v1/things")
Reader = Annotated[Principal, Depends(require("contracts:read"))]


class ThingIn(BaseModel):
    name: str
    tags: list[str] = []

    @field_validator("name")
    @classmethod
    def _not_x(cls, value: str) -> str:
        if value == "x":
            raise ValueError("x is not a name")
        return value


@router.get("")
async def list_things(_: Reader, team: Annotated[str | None, Query()] = None) -> dict[str, str]:
    return {"team": team or ""}


@router.post("")
async def add_thing(thing: ThingIn, _: Reader) -> dict[str, str]:
    return {"name": thing.name}


@router.get("/{name}")
async def get_thing(name: str, _: Reader) -> dict[str, str]:
    return {"name": name}


@pytest.fixture
async def client(isolation):
    settings = isolation.settings(
        ServiceSettings,
        service_name="probe",
        max_json_body_bytes=2048,
        auth_failures_per_minute=3,
    )
    definition = ServiceDefinition(
        settings=settings, package="burnrate_common", title="t", deps=None, routers=[router]
    )
    async with serve(definition) as client:
        yield client


async def test_an_unknown_query_parameter_is_named(client):
    assert (await client.get("/v1/things", params={"team": "a"})).json() == {"team": "a"}
    refused = await client.get("/v1/things", params={"attributed": "false"})
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["errors"] == [
        {"field": "attributed", "message": "not a parameter of this route"}
    ]
    assert "team" in refused.json()["detail"]


@pytest.mark.parametrize(
    ("request_args", "field"),
    [
        ({"method": "GET", "url": "/v1/things?team=a%00b"}, "team"),
        ({"method": "GET", "url": "/v1/things/a%00b"}, "path"),
        ({"method": "POST", "url": "/v1/things", "json": {"name": "a\x00"}}, "name"),
        (
            {"method": "POST", "url": "/v1/things", "json": {"name": "a", "tags": ["\x00"]}},
            "tags.0",
        ),
    ],
)
async def test_a_nul_character_is_a_422_naming_where_it_is(client, request_args, field):
    response = await client.request(**request_args)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


async def test_a_literal_backslash_u0000_in_text_is_no_nul(client):
    response = await client.post("/v1/things", json={"name": "\\u0000"})
    assert response.status_code == 200
    assert response.json() == {"name": "\\u0000"}


async def test_a_json_body_above_the_cap_is_refused_before_it_is_read(client):
    big = {"name": "a" * 4000}
    refused = await client.post("/v1/things", json=big)
    assert refused.status_code == 413 and refused.json()["errors"][0]["field"] == "body"

    async def chunks():  # no Content-Length: counted while it streams
        for _ in range(10):
            yield b" " * 1000
        yield b'{"name": "a"}'

    streamed = await client.post(
        "/v1/things", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413


async def test_a_request_without_a_valid_key_is_refused_before_its_body_is_read(client):
    big = {"name": "a" * 4000}
    no_key = await client.post("/v1/things", json=big, headers={"authorization": ""})
    assert no_key.status_code == 401
    bad_key = await client.post("/v1/things", json=big, headers={"authorization": "Bearer nope"})
    assert bad_key.status_code == 401


async def test_repeated_failed_authentication_gets_429_with_retry_after(client):
    for _ in range(3):
        refused = await client.get("/v1/things", headers={"authorization": "Bearer nope"})
        assert refused.status_code == 401
    limited = await client.get("/v1/things", headers={"authorization": "Bearer nope"})
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    # The limit is on failures: nothing else of the API changed.
    assert (await client.get("/healthz")).status_code == 200


async def test_a_body_sent_without_a_json_content_type_says_what_to_send(client):
    response = await client.post(
        "/v1/things",
        content=b'{"name": "a"}',
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415
    assert "Content-Type: application/json" in response.json()["detail"]


async def test_a_validators_message_comes_without_pydantics_prefix(client):
    response = await client.post("/v1/things", json={"name": "x"})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "name", "message": "x is not a name"}]
