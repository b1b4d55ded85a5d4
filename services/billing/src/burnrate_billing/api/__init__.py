"""One thin router per resource: parse HTTP, call one use case, map the result."""

from __future__ import annotations

from typing import Annotated

from burnrate_common.deps import get_deps
from fastapi import Depends, Query, Response

from burnrate_billing.service import Deps

DepsDep = Annotated[Deps, Depends(get_deps)]
PreviewQuery = Annotated[
    bool, Query(description="Answer the resulting statement without applying the change")
]


def download(content: bytes | str, media_type: str, filename: str, *, inline: bool) -> Response:
    """A document as a file: shown by the browser (``inline``) or saved (attachment)."""
    disposition = "inline" if inline else "attachment"
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'{disposition}; filename="{filename}"'},
    )
