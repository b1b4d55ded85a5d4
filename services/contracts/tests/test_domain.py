import datetime as dt
import uuid

import pytest
from burnrate_common.contract_status import ContractStatus as Status
from burnrate_common.contract_status import derive_status
from burnrate_common.errors import Problem
from burnrate_contracts.domain.contracts import (
    Lifecycle,
    TransitionRefused,
    diff,
    local_today,
    transition,
)
from burnrate_contracts.domain.listing import Sort, decode_cursor, encode_cursor, like_pattern

D = dt.date
START, END = D(2026, 1, 1), D(2026, 12, 31)


@pytest.mark.parametrize(
    ("lifecycle", "today", "status"),
    [
        ("draft", D(2026, 6, 1), Status.DRAFT),
        ("closed", D(2026, 6, 1), Status.CLOSED),
        ("active", D(2025, 12, 31), Status.NOT_STARTED),
        ("active", D(2026, 1, 1), Status.ACTIVE),
        ("active", D(2026, 12, 1), Status.ACTIVE),  # 30 days left, window 29
        ("active", D(2026, 12, 2), Status.EXPIRING),  # 29 days left
        ("active", D(2026, 12, 31), Status.EXPIRING),  # the last day
        ("active", D(2027, 1, 1), Status.EXPIRED),
    ],
)
def test_derived_status(lifecycle, today, status):
    got = derive_status(
        lifecycle=lifecycle, start_date=START, end_date=END, today=today, expiring_within_days=29
    )
    assert got == status


def test_today_is_the_day_in_the_contracts_zone():
    at = dt.datetime(2026, 3, 31, 22, 30, tzinfo=dt.UTC)
    assert local_today(at, "Europe/Amsterdam") == D(2026, 4, 1)
    assert local_today(at, "America/New_York") == D(2026, 3, 31)


def test_lifecycle_transitions():
    assert transition(Lifecycle.DRAFT, "activate") is Lifecycle.ACTIVE
    assert transition(Lifecycle.DRAFT, "close") is Lifecycle.CLOSED
    assert transition(Lifecycle.ACTIVE, "close") is Lifecycle.CLOSED
    with pytest.raises(
        TransitionRefused, match="cannot activate a contract that is active \\(only draft\\)"
    ):
        transition(Lifecycle.ACTIVE, "activate")
    with pytest.raises(TransitionRefused, match="cannot close a contract that is closed"):
        transition(Lifecycle.CLOSED, "close")
    with pytest.raises(TransitionRefused):
        transition(Lifecycle.CLOSED, "activate")


def test_diff_lists_changed_added_and_removed_fields_only():
    before = {"title": "a", "teams": ["x"], "gone": 1, "same": 2}
    after = {"title": "b", "teams": ["x", "y"], "new": 3, "same": 2}
    assert diff(before, after) == {
        "gone": {"from": 1, "to": None},
        "new": {"from": None, "to": 3},
        "teams": {"from": ["x"], "to": ["x", "y"]},
        "title": {"from": "a", "to": "b"},
    }


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ("code", "code", "ACME-1"),
        ("-end_date", "end_date", D(2026, 12, 31)),
        ("created_at", "created_at", dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)),
    ],
)
def test_cursor_round_trips_the_sort_key(text, key, value):
    sort = Sort.parse(text)
    assert sort.key == key and sort.descending == text.startswith("-")
    row_id = uuid.uuid4()
    assert decode_cursor(encode_cursor(sort, value, row_id), sort) == (value, row_id)


def test_cursor_of_another_sort_or_garbage_is_refused():
    cursor = encode_cursor(Sort.parse("code"), "A", uuid.uuid4())
    with pytest.raises(Problem, match="belongs to sort=code, not sort=-code") as refused:
        decode_cursor(cursor, Sort.parse("-code"))
    assert (refused.value.status, refused.value.field) == (400, "cursor")
    with pytest.raises(Problem, match="not one this API returned") as refused:
        decode_cursor("garbage!", Sort.parse("code"))
    assert (refused.value.status, refused.value.field) == (400, "cursor")
    with pytest.raises(ValueError, match="sort by one of"):
        Sort.parse("title")


def test_like_pattern_matches_wildcards_literally():
    assert like_pattern("50%_a\\b") == "%50\\%\\_a\\\\b%"
