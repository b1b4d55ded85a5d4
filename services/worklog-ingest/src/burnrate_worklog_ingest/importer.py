"""``burnrate import FILE --source toggl|harvest|csv|ndjson``: a time export into
worklog-ingest.

A CSV file is posted in chunks of whole records (default 5,000) to ``/v1/imports/csv``, each
chunk with the header line and its position in the file, so rejections name file lines.
``--all-or-nothing`` (default) first checks every chunk (``dry_run``) and imports nothing if
any row is bad; ``--skip-invalid`` imports the good rows and reports the bad ones.

An NDJSON file (one worklog per line) is streamed in one request to ``/v1/worklogs/stream``
with the same mode, which the service applies across the whole stream.

It prints what happened (created, updated, unchanged, rejected) and exits 0; a failure (the
file cannot be read, the service cannot be reached, an HTTP error) is one line on stderr and
a non-zero exit: 2 for the command line or the file, 3 for the network, 1 for everything
else (bad rows with ``--all-or-nothing``, an HTTP error).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import httpx

from burnrate_worklog_ingest.domain.csv_rows import GENERIC_FIELDS

FORMATS = {"toggl": "toggl", "harvest": "harvest", "csv": "generic"}


@dataclass
class Summary:
    imported: int = 0
    duplicates: int = 0
    updated: int = 0
    stale: int = 0
    unattributed: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    failed: str | None = None

    def add(self, answer: dict[str, Any]) -> None:
        self.imported += answer.get("imported", 0)
        self.duplicates += answer.get("duplicates", 0)
        self.updated += answer.get("updated", 0)
        self.stale += answer.get("stale", 0)
        self.unattributed += answer.get("unattributed", 0)
        self.rejected.extend(answer.get("rejected", []))

    def lines(self) -> list[str]:
        """What happened: created, updated (corrections), unchanged, rejected."""
        out = [
            f"created: {self.imported} ({self.unattributed} unattributed)",
            f"updated: {self.updated}",
            f"unchanged: {self.duplicates}" + (f" ({self.stale} older)" if self.stale else ""),
            f"rejected: {len(self.rejected)}",
        ]
        out += [f"  line {r['line']}: {r['field']}: {r['reason']}" for r in self.rejected]
        return out

    def failure(self) -> str:
        """The one line a failure is told in, with what was done before it, if anything."""
        done = self.imported + self.updated + self.duplicates + self.stale
        before = (
            f" (before it: {self.imported} created, {self.updated} updated, "
            f"{self.duplicates} unchanged)"
            if done
            else " (nothing was imported)"
        )
        return f"burnrate: {self.failed}{before}"


def _problem(response: httpx.Response) -> dict[str, Any]:
    """An error answer's problem document, or an empty one (it may not be JSON)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _http_failure(response: httpx.Response) -> str:
    problem = _problem(response)
    detail = problem.get("detail") or problem.get("title") or response.text[:200] or "no detail"
    return f"worklog-ingest answered HTTP {response.status_code}: {detail}"


def chunks(text: str, rows: int) -> Iterator[tuple[str, int, int]]:
    """(body, line_offset, data rows) per chunk of whole CSV records, header repeated."""
    text = text.removeprefix("\ufeff")
    lines = text.splitlines(keepends=True)
    if not lines:
        return
    header = lines[0]
    reader = csv.reader(iter(lines[1:]))
    start, count = 0, 0  # index into lines[1:] where the chunk starts
    for _record in reader:
        count += 1
        if count == rows:
            end = reader.line_num
            yield header + "".join(lines[1 + start : 1 + end]), start, count
            start, count = end, 0
    if count:
        yield header + "".join(lines[1 + start :]), start, count


def progress(done: int, total: int, out: TextIO) -> None:
    width = 30
    filled = width * done // total if total else width
    out.write(f"\r[{'#' * filled}{' ' * (width - filled)}] {done}/{total} rows")
    out.flush()


async def upload(
    client: httpx.AsyncClient,
    text: str,
    source: str,
    *,
    all_or_nothing: bool = True,
    chunk_rows: int = 5000,
    params: dict[str, str] | None = None,
    out: TextIO = sys.stderr,
) -> Summary:
    parts = list(chunks(text, chunk_rows))
    total = sum(n for _, _, n in parts)
    base = {"format": FORMATS[source], **(params or {})}
    summary = Summary()

    async def post(body: str, offset: int, **extra: str) -> dict[str, Any] | None:
        response = await client.post(
            "/v1/imports/csv",
            params={**base, "line_offset": str(offset), **extra},
            content=body.encode(),
            headers={"content-type": "text/csv; charset=utf-8"},
        )
        if response.status_code == 200:
            result: dict[str, Any] = response.json()  # an ImportOut
            return result
        problem = _problem(response)
        if response.status_code == 422 and "rejected" in problem:
            return {"rejected": problem["rejected"]}
        summary.failed = _http_failure(response)
        return None

    if all_or_nothing:  # check every chunk first: nothing is stored if one row is bad
        done = 0
        for body, offset, count in parts:
            answer = await post(body, offset, mode="skip-invalid", dry_run="true")
            if answer is None:
                return summary
            summary.rejected.extend(answer["rejected"])
            done += count
            progress(done, total, out)
        out.write("\n")
        if summary.rejected:
            return summary
    done = 0
    mode = "all-or-nothing" if all_or_nothing else "skip-invalid"
    for body, offset, count in parts:
        answer = await post(body, offset, mode=mode)
        if answer is None:
            break
        summary.add(answer)
        done += count
        progress(done, total, out)
    out.write("\n")
    return summary


async def upload_ndjson(
    client: httpx.AsyncClient,
    data: BinaryIO,
    total: int,
    *,
    all_or_nothing: bool = True,
    out: TextIO = sys.stderr,
    piece: int = 1 << 20,
) -> Summary:
    """Stream ``data`` (``total`` bytes) as it is read; the progress bar counts bytes sent."""
    summary = Summary()

    async def body() -> AsyncIterator[bytes]:
        sent = 0
        while chunk := await asyncio.to_thread(data.read, piece):
            sent += len(chunk)
            yield chunk
            out.write(f"\r{sent * 100 // max(total, 1):3d} % of {total} bytes")
            out.flush()
        out.write("\n")

    response = await client.post(
        "/v1/worklogs/stream",
        params={"mode": "all-or-nothing" if all_or_nothing else "skip-invalid"},
        content=body(),
        headers={"content-type": "application/x-ndjson"},
    )
    answer = _problem(response)
    if response.status_code == 200:
        summary.add(answer)
    elif response.status_code == 422 and "rejected" in answer:
        summary.rejected.extend(answer["rejected"])
    else:
        summary.failed = _http_failure(response)
    return summary


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="burnrate", description="Burnrate command line")
    commands = p.add_subparsers(dest="command", required=True)
    imp = commands.add_parser("import", help="import a time-tracking CSV export or NDJSON")
    imp.add_argument(
        "file", type=Path, help="the export: a CSV file, or NDJSON (one worklog a line)"
    )
    imp.add_argument(
        "--source",
        choices=sorted([*FORMATS, "ndjson"]),
        required=True,
        help="toggl or harvest: their detailed time export; csv: any CSV, with --map",
    )
    mode = imp.add_mutually_exclusive_group()
    mode.add_argument(
        "--all-or-nothing",
        dest="all_or_nothing",
        action="store_true",
        default=True,
        help="one bad row and nothing is imported; every bad row is listed (default)",
    )
    mode.add_argument(
        "--skip-invalid",
        dest="all_or_nothing",
        action="store_false",
        help="import the good rows and list the bad ones with their line and reason",
    )
    imp.add_argument("--url", default="http://127.0.0.1:8002", help="worklog-ingest's address")
    imp.add_argument(
        "--api-key",
        default=os.environ.get("BURNRATE_API_KEY"),
        help="a key with worklogs:write (default: $BURNRATE_API_KEY)",
    )
    imp.add_argument(
        "--team", default="unassigned", help="the team of rows that do not name one themselves"
    )
    imp.add_argument("--timezone", default="UTC", help="IANA zone of the export's times")
    imp.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=HEADER",
        help="--source csv: the column (by header name) holding a worklog field, repeated "
        "per field, e.g. --map author=Engineer --map hours=Time. Fields: "
        + ", ".join(GENERIC_FIELDS),
    )
    imp.add_argument(
        "--chunk-rows", type=int, default=5000, help="CSV rows per request (default 5000)"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not args.api_key:
        print("burnrate: --api-key or BURNRATE_API_KEY is required", file=sys.stderr)
        return 2
    params = {"team": args.team, "timezone": args.timezone}
    for pair in args.map:
        name, sep, header = pair.partition("=")
        if not sep:
            print(f"burnrate: --map {pair!r}: expected FIELD=HEADER", file=sys.stderr)
            return 2
        params[f"map.{name}"] = header

    async def run() -> Summary:
        headers = {"Authorization": f"Bearer {args.api_key}"}
        async with httpx.AsyncClient(base_url=args.url, headers=headers, timeout=120) as client:
            if args.source == "ndjson":
                with args.file.open("rb") as data:
                    return await upload_ndjson(
                        client,
                        data,
                        args.file.stat().st_size,
                        all_or_nothing=args.all_or_nothing,
                    )
            text = args.file.read_text(encoding="utf-8")
            return await upload(
                client,
                text,
                args.source,
                all_or_nothing=args.all_or_nothing,
                chunk_rows=args.chunk_rows,
                params=params,
            )

    if not args.file.is_file():
        reason = "no such file" if not args.file.exists() else "not a file"
        print(f"burnrate: cannot read {args.file}: {reason}", file=sys.stderr)
        return 2
    try:
        summary = asyncio.run(run())
    except (OSError, UnicodeDecodeError) as exc:
        print(f"burnrate: cannot read {args.file}: {_reason(exc)}", file=sys.stderr)
        return 2
    except httpx.TimeoutException:
        print(f"burnrate: worklog-ingest at {args.url} did not answer in time", file=sys.stderr)
        return 3
    except httpx.TransportError as exc:
        print(
            f"burnrate: cannot reach worklog-ingest at {args.url}: {_reason(exc)}", file=sys.stderr
        )
        return 3
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # an invalid --url, say
        print(f"burnrate: {args.url}: {_reason(exc)}", file=sys.stderr)
        return 2
    if summary.failed:
        print(summary.failure(), file=sys.stderr)
        return 1
    print("\n".join(summary.lines()))
    return 1 if summary.rejected and args.all_or_nothing else 0


def _reason(exc: BaseException) -> str:
    """An error's own words, without the chain that led to it."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
