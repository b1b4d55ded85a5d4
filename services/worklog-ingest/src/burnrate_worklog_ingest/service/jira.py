"""Jira Cloud webhooks: ``worklog_created``, ``worklog_updated``, ``worklog_deleted``.

The body's signature is checked before it gets here (``auth.JiraSignedBody``).

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
import json

import asyncpg
from burnrate_common import outbox
from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from pydantic import ValidationError

from burnrate_worklog_ingest import store
from burnrate_worklog_ingest.domain.attribution import Attribution, RoutingError, Unroutable
from burnrate_worklog_ingest.schemas import WORKLOG_IN, JiraOut, JiraWebhook, Source, WorklogIn
from burnrate_worklog_ingest.service import Deps, ingest


def _sent_at(hook: JiraWebhook) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(hook.timestamp / 1000, dt.UTC) if hook.timestamp else None


def _issue_project(issue_key: str) -> str:
    return issue_key.rsplit("-", 1)[0]


async def receive_webhook(
    pool: asyncpg.Pool,
    deps: Deps,
    body: bytes,
    *,
    issue_key: str | None,
    team: str | None,
    activity: str | None,
) -> JiraOut:
    """One webhook delivery (its signed body): an issue remembered, a worklog recorded or
    deleted, or an event ignored. ``issue_key``, ``team`` and ``activity`` are the webhook
    URL's query parameters, if any."""
    settings = deps.settings
    try:
        hook = JiraWebhook.model_validate(json.loads(body))
    except (ValueError, ValidationError) as exc:
        raise Problem(422, "Invalid Jira webhook", str(exc)[:500], field="body") from exc
    event = hook.webhookEvent
    producer = deps.producer
    async with pool.acquire() as conn:
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
        if not issue_key and (known := await store.jira_issue(conn, w.issueId)):
            issue_key = known["issue_key"]
        try:
            item = WORKLOG_IN.validate_python(
                {
                    "source": Source.JIRA,
                    "external_id": w.id,
                    "project_key": _issue_project(issue_key) if issue_key else None,
                    "author": w.author.name if w.author else "unknown",
                    "team": team or settings.jira_default_team,
                    "activity": activity or settings.jira_default_activity,
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
    conn: Connection, item: WorklogIn, outcome: Attribution | RoutingError, producer: str
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
