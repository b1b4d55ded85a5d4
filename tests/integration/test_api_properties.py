"""Every route of every service, fed generated input from its own OpenAPI document
(schemathesis): never a 5xx, and every answer is one the document declares — status, content
type and body. Valid input (by the document) and invalid input alike.

The size is set by ``BURNRATE_API_EXAMPLES`` (examples per operation and mode; CI's default
fits in a minute or two). A failure prints the request as a curl command.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from typing import Any, cast

import httpx
import pytest
import schemathesis
from burnrate_billing.bootstrap import build as build_billing
from burnrate_billing.settings import BillingSettings
from burnrate_contracts.bootstrap import build as build_contracts
from burnrate_contracts.settings import ContractsSettings
from burnrate_notifier.bootstrap import build as build_notifier
from burnrate_notifier.settings import NotifierSettings
from burnrate_reporting.bootstrap import build as build_reporting
from burnrate_reporting.settings import ReportingSettings
from burnrate_rules.bootstrap import build as build_rules
from burnrate_rules.settings import RulesSettings
from burnrate_testing import serve
from burnrate_tickets.bootstrap import build as build_tickets
from burnrate_tickets.settings import TicketsSettings
from burnrate_worklog_ingest.bootstrap import build as build_ingest
from burnrate_worklog_ingest.settings import WorklogIngestSettings
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("BURNRATE_API_EXAMPLES", "15"))
SERVICES: dict[str, tuple[Callable[..., Any], type]] = {
    "contracts": (build_contracts, ContractsSettings),
    "worklog-ingest": (build_ingest, WorklogIngestSettings),
    "rules": (build_rules, RulesSettings),
    "notifier": (build_notifier, NotifierSettings),
    "reporting": (build_reporting, ReportingSettings),
    "billing": (build_billing, BillingSettings),
    "tickets": (build_tickets, TicketsSettings),
}
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]


@schemathesis.serializer("application/x-ndjson")
def ndjson(context: Any, value: Any) -> bytes:
    """Line-delimited JSON bodies (the streaming import): one generated value per line."""
    items = value if isinstance(value, list) else [value]
    return "\n".join(json.dumps(item) for item in items).encode()


@schemathesis.serializer("text/csv")
def csv_text(context: Any, value: Any) -> bytes:
    """A CSV body: generated text as it is."""
    return (value if isinstance(value, str) else json.dumps(value)).encode()


#: Settings a service needs for all its routes to be in use (webhook secrets).
OVERRIDES: dict[str, dict[str, Any]] = {
    "worklog-ingest": {"jira_webhook_secret": "api-properties-secret"},
    "tickets": {
        "jsm_webhook_secret": "api-properties-secret",
        "zendesk_webhook_secret": "api-properties-secret",
    },
}


def _request_of(case: Any) -> dict[str, Any]:
    kwargs = case.as_transport_kwargs(base_url="http://service")
    kwargs.pop("cookies", None)
    headers = {k: v for k, v in kwargs.pop("headers", {}).items() if k.lower() != "connection"}
    if isinstance(kwargs.get("data"), bytes | str):
        kwargs["content"] = kwargs.pop("data")  # raw bytes, as httpx names them
    return {**kwargs, "headers": headers}


@pytest.mark.parametrize("service", list(SERVICES))
async def test_no_route_answers_5xx_or_outside_its_document(isolation, service: str) -> None:
    build, settings_class = SERVICES[service]
    definition = build(isolation.settings(settings_class, **OVERRIDES.get(service, {})))
    loop = asyncio.get_running_loop()
    failures: list[str] = []
    async with serve(definition) as client:
        schema = schemathesis.openapi.from_dict(client.app.openapi())  # type: ignore[attr-defined]

        def call(case: Any) -> httpx.Response:
            future = asyncio.run_coroutine_threadsafe(client.request(**_request_of(case)), loop)
            return future.result(timeout=60)

        def checker(operation: Any, mode: GenerationMode) -> Callable[[], None]:
            @settings(
                max_examples=EXAMPLES,
                report_multiple_bugs=False,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case: Any) -> None:
                response = call(case)
                where = f"{mode.value}: {case.as_curl_command()}"
                assert response.status_code < 500, f"{response.status_code} {where}"
                try:
                    case.validate_response(response, checks=CHECKS)
                except (Exception, BaseExceptionGroup) as exc:  # a group of failures
                    raise AssertionError(f"{where}\n{exc}") from None

            return check

        def explore() -> None:
            for result in schema.get_all_operations():
                operation = cast(Any, result).ok()  # an invalid operation raises here
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    try:
                        checker(operation, mode)()
                    except Unsatisfiable:
                        pass  # nothing to make invalid (a route without input)
                    except (Exception, BaseExceptionGroup) as exc:
                        # One failure per operation and mode is enough to act on (a second
                        # call of a creating route may answer differently: not "flaky").
                        cause = exc.exceptions[0] if isinstance(exc, BaseExceptionGroup) else exc
                        failures.append(f"{operation.method.upper()} {operation.path}: {cause}")

        await asyncio.to_thread(explore)
    assert not failures, "\n\n".join(failures[:20]) + f"\n\n({len(failures)} operations failed)"
