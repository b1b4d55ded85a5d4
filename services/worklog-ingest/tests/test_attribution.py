import datetime as dt
import uuid

import pytest
from burnrate_worklog_ingest.domain.attribution import (
    Attribution,
    ContractRoute,
    Period,
    RoutingError,
    Unroutable,
    attribute,
    local_date,
    route,
)

D = dt.date
UTC = dt.UTC


def utc(*args):
    return dt.datetime(*args, tzinfo=UTC)


def monthly(year):
    starts = [D(year, m, 1) for m in range(1, 13)]
    ends = [*(s - dt.timedelta(days=1) for s in starts[1:]), D(year, 12, 31)]
    return tuple(Period(s, e) for s, e in zip(starts, ends, strict=True))


def contract(timezone="Europe/Amsterdam", year=2026, periods=None, **overrides):
    values = {
        "id": uuid.uuid4(),
        "timezone": timezone,
        "start_date": D(year, 1, 1),
        "end_date": D(year, 12, 31),
        "periods": monthly(year) if periods is None else periods,
    }
    return ContractRoute(**(values | overrides))


def test_late_evening_utc_on_31_march_is_april_in_amsterdam():
    c = contract("Europe/Amsterdam")
    assert attribute(c, utc(2026, 3, 31, 23, 30)) == Attribution(
        c.id, D(2026, 4, 1), D(2026, 4, 30), outside_dates=False
    )


def test_early_april_utc_is_still_march_in_new_york():
    c = contract("America/New_York")
    # 02:30 UTC on 1 April is 22:30 EDT on 31 March.
    assert attribute(c, utc(2026, 4, 1, 2, 30)).period_start == D(2026, 3, 1)
    assert attribute(c, utc(2026, 4, 1, 4, 0)).period_start == D(2026, 4, 1)


def test_the_authors_offset_does_not_matter_only_the_contract_zone():
    c = contract("UTC")
    amsterdam_morning = dt.datetime.fromisoformat("2026-04-01T01:30:00+02:00")
    assert attribute(c, amsterdam_morning).period_start == D(2026, 3, 1)
    assert attribute(contract("Europe/Amsterdam"), amsterdam_morning).period_start == D(2026, 4, 1)


def test_before_the_start_goes_to_the_first_period_flagged():
    c = contract("Europe/Amsterdam")
    # 23:59 on 31 December 2025 in Amsterdam: one minute before the contract.
    assert attribute(c, utc(2025, 12, 31, 22, 59)) == Attribution(
        c.id, D(2026, 1, 1), D(2026, 1, 31), outside_dates=True
    )
    # 00:30 on 1 January 2026 in Amsterdam: inside, though still 2025 in UTC.
    assert attribute(c, utc(2025, 12, 31, 23, 30)) == Attribution(
        c.id, D(2026, 1, 1), D(2026, 1, 31), outside_dates=False
    )
    assert attribute(c, utc(2024, 6, 1, 12)).outside_dates is True


def test_after_the_end_goes_to_the_last_period_flagged():
    c = contract("Europe/Amsterdam")
    assert attribute(c, utc(2026, 12, 31, 22, 59)) == Attribution(
        c.id, D(2026, 12, 1), D(2026, 12, 31), outside_dates=False
    )
    assert attribute(c, utc(2026, 12, 31, 23, 0)) == Attribution(
        c.id, D(2026, 12, 1), D(2026, 12, 31), outside_dates=True
    )
    assert attribute(c, utc(2030, 1, 1)).period_start == D(2026, 12, 1)


def test_midnight_around_the_spring_dst_change():
    # Amsterdam moves from +01:00 to +02:00 at 01:00 UTC on 29 March 2026.
    c = contract(
        periods=(Period(D(2026, 1, 1), D(2026, 3, 29)), Period(D(2026, 3, 30), D(2026, 12, 31)))
    )
    assert attribute(c, utc(2026, 3, 28, 22, 59)).period_start == D(2026, 1, 1)  # 23:59 +1
    assert attribute(c, utc(2026, 3, 29, 21, 59)).period_start == D(2026, 1, 1)  # 23:59 +2
    assert attribute(c, utc(2026, 3, 29, 22, 0)).period_start == D(2026, 3, 30)  # 00:00 +2


def test_midnight_around_the_autumn_dst_change():
    # Amsterdam moves from +02:00 back to +01:00 at 01:00 UTC on 25 October 2026.
    c = contract(
        periods=(Period(D(2026, 1, 1), D(2026, 10, 25)), Period(D(2026, 10, 26), D(2026, 12, 31)))
    )
    assert local_date(utc(2026, 10, 24, 22, 0), "Europe/Amsterdam") == D(2026, 10, 25)
    assert attribute(c, utc(2026, 10, 25, 0, 30)).period_start == D(2026, 1, 1)  # 02:30 +2
    assert attribute(c, utc(2026, 10, 25, 1, 30)).period_start == D(2026, 1, 1)  # 02:30 +1
    assert attribute(c, utc(2026, 10, 25, 22, 59)).period_start == D(2026, 1, 1)  # 23:59 +1
    assert attribute(c, utc(2026, 10, 25, 23, 0)).period_start == D(2026, 10, 26)  # 00:00 +1


def test_periods_anchored_mid_month():
    periods = (
        Period(D(2026, 1, 15), D(2026, 2, 14)),
        Period(D(2026, 2, 15), D(2026, 3, 14)),
    )
    c = contract("UTC", periods=periods, start_date=D(2026, 1, 15), end_date=D(2026, 3, 14))
    assert attribute(c, utc(2026, 2, 14, 23, 59)).period_start == D(2026, 1, 15)
    assert attribute(c, utc(2026, 2, 15)).period_start == D(2026, 2, 15)


def test_naive_datetimes_have_no_local_date():
    with pytest.raises(ValueError, match="naive"):
        local_date(dt.datetime(2026, 3, 1, 12), "Europe/Amsterdam")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "time zone"),
        ({"periods": ()}, "no periods"),
        ({"end_date": D(2025, 1, 1)}, "ends before"),
    ],
)
def test_a_contract_that_cannot_be_routed_is_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        contract(**overrides)


class TestRoute:
    def setup_method(self):
        self.y2025 = contract("Europe/Amsterdam", year=2025)
        self.y2026 = contract("America/New_York", year=2026)
        self.by_id = {self.y2025.id: self.y2025, self.y2026.id: self.y2026}
        self.by_account = {"ACME": [self.y2025, self.y2026]}

    def route(self, contract_id=None, work_account=None, at=None):
        at = at or utc(2026, 5, 1, 12)
        return route(contract_id, work_account, at, self.by_id, self.by_account)

    def test_a_work_account_routes_by_the_local_date_in_each_contracts_zone(self):
        assert self.route(work_account="ACME", at=utc(2025, 7, 1)).contract_id == self.y2025.id
        assert self.route(work_account="ACME", at=utc(2026, 7, 1)).contract_id == self.y2026.id
        # 23:30 on 31 December in Amsterdam; 01:00 on 1 January in New York.
        assert self.route(work_account="ACME", at=utc(2025, 12, 31, 22, 30)).contract_id == (
            self.y2025.id
        )
        assert self.route(work_account="ACME", at=utc(2026, 1, 1, 6)).contract_id == self.y2026.id
        # 03:00 UTC on 1 January 2026 is 2026 in Amsterdam but still 2025 in New York:
        # neither contract holds that instant.
        gap = self.route(work_account="ACME", at=utc(2026, 1, 1, 3))
        assert gap.reason is Unroutable.NO_CONTRACT_FOR_DATE

    def test_an_explicit_contract_wins_and_takes_any_date(self):
        result = self.route(contract_id=self.y2025.id, work_account="ACME")
        assert result == Attribution(self.y2025.id, D(2025, 12, 1), D(2025, 12, 31), True)

    def test_a_work_account_outside_every_contract_is_unroutable(self):
        result = self.route(work_account="ACME", at=utc(2027, 2, 1))
        assert isinstance(result, RoutingError)
        assert (result.reason, result.field) == (Unroutable.NO_CONTRACT_FOR_DATE, "work_account")

    def test_unknown_contract_and_unknown_account_mention_replication(self):
        unknown = self.route(contract_id=uuid.uuid4())
        assert (unknown.reason, unknown.field) == (Unroutable.UNKNOWN_CONTRACT, "contract_id")
        assert "eventual consistency" in unknown.message
        account = self.route(work_account="NOPE")
        assert (account.reason, account.field) == (Unroutable.UNKNOWN_WORK_ACCOUNT, "work_account")
        assert unknown.refused and not account.refused

    def test_neither_contract_nor_account(self):
        result = self.route()
        assert (result.reason, result.field) == (Unroutable.NO_ROUTE_GIVEN, "contract_id")

    def test_overlapping_contracts_are_ambiguous(self):
        twin = contract("Europe/Amsterdam", year=2026)
        result = route(None, "ACME", utc(2026, 5, 1), {}, {"ACME": [self.y2026, twin]})
        assert result.reason is Unroutable.AMBIGUOUS_WORK_ACCOUNT


# --- the attribution rules as a table --------------------------------------------------------

KA = contract("Europe/Amsterdam", 2026, teams=frozenset({"servicedesk"}))  # ACME, project OPS
KB = contract("Europe/Amsterdam", 2026, teams=frozenset({"field"}))  # project OPS
KC = contract("Europe/Amsterdam", 2025)  # ACME (last year)
KD = contract("UTC", 2026)  # project NET, no teams: any team
KE = contract("UTC", 2026)  # project DUP, no teams
KF = contract("UTC", 2026)  # project DUP, no teams
KG = contract("UTC", 2026, teams=frozenset({"field"}))  # project DUP, names the team "field"
BY_ID = {c.id: c for c in (KA, KB, KC, KD, KE, KF, KG)}
BY_ACCOUNT = {"ACME": [KA, KC]}
BY_PROJECT = {"OPS": [KA, KB], "NET": [KD], "DUP": [KE, KF, KG]}
MAY = utc(2026, 5, 4, 10)
R = Unroutable

ATTRIBUTION_TABLE = [
    # contract_id, work_account, project_key, team, at → contract, or the reason it has none
    (KC.id, "ACME", "OPS", "servicedesk", MAY, KC),  # 1. explicit wins, any date (flagged)
    (uuid.UUID(int=99), None, None, "servicedesk", MAY, R.UNKNOWN_CONTRACT),  # refused (422)
    (None, "ACME", None, "field", MAY, KA),  # 2. account on the date, team does not matter
    (None, "ACME", None, "field", utc(2025, 5, 4), KC),
    (None, "ACME", None, "field", utc(2027, 5, 4), R.NO_CONTRACT_FOR_DATE),  # kept
    (None, "NOPE", None, "field", MAY, R.UNKNOWN_WORK_ACCOUNT),  # kept
    (None, "NOPE", "OPS", "field", MAY, KB),  # 3. unknown account: the project key decides
    (None, "ACME", "OPS", "field", utc(2027, 5, 4), R.NO_CONTRACT_FOR_DATE),  # account first
    (None, None, "OPS", "servicedesk", MAY, KA),  # project key + team
    (None, None, "OPS", "field", MAY, KB),
    (None, None, "OPS", "night", MAY, R.NO_PROJECT_CONTRACT_FOR_TEAM),  # kept
    (None, None, "OPS", "field", utc(2027, 1, 2), R.NO_PROJECT_CONTRACT_FOR_TEAM),  # kept
    (None, None, "NET", "anyone", MAY, KD),  # a contract without teams takes any team
    (None, None, "DUP", "field", MAY, KG),  # several: the one naming the team wins
    (None, None, "DUP", "servicedesk", MAY, R.AMBIGUOUS_PROJECT),  # kept
    (None, None, "XYZ", "field", MAY, R.UNKNOWN_PROJECT),  # kept
    (None, None, None, "field", MAY, R.NO_ROUTE_GIVEN),  # refused (422)
]


@pytest.mark.parametrize(
    ("contract_id", "account", "project", "team", "at", "expected"), ATTRIBUTION_TABLE
)
def test_the_attribution_table(contract_id, account, project, team, at, expected):
    result = route(
        contract_id,
        account,
        at,
        BY_ID,
        BY_ACCOUNT,
        project_key=project,
        team=team,
        by_project=BY_PROJECT,
    )
    if isinstance(expected, Unroutable):
        assert isinstance(result, RoutingError), result
        assert result.reason is expected
        assert result.refused is (expected in (R.UNKNOWN_CONTRACT, R.NO_ROUTE_GIVEN))
    else:
        assert isinstance(result, Attribution), result
        assert result.contract_id == expected.id
