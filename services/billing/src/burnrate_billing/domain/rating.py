"""Rating: every hour priced from its timestamps. Pure functions over plain data.

A worklog covers ``[started_at, started_at + seconds)``. In the contract's zone it is split
at every local midnight, every shift window's start and end, and every DST transition
(holidays, weekends and weekdays change at midnight), so each part lies in one local day
and one set of shifts. Each part is priced by the rate card (:func:`price`); the parts of a
worklog with the same price make one line.

Rate-card precedence (:data:`PRECEDENCE`): of the rows in force on the part's local date
that match it (a row's ``None`` matches anything), the most specific wins, where a shift
outranks an activity, which outranks a location:

====  ========  ========  ========
rank  shift     activity  location
====  ========  ========  ========
1     set       set       set
2     set       set       any
3     set       any       set
4     set       any       any
5     any       set       set
6     any       set       any
7     any       any       set
8     any       any       any
9     (no row: the terms' ``base_rate``)
====  ========  ========  ========

So a shift premium ("night ×1.5") applies on top of whatever the activity and location
rows say. The winning row's ``mode``: ``price`` and ``replace`` set the hourly price;
``add`` and ``multiply`` apply to the price the strictly less specific matching rows give
(resolved the same way, down to the base rate). Ties within a rank: the row of the shift
listed first in the terms wins, then the row with the later ``effective_from``, then the
row listed first. A line names the row that won (``rate_row``) and its chain.

Rounding (:func:`round_units`) works on a billing copy: each unit at the rounding level
(a worklog; a ticket's worklogs in the period; a person's worklogs on a local day) is
rounded up to the increment and to at least the minimum; what rounding adds goes to the
unit's last part in the order the work happened.

The allowance (:func:`allocate`) is used up in the order the work happened (``started_at``,
then worklog id, then the part's start), so the statement is the same whatever order the
worklogs arrived in; the part that crosses it is split into hours in the allowance and
hours charged.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from burnrate_common.contract_terms import BillingTerms, RateRow, ShiftWindow

CENT = Decimal("0.01")
HOUR = 3600

#: (shift, activity, location) set or not → rank; 9 is the base rate.
PRECEDENCE: dict[tuple[bool, bool, bool], int] = {
    (True, True, True): 1,
    (True, True, False): 2,
    (True, False, True): 3,
    (True, False, False): 4,
    (False, True, True): 5,
    (False, True, False): 6,
    (False, False, True): 7,
    (False, False, False): 8,
}
BASE_RATE_RANK = 9


class RatingError(ValueError):
    """Terms that cannot price an hour; ``field`` names the term at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class WorkItem:
    """A worklog as billing sees it."""

    id: uuid.UUID
    started_at: dt.datetime
    seconds: int
    author: str
    team: str
    activity: str
    location: str | None = None
    ticket: str | None = None
    period_start: dt.date | None = None
    #: the replica's version of the worklog (kept on the lines, so a later correction of
    #: an invoiced worklog is recognised)
    version: int = 0

    @property
    def order(self) -> tuple[dt.datetime, str]:
        return (self.started_at, str(self.id))


@dataclass(frozen=True)
class Part:
    """A piece of a worklog within one local day and one set of shifts."""

    start: dt.datetime
    end: dt.datetime
    local_date: dt.date
    shifts: tuple[str, ...]

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


@dataclass(frozen=True)
class Price:
    rate: Decimal
    #: the row that won (None: the base rate)
    row: str | None
    #: the rows applied, least specific first
    chain: tuple[str, ...]
    #: the shift of the winning row (or the first shift the part lies in)
    shift: str | None
    rank: int


@dataclass
class Line:
    """One priced line: the parts of one worklog with the same price."""

    worklog: WorkItem
    index: int
    local_date: dt.date
    price: Price
    actual_seconds: int
    billable_seconds: int
    in_allowance_seconds: int = 0
    charged_seconds: int = 0
    late: bool = False
    first_start: dt.datetime = field(default_factory=lambda: dt.datetime.min.replace(tzinfo=dt.UTC))
    #: a correcting line of an invoiced worklog (``domain.corrections``)
    correction: bool = False

    @property
    def line_id(self) -> str:
        return f"{self.worklog.id}:{'correction' if self.correction else self.index}"

    @property
    def amount(self) -> Decimal:
        return money(self.price.rate * self.charged_seconds / HOUR)


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# --- the calendar: shifts and holidays ----------------------------------------------------


@lru_cache(maxsize=256)
def _public_holidays(country: str, subdivision: str | None, year: int) -> frozenset[dt.date]:
    try:
        found = holidays.country_holidays(country, subdiv=subdivision, years=year)
    except NotImplementedError as exc:
        raise RatingError("billing.holiday_country", f"unknown country {country!r}") from exc
    return frozenset(found.keys())


@dataclass(frozen=True)
class Calendar:
    """The contract's zone, its shifts and its holidays."""

    zone: ZoneInfo
    shifts: tuple[ShiftWindow, ...]
    holiday_country: str | None
    holiday_subdivision: str | None
    extra_holidays: frozenset[dt.date]

    @classmethod
    def of(cls, timezone: str, terms: BillingTerms) -> Calendar:
        check_shifts(terms.shifts)
        return cls(
            ZoneInfo(timezone),
            tuple(terms.shifts),
            terms.holiday_country,
            terms.holiday_subdivision,
            frozenset(terms.extra_holidays),
        )

    def is_holiday(self, day: dt.date) -> bool:
        if day in self.extra_holidays:
            return True
        if self.holiday_country is None:
            return False
        return day in _public_holidays(self.holiday_country, self.holiday_subdivision, day.year)

    def shifts_at(self, local: dt.datetime) -> tuple[str, ...]:
        """The shifts the local wall-clock time ``local`` lies in, in the terms' order."""
        day, tod, weekday = local.date(), local.time(), local.isoweekday()
        previous_weekday = (weekday + 5) % 7 + 1
        active = []
        for shift in self.shifts:
            if shift.kind == "weekend":
                hit = weekday in (6, 7)
            elif shift.kind == "holiday":
                hit = self.is_holiday(day)
            else:
                start = shift.start or dt.time(0)
                end = shift.end or dt.time(0)
                if start < end:
                    hit = weekday in shift.weekdays and start <= tod < end
                else:  # past midnight: the hours after it belong to the day it started
                    hit = (weekday in shift.weekdays and tod >= start) or (
                        previous_weekday in shift.weekdays and tod < end
                    )
            if hit:
                active.append(shift.name)
        return tuple(active)

    def boundaries(self, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
        """Instants strictly inside ``(start, end)`` where a part must end."""
        cuts: set[dt.datetime] = set()
        first = start.astimezone(self.zone).date() - dt.timedelta(days=1)
        last = end.astimezone(self.zone).date() + dt.timedelta(days=1)
        day = first
        while day <= last:
            midnight = _instant(day, dt.time(0), self.zone)
            cuts.add(midnight)
            for shift in self.shifts:
                if shift.kind == "window":
                    for moment in (shift.start, shift.end):
                        if moment is not None:
                            cuts.add(_instant(day, moment, self.zone))
            following = _instant(day + dt.timedelta(days=1), dt.time(0), self.zone)
            if (
                midnight.astimezone(self.zone).utcoffset()
                != following.astimezone(self.zone).utcoffset()
            ):
                cuts.add(_transition(midnight, following, self.zone))
            day += dt.timedelta(days=1)
        return sorted(c for c in cuts if start < c < end)


def _instant(day: dt.date, moment: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The UTC instant of a local wall-clock time (the earlier one when it occurs twice)."""
    return dt.datetime.combine(day, moment, tzinfo=zone).astimezone(dt.UTC)


def _transition(low: dt.datetime, high: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """The instant the zone's UTC offset changes between ``low`` and ``high`` (to the second)."""
    before = low.astimezone(zone).utcoffset()
    while (high - low) > dt.timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle.astimezone(zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return high


def check_shifts(shifts: Sequence[ShiftWindow]) -> None:
    """Refuse terms that cannot be applied: a shift without a name, a duplicate name, a
    weekday outside 1-7, or two windows that overlap on a day."""
    names = [s.name for s in shifts]
    for index, shift in enumerate(shifts):
        if not shift.name:
            raise RatingError(f"billing.shifts.{index}.name", "a shift needs a name")
        if names.count(shift.name) > 1:
            raise RatingError(f"billing.shifts.{index}.name", f"{shift.name!r} is named twice")
        if any(d < 1 or d > 7 for d in shift.weekdays):
            raise RatingError(f"billing.shifts.{index}.weekdays", "weekdays are 1 (Mon)-7 (Sun)")
    windows = [(i, s) for i, s in enumerate(shifts) if s.kind == "window"]
    minutes = {i: _window_minutes(s) for i, s in windows}
    for a, (i, _) in enumerate(windows):
        for j, other in windows[a + 1 :]:
            if minutes[i] & minutes[j]:
                raise RatingError(
                    f"billing.shifts.{j}", f"overlaps shift {shifts[i].name!r} ({other.name!r})"
                )


def _window_minutes(shift: ShiftWindow) -> set[int]:
    """Minutes of the week (0 = Monday 00:00) a window covers."""
    start = (shift.start or dt.time(0)).hour * 60 + (shift.start or dt.time(0)).minute
    end = (shift.end or dt.time(0)).hour * 60 + (shift.end or dt.time(0)).minute
    length = end - start if end > start else end + 1440 - start
    covered: set[int] = set()
    for day in shift.weekdays:
        base = (day - 1) * 1440 + start
        covered.update((base + m) % (7 * 1440) for m in range(length))
    return covered


def split(item: WorkItem, calendar: Calendar) -> list[Part]:
    """The worklog's parts, in time order."""
    start = item.started_at.astimezone(dt.UTC)
    end = start + dt.timedelta(seconds=item.seconds)
    if item.seconds <= 0:
        local = start.astimezone(calendar.zone)
        return [Part(start, start, local.date(), calendar.shifts_at(local))]
    points = [start, *calendar.boundaries(start, end), end]
    parts = []
    for a, b in itertools.pairwise(points):
        local = a.astimezone(calendar.zone)
        parts.append(Part(a, b, local.date(), calendar.shifts_at(local)))
    return parts


# --- the rate card ------------------------------------------------------------------------


def check_rows(terms: BillingTerms) -> None:
    """Refuse rows that cannot be applied: an unknown shift, a negative price."""
    shifts = {s.name for s in terms.shifts}
    if terms.base_rate < 0:
        raise RatingError("billing.base_rate", "a price may not be negative")
    seen: set[str] = set()
    for index, row in enumerate(terms.rows):
        if row.id in seen:
            raise RatingError(f"billing.rows.{index}.id", f"row {row.id!r} is listed twice")
        seen.add(row.id)
        if row.shift is not None and row.shift not in shifts:
            raise RatingError(f"billing.rows.{index}.shift", f"unknown shift {row.shift!r}")
        if row.mode in ("price", "replace", "multiply") and row.amount < 0:
            raise RatingError(f"billing.rows.{index}.amount", "a price may not be negative")


def rank_of(row: RateRow) -> int:
    return PRECEDENCE[(row.shift is not None, row.activity is not None, row.location is not None)]


def _in_force(row: RateRow, day: dt.date) -> bool:
    return (row.effective_from is None or row.effective_from <= day) and (
        row.effective_to is None or day <= row.effective_to
    )


def price(
    terms: BillingTerms,
    *,
    activity: str,
    location: str | None,
    shifts: Sequence[str],
    day: dt.date,
) -> Price:
    """The hourly price of work of ``activity`` at ``location`` in ``shifts`` on ``day``."""
    shift_order = {s.name: n for n, s in enumerate(terms.shifts)}
    matching = [
        (n, row)
        for n, row in enumerate(terms.rows)
        if _in_force(row, day)
        and (row.activity is None or row.activity == activity)
        and (row.location is None or row.location == location)
        and (row.shift is None or row.shift in shifts)
    ]

    def key(entry: tuple[int, RateRow]) -> tuple[int, int, int, int]:
        n, row = entry
        since = row.effective_from.toordinal() if row.effective_from else 0
        return (rank_of(row), shift_order.get(row.shift or "", -1), -since, n)

    ordered = [row for _, row in sorted(matching, key=key)]
    rate, chain = _resolve(terms.base_rate, ordered)
    if not ordered:
        return Price(rate, None, (), shifts[0] if shifts else None, BASE_RATE_RANK)
    winner = ordered[0]
    return Price(
        rate,
        winner.id,
        tuple(chain),
        winner.shift or (shifts[0] if shifts else None),
        rank_of(winner),
    )


def _resolve(base: Decimal, ordered: Sequence[RateRow]) -> tuple[Decimal, list[str]]:
    if not ordered:
        return base, []
    top = ordered[0]
    if top.mode in ("price", "replace"):
        return top.amount, [top.id]
    below, chain = _resolve(base, [r for r in ordered[1:] if rank_of(r) > rank_of(top)])
    rate = below + top.amount if top.mode == "add" else below * top.amount
    return max(rate, Decimal(0)), [*chain, top.id]


# --- lines, rounding and the allowance ----------------------------------------------------


def lines_of(item: WorkItem, calendar: Calendar, terms: BillingTerms) -> list[Line]:
    """The worklog's priced lines (actual = billable until :func:`round_units`)."""
    lines: list[Line] = []
    by_price: dict[tuple[Decimal, str | None, str | None], Line] = {}
    for part in split(item, calendar):
        p = price(
            terms,
            activity=item.activity,
            location=item.location,
            shifts=part.shifts,
            day=part.local_date,
        )
        key = (p.rate, p.row, p.shift)
        line = by_price.get(key)
        if line is None:
            line = Line(
                item,
                len(lines),
                part.start.astimezone(calendar.zone).date(),
                p,
                0,
                0,
                first_start=part.start,
            )
            by_price[key] = line
            lines.append(line)
        line.actual_seconds += part.seconds
        line.billable_seconds += part.seconds
    return lines


def _round_up(seconds: int, increment: int, minimum: int) -> int:
    if increment > 0:
        seconds = -(-seconds // increment) * increment
    return max(seconds, minimum)


def round_units(lines: Sequence[Line], terms: BillingTerms, zone: ZoneInfo) -> None:
    """Round the billable seconds of ``lines`` (in work order) per unit of the level."""
    rounding = terms.rounding
    increment, minimum = rounding.increment_minutes * 60, rounding.minimum_minutes * 60
    if increment <= 0 and minimum <= 0:
        return
    unit_of: Callable[[Line], object]
    if rounding.level == "ticket":

        def unit_of(line: Line) -> object:
            # a worklog without a ticket is its own unit
            return ("ticket", line.worklog.ticket) if line.worklog.ticket else line.worklog.id

    elif rounding.level == "day":

        def unit_of(line: Line) -> object:
            return (line.worklog.author, line.worklog.started_at.astimezone(zone).date())

    else:

        def unit_of(line: Line) -> object:
            return line.worklog.id

    units: dict[object, list[Line]] = {}
    for line in lines:
        units.setdefault(unit_of(line), []).append(line)
    for members in units.values():
        actual = sum(m.actual_seconds for m in members)
        extra = _round_up(actual, increment, minimum) - actual
        members[-1].billable_seconds += extra


def work_order(line: Line) -> tuple[dt.datetime, str, dt.datetime]:
    return (line.worklog.started_at, str(line.worklog.id), line.first_start)


def allocate(lines: Sequence[Line], allowance_seconds: int) -> int:
    """Use the allowance up in the order the work happened; return the seconds used."""
    left = max(allowance_seconds, 0)
    for line in lines:
        inside = min(left, line.billable_seconds)
        line.in_allowance_seconds = inside
        line.charged_seconds = line.billable_seconds - inside
        left -= inside
    return max(allowance_seconds, 0) - left


def rate_period(
    items: Iterable[WorkItem],
    *,
    timezone: str,
    terms: BillingTerms,
    allowance_seconds: int,
    late_items: Iterable[WorkItem] = (),
) -> list[Line]:
    """Every line of one contract period, in work order: its own worklogs against the
    allowance, then the late worklogs of invoiced periods, charged in full."""
    check_rows(terms)
    calendar = Calendar.of(timezone, terms)
    own = [line for item in items for line in lines_of(item, calendar, terms)]
    own.sort(key=work_order)
    round_units(own, terms, calendar.zone)
    allocate(own, allowance_seconds)
    late = [replace(line, late=True) for i in late_items for line in lines_of(i, calendar, terms)]
    late.sort(key=work_order)
    round_units(late, terms, calendar.zone)
    allocate(late, 0)
    return own + late
