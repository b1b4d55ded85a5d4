"""The CSV dialects as pure functions: header names, not positions; ids stable across exports."""

import datetime as dt
from pathlib import Path

import pytest
from burnrate_worklog_ingest.domain.csv_rows import Dialect, HeaderError, Rejection, parse
from hypothesis import given
from hypothesis import strategies as st

DATA = Path(__file__).parent / "data"
AMS = dt.timezone(dt.timedelta(hours=1))


def test_toggl_sample_with_bom():
    rows, rejected = parse(
        (DATA / "toggl.csv").read_text("utf-8"),
        Dialect.TOGGL,
        timezone="Europe/Amsterdam",
        team="servicedesk",
    )
    assert rejected == []
    assert [r.line for r in rows] == [2, 3, 4]
    first = rows[0].fields
    assert {k: first[k] for k in first if k != "external_id"} == {
        "source": "toggl",
        "work_account": "ACME-SUPPORT",
        "author": "tess@msp.example",
        "team": "servicedesk",
        "activity": "phone support",
        "started_at": dt.datetime(2026, 3, 2, 9, 0, tzinfo=first["started_at"].tzinfo),
        "seconds": 5400,
        "ticket": None,
        "location": None,
    }
    assert first["started_at"].utcoffset() == dt.timedelta(hours=1)
    assert rows[1].fields["started_at"].isoformat() == "2026-03-31T23:30:00+02:00"
    assert rows[2].fields["activity"] == "Patching"  # no task: the description


def test_harvest_sample_identical_rows_stay_two_and_hours_are_exact():
    rows, rejected = parse((DATA / "harvest.csv").read_text(), Dialect.HARVEST)
    assert rejected == []
    assert [(r.fields["author"], r.fields["seconds"]) for r in rows] == [
        ("Tess Tech", 5400),
        ("Tess Tech", 5400),
        ("Rob Remote", 900),
    ]
    a, b = rows[0].fields["external_id"], rows[1].fields["external_id"]
    assert a[:-2] == b[:-2] and (a[-2:], b[-2:]) == ("-1", "-2")
    assert rows[0].fields["started_at"].isoformat() == "2026-03-02T12:00:00+00:00"


def test_columns_are_matched_by_name_not_position():
    text = (DATA / "harvest.csv").read_text().splitlines()
    header = text[0].split(",")
    order = list(reversed(range(len(header))))
    swapped = "\n".join(",".join(line.split(",")[i] for i in order) for line in text)
    assert [r.fields for r in parse(swapped, Dialect.HARVEST)[0]] == [
        r.fields for r in parse("\n".join(text), Dialect.HARVEST)[0]
    ]


def test_ids_are_stable_across_exports_with_other_rows_around():
    lines = (DATA / "toggl.csv").read_text("utf-8-sig").splitlines()
    later = "\n".join([lines[0], lines[3], lines[1], lines[2]])
    ids = {r.fields["external_id"] for r in parse("\n".join(lines), Dialect.TOGGL)[0]}
    assert {r.fields["external_id"] for r in parse(later, Dialect.TOGGL)[0]} == ids


def test_generic_mapping():
    mapping = {
        "started_at": "Start",
        "seconds": "Seconds",
        "author": "Who",
        "work_account": "Account",
        "activity": "Kind",
        "ticket": "Ticket",
    }
    rows, rejected = parse(
        (DATA / "generic.csv").read_text(),
        Dialect.GENERIC,
        mapping=mapping,
        timezone="Europe/Amsterdam",
    )
    assert rejected == []
    assert [
        (
            r.fields["started_at"].isoformat(),
            r.fields["seconds"],
            r.fields["ticket"],
            r.fields["source"],
        )
        for r in rows
    ] == [
        ("2026-03-05T09:00:00+01:00", 3600, "ACME-1", "csv"),
        ("2026-03-06T10:00:00+01:00", 1800, "ACME-2", "csv"),
    ]


def test_bad_rows_are_rejected_with_line_and_field():
    text = (
        "Date,Project Code,Hours,First Name,Last Name\n"
        "2026-03-02,ACME,1,Tess,Tech\n"
        "2026-13-02,ACME,1,Tess,Tech\n"
        "\n"
        "2026-03-02,ACME,lots,Tess,Tech\n"
        "2026-03-02,,1,Tess,Tech\n"
    )
    rows, rejected = parse(text, Dialect.HARVEST)
    assert [r.line for r in rows] == [2]
    assert rejected == [
        Rejection(3, "started_at", "'2026-13-02' is not a date (YYYY-MM-DD)"),
        Rejection(5, "seconds", "'lots' is not a number of hours"),
        Rejection(6, "work_account", "column 'Project Code' is empty"),
    ]


def test_a_missing_column_is_a_header_error():
    with pytest.raises(HeaderError) as caught:
        parse("Date,Hours\n2026-03-02,1\n", Dialect.HARVEST)
    assert caught.value.field == "Project Code"


def test_line_numbers_follow_quoted_newlines_and_offset():
    text = 'Date,Project Code,Hours,First Name,Notes\n2026-03-02,A,1,T,"two\nlines"\nx,A,1,T,n\n'
    rows, rejected = parse(text, Dialect.HARVEST, first_line=101)
    assert [r.line for r in rows] == [102]
    assert [r.line for r in rejected] == [104]


@given(st.integers(0, 99), st.integers(0, 59), st.integers(0, 59))
def test_toggl_durations(h, m, s):
    text = (
        "Email,Project,Start date,Start time,Duration\n"
        f"a@b,P,2026-03-02,09:00:00,{h:02d}:{m:02d}:{s:02d}\n"
    )
    [row], _ = parse(text, Dialect.TOGGL)
    assert row.fields["seconds"] == h * 3600 + m * 60 + s


def test_the_csv_mapping_parameters_are_the_generic_fields():
    from burnrate_worklog_ingest.domain.csv_rows import GENERIC_FIELDS
    from burnrate_worklog_ingest.schemas import CsvMapping

    assert tuple(CsvMapping.model_fields) == GENERIC_FIELDS
    assert CsvMapping.model_validate({"map.author": "Who"}).given() == {"author": "Who"}
