"""Signed unsubscribe links, checked without a server."""

import datetime as dt

import pytest
from burnrate_notifier.domain.unsubscribe import InvalidLink, UnsubscribeLinks

NOW = dt.datetime(2026, 3, 20, 9, 30, tzinfo=dt.UTC)
LINKS = UnsubscribeLinks(b"secret", "http://notifier.example", 180)


def test_a_link_grants_its_address_until_it_expires():
    token = LINKS.url("Ann@Acme.example", "nl", NOW).rsplit("/", 1)[1]
    grant = LINKS.verify(token, NOW)
    assert (grant.address, grant.language) == ("ann@acme.example", "nl")
    with pytest.raises(InvalidLink):
        LINKS.verify(token, NOW + dt.timedelta(days=181))


@pytest.mark.parametrize("token", ["é.é", "abc.dé", "é", "\u0000.x", "a.b\udc80"])
def test_a_token_with_non_ascii_characters_is_invalid_not_an_error(token):
    with pytest.raises(InvalidLink):
        LINKS.verify(token, NOW)
