"""Jira Cloud webhooks: ``worklog_created``, ``worklog_updated``, ``worklog_deleted`` and
``jira:issue_*``. The signatures are checked by ``auth.JiraSignedBody`` and
``auth.JiraSignedParameters``; the use case is in ``service.jira``.
"""

from __future__ import annotations

from typing import Annotated

from burnrate_common.deps import RuntimeDep
from fastapi import APIRouter, Header

from burnrate_worklog_ingest.api import DepsDep
from burnrate_worklog_ingest.auth import (
    PARAMETERS_SIGNATURE_VERSION,
    JiraSignedBody,
    JiraSignedParameters,
    WorklogsWriter,
)
from burnrate_worklog_ingest.schemas import JiraOut, JiraUrlIn, JiraUrlOut
from burnrate_worklog_ingest.service import jira

router = APIRouter(prefix="/v1/webhooks", tags=["sources"])


@router.post(
    "/jira",
    response_model=JiraOut,
    summary="Jira Cloud webhook (worklog_created / _updated / _deleted, jira:issue_*)",
    description=(
        "Signed: the body by Jira (`X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, "
        "body)>`); the query parameters `team`, `activity`, `location` by `sig`, the hex "
        "HMAC-SHA256 with the same secret of the lines "
        f"`{PARAMETERS_SIGNATURE_VERSION}` and `name=value` per parameter given, sorted by "
        "name, joined by a newline (`POST /v1/webhooks/jira/signed-parameters` writes it). "
        "Unsigned or badly signed: 401. `issue_key` (`${issue.key}`) cannot be signed in "
        "advance: the key learnt from a signed `jira:issue_*` delivery wins over it.\n\n"
        "Replay rule: a delivery is applied only if its signed `timestamp` is within "
        "`jira_replay_window_seconds` (default 1800) of now, and once: the same body again "
        "answers `duplicate`. A delivery that cannot be applied (outside the window, a bad "
        "field, an error of ours) is kept as received under `/v1/worklogs/rejected` and "
        "answered 200 `rejected`, so Jira does not disable the webhook; replay it there. "
        "503 with Retry-After only when the database is away (Jira retries). Any duration "
        "is accepted; above 31 days the worklog is kept unattributed."
    ),
)
async def jira_webhook(
    body: JiraSignedBody,
    params: JiraSignedParameters,
    runtime: RuntimeDep,
    deps: DepsDep,
    x_atlassian_webhook_identifier: Annotated[str | None, Header()] = None,
) -> JiraOut:
    return await jira.receive_webhook(
        runtime.pool, deps, body, params, identifier=x_atlassian_webhook_identifier
    )


@router.post(
    "/jira/signed-parameters",
    response_model=JiraUrlOut,
    summary="The signed query string for a Jira webhook URL (team, activity, location)",
)
async def sign_parameters(body: JiraUrlIn, deps: DepsDep, _: WorklogsWriter) -> JiraUrlOut:
    return jira.sign_parameters(deps, body)
