"""Jira Cloud webhooks: ``worklog_created``, ``worklog_updated``, ``worklog_deleted`` and
``jira:issue_*``. The signature is checked by ``auth.JiraSignedBody``; the use case is in
``service.jira``.
"""

from __future__ import annotations

from typing import Annotated

from burnrate_common.deps import RuntimeDep
from fastapi import APIRouter, Query

from burnrate_worklog_ingest.api import DepsDep
from burnrate_worklog_ingest.auth import JiraSignedBody
from burnrate_worklog_ingest.schemas import JiraOut
from burnrate_worklog_ingest.service import jira

router = APIRouter(prefix="/v1/webhooks", tags=["sources"])


@router.post(
    "/jira",
    response_model=JiraOut,
    summary="Jira Cloud webhook (worklog_created / _updated / _deleted, jira:issue_*)",
)
async def jira_webhook(
    body: JiraSignedBody,
    runtime: RuntimeDep,
    deps: DepsDep,
    issue_key: Annotated[
        str | None, Query(description="The issue's key (`${issue.key}` in the webhook URL)")
    ] = None,
    team: Annotated[str | None, Query(description="Else jira_default_team")] = None,
    activity: Annotated[str | None, Query(description="Else jira_default_activity")] = None,
) -> JiraOut:
    return await jira.receive_webhook(
        runtime.pool, deps, body, issue_key=issue_key, team=team, activity=activity
    )
