"""An invoice's date and numbering year are the seller's calendar day, not UTC's."""

import datetime as dt

from burnrate_billing.service import Deps
from burnrate_billing.service.invoices import _seller_date
from burnrate_billing.settings import BillingSettings
from burnrate_common.clock import FixedClock

NEW_YEAR_IN_AMSTERDAM = dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC)  # 00:30 on 1 January


def test_an_invoice_just_after_local_midnight_belongs_to_the_new_year():
    deps = Deps(clock=FixedClock(NEW_YEAR_IN_AMSTERDAM), settings=BillingSettings())
    assert _seller_date(deps, NEW_YEAR_IN_AMSTERDAM) == dt.date(2027, 1, 1)
    utc_seller = Deps(
        clock=FixedClock(NEW_YEAR_IN_AMSTERDAM),
        settings=BillingSettings(billing_seller_timezone="UTC"),
    )
    assert _seller_date(utc_seller, NEW_YEAR_IN_AMSTERDAM) == dt.date(2026, 12, 31)
