"""What a webhook URL may be, and which addresses a webhook may reach: one parser for the
rules service (when a rule is created or changed) and the notifier (when it sends), so a URL
that was accepted is a URL the sender can call, and one it could never call is refused while
a person is there to read why.

The parser is strict on purpose. URL parsers disagree at the edges (``0177.0.0.1`` is
127.0.0.1 to one program, 177.0.0.1 to another and an error to a third; a backslash is a
slash to a browser), so anything outside the plain, unambiguous form is refused rather than
interpreted:

- scheme ``http`` or ``https``; no credentials; no ``#fragment``;
- only printable ASCII (percent-encode anything else; an international host in its
  ``xn--`` form);
- the host is a DNS name (letters, digits, ``-`` and ``_``, labels of 1–63 characters, no
  empty label), an IPv4 address as four decimal numbers without leading zeros, or an IPv6
  address in brackets without a zone; a name whose last label is a number is an IPv4
  address in disguise and is refused;
- an explicit port is 1–65535; path and query hold RFC 3986 characters and valid
  ``%XX`` escapes only.

Standard library only: the rules service has no HTTP client.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "MAX_LENGTH",
    "InvalidWebhookUrl",
    "WebhookUrl",
    "address_problem",
    "addresses_problem",
    "parse_webhook_url",
]

MAX_LENGTH = 2000

_DEFAULT_PORTS = {"http": 80, "https": 443}
_SPLIT = re.compile(
    r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)"
    r"(?P<path>[^?#]*)(?:\?(?P<query>[^#]*))?(?P<fragment>#.*)?$"
)
_BRACKETED = re.compile(r"^\[(?P<host>[^\]]*)\](?::(?P<port>.*))?$")
_PLAIN = re.compile(r"^(?P<host>[^:]*)(?::(?P<port>.*))?$")
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
#: A last label the WHATWG URL standard (browsers, curl's newer versions) reads as a number.
_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")
#: RFC 3986 pchar (unreserved, sub-delims, ":" "@") with "/" and "%" (escapes checked apart).
_PATH_CHARS = re.compile(r"^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$")
_QUERY_CHARS = re.compile(r"^[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*$")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class InvalidWebhookUrl(ValueError):
    """This URL can never be a webhook target; the message says why, to a person."""


@dataclass(frozen=True)
class WebhookUrl:
    """A webhook URL as the parser read it; ``str()`` is the URL that is called."""

    scheme: str
    #: lower-case DNS name, dotted-quad IPv4, or IPv6 without brackets
    host: str
    port: int
    #: path (at least "/") and "?query" if there is one
    target: str

    @property
    def ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        """The address when the host is an IP literal (no DNS lookup then)."""
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port == _DEFAULT_PORTS[self.scheme] else f":{self.port}"
        return f"{self.scheme}://{host}{port}{self.target}"


def parse_webhook_url(url: str, *, require_https: bool = False) -> WebhookUrl:
    """Read ``url`` as a webhook target or raise :class:`InvalidWebhookUrl` saying why."""
    if len(url) > MAX_LENGTH:
        raise InvalidWebhookUrl(f"the URL is longer than {MAX_LENGTH} characters")
    if not url.isascii() or not url.isprintable() or " " in url:
        raise InvalidWebhookUrl(
            "the URL may hold printable ASCII only, without spaces: percent-encode other "
            "characters and write an international host name in its xn-- form"
        )
    parts = _SPLIT.match(url)
    if parts is None:
        raise InvalidWebhookUrl("give an absolute http(s) URL, e.g. https://hooks.example/burnrate")
    scheme = parts["scheme"].lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidWebhookUrl("the URL must be http or https")
    if require_https and scheme != "https":
        raise InvalidWebhookUrl("the URL must be https")
    if parts["fragment"] is not None:
        raise InvalidWebhookUrl("a webhook URL has no #fragment (it is never sent)")
    authority = parts["authority"]
    if "@" in authority:
        raise InvalidWebhookUrl("the URL must not carry credentials")
    host, port_text = _host_and_port(authority)
    port = _DEFAULT_PORTS[scheme] if port_text is None else _port(port_text)
    path = parts["path"] or "/"
    query = parts["query"]
    if not _PATH_CHARS.match(path) or (query is not None and not _QUERY_CHARS.match(query)):
        raise InvalidWebhookUrl(
            "the path or query holds a character that must be percent-encoded "
            '(e.g. a space, \\, ", <, >, {, } or |)'
        )
    if _BAD_ESCAPE.search(path) or (query is not None and _BAD_ESCAPE.search(query)):
        raise InvalidWebhookUrl("a % in the URL must start an escape of two hex digits")
    target = path if query is None else f"{path}?{query}"
    return WebhookUrl(scheme, host, port, target)


def _host_and_port(authority: str) -> tuple[str, str | None]:
    if authority.startswith("["):
        bracketed = _BRACKETED.match(authority)
        if bracketed is None:
            raise InvalidWebhookUrl("an IPv6 host is written in brackets: https://[2001:db8::1]/")
        text = bracketed["host"]
        if "%" in text:
            raise InvalidWebhookUrl("an IPv6 address with a zone (%...) cannot be a webhook host")
        try:
            return str(ipaddress.IPv6Address(text)), bracketed["port"]
        except ValueError as exc:
            raise InvalidWebhookUrl(f"not a valid IPv6 address: {text}") from exc
    plain = _PLAIN.match(authority)
    if plain is None:  # a ":" in the port: "h:1:2"
        raise InvalidWebhookUrl("the port must be a number from 1 to 65535")
    host = plain["host"].lower()
    if not host:
        raise InvalidWebhookUrl("the URL has no host")
    labels = host.split(".")
    if _NUMERIC_LABEL.match(labels[-1]):
        try:
            ip = ipaddress.IPv4Address(host)
        except ValueError:
            ip = None
        if ip is None or str(ip) != host:
            raise InvalidWebhookUrl(
                f"{host} is not an IPv4 address in its plain form: write four decimal numbers "
                "without leading zeros (e.g. 192.0.2.10); other forms are read differently "
                "by different programs"
            )
        return host, plain["port"]
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise InvalidWebhookUrl(
            f"{host} is not a valid host name: labels of 1 to 63 letters, digits, - or _, "
            "separated by single dots"
        )
    if any(label.startswith("xn--") for label in labels):
        # An international name is checked as a whole by IDNA 2008: then its other labels
        # are plain letters, digits and hyphens too (no "_", no "--" in 3rd and 4th place).
        for label in labels:
            if label.startswith("xn--"):
                if not _valid_a_label(label):
                    raise InvalidWebhookUrl(f"{label} is not a valid xn-- label (IDNA 2008)")
            elif "_" in label or label[2:4] == "--":
                raise InvalidWebhookUrl(
                    f"{label} may not stand in an international host name (IDNA 2008): "
                    "no _ and no -- in its 3rd and 4th place"
                )
    return host, plain["port"]


# -- international names (xn-- labels) ---------------------------------------------------
#
# The notifier's HTTP client checks an xn-- label by IDNA 2008 (RFC 5891-5893) and raises on
# one it finds invalid. Without its tables here (the standard library knows only IDNA 2003),
# a label is accepted when it is certainly valid by IDNA 2008: the canonical encoding of an
# NFC label of lower-case letters, marks (not first) and digits that case folding and NFKC
# leave alone, without the code points IDNA 2008 disallows among those, and within the Bidi
# Rule. That refuses a few valid labels (ß, final sigma …) and never passes an invalid one.

#: Letters and marks IDNA 2008 disallows although NFKC_Casefold leaves them alone: the
#: exceptions of RFC 5892 §2.6, default-ignorable fillers and variation selectors,
#: old Hangul jamo, and the blocks it ignores.
_DISALLOWED_RANGES = (
    (0x034F, 0x034F),  # COMBINING GRAPHEME JOINER (ignorable)
    (0x0640, 0x0640),  # ARABIC TATWEEL
    (0x07FA, 0x07FA),  # NKO LAJANYALAN
    (0x1100, 0x11FF),  # Hangul Jamo (old)
    (0x17B4, 0x17B5),  # Khmer inherent vowels (ignorable)
    (0x180B, 0x180F),  # Mongolian variation selectors
    (0x20D0, 0x20FF),  # combining marks for symbols
    (0x302E, 0x302F),  # Hangul single and double dot tone marks
    (0x3031, 0x3035),  # vertical kana repeat marks
    (0x303B, 0x303B),  # vertical ideographic iteration mark
    (0x3164, 0x3164),  # HANGUL FILLER
    (0xA960, 0xA97F),  # Hangul Jamo Extended-A
    (0xD7B0, 0xD7FF),  # Hangul Jamo Extended-B
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFFA0, 0xFFA0),  # HALFWIDTH HANGUL FILLER
    (0x1D100, 0x1D24F),  # musical symbols, ancient Greek musical notation
    (0xE0000, 0xE0FFF),  # tags and variation selectors supplement
)
_ARABIC_INDIC = range(0x0660, 0x066A)
_EXTENDED_ARABIC_INDIC = range(0x06F0, 0x06FA)


def _valid_a_label(label: str) -> bool:
    try:
        ulabel = label[4:].encode("ascii").decode("punycode")
        canonical = "xn--" + ulabel.encode("punycode").decode("ascii")
    except UnicodeError:
        return False
    if canonical != label or ulabel.isascii() or not unicodedata.is_normalized("NFC", ulabel):
        return False
    if ulabel.startswith("-") or ulabel.endswith("-") or ulabel[2:4] == "--":
        return False
    if unicodedata.category(ulabel[0]).startswith("M"):
        return False
    points = [ord(c) for c in ulabel]
    if any(p in _ARABIC_INDIC for p in points) and any(p in _EXTENDED_ARABIC_INDIC for p in points):
        return False
    for char, point in zip(ulabel, points, strict=True):
        if char.isascii():
            if not (char.islower() or char.isdigit() or char == "-"):
                return False
            continue
        if unicodedata.category(char) not in ("Ll", "Lo", "Lm", "Mn", "Mc", "Nd"):
            return False
        if unicodedata.normalize("NFKC", char.casefold()) != char:
            return False
        if any(low <= point <= high for low, high in _DISALLOWED_RANGES):
            return False
    return _bidi_ok(ulabel)


def _bidi_ok(ulabel: str) -> bool:
    """The Bidi Rule (RFC 5893 §2), for a label holding right-to-left characters."""
    directions = [unicodedata.bidirectional(c) for c in ulabel]
    if not any(d in ("R", "AL", "AN") for d in directions):
        return True
    if directions[0] not in ("L", "R", "AL"):
        return False
    significant = [d for d in directions if d != "NSM"]
    if directions[0] in ("R", "AL"):
        allowed = {"R", "AL", "AN", "EN", "ES", "CS", "ET", "ON", "BN", "NSM"}
        return (
            set(directions) <= allowed
            and significant[-1] in ("R", "AL", "EN", "AN")
            and not ("EN" in directions and "AN" in directions)
        )
    allowed = {"L", "EN", "ES", "CS", "ET", "ON", "BN", "NSM"}
    return set(directions) <= allowed and significant[-1] in ("L", "EN")


def _port(text: str) -> int:
    if not text.isdigit() or len(text) > 5 or not 1 <= int(text) <= 65_535:
        raise InvalidWebhookUrl("the port must be a number from 1 to 65535")
    return int(text)


# -- addresses -----------------------------------------------------------------------------

_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries and reaches: IPv4-mapped (::ffff:0:0/96),
    6to4 (2002::/16), Teredo (2001::/32: server and client) and NAT64 (64:ff9b::/96 and the
    local-use 64:ff9b:1::/48, the IPv4 in the last 32 bits)."""
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if any(ip in network for network in _NAT64):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def _kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    for kind, refused in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("private", ip.is_private),
        ("unspecified", ip.is_unspecified),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
    ):
        if refused:
            return f"a {kind} address"
    if not ip.is_global:
        return "not a public address"
    return None


def address_problem(address: str) -> str | None:
    """Why a webhook may not connect to this resolved address (loopback, link-local,
    private, reserved, not public, or an IPv6 address that embeds such an IPv4), or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # the same host as its IPv4: name it so
            kind = _kind(ip.ipv4_mapped)
            return None if kind is None else f"{address} is {kind}"
        for inner in _embedded_ipv4(ip):
            kind = _kind(inner)
            if kind is not None:
                return f"{address} embeds {inner}, which is {kind}"
    kind = _kind(ip)
    return None if kind is None else f"{address} is {kind}"


def addresses_problem(addresses: Iterable[str]) -> str | None:
    """Refuse the host if ANY address it resolves to is refused (no picking the good one)."""
    for address in addresses:
        problem = address_problem(address)
        if problem:
            return problem
    return None
