"""A local SMTP sink: keeps every mail as an .eml file and shows them on a small web page."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import email
import email.policy
import html
import uuid
from pathlib import Path
from typing import Any

import uvicorn
from aiosmtpd.controller import Controller
from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, PlainTextResponse


class FolderHandler:
    """aiosmtpd handler writing each accepted message to ``folder/<time>-<id>.eml``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        path = self.folder / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        path.write_bytes(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


def mail_page(folder: Path) -> FastAPI:
    app = FastAPI(title="Burnrate SMTP sink", docs_url=None, redoc_url=None)

    def _load(name: str) -> email.message.EmailMessage:
        path = folder / name
        if "/" in name or not path.is_file():
            raise HTTPException(404)
        return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        rows = []
        for path in sorted(folder.glob("*.eml"), reverse=True):
            message = _load(path.name)
            rows.append(
                "<tr><td>{date}</td><td>{to}</td><td><a href='/mail/{name}'>{subject}</a></td>"
                "<td><a href='/raw/{name}'>raw</a></td></tr>".format(
                    date=html.escape(str(message["Date"])),
                    to=html.escape(str(message["To"])),
                    subject=html.escape(str(message["Subject"])),
                    name=html.escape(path.name),
                )
            )
        return (
            "<!doctype html><title>Burnrate mail</title><h1>Mail received "
            f"({len(rows)})</h1><p>Folder: {html.escape(str(folder.resolve()))}</p>"
            "<table border=1 cellpadding=4><tr><th>Date</th><th>To</th><th>Subject</th><th></th></tr>"
            + "".join(rows)
            + "</table>"
        )

    @app.get("/mail/{name}", response_class=HTMLResponse)
    def show(name: str) -> str:
        message = _load(name)
        part = message.get_body(preferencelist=("html", "plain"))
        body = part.get_content() if part else ""
        if part is not None and part.get_content_type() == "text/plain":
            body = f"<pre>{html.escape(body)}</pre>"
        # The HTML part is our own template output, shown as the recipient would see it.
        return f"<p><a href='/'>back</a> · {html.escape(str(message['Subject']))}</p><hr>{body}"

    @app.get("/raw/{name}", response_class=PlainTextResponse)
    def raw(name: str) -> str:
        return _load(name).as_string()

    return app


async def serve(folder: Path, smtp_host: str, smtp_port: int, web_port: int) -> None:
    controller = Controller(FolderHandler(folder), hostname=smtp_host, port=smtp_port)
    controller.start()
    try:
        config = uvicorn.Config(
            mail_page(folder), host=smtp_host, port=web_port, log_level="warning"
        )
        await uvicorn.Server(config).serve()
    finally:
        controller.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Local SMTP sink for Burnrate")
    parser.add_argument("--folder", type=Path, default=Path("var/mail"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--web-port", type=int, default=8025)
    args = parser.parse_args()
    asyncio.run(serve(args.folder, args.host, args.smtp_port, args.web_port))


if __name__ == "__main__":
    main()
