"""Request bodies read by hand, with a size cap.

A route that takes its body as raw bytes (a batch validated in one pass, a CSV file, a signed
webhook) reads it with :func:`read_capped`, so an oversized body is refused before it is
parsed, and mostly before it is read at all.
"""

from __future__ import annotations

from starlette.requests import Request

from burnrate_common.errors import Problem

__all__ = ["read_capped"]


def _size(limit_bytes: int) -> str:
    """``32 MiB``, ``64 KiB`` or ``1000 bytes``: the limit as a reader would write it."""
    if limit_bytes >= 2**20 and limit_bytes % 2**20 == 0:
        return f"{limit_bytes // 2**20} MiB"
    if limit_bytes >= 2**10 and limit_bytes % 2**10 == 0:
        return f"{limit_bytes // 2**10} KiB"
    return f"{limit_bytes} bytes"


async def read_capped(request: Request, limit_bytes: int, *, what: str) -> bytes:
    """The request's body, at most ``limit_bytes`` long.

    Raises a 413 :class:`~burnrate_common.errors.Problem` (field ``body``, detail "At most
    32 MiB per ``what``.") as soon as the body is known to be longer: from its
    ``Content-Length`` before anything is read, else while it streams in (a chunked upload,
    or a ``Content-Length`` that understates it), without keeping more than the limit.
    """
    too_large = Problem(
        413, "Body too large", f"At most {_size(limit_bytes)} per {what}.", field="body"
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit_bytes:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit_bytes:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)
