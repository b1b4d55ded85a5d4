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


@pytest.mark.parametrize(
    ("address", "inner", "kind"),
    [
        # 6to4 (2002::/16): the IPv4 in bits 16-47
        ("2002:7f00:1::1", "127.0.0.1", "loopback"),
        ("2002:a00:1::1", "10.0.0.1", "private"),
        ("2002:a9fe:a9fe::1", "169.254.169.254", "link-local"),
        # NAT64, the well-known prefix (64:ff9b::/96) and the local-use one (64:ff9b:1::/48)
        ("64:ff9b::7f00:1", "127.0.0.1", "loopback"),
        ("64:ff9b::a9fe:a9fe", "169.254.169.254", "link-local"),
        ("64:ff9b:1::c0a8:101", "192.168.1.1", "private"),
        # Teredo (2001::/32): server 65.54.227.120, client 192.168.1.1 (stored inverted)
        ("2001:0:4136:e378:8000:63bf:3f57:fefe", "192.168.1.1", "private"),
    ],
)
def test_ipv6_addresses_that_embed_an_internal_ipv4_are_refused(address, inner, kind):
    assert address_problem(address) == f"{address} embeds {inner}, which is a {kind} address"


@pytest.mark.parametrize(
    ("address", "kind"),
    [("::ffff:10.0.0.1", "private"), ("::ffff:169.254.169.254", "link-local")],
)
def test_ipv4_mapped_addresses_are_judged_as_their_ipv4(address, kind):
    assert address_problem(address) == f"{address} is a {kind} address"


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "2606:4700::1111", "8.8.8.8", "2002:808:808::1"]
)
def test_public_addresses_are_allowed(address):
    # 2002:808:808::1 is 6to4 for 8.8.8.8: public inside, so public.
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
    assert url_problem("https://h.example:99999/", require_https=False) == (
        "the port must be a number from 1 to 65535"
    )


def test_responses():
    assert classify_response(204) is None
    assert classify_response(500).permanent is False
    assert classify_response(429).permanent is False
    assert classify_response(404).permanent is True
    assert classify_response(302).permanent is True
