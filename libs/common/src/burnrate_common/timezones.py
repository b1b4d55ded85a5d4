"""Which time zone names Burnrate accepts: the IANA zones, by their canonical names.

``zoneinfo`` also opens files that are no zone a contract can be in — ``localtime`` (the
server's own), ``posixrules``, ``Factory``, and the ``right/`` (leap-second) and ``posix/``
copies — so the test is membership in the IANA list, not whether the file opens.
"""

from __future__ import annotations

import functools
import zoneinfo

_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})
_NOT_ZONE_PREFIXES = ("right/", "posix/")


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(
        name
        for name in zoneinfo.available_timezones()
        if name not in _NOT_ZONES and not name.startswith(_NOT_ZONE_PREFIXES)
    )


def is_valid_timezone(name: str) -> bool:
    """An IANA zone name such as ``Europe/Amsterdam`` or ``UTC``."""
    return name in _zones()
