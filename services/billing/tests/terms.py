"""Terms and worklogs of the domain's scenarios, shared by the tests."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

from burnrate_billing.domain.rating import WorkItem
from burnrate_common.contract_terms import BillingTerms, RateRow, ShiftWindow

AMS = ZoneInfo("Europe/Amsterdam")
H = 3600

#: Scenario 5: every activity €50.00/h, night 22:00-06:00 ×1.5.
SCENARIO5 = BillingTerms(
    base_rate=Decimal("50.00"),
    rows=[
        RateRow(id="all", amount=Decimal("50.00")),
        RateRow(id="night", shift="night", mode="multiply", amount=Decimal("1.5")),
    ],
    shifts=[
        ShiftWindow(
            name="night",
            weekdays=[1, 2, 3, 4, 5, 6, 7],
            start=dt.time(22),
            end=dt.time(6),
        )
    ],
    vat_rate=Decimal("0.21"),
    debt_cap=Decimal("500.00"),
)


def local(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=AMS)


def item(
    start: str,
    hours: float,
    *,
    author: str = "tech1",
    activity: str = "phone support",
    location: str | None = "service desk",
    ticket: str | None = "149",
    worklog_id: uuid.UUID | None = None,
) -> WorkItem:
    return WorkItem(
        id=worklog_id or uuid.uuid4(),
        started_at=local(start),
        seconds=round(hours * H),
        author=author,
        team="servicedesk",
        activity=activity,
        location=location,
        ticket=ticket,
    )


def scenario5() -> list[WorkItem]:
    """Monday 2 March 2026 and Tuesday 3 March, Europe/Amsterdam."""
    return [
        item("2026-03-02T09:00", 3),
        item("2026-03-02T13:00", 3),
        item(
            "2026-03-03T09:00",
            3,
            author="tech2",
            activity="on-site repair",
            location="site A",
            ticket="123",
        ),
        item(
            "2026-03-03T14:00",
            2,
            author="tech2",
            activity="preventive maintenance",
            location="site A",
            ticket="123",
        ),
        item(
            "2026-03-03T23:00",
            3,
            author="tech3",
            activity="on-site repair",
            location="site B",
            ticket="232",
        ),
    ]
