"""Every service can keep its schema on a PostgreSQL server of its own:
``BURNRATE_<SERVICE>_DATABASE_URL`` overrides ``BURNRATE_DATABASE_URL`` for that service alone
(and ``BURNRATE_<SERVICE>_READ_DATABASE_URL`` names where its read-only queries may go)."""

from __future__ import annotations

import importlib
import uuid

import asyncpg
import pytest
from burnrate_common.runtime import migrate
from burnrate_common.settings import ServiceSettings, service_variable
from burnrate_devstack.stack import SERVICES
from replicated_stack import drop_database, fresh_database


def settings_class(service: str) -> type[ServiceSettings]:
    module, _ = SERVICES[service]
    settings = importlib.import_module(f"{module}.settings")
    found = [
        value
        for value in vars(settings).values()
        if isinstance(value, type)
        and issubclass(value, ServiceSettings)
        and value.__module__ == settings.__name__
    ]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("service", list(SERVICES))
def test_a_service_takes_its_own_database_url_before_the_shared_one(service, monkeypatch):
    cls = settings_class(service)
    monkeypatch.setenv("BURNRATE_DATABASE_URL", "postgresql://shared/burnrate")
    assert cls().database_url == "postgresql://shared/burnrate"
    assert cls().read_database_url is None

    own = f"postgresql://{service}-server/burnrate"
    monkeypatch.setenv(service_variable(service, "database_url"), own)
    monkeypatch.setenv(service_variable(service, "read_database_url"), own + "-replica")
    settings = cls()
    assert settings.database_url == own
    assert settings.read_database_url == own + "-replica"
    # A value passed in code (tests, the composition root) still wins.
    assert cls(database_url="postgresql://given/db").database_url == "postgresql://given/db"
    # The other services do not see it.
    for other in SERVICES:
        if other != service:
            assert settings_class(other)().database_url == "postgresql://shared/burnrate"


def test_the_variable_names_the_service():
    assert service_variable("worklog-ingest", "database_url") == (
        "BURNRATE_WORKLOG_INGEST_DATABASE_URL"
    )
    assert service_variable("reporting", "read_database_url") == (
        "BURNRATE_REPORTING_READ_DATABASE_URL"
    )


async def test_a_service_migrates_and_connects_where_its_own_url_points(
    postgres_server_url, monkeypatch
):
    from burnrate_rules.bootstrap import build

    shared_name, own_name = (f"burnrate_{k}_{uuid.uuid4().hex[:8]}" for k in ("shared", "own"))
    shared = await fresh_database(postgres_server_url, shared_name)
    own = await fresh_database(postgres_server_url, own_name)
    try:
        monkeypatch.setenv("BURNRATE_DATABASE_URL", shared)
        monkeypatch.setenv("BURNRATE_RULES_DATABASE_URL", own)
        definition = build()
        assert definition.settings.database_url == own
        assert await migrate(definition)  # something applied, on its own database
        for url, expected in ((own, True), (shared, False)):
            conn = await asyncpg.connect(url)
            try:
                found = await conn.fetchval(
                    "SELECT exists (SELECT FROM pg_namespace WHERE nspname = 'rules')"
                )
            finally:
                await conn.close()
            assert found is expected, url
    finally:
        await drop_database(postgres_server_url, shared_name)
        await drop_database(postgres_server_url, own_name)
