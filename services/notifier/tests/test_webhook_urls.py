"""The one webhook-URL parser (burnrate_common.webhook_urls), shared by the rules service
(at rule creation) and the notifier (at send time): what it refuses, and that the notifier's
HTTP client takes every URL it accepts, to the same host and port."""

import string

import httpx
import pytest
from burnrate_common.webhook_urls import InvalidWebhookUrl, parse_webhook_url
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("url", "called"),
    [
        ("https://hooks.example/x", "https://hooks.example/x"),
        ("HTTPS://Hooks.Example:443/X?a=1&b=%20", "https://hooks.example/X?a=1&b=%20"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/"),
        ("https://[2001:db8::1]:8443/hook", "https://[2001:db8::1]:8443/hook"),
        ("https://xn--bcher-kva.example/", "https://xn--bcher-kva.example/"),
        ("https://my_host.internal.example/", "https://my_host.internal.example/"),
    ],
)
def test_plain_urls_are_accepted_and_called_as_read(url, called):
    assert str(parse_webhook_url(url)) == called


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        # IPv4 in disguise: read as 127.0.0.1, 177.0.0.1 or an error, depending on who reads
        ("http://0177.0.0.1/", "is not an IPv4 address in its plain form"),
        ("http://127.1/", "is not an IPv4 address in its plain form"),
        ("http://2130706433/", "is not an IPv4 address in its plain form"),
        ("http://0x7f.0.0.1/", "is not an IPv4 address in its plain form"),
        ("http://999.1.1.1/", "is not an IPv4 address in its plain form"),
        ("http://1.2.3.4.5/", "is not an IPv4 address in its plain form"),
        ("http://hooks.example.123/", "is not an IPv4 address in its plain form"),
        ("http://[::1%25eth0]/", "with a zone"),
        ("http://[::1/", "in brackets"),
        ("http://[not-an-ip]/", "not a valid IPv6 address"),
        ("http://hooks.example./", "not a valid host name"),
        ("http://-hooks.example/", "not a valid host name"),
        ("http://xn--zz-/", "not a valid"),
        ("http://xn--00h.example/", "not a valid xn-- label"),  # U+25A7: a symbol
        ("http://xn--bcher-kva.my_host.example/", "may not stand in an international host"),
        ("http://xn--bcher-kva.ab--cd.example/", "may not stand in an international host"),
        ("http://bücher.example/", "printable ASCII only"),
        ("http://a b/", "printable ASCII only"),
        ("http://hooks.example/\r\nX-Injected: 1", "printable ASCII only"),
        ("http://hooks.example\\@evil.example/", "must not carry credentials"),
        ("http://hooks.example/a\\b", "must be percent-encoded"),
        ("http://hooks.example/a|b", "must be percent-encoded"),
        ("http://hooks.example/%zz", "escape of two hex digits"),
        ("http://hooks.example/#frag", "no #fragment"),
        ("http://u:p@hooks.example/", "must not carry credentials"),
        ("http://hooks.example:0/", "the port must be"),
        ("http://hooks.example:65536/", "the port must be"),
        ("http://hooks.example:/", "the port must be"),
        ("http://hooks.example:1:2/", "the port must be"),
        ("ftp://hooks.example/", "must be http or https"),
        ("hooks.example/x", "give an absolute http(s) URL"),
        ("http:///x", "the URL has no host"),
        ("http://" + "a" * 2000 + ".example/", "longer than 2000"),
    ],
)
def test_ambiguous_or_uncallable_urls_are_refused_with_the_reason(url, reason):
    with pytest.raises(InvalidWebhookUrl, match=None) as refused:
        parse_webhook_url(url)
    assert reason in str(refused.value)


def test_https_can_be_required():
    with pytest.raises(InvalidWebhookUrl, match="must be https"):
        parse_webhook_url("http://hooks.example/", require_https=True)
    assert parse_webhook_url("https://hooks.example/", require_https=True).port == 443


def _agrees_with_httpx(url: str) -> None:
    """If the shared parser accepts ``url``, the notifier's HTTP client builds a request to
    the same scheme, host, port and target from the URL the sender calls."""
    try:
        parsed = parse_webhook_url(url)
    except InvalidWebhookUrl:
        return
    request = httpx.Request("POST", str(parsed))
    assert request.url.scheme == parsed.scheme
    assert request.url.raw_host.decode("ascii") == parsed.host
    assert (request.url.port or {"http": 80, "https": 443}[parsed.scheme]) == parsed.port
    assert request.url.raw_path.decode("ascii") == parsed.target


_label = st.from_regex(
    r"\A(?:[a-z0-9_]|[a-z0-9_][a-z0-9_-]{0,8}[a-z0-9_]|xn--[a-z0-9]{1,8})\Z"
) | st.text(
    st.characters(categories=["Ll", "Lo", "Lm", "Mn", "Mc", "Nd"]), min_size=1, max_size=5
).map(lambda u: "xn--" + u.encode("punycode").decode("ascii").lower())
_octet = st.integers(0, 255).map(str) | st.sampled_from(["00", "0177", "0x7f", "256", "08"])
_host = st.one_of(
    st.lists(_label, min_size=1, max_size=4).map(".".join),
    st.lists(_octet, min_size=1, max_size=5).map(".".join),
    st.ip_addresses(v=6).map(lambda ip: f"[{ip}]"),
    st.text(string.printable, max_size=12),
)
_port = st.none() | st.integers(0, 70_000).map(str) | st.sampled_from(["", "08", "+1", "1e3"])
_target = st.text(
    string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@/%?#\\|{} \"<>", max_size=20
)


@settings(max_examples=1000, deadline=None)
@given(
    scheme=st.sampled_from(["http", "https", "HTTP", "ftp"]),
    host=_host,
    port=_port,
    target=_target,
)
def test_every_url_the_parser_accepts_is_one_the_http_client_calls_alike(
    scheme, host, port, target
):
    authority = host if port is None else f"{host}:{port}"
    _agrees_with_httpx(f"{scheme}://{authority}{target}")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_is_refused_or_called_alike(text):
    _agrees_with_httpx(text)
    _agrees_with_httpx(f"http://{text}")
