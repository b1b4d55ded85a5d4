"""Optimistic concurrency: a write names the version it read (``If-Match: "<version>"``) and is
refused when the row, locked by the use case, is at another version."""

from __future__ import annotations

from burnrate_common.errors import Problem


def etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(if_match: str | None, version: int, *, required: bool) -> None:
    """428 when a required If-Match is missing, 412 when it names another version."""
    if if_match is None or not if_match.strip():
        if required:
            raise Problem(
                428,
                "Precondition required",
                "Send If-Match with the ETag of the version you read.",
                field="If-Match",
            )
        return
    tags = [t.strip().removeprefix("W/") for t in if_match.split(",")]
    if "*" in tags or etag(version) in tags:
        return
    raise Problem(
        412,
        "Precondition failed",
        f"The resource changed since you read it; it is at version {version} now.",
        field="If-Match",
        current_etag=etag(version),
    )
