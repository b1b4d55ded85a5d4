"""Jira Cloud webhooks: ``worklog_created``, ``worklog_updated``, ``worklog_deleted``.

The body's signature and the signed query parameters are checked before it gets here
(``auth``).

A worklog webhook names its issue by id only. The project key (for attribution) and the issue
key (the worklog's ticket) come from, in this order: the issue as last seen in a signed
``jira:issue_created`` / ``jira:issue_updated`` webhook to this same endpoint, the
``issue_key`` query parameter (Jira can put ``${issue.key}`` in the webhook URL). Without
either the worklog is kept unattributed (reason ``unknown_jira_issue``). Jira worklogs carry
no team, activity or location: they come from the signed ``team`` / ``activity`` /
``location`` query parameters, else the ``jira_default_*`` settings.

The replay rule: a delivery is applied only when its signed ``timestamp`` (Jira's, in the
body) is within ``jira_replay_window_seconds`` of now, and only once: the SHA-256 of its
body is remembered for that long, so the same body again (a retry, or a replay with other
query parameters) is answered ``duplicate`` and changes nothing. A delivery outside the
window is not applied but kept (``outside_replay_window``) for a person to replay.

Nothing Jira sends is lost: a delivery that cannot be applied (not a webhook we read, a bad
field, outside the window, an error of ours) is kept as received under
``/v1/worklogs/rejected`` and answered 200 ``rejected``, so Jira neither retries it in vain
nor disables the webhook. Only a database that is away answers 503 (Jira retries).

Beyond that, the same worklog three times is one worklog; an update older (by Jira's
``updated``) than the stored version changes nothing; a delete is final, and a delete that
arrives before its create (or of a worklog never seen) leaves a tombstone, so the late create
does not bring the worklog back. Any duration is accepted (see ``ingest``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from urllib.parse import urlencode

import asyncpg
from burnrate_common import outbox
from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from pydantic import ValidationError

from burnrate_worklog_ingest import auth, store
from burnrate_worklog_ingest.domain.attribution import Attribution, RoutingError, Unroutable
from burnrate_worklog_ingest.schemas import (
    WORKLOG_IN,
    JiraOut,
    JiraUrlIn,
    JiraUrlOut,
    JiraWebhook,
    Source,
    WayIn,
    WorklogIn,
    error_message,
)
from burnrate_worklog_ingest.service import Deps, ingest
from burnrate_worklog_ingest.service.kept import UNAVAILABLE, Kept, keep

log = logging.getLogger(__name__)

#: A Jira issue key: a project key (a letter, then letters, digits or _), a dash, a number.
ISSUE_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]*-[0-9]+")


class Refusal(Exception):
    """Why a delivery is not applied (it is kept)."""

    def __init__(self, reason: str, field: str | None, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.field, self.detail = reason, field, detail


def _issue_project(issue_key: str) -> str:
    return issue_key.rsplit("-", 1)[0]


def parse(body: bytes) -> JiraWebhook:
    try:
        return JiraWebhook.model_validate(json.loads(body))
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, ValidationError):
            errors = exc.errors(include_url=False, include_context=False, include_input=False)
            field = ".".join(str(p) for p in errors[0]["loc"]) or None
            detail = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {error_message(e)}" for e in errors
            )
            raise Refusal("invalid_webhook", field, detail) from None
        raise Refusal("not_json", None, "the body is not valid JSON") from None


def _sent_at(hook: JiraWebhook, now: dt.datetime, window: dt.timedelta) -> dt.datetime:
    """The signed time the delivery was sent, if within the window of now."""
    if hook.timestamp is None:
        raise Refusal("outside_replay_window", "timestamp", "no timestamp: cannot tell its age")
    sent_ms, now_ms = hook.timestamp, now.timestamp() * 1000
    if abs(now_ms - sent_ms) > window.total_seconds() * 1000:
        raise Refusal(
            "outside_replay_window",
            "timestamp",
            f"sent {(now_ms - sent_ms) / 1000:.0f} s before it arrived; deliveries are "
            f"applied within {window.total_seconds():.0f} s (replay it if it is genuine)",
        )
    return dt.datetime.fromtimestamp(sent_ms / 1000, dt.UTC)


async def receive_webhook(
    pool: asyncpg.Pool,
    deps: Deps,
    body: bytes,
    params: auth.JiraParameters,
    *,
    identifier: str | None,
) -> JiraOut:
    """One webhook delivery (its signed body and checked query parameters): an issue
    remembered, a worklog recorded or deleted, an event ignored, or the delivery kept as
    rejected. ``identifier``: Jira's ``X-Atlassian-Webhook-Identifier``, recorded."""
    now = deps.clock.now()
    window = dt.timedelta(seconds=deps.settings.jira_replay_window_seconds)
    event = "unknown"
    async with pool.acquire() as conn:
        try:
            hook = parse(body)
            event = hook.webhookEvent
            sent_at = _sent_at(hook, now, window)
            async with conn.transaction():
                digest = hashlib.sha256(body).digest()
                if not await store.remember_jira_delivery(
                    conn, digest, sent_at, identifier and identifier[:200], now - window
                ):
                    return JiraOut(event=event, outcome="duplicate")
                return await apply(conn, deps, hook, params, sent_at)
        except Refusal as refusal:
            return await _keep(conn, body, params, refusal, event)
        except UNAVAILABLE:
            raise
        except Exception as exc:
            log.exception("a Jira delivery could not be applied", exc_info=exc)
            bug = Refusal("internal_error", None, f"could not be applied: {type(exc).__name__}")
            return await _keep(conn, body, params, bug, event)


async def _keep(
    conn: Connection, body: bytes, params: auth.JiraParameters, refusal: Refusal, event: str
) -> JiraOut:
    async with conn.transaction():
        [kept_id] = await keep(
            conn,
            [
                Kept(
                    way_in=WayIn.JIRA,
                    source=Source.JIRA.value,
                    reason=refusal.reason,
                    field=refusal.field,
                    detail=refusal.detail,
                    payload=body,
                    params=params.as_dict(),
                )
            ],
        )
    return JiraOut(event=event[:200], outcome="rejected", rejected_id=kept_id)


async def replay(conn: Connection, deps: Deps, body: bytes, params: auth.JiraParameters) -> JiraOut:
    """A kept delivery applied again (by a person: no window, no signature). Raises
    :class:`Refusal` if it still cannot be applied."""
    hook = parse(body)
    async with conn.transaction():
        return await apply(conn, deps, hook, params, None)


async def apply(
    conn: Connection,
    deps: Deps,
    hook: JiraWebhook,
    params: auth.JiraParameters,
    sent_at: dt.datetime | None,
) -> JiraOut:
    """Apply a delivery, in the caller's transaction; raises :class:`Refusal`."""
    settings = deps.settings
    event = hook.webhookEvent
    if event.startswith("jira:issue_") and hook.issue:
        issue = hook.issue
        key = issue.get("key")
        project = ((issue.get("fields") or {}).get("project") or {}).get("key")
        if issue.get("id") and isinstance(key, str) and ISSUE_KEY.fullmatch(key):
            await store.upsert_jira_issue(
                conn, str(issue["id"]), key, project or _issue_project(key)
            )
            return JiraOut(event=event, outcome="issue_recorded")
        return JiraOut(event=event, outcome="ignored")
    if event not in ("worklog_created", "worklog_updated", "worklog_deleted"):
        return JiraOut(event=event[:200], outcome="ignored")
    if hook.worklog is None:
        raise Refusal("invalid_webhook", "worklog", "worklog is missing")
    w = hook.worklog
    known = await store.jira_issue(conn, w.issueId)
    issue_key = known["issue_key"] if known else params.issue_key
    if issue_key is not None and not ISSUE_KEY.fullmatch(issue_key):
        raise Refusal("invalid_field", "issue_key", f"{issue_key[:50]!r} is not a Jira issue key")
    fields = {
        "source": Source.JIRA,
        "external_id": w.id,
        "project_key": _issue_project(issue_key) if issue_key else None,
        "author": w.author.name if w.author else "unknown",
        "team": params.team or settings.jira_default_team,
        "activity": params.activity or settings.jira_default_activity,
        "location": params.location or settings.jira_default_location,
        "started_at": w.started,
        "seconds": w.timeSpentSeconds,
        "ticket": issue_key,
        "source_updated_at": w.updated or sent_at,
    }
    try:
        item = WORKLOG_IN.validate_python(fields)
    except ValidationError as exc:
        if event == "worklog_deleted":
            # What a delete says of the worklog does not matter; its id does.
            return await _delete_stored(conn, w.id, w.updated or sent_at, deps.producer, exc)
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        raise Refusal(
            "invalid_field",
            f"worklog.{errors[0]['loc'][0]}" if errors[0]["loc"] else "worklog",
            "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {error_message(e)}" for e in errors),
        ) from None
    [outcome] = (await ingest.attribute_items(conn, {0: item})).values()
    if isinstance(outcome, RoutingError) and outcome.reason is Unroutable.NO_ROUTE_GIVEN:
        outcome = RoutingError(
            Unroutable.UNKNOWN_JIRA_ISSUE, "worklog.issueId", f"issue {w.issueId} unknown"
        )
    if event == "worklog_deleted":
        return await _delete(conn, item, outcome, deps.producer)
    [result] = await ingest.record(conn, [item], [outcome], deps.producer)
    return JiraOut(
        event=event,
        outcome=result.outcome.value,
        worklog_id=str(result.row["id"]),
        attributed=result.row["contract_id"] is not None,
    )


async def _delete_stored(
    conn: Connection,
    external_id: str,
    updated_at: dt.datetime | None,
    producer: str,
    invalid: ValidationError,
) -> JiraOut:
    """A delete whose worklog fields are not valid: deletes the stored worklog all the same;
    of a worklog never seen it cannot leave a tombstone, so it is kept as rejected."""
    stored = await store.worklog_by_key(conn, Source.JIRA.value, external_id, for_update=True)
    if stored is None:
        errors = invalid.errors(include_url=False, include_context=False, include_input=False)
        raise Refusal(
            "invalid_field",
            "worklog",
            "a delete of a worklog never seen, with "
            + "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {error_message(e)}" for e in errors
            ),
        )
    return await _delete_row(conn, stored, updated_at, producer)


async def _delete(
    conn: Connection, item: WorklogIn, outcome: Attribution | RoutingError, producer: str
) -> JiraOut:
    key = (item["source"].value, item["external_id"])
    stored = await store.worklog_by_key(conn, *key, for_update=True)
    if stored is None:
        # Deleted before it was created here (out of order), or never seen: a tombstone, no
        # events, so a late create is a duplicate of a deleted worklog.
        row = await store.insert_worklog(conn, ingest.new_row(item, outcome))
        if row is not None:
            await store.soft_delete_worklog(conn, row["id"], item.get("source_updated_at"))
            return JiraOut(event="worklog_deleted", outcome="deleted", worklog_id=str(row["id"]))
        stored = await store.worklog_by_key(conn, *key, for_update=True)  # created meanwhile
        assert stored is not None
    return await _delete_row(conn, stored, item.get("source_updated_at"), producer)


async def _delete_row(
    conn: Connection, stored: asyncpg.Record, updated_at: dt.datetime | None, producer: str
) -> JiraOut:
    if stored["deleted_at"] is not None:
        return JiraOut(event="worklog_deleted", outcome="duplicate", worklog_id=str(stored["id"]))
    new = await store.soft_delete_worklog(conn, stored["id"], updated_at)
    assert new is not None  # locked by the caller and not deleted
    await outbox.add(conn, await ingest.change_events(conn, [(stored, new)], producer))
    return JiraOut(event="worklog_deleted", outcome="deleted", worklog_id=str(stored["id"]))


def sign_parameters(deps: Deps, wanted: JiraUrlIn) -> JiraUrlOut:
    """The ``sig`` for a webhook URL's team / activity / location (see ``auth``)."""
    secret = deps.settings.jira_webhook_secret
    if secret is None:  # not a passing state of the server: a setting to make
        raise Problem(
            409,
            "Jira webhooks not configured",
            "Set BURNRATE_JIRA_WEBHOOK_SECRET to accept Jira webhooks.",
            field="jira_webhook_secret",
        )
    params = {k: v for k, v in wanted.model_dump().items() if v is not None}
    sig = auth.parameters_signature(secret.get_secret_value(), params)
    return JiraUrlOut(
        query=urlencode({**dict(sorted(params.items())), "sig": sig}),
        signed=auth.signed_parameters(params),
    )
