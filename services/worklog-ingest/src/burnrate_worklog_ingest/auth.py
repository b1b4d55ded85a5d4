"""Who may call worklog-ingest: API keys with a worklogs scope, and Jira's signed webhooks.

A Jira webhook delivery is trusted as far as it is signed:

* the body: Jira signs it with the webhook's secret, ``X-Hub-Signature: sha256=<hex
  HMAC-SHA256(secret, body)>``;
* the query parameters ``team``, ``activity`` and ``location`` (which route and label the
  hours): Jira does not sign the URL, so the URL carries ``sig``, the hex HMAC-SHA256 with
  the same secret of the string :func:`signed_parameters` writes: the line
  ``burnrate-jira-params-v1``, then one line ``name=value`` per parameter given, by name
  (``POST /v1/webhooks/jira/signed-parameters`` computes it). A parameter given without a
  valid ``sig`` is refused (401);
* ``issue_key`` (``${issue.key}``, different in every delivery) cannot be signed in advance:
  the key of the issue as learnt from a signed ``jira:issue_*`` delivery wins over it, and
  the replay rule (``service.jira``) applies a signed body once only, so a captured body
  cannot be sent again with another ``issue_key``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from burnrate_common.auth import Principal, require
from burnrate_common.bodies import read_capped
from burnrate_common.deps import get_deps
from burnrate_common.errors import Problem
from fastapi import Depends, Query, Request

from burnrate_worklog_ingest.service import Deps

WorklogsReader = Annotated[Principal, Depends(require("worklogs:read"))]
WorklogsWriter = Annotated[Principal, Depends(require("worklogs:write"))]

SIGNATURE_HEADER = "X-Hub-Signature"
MAX_JIRA_BODY_BYTES = 1024 * 1024


def verify_jira_signature(secret: str | None, body: bytes, header: str | None) -> None:
    """Jira signs the body with the webhook's secret: ``X-Hub-Signature: sha256=<hex
    HMAC-SHA256>``. Unset secret: 503 (webhooks not configured); missing or bad: 401."""
    if not secret:
        raise Problem(
            503,
            "Jira webhooks not configured",
            "Set BURNRATE_JIRA_WEBHOOK_SECRET to accept Jira webhooks.",
            field=SIGNATURE_HEADER,
        )
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not header or not hmac.compare_digest(header.strip().lower(), expected):
        raise Problem(
            401,
            "Bad signature",
            f"{SIGNATURE_HEADER} must be sha256=<HMAC-SHA256 of the body with the shared secret>.",
            field=SIGNATURE_HEADER,
        )


async def jira_signed_body(request: Request, deps: Annotated[Deps, Depends(get_deps)]) -> bytes:
    """The body of a Jira webhook (at most 1 MiB), once its signature is checked."""
    body = await read_capped(request, MAX_JIRA_BODY_BYTES, what="webhook")
    secret = deps.settings.jira_webhook_secret
    verify_jira_signature(
        secret.get_secret_value() if secret else None, body, request.headers.get(SIGNATURE_HEADER)
    )
    return body


#: A Jira webhook's body, signed with the shared secret.
JiraSignedBody = Annotated[bytes, Depends(jira_signed_body)]


#: The first line of the string ``sig`` signs (a version, so the scheme can change).
PARAMETERS_SIGNATURE_VERSION = "burnrate-jira-params-v1"


def signed_parameters(params: dict[str, str]) -> str:
    """The exact string ``sig`` is the HMAC-SHA256 of: the version line, then
    ``name=value`` per parameter, sorted by name, joined by newlines."""
    return "\n".join([PARAMETERS_SIGNATURE_VERSION, *(f"{k}={params[k]}" for k in sorted(params))])


def parameters_signature(secret: str, params: dict[str, str]) -> str:
    return hmac.new(secret.encode(), signed_parameters(params).encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class JiraParameters:
    """The query parameters of a Jira webhook URL, ``team`` / ``activity`` / ``location``
    verified against ``sig``."""

    issue_key: str | None = None
    team: str | None = None
    activity: str | None = None
    location: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v is not None}


async def jira_parameters(
    deps: Annotated[Deps, Depends(get_deps)],
    issue_key: Annotated[
        str | None,
        Query(description="The issue's key (`${issue.key}` in the webhook URL); not signed"),
    ] = None,
    team: Annotated[str | None, Query(description="Else jira_default_team; signed")] = None,
    activity: Annotated[str | None, Query(description="Else jira_default_activity; signed")] = None,
    location: Annotated[str | None, Query(description="Else jira_default_location; signed")] = None,
    sig: Annotated[
        str | None,
        Query(description="hex HMAC-SHA256 of team / activity / location (see the route)"),
    ] = None,
) -> JiraParameters:
    given = {
        name: value
        for name, value in (("activity", activity), ("location", location), ("team", team))
        if value is not None
    }
    if given:
        secret = deps.settings.jira_webhook_secret
        if secret is None:
            raise Problem(503, "Jira webhooks not configured", field=SIGNATURE_HEADER)
        names = ", ".join(sorted(given))
        if sig is None:
            raise Problem(
                401,
                "Unsigned parameters",
                f"{names}: not signed by Jira; add sig=<hex HMAC-SHA256 with the webhook "
                f"secret of {signed_parameters(given)!r}> to the webhook URL.",
                field=sorted(given)[0],
            )
        expected = parameters_signature(secret.get_secret_value(), given)
        if not hmac.compare_digest(sig.strip().lower(), expected):
            raise Problem(
                401,
                "Bad parameter signature",
                f"sig must be the hex HMAC-SHA256 with the webhook secret of "
                f"{signed_parameters(given)!r}.",
                field="sig",
            )
    return JiraParameters(issue_key=issue_key, team=team, activity=activity, location=location)


#: The query parameters of a Jira webhook, the signed ones checked.
JiraSignedParameters = Annotated[JiraParameters, Depends(jira_parameters)]
