import pytest
from burnrate_common.timezones import is_valid_timezone


@pytest.mark.parametrize("name", ["Europe/Amsterdam", "UTC", "America/New_York", "Asia/Kolkata"])
def test_iana_zones_are_accepted(name):
    assert is_valid_timezone(name)


@pytest.mark.parametrize(
    "name",
    [
        "localtime",
        "posixrules",
        "Factory",
        "right/UTC",
        "posix/Europe/Amsterdam",
        "Mars/Base",
        "",
        "europe/amsterdam",
    ],
)
def test_files_that_are_no_zone_are_refused(name):
    assert not is_valid_timezone(name)
