import hashlib
import hmac

import pytest
from burnrate_notifier.domain.webhooks import (
    address_problem,
    addresses_problem,
    encode_body,
    sign,
    url_problem,
    verify,
)
from burnrate_notifier.webhook import classify_response


def test_signature_is_hmac_sha256_of_the_exact_body():
    body = encode_body({"b": 1, "a": "é"})
    assert body == '{"a":"é","b":1}'
    expected = hmac.new(b"s3cret", body.encode(), hashlib.sha256).hexdigest()
    assert sign(b"s3cret", body.encode()) == f"sha256={expected}"
    assert verify(b"s3cret", body.encode(), f"sha256={expected}")
    assert not verify(b"other", body.encode(), f"sha256={expected}")


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.10", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("::ffff:127.0.0.1", "loopback"),
        ("0.0.0.0", "private"),
        ("fd00::1", "private"),
        ("100.64.0.1", "not a public address"),
    ],
)
def test_internal_addresses_are_refused(address, kind):
    problem = address_problem(address)
    assert problem is not None and kind in problem


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::1111", "8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert address_problem(address) is None


def test_one_internal_address_among_public_ones_refuses_the_host():
    assert addresses_problem(["8.8.8.8", "10.0.0.1"]) == "10.0.0.1 is a private address"
    assert addresses_problem(["8.8.8.8"]) is None


def test_urls():
    assert url_problem("https://hooks.example/x", require_https=True) is None
    assert url_problem("http://hooks.example/x", require_https=False) is None
    assert url_problem("http://hooks.example/x", require_https=True) == "the URL must be https"
    assert url_problem("ftp://hooks.example/x", require_https=False) == (
        "the URL must be http or https"
    )
    assert url_problem("https://u:p@hooks.example/", require_https=False) == (
        "the URL must not carry credentials"
    )
    assert url_problem("https:///x", require_https=False) == "the URL has no host"
    assert url_problem("https://h.example:99999/", require_https=False).startswith("not a valid")


def test_responses():
    assert classify_response(204) is None
    assert classify_response(500).permanent is False
    assert classify_response(429).permanent is False
    assert classify_response(404).permanent is True
    assert classify_response(302).permanent is True
