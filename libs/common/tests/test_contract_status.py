import pytest
from burnrate_common.contract_status import derive_status
from burnrate_testing import CONTRACT_STATUS_CASES


@pytest.mark.parametrize(
    ("lifecycle", "start", "end", "today", "window", "exhausted", "expected"),
    CONTRACT_STATUS_CASES,
)
def test_the_status_table(lifecycle, start, end, today, window, exhausted, expected):
    status = derive_status(
        lifecycle=lifecycle,
        start_date=start,
        end_date=end,
        today=today,
        expiring_within_days=window,
        exhausted=exhausted,
    )
    assert status == expected
