"""Webhooks of the ticket systems: Jira Service Management and Zendesk.

Both are turned into the same events as the API's (status, reply, priority), each with
the source's own event id, so a redelivery changes nothing, and each stamped with the
instant it happened, so the clock replays them in that order whatever order they arrive in.
An event for a ticket not seen yet opens it from what the event says about the ticket
(provisionally: its creation, when it arrives, sets the opening). A ticket whose contract
is unknown is kept and listed as unattributed, never dropped.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from burnrate_common.contract_terms import Priority
from burnrate_common.db import Connection
from burnrate_common.errors import Problem

from burnrate_tickets import store
from burnrate_tickets.schemas import WebhookOut
from burnrate_tickets.service import Deps
from burnrate_tickets.service.clocks import event_row, status_kind
from burnrate_tickets.service.tickets import attribution, create, refresh
from burnrate_tickets.settings import TicketsSettings

PRIORITY_NAMES: dict[str, Priority] = {
    "highest": "P1",
    "critical": "P1",
    "blocker": "P1",
    "urgent": "P1",
    "high": "P2",
    "medium": "P3",
    "normal": "P3",
    "low": "P4",
    "lowest": "P4",
    "minor": "P4",
    "trivial": "P4",
}


def priority_of(name: object, field: str) -> Priority:
    """``P1``…``P4`` (also ``P2 - High``), or the usual names of JSM and Zendesk."""
    text = str(name or "").strip().lower()
    for p in ("p1", "p2", "p3", "p4"):
        if text == p or text.startswith(p + " ") or text.startswith(p + "-"):
            return p.upper()  # type: ignore[return-value]
    if text in PRIORITY_NAMES:
        return PRIORITY_NAMES[text]
    raise Problem(422, "Invalid input", f"{field}: unknown priority {name!r}", field=field)


def _instant(value: object, field: str) -> dt.datetime:
    try:
        if isinstance(value, int | float):
            return dt.datetime.fromtimestamp(value / 1000, dt.UTC)
        text = str(value)
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        at = dt.datetime.fromisoformat(text)
    except (TypeError, ValueError, OverflowError) as exc:
        raise Problem(422, "Invalid input", f"{field}: not an instant", field=field) from exc
    if at.tzinfo is None:
        raise Problem(422, "Invalid input", f"{field}: an instant needs its offset", field=field)
    return at


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise Problem(400, "Malformed JSON", "The body is not valid JSON.", field="body") from exc
    if not isinstance(data, dict):
        raise Problem(422, "Invalid input", "body: expected a JSON object", field="body")
    return data


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _status_row(
    settings: TicketsSettings, source: str, event_id: str, at: dt.datetime, status: str
) -> dict[str, Any]:
    """A source's status change, with what that status means to the clock."""
    return event_row(
        event_id, "status", at, status=status, status_kind=status_kind(settings, source, status)
    )


def _ignored(event: object) -> WebhookOut:
    return WebhookOut(ticket_id=None, recorded=0, ignored=f"event {event!r} does not move a clock")


async def _ingest(
    conn: Connection,
    deps: Deps,
    *,
    source: str,
    external_id: str,
    reference: str,
    opening: dict[str, Any] | None,
    provisional: dict[str, Any],
    events: list[dict[str, Any]],
    contract_id: uuid.UUID | None,
    customer_id: uuid.UUID | None,
    project_key: str | None,
    organization_id: str | None = None,
) -> WebhookOut:
    """``opening``: the ticket's creation (authoritative); ``provisional``: what a later
    event says about the ticket, to open it if its creation has not arrived."""
    async with conn.transaction():
        ticket = await store.ticket_of_source(conn, source, external_id, lock=True)
        if ticket is None:
            facts = opening or provisional
            whose = await attribution(
                conn,
                contract_id=contract_id,
                customer_id=customer_id,
                project_key=project_key,
                at=facts["opened_at"],
                organization_id=organization_id,
            )
            ticket = await create(
                conn,
                deps,
                source=source,
                external_id=external_id,
                reference=reference,
                priority=facts["priority"],
                category=facts.get("category"),
                # a later event's status is not the opening's: it arrives as its own event
                status=facts.get("status", "open") if opening is not None else "open",
                opened_at=facts["opened_at"],
                whose=whose,
                opening_confirmed=opening is not None,
                events=events,
            )
            return WebhookOut(ticket_id=ticket["id"], recorded=len(events) + 1)
        changed = False
        if opening is not None and not ticket["opening_confirmed"]:
            ticket = await store.update_ticket(
                conn,
                ticket["id"],
                {
                    "opened_at": opening["opened_at"],
                    "opening_priority": opening["priority"],
                    "category": opening.get("category") or ticket["category"],
                    "opening_confirmed": True,
                },
            )
            changed = True
        inserted = await store.insert_events(conn, ticket["id"], source, events)
        if inserted or changed:
            ticket = await refresh(conn, deps, ticket)
        return WebhookOut(ticket_id=ticket["id"], recorded=len(inserted) + int(changed))


# --- Jira Service Management ------------------------------------------------------------


async def receive_jsm(
    conn: Connection,
    deps: Deps,
    body: bytes,
    *,
    contract_id: uuid.UUID | None,
    customer_id: uuid.UUID | None,
    webhook_id: str | None,
) -> WebhookOut:
    """``jira:issue_created``, ``jira:issue_updated`` (the changelog's status and priority
    items) and ``comment_created`` (public when ``jsdPublic``; a customer's when its author's
    ``accountType`` is ``customer``). The contract: the query's, else the issue's project key
    among the contracts' Jira projects."""
    data = _json(body)
    event = data.get("webhookEvent")
    issue = data.get("issue")
    if not isinstance(issue, dict) or not issue.get("key"):
        raise Problem(422, "Invalid input", "issue.key: missing", field="issue.key")
    key = str(issue["key"])
    fields = issue.get("fields") or {}
    settings = deps.settings
    category = None
    if settings.jsm_category_field:
        raw = fields.get(settings.jsm_category_field)
        category = (
            _get(raw, "requestType", "name") or _get(raw, "value") or _get(raw, "name")
            if isinstance(raw, dict)
            else raw
            if isinstance(raw, str)
            else None
        )
    at = _instant(data.get("timestamp"), "timestamp") if data.get("timestamp") else None
    facts = {
        "opened_at": _instant(fields.get("created"), "issue.fields.created"),
        "priority": priority_of(_get(fields, "priority", "name"), "issue.fields.priority.name"),
        "category": category,
        "status": _get(fields, "status", "name") or "open",
    }
    issue_id = str(issue.get("id") or key)
    events: list[dict[str, Any]] = []
    opening = None
    if event == "jira:issue_created":
        opening = facts
    elif event == "jira:issue_updated":
        changelog = data.get("changelog") or {}
        change_id = str(changelog.get("id") or webhook_id or "")
        if not change_id:
            raise Problem(422, "Invalid input", "changelog.id: missing", field="changelog.id")
        if at is None:
            raise Problem(422, "Invalid input", "timestamp: missing", field="timestamp")
        for n, item in enumerate(changelog.get("items") or []):
            name = str(item.get("field") or "").lower()
            if name == "status":
                status = str(item.get("toString") or "")
                events.append(
                    _status_row(settings, "jsm", f"{issue_id}:{change_id}:{n}", at, status)
                )
            elif name == "priority":
                events.append(
                    event_row(
                        f"{issue_id}:{change_id}:{n}",
                        "priority",
                        at,
                        priority=priority_of(item.get("toString"), f"changelog.items.{n}.toString"),
                    )
                )
    elif event in ("comment_created", "jira:issue_commented"):
        comment = data.get("comment") or {}
        if not comment.get("id"):
            raise Problem(422, "Invalid input", "comment.id: missing", field="comment.id")
        by = "customer" if _get(comment, "author", "accountType") == "customer" else "agent"
        events.append(
            event_row(
                f"{issue_id}:comment:{comment['id']}",
                "reply",
                _instant(comment.get("created") or data.get("timestamp"), "comment.created"),
                by_whom=by,
                public=bool(comment.get("jsdPublic", True)),
            )
        )
    else:
        return _ignored(event)
    return await _ingest(
        conn,
        deps,
        source="jsm",
        external_id=issue_id,
        reference=key,
        opening=opening,
        provisional=facts,
        events=events,
        contract_id=contract_id,
        customer_id=customer_id,
        project_key=key.rsplit("-", 1)[0],
    )


# --- Zendesk ----------------------------------------------------------------------------

ZENDESK_PREFIX = "zen:event-type:ticket."


async def receive_zendesk(
    conn: Connection,
    deps: Deps,
    body: bytes,
    *,
    contract_id: uuid.UUID | None,
    customer_id: uuid.UUID | None,
) -> WebhookOut:
    """Zendesk ticket events (``zen:event-type:ticket.created``, ``.status_changed``,
    ``.priority_changed``, ``.comment_added``): ``id`` is the event's id, ``time`` when it
    happened, ``detail`` the ticket as it is. Zendesk does not guarantee their order. The
    contract: the query's, else the customer's (the query's, else the one ``detail``'s
    ``organization_id`` is mapped to)."""
    data = _json(body)
    event_type = str(data.get("type") or "")
    detail = data.get("detail")
    event_id = data.get("id")
    if not isinstance(detail, dict) or not detail.get("id"):
        raise Problem(422, "Invalid input", "detail.id: missing", field="detail.id")
    if not event_id:
        raise Problem(422, "Invalid input", "id: missing", field="id")
    ticket_no = str(detail["id"])
    at = _instant(data.get("time"), "time")
    change = data.get("event") or {}
    settings = deps.settings
    facts = {
        "opened_at": _instant(detail.get("created_at") or data.get("time"), "detail.created_at"),
        "priority": priority_of(detail.get("priority") or "normal", "detail.priority"),
        "status": str(detail.get("status") or "open").lower(),
        "category": detail.get("type") or None,
    }
    kind = event_type.removeprefix(ZENDESK_PREFIX)
    events: list[dict[str, Any]] = []
    opening = None
    if kind == "created":
        opening = facts
    elif kind == "status_changed":
        status = str(change.get("current") or "").lower()
        if not status:
            raise Problem(422, "Invalid input", "event.current: missing", field="event.current")
        events.append(_status_row(settings, "zendesk", str(event_id), at, status))
    elif kind == "priority_changed":
        events.append(
            event_row(
                str(event_id),
                "priority",
                at,
                priority=priority_of(change.get("current"), "event.current"),
            )
        )
    elif kind == "comment_added":
        comment = change.get("comment") or {}
        by = "agent" if _get(comment, "author", "is_staff") else "customer"
        events.append(
            event_row(
                str(event_id),
                "reply",
                at,
                by_whom=by,
                public=bool(comment.get("is_public", True)),
            )
        )
    else:
        return _ignored(event_type)
    return await _ingest(
        conn,
        deps,
        source="zendesk",
        external_id=ticket_no,
        reference=f"ZD-{ticket_no}",
        opening=opening,
        provisional=facts,
        events=events,
        contract_id=contract_id,
        customer_id=customer_id,
        project_key=None,
        organization_id=str(detail["organization_id"]) if detail.get("organization_id") else None,
    )
