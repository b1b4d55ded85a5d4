"""``burnrate_common.bodies.read_capped``, as the batch, import and Jira routes use it."""

from __future__ import annotations

import pytest
from burnrate_common.bodies import read_capped
from burnrate_common.errors import Problem
from starlette.requests import Request
from starlette.types import Message


def request(chunks: list[bytes], content_length: int | None = None) -> tuple[Request, list[int]]:
    """A request whose body arrives in ``chunks``; the list counts the chunks read."""
    headers = [] if content_length is None else [(b"content-length", str(content_length).encode())]
    read: list[int] = []

    async def receive() -> Message:
        n = len(read)
        read.append(n)
        return {
            "type": "http.request",
            "body": chunks[n] if n < len(chunks) else b"",
            "more_body": n + 1 < len(chunks),
        }

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    return Request(scope, receive), read


async def test_a_body_within_the_limit_is_read_whole() -> None:
    r, _ = request([b"abc", b"def"], 6)
    assert await read_capped(r, 6, what="batch") == b"abcdef"


async def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    r, read = request([b"x" * 10], 2**20 + 1)
    with pytest.raises(Problem) as refused:
        await read_capped(r, 2**20, what="webhook")
    assert (refused.value.status, refused.value.detail, refused.value.field) == (
        413,
        "At most 1 MiB per webhook.",
        "body",
    )
    assert read == []


async def test_a_stream_over_the_limit_is_refused_as_it_arrives() -> None:
    r, read = request([b"x" * 600, b"x" * 600, b"x" * 600])  # chunked: no length
    with pytest.raises(Problem) as refused:
        await read_capped(r, 1000, what="request")
    assert (refused.value.status, refused.value.detail) == (413, "At most 1000 bytes per request.")
    assert len(read) == 2
