"""Unit tests: the CSV cell guard and the link tokens (burnrate_common.report_links) as
reporting uses them."""

import datetime as dt
import uuid

import pytest
from burnrate_common import report_links
from burnrate_reporting.api.exports import safe_cell
from burnrate_reporting.settings import ReportingSettings

NOW = dt.datetime(2026, 3, 15, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=1+2", "'=1+2"),
        ("\t=1+2", "'\t=1+2"),
        ("\r=1+2", "'\r=1+2"),
        ("\n=1+2", "'\n=1+2"),
        ("\t1", "'\t1"),  # float() would read it as 1.0; a spreadsheet may run what follows
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-inf", "'-inf"),
        ("-2.50", "-2.50"),
        ("+3", "+3"),
        ("12.00", "12.00"),
        ("plain", "plain"),
        ("", ""),
    ],
)
def test_safe_cell(text, expected):
    assert safe_cell(text) == expected


def test_no_secret_means_no_signing_and_no_constant():
    assert not hasattr(report_links, "DEVELOPMENT_LINK_SECRET")
    settings = ReportingSettings(report_link_secret=None)
    assert not settings.has_link_secret
    with pytest.raises(report_links.LinkSecretMissing, match="BURNRATE_REPORT_LINK_SECRET"):
        _ = settings.link_secret
    with pytest.raises(report_links.LinkSecretMissing):
        settings.customer_report_url(uuid.uuid4(), NOW)


def test_a_link_names_its_record_and_old_tokens_still_verify():
    secret = b"s3cret"
    customer, link = uuid.uuid4(), uuid.uuid4()
    expires = NOW + dt.timedelta(days=1)
    with_record = report_links.verify(
        secret, report_links.sign(secret, customer, expires, link_id=link), NOW
    )
    assert (with_record.customer_id, with_record.link_id) == (customer, link)
    plain = report_links.verify(secret, report_links.sign(secret, customer, expires), NOW)
    assert (plain.customer_id, plain.link_id, plain.expires_at) == (customer, None, expires)
