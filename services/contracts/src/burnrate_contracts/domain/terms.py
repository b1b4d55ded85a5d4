"""Billing terms as plain functions over plain data: a rate card's rows and a contract's own
overrides resolved into one list, shift windows that must not overlap, holiday countries and
currencies checked against real lists.

Each check returns ``(field, message)`` pairs, the field relative to the list it checked
(``"2.shift"``), so a caller can prefix it (``billing.rate_overrides.2.shift``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations

import holidays
import pycountry
from burnrate_common.contract_terms import RateRow, ShiftWindow

Error = tuple[str, str]

#: The prefixes of a resolved row's ``id``: where the row came from.
CARD_PREFIX = "card:"
CONTRACT_PREFIX = "contract:"

WEEK_SECONDS = 7 * 86_400


# ---------------------------------------------------------------------------------------------
# currencies and holiday countries


def is_currency(code: str) -> bool:
    """An active ISO 4217 code (pycountry's copy of the ISO list)."""
    return pycountry.currencies.get(alpha_3=code) is not None


def holiday_country_error(country: str | None, subdivision: str | None) -> str | None:
    """Why ``country`` / ``subdivision`` is not one the ``holidays`` package knows, or None."""
    if country is None:
        return "a subdivision needs a holiday_country" if subdivision is not None else None
    supported = holidays.list_supported_countries()
    if country not in supported:
        return f"unknown holiday country '{country}' (ISO 3166-1 alpha-2, e.g. NL)"
    if subdivision is not None and subdivision not in supported[country]:
        known = ", ".join(supported[country]) or "none"
        return f"unknown subdivision '{subdivision}' of {country} (known: {known})"
    return None


def public_holidays(
    country: str | None, subdivision: str | None, years: Iterable[int]
) -> dict[dt.date, str]:
    """The public holidays of a country (and subdivision) in the given years, by date."""
    if country is None:
        return {}
    return dict(holidays.country_holidays(country, subdiv=subdivision, years=list(years)).items())


# ---------------------------------------------------------------------------------------------
# rate rows


@dataclass(frozen=True)
class Override:
    """A contract's own row; ``replaces`` names a row of the card it takes the place of."""

    row: RateRow
    replaces: str | None = None


def _selector(row: RateRow) -> tuple[str | None, str | None, str | None]:
    return (row.activity, row.location, row.shift)


def _dates_overlap(a: RateRow, b: RateRow) -> bool:
    lo, hi = dt.date.min, dt.date.max
    return (a.effective_from or lo) <= (b.effective_to or hi) and (b.effective_from or lo) <= (
        a.effective_to or hi
    )


def row_errors(rows: Sequence[RateRow]) -> list[Error]:
    """Rows of one list: unique ids, and no two rows with the same activity, location and
    shift in force on the same day (which would price that hour twice)."""
    errors: list[Error] = []
    seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        if row.id in seen:
            errors.append((f"{index}.id", f"row id '{row.id}' is used by row {seen[row.id]} too"))
        seen.setdefault(row.id, index)
    for (i, a), (j, b) in combinations(enumerate(rows), 2):
        if _selector(a) == _selector(b) and _dates_overlap(a, b):
            errors.append(
                (
                    f"{j}",
                    f"selects the same activity, location and shift as row {i} ('{a.id}') on "
                    "overlapping dates",
                )
            )
    return errors


class ResolutionError(ValueError):
    def __init__(self, errors: list[Error]) -> None:
        super().__init__("; ".join(f"{f}: {m}" for f, m in errors))
        self.errors = errors


def resolve_rows(card_rows: Sequence[RateRow], overrides: Sequence[Override]) -> list[RateRow]:
    """The card's rows not replaced by an override, then the overrides; each resolved row's
    ``id`` says where it came from (``card:<id>``, ``contract:<id>``).

    Errors (fields relative to the overrides): an override replacing a row the card does not
    have, or two rows in force together for the same activity, location and shift (an
    override of such a row must name it in ``replaces``).
    """
    card_ids = {r.id for r in card_rows}
    errors: list[Error] = []
    for index, override in enumerate(overrides):
        if override.replaces is not None and override.replaces not in card_ids:
            known = ", ".join(sorted(card_ids)) or "the contract has no rate card"
            errors.append(
                (f"{index}.replaces", f"no row '{override.replaces}' on the card (rows: {known})")
            )
    errors += row_errors([o.row for o in overrides])
    if errors:
        raise ResolutionError(errors)
    replaced = {o.replaces for o in overrides}
    kept = [r for r in card_rows if r.id not in replaced]
    for index, override in enumerate(overrides):
        for card_row in kept:
            if _selector(card_row) == _selector(override.row) and _dates_overlap(
                card_row, override.row
            ):
                errors.append(
                    (
                        f"{index}",
                        f"prices the same hours as card row '{card_row.id}': name it in "
                        "replaces to take its place",
                    )
                )
    if errors:
        raise ResolutionError(errors)
    return [r.model_copy(update={"id": CARD_PREFIX + r.id}) for r in kept] + [
        o.row.model_copy(update={"id": CONTRACT_PREFIX + o.row.id}) for o in overrides
    ]


def unknown_shift_errors(rows: Sequence[RateRow], shifts: Sequence[ShiftWindow]) -> list[Error]:
    """Rows naming a shift the terms do not define (fields relative to ``rows``)."""
    names = {s.name for s in shifts}
    return [
        (f"{index}.shift", f"no shift '{row.shift}' in the contract's shifts")
        for index, row in enumerate(rows)
        if row.shift is not None and row.shift not in names
    ]


# ---------------------------------------------------------------------------------------------
# shifts


def _seconds(t: dt.time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def week_intervals(shift: ShiftWindow) -> list[tuple[int, int]]:
    """A ``window`` shift as half-open intervals of seconds since Monday 00:00, a window past
    midnight running into the next day (Sunday night into Monday)."""
    assert shift.start is not None and shift.end is not None
    start, end = _seconds(shift.start), _seconds(shift.end)
    if end <= start:
        end += 86_400
    out: list[tuple[int, int]] = []
    for day in sorted(set(shift.weekdays)):
        lo, hi = (day - 1) * 86_400 + start, (day - 1) * 86_400 + end
        if hi > WEEK_SECONDS:
            out += [(lo, WEEK_SECONDS), (0, hi - WEEK_SECONDS)]
        else:
            out.append((lo, hi))
    return out


def shift_errors(shifts: Sequence[ShiftWindow]) -> list[Error]:
    """Unique names; a ``window`` has a start, an end (not equal) and weekdays 1–7;
    ``weekend`` and ``holiday`` have no times and appear once; no two windows share a
    moment of the week."""
    errors: list[Error] = []
    names: dict[str, int] = {}
    for index, shift in enumerate(shifts):
        if shift.name in names:
            errors.append((f"{index}.name", f"shift '{shift.name}' is defined twice"))
        names.setdefault(shift.name, index)
        if shift.kind == "window":
            if shift.start is None or shift.end is None:
                errors.append((f"{index}", "a window shift needs a start and an end"))
            elif shift.start == shift.end:
                errors.append((f"{index}.end", "the window is empty (end equals start)"))
            if not shift.weekdays:
                errors.append((f"{index}.weekdays", "a window shift needs at least one weekday"))
            elif bad := [d for d in shift.weekdays if not 1 <= d <= 7]:
                errors.append((f"{index}.weekdays", f"ISO weekdays are 1–7, not {bad}"))
            elif len(set(shift.weekdays)) != len(shift.weekdays):
                errors.append((f"{index}.weekdays", "a weekday is listed twice"))
        elif shift.start is not None or shift.end is not None:
            errors.append((f"{index}", f"a {shift.kind} shift covers whole days: no start or end"))
    if errors:
        return errors
    kinds: dict[str, int] = {}
    for index, shift in enumerate(shifts):
        if shift.kind != "window":
            if shift.kind in kinds:
                errors.append(
                    (
                        f"{index}",
                        f"overlaps shift '{shifts[kinds[shift.kind]].name}' (both {shift.kind})",
                    )
                )
            kinds.setdefault(shift.kind, index)
    windows = [(i, s, week_intervals(s)) for i, s in enumerate(shifts) if s.kind == "window"]
    for (_, a, ia), (j, _, ib) in combinations(windows, 2):
        if any(lo1 < hi2 and lo2 < hi1 for lo1, hi1 in ia for lo2, hi2 in ib):
            errors.append((f"{j}", f"overlaps shift '{a.name}'"))
    return errors
