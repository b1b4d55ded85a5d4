"""Jira Cloud webhooks: ``worklog_created``, ``worklog_updated``, ``worklog_deleted``.

Jira signs the body with the webhook's secret: ``X-Hub-Signature: sha256=<hex HMAC-SHA256>``.
A missing or bad signature is a 401 and nothing is stored.

A worklog webhook names its issue by id only. The project key (for attribution) and the issue
key (the worklog's ticket) come from, in this order: the ``issue_key`` query parameter (Jira
can put ``${issue.key}`` in the webhook URL), the issue as last seen in a
``jira:issue_created`` / ``jira:issue_updated`` webhook to this same endpoint. Without either
the worklog is kept unattributed (reason ``unknown_jira_issue``). Jira worklogs carry no
team or activity: they come from the ``team`` / ``activity`` query parameters, else the
``jira_default_team`` / ``jira_default_activity`` settings.

The same delivery three times is one worklog; an update older (by Jira's ``updated``) than the
stored version changes nothing; a delete is final, and a delete that arrives before its
create leaves a tombstone so the late create does not bring the worklog back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any, cast

from burnrate_common import outbox
from burnrate_common.deps import RuntimeDep
from burnrate_common.errors import Problem
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from burnrate_worklog_ingest import ingest, store
from burnrate_worklog_ingest.domain.attribution import Attribution, RoutingError, Unroutable
from burnrate_worklog_ingest.ingest import WORKLOG_IN, Source, WorklogIn
from burnrate_worklog_ingest.settings import WorklogIngestSettings

router = APIRouter(prefix="/v1/webhooks", tags=["sources"])

SIGNATURE_HEADER = "X-Hub-Signature"
MAX_BODY_BYTES = 1024 * 1024


class JiraUser(BaseModel):
    model_config = ConfigDict(extra="ignore")
    accountId: str | None = None
    emailAddress: str | None = None
    displayName: str | None = None

    @property
    def name(self) -> str:
        return self.emailAddress or self.displayName or self.accountId or "unknown"


class JiraWorklog(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(coerce_numbers_to_str=True)
    issueId: str = Field(coerce_numbers_to_str=True)
    author: JiraUser | None = None
    timeSpentSeconds: int
    started: dt.datetime
    updated: dt.datetime | None = None


class JiraWebhook(BaseModel):
    model_config = ConfigDict(extra="ignore")
    timestamp: int | None = None
    webhookEvent: str
    worklog: JiraWorklog | None = None
    issue: dict[str, Any] | None = None


class JiraOut(BaseModel):
    event: str
    outcome: str = Field(description="created, duplicate, updated, stale, deleted, ignored")
    worklog_id: str | None = None
    attributed: bool | None = None


def verify(secret: str | None, body: bytes, header: str | None) -> None:
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


def _sent_at(hook: JiraWebhook) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(hook.timestamp / 1000, dt.UTC) if hook.timestamp else None


def _issue_project(issue_key: str) -> str:
    return issue_key.rsplit("-", 1)[0]


@router.post(
    "/jira",
    response_model=JiraOut,
    summary="Jira Cloud webhook (worklog_created / _updated / _deleted, jira:issue_*)",
)
async def jira_webhook(request: Request, runtime: RuntimeDep) -> JiraOut:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise Problem(413, "Body too large", "At most 1 MiB per webhook.", field="body")
    settings = cast(WorklogIngestSettings, runtime.settings)
    secret = settings.jira_webhook_secret
    verify(
        secret.get_secret_value() if secret else None, body, request.headers.get(SIGNATURE_HEADER)
    )
    try:
        hook = JiraWebhook.model_validate(json.loads(body))
    except (ValueError, ValidationError) as exc:
        raise Problem(422, "Invalid Jira webhook", str(exc)[:500], field="body") from exc
    event = hook.webhookEvent
    producer = settings.service_name
    async with runtime.pool.acquire() as conn:
        if event.startswith("jira:issue_") and hook.issue:
            issue = hook.issue
            key = issue.get("key")
            project = ((issue.get("fields") or {}).get("project") or {}).get("key")
            if issue.get("id") and key:
                await store.upsert_jira_issue(
                    conn, str(issue["id"]), key, project or _issue_project(key)
                )
                return JiraOut(event=event, outcome="issue_recorded")
            return JiraOut(event=event, outcome="ignored")
        if event not in ("worklog_created", "worklog_updated", "worklog_deleted"):
            return JiraOut(event=event, outcome="ignored")
        if hook.worklog is None:
            raise Problem(422, "Invalid Jira webhook", "worklog is missing", field="worklog")
        w = hook.worklog
        issue_key = request.query_params.get("issue_key")
        if not issue_key and (known := await store.jira_issue(conn, w.issueId)):
            issue_key = known["issue_key"]
        params = request.query_params
        try:
            item = WORKLOG_IN.validate_python(
                {
                    "source": Source.JIRA,
                    "external_id": w.id,
                    "project_key": _issue_project(issue_key) if issue_key else None,
                    "author": w.author.name if w.author else "unknown",
                    "team": params.get("team") or settings.jira_default_team,
                    "activity": params.get("activity") or settings.jira_default_activity,
                    "started_at": w.started,
                    "seconds": w.timeSpentSeconds,
                    "ticket": issue_key,
                    "source_updated_at": w.updated or _sent_at(hook),
                }
            )
        except ValidationError as exc:
            raise Problem(422, "Invalid Jira worklog", str(exc)[:500], field="worklog") from exc
        [outcome] = (await ingest.attribute_items(conn, {0: item})).values()
        if isinstance(outcome, RoutingError) and outcome.reason is Unroutable.NO_ROUTE_GIVEN:
            outcome = RoutingError(
                Unroutable.UNKNOWN_JIRA_ISSUE, "worklog.issueId", f"issue {w.issueId} unknown"
            )
        async with conn.transaction():
            if event == "worklog_deleted":
                return await _delete(conn, item, outcome, producer)
            [result] = await ingest.record(conn, [item], [outcome], producer)
    return JiraOut(
        event=event,
        outcome=result.outcome.value,
        worklog_id=str(result.row["id"]),
        attributed=result.row["contract_id"] is not None,
    )


async def _delete(
    conn: Any, item: WorklogIn, outcome: Attribution | RoutingError, producer: str
) -> JiraOut:
    key = (item["source"].value, item["external_id"])
    stored = await store.worklog_by_key(conn, *key, for_update=True)
    if stored is None:
        # Deleted before it was created here (out of order): a tombstone, no events, so the
        # late create is a duplicate of a deleted worklog.
        row = await store.insert_worklog(conn, ingest.new_row(item, outcome))
        if row is not None:
            await store.soft_delete_worklog(conn, row["id"], item.get("source_updated_at"))
            return JiraOut(event="worklog_deleted", outcome="deleted", worklog_id=str(row["id"]))
        stored = await store.worklog_by_key(conn, *key, for_update=True)  # created meanwhile
        assert stored is not None
    if stored["deleted_at"] is not None:
        return JiraOut(event="worklog_deleted", outcome="duplicate", worklog_id=str(stored["id"]))
    new = await store.soft_delete_worklog(conn, stored["id"], item.get("source_updated_at"))
    assert new is not None  # locked above and not deleted
    await outbox.add(conn, ingest.changed_events([(stored, new)], producer))
    return JiraOut(event="worklog_deleted", outcome="deleted", worklog_id=str(stored["id"]))
