from decimal import Decimal

import pytest
from burnrate_common.figures import Figures


@pytest.mark.parametrize(
    ("planned", "executed", "percent", "remaining", "overage", "exhausted"),
    [
        (144000, 0, Decimal("0.0"), 144000, 0, False),
        (144000, 129599, Decimal("89.9"), 14401, 0, False),  # 89.999 % is not yet 90 %
        (144000, 129600, Decimal("90.0"), 14400, 0, False),
        (144000, 144000, Decimal("100.0"), 0, 0, True),
        (144000, 216000, Decimal("150.0"), 0, 72000, True),
        (0, 3600, None, 0, 3600, True),
        (3600, -60, Decimal("0.0"), 3660, 0, False),
    ],
)
def test_figures(planned, executed, percent, remaining, overage, exhausted):
    figures = Figures(planned, executed)
    assert figures.percent == percent
    assert figures.remaining_seconds == remaining
    assert figures.overage_seconds == overage
    assert figures.exhausted is exhausted
