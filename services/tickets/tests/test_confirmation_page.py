"""The customer's confirmation page: HTML for a browser (en/nl by Accept-Language), JSON for
API clients; the form confirms with a rating and a comment, or reopens; in headless
Chromium it renders (its style allowed by the CSP) and posts."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from burnrate_testing import eventually
from websockets.asyncio.client import connect as ws_connect

from .conftest import Rig, ams

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Authorization": ""}
FORM = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": ""}


async def resolved_link(rig: Rig) -> tuple[str, str]:
    contract_id = await rig.add_contract()
    ticket = await rig.open(contract_id, priority="P2", reference="4711")
    rig.clock.set(ams(2026, 3, 16, 11, 0))
    resolved = await rig.post(ticket["id"], "resolve")
    return ticket["id"], urlsplit(resolved["confirmation_link"]).path


async def test_a_browser_gets_the_page_in_its_language_and_api_clients_json(rig: Rig) -> None:
    _, path = await resolved_link(rig)
    api = await rig.api.get(path, headers={"Authorization": ""})
    assert api.headers["content-type"].startswith("application/json")
    assert api.json()["timezone"] == "Europe/Amsterdam"
    page = await rig.api.get(path, headers=BROWSER)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert '<html lang="en">' in page.text and "Ticket 4711" in page.text
    assert "We resolved this ticket on 16 March 2026, 11:00." in page.text
    assert 'name="rating" value="5"' in page.text and "Confirm and close" in page.text
    dutch = await rig.api.get(
        path, headers=BROWSER | {"Accept-Language": "nl-NL,nl;q=0.9,en;q=0.8"}
    )
    assert '<html lang="nl">' in dutch.text
    assert "We hebben dit ticket opgelost op 16 maart 2026, 11:00." in dutch.text
    assert "Bevestigen en sluiten" in dutch.text and "Niet opgelost: heropenen" in dutch.text
    # English preferred over Dutch; an unknown language: English
    preferred = await rig.api.get(path, headers=BROWSER | {"Accept-Language": "nl;q=0.5, en"})
    assert '<html lang="en">' in preferred.text
    german = await rig.api.get(path, headers=BROWSER | {"Accept-Language": "de-DE"})
    assert '<html lang="en">' in german.text
    tampered = await rig.api.get(path[:-3] + "abc", headers=BROWSER | {"Accept-Language": "nl"})
    assert tampered.status_code == 404 and "Deze link is verlopen of ongeldig." in tampered.text


async def test_the_form_confirms_with_a_rating_and_a_comment(rig: Rig) -> None:
    tid, path = await resolved_link(rig)
    bad = await rig.api.post(
        f"{path}/form?lang=nl", content="rating=7&action=confirm", headers=FORM
    )
    assert bad.status_code == 422 and "de beoordeling is een getal van 1 tot en met 5" in bad.text
    assert (await rig.api.get(f"/v1/tickets/{tid}")).json()["status_kind"] == "resolved"
    sent = await rig.api.post(
        f"{path}/form?lang=en",
        content="rating=4&comment=quick%2C+%3Cb%3Ethanks%3C%2Fb%3E&action=confirm",
        headers=FORM,
    )
    assert sent.status_code == 303
    token = path.rsplit("/", 1)[1]
    assert sent.headers["location"] == f"../{token}?lang=en"
    page = await rig.api.get(path, headers=BROWSER)
    assert "Thank you. You confirmed the closure on 16 March 2026, 11:00." in page.text
    assert "Your rating: 4 of 5." in page.text
    assert "quick, &lt;b&gt;thanks&lt;/b&gt;" in page.text  # escaped
    assert 'id="answer"' not in page.text
    ticket = (await rig.api.get(f"/v1/tickets/{tid}")).json()
    assert ticket["status_kind"] == "closed" and ticket["confirmation"]["rating"] == 4

    async def confirmed() -> bool:
        return any(e.type.value == "ticket.confirmed" for e in rig.probe.events)

    await eventually(confirmed)


async def test_the_form_reopens(rig: Rig) -> None:
    tid, path = await resolved_link(rig)
    sent = await rig.api.post(f"{path}/form", content="action=reopen&rating=", headers=FORM)
    assert sent.status_code == 303 and "done=reopened" in sent.headers["location"]
    assert (await rig.api.get(f"/v1/tickets/{tid}")).json()["status_kind"] == "active"
    page = await rig.api.get(f"{path}?done=reopened", headers=BROWSER)
    assert "We reopened the ticket and are working on it again." in page.text
    later = await rig.api.get(path, headers=BROWSER)
    assert "not waiting for a confirmation" in later.text and 'id="answer"' not in later.text


async def test_the_document_says_what_the_links_answer(rig: Rig) -> None:
    """Pages answer their errors as pages: the document declares them (text/html)."""
    paths = (await rig.api.get("/openapi.json")).json()["paths"]
    form = paths["/v1/confirmations/{token}/form"]["post"]["responses"]
    assert "content" not in form["303"] and "Location" in form["303"]["headers"]
    assert "text/html" in form["404"]["content"] and "text/html" in form["422"]["content"]
    page = paths["/v1/confirmations/{token}"]["get"]["responses"]
    assert "text/html" in page["200"]["content"] and "text/html" in page["404"]["content"]
    expired = await rig.api.post("/v1/confirmations/nope/form", content="", headers=FORM)
    assert expired.status_code == 404 and expired.headers["content-type"].startswith("text/html")


# --- in headless Chromium -----------------------------------------------------------------

CHROMIUM = shutil.which("chromium")


@contextlib.asynccontextmanager
async def on_a_port(app: Any) -> AsyncIterator[str]:
    """The rig's (started) app served over HTTP for the browser."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await eventually(lambda: asyncio.sleep(0, server.started), timeout=30)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        async with asyncio.timeout(30):
            await task
        sock.close()


class Page:
    """One page of headless Chromium, driven over the DevTools protocol."""

    def __init__(self, language: str) -> None:
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._language = language

    async def start(self) -> None:
        assert CHROMIUM is not None
        self._profile = tempfile.TemporaryDirectory(prefix="burnrate-chromium-")
        self._process = await asyncio.create_subprocess_exec(
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--remote-debugging-port=0",
            "--remote-allow-origins=*",
            f"--accept-lang={self._language}",
            f"--user-data-dir={self._profile.name}",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self._process.stderr is not None
        async with asyncio.timeout(30):
            while True:
                line = (await self._process.stderr.readline()).decode()
                if not line:
                    raise RuntimeError("chromium exited before its DevTools endpoint was up")
                if line.startswith("DevTools listening on "):
                    url = line.split(" on ", 1)[1].strip()
                    break
        self._drain = asyncio.create_task(self._drain_stderr())
        self._ws = await ws_connect(url, max_size=None)
        self._reader = asyncio.create_task(self._read())
        target = await self.send("Target.createTarget", url="about:blank")
        attached = await self.send(
            "Target.attachToTarget", targetId=target["targetId"], flatten=True
        )
        self._session = attached["sessionId"]
        await self.send("Page.enable", session=True)

    async def _drain_stderr(self) -> None:
        assert self._process.stderr is not None
        while await self._process.stderr.readline():
            pass

    async def _read(self) -> None:
        async for raw in self._ws:
            message = json.loads(raw)
            future = self._waiting.pop(message.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(message)

    async def send(self, method: str, session: bool = False, **params: Any) -> Any:
        message_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[message_id] = future
        body: dict[str, Any] = {"id": message_id, "method": method, "params": params}
        if session:
            body["sessionId"] = self._session
        await self._ws.send(json.dumps(body))
        async with asyncio.timeout(30):
            reply = await future
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    async def evaluate(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate", session=True, expression=expression, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def until(self, expression: str) -> Any:
        async def check() -> Any:
            value = await self.evaluate(expression)
            assert value, expression
            return value

        return await eventually(check, timeout=20, interval=0.1)

    async def open(self, url: str) -> None:
        await self.evaluate("window.__left = true")
        await self.send("Page.navigate", session=True, url=url)
        await self.until("!window.__left && document.readyState === 'complete'")

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._ws.close()
        for task in (getattr(self, "_reader", None), getattr(self, "_drain", None)):
            if task is not None:
                task.cancel()
        if self._process.returncode is None:
            self._process.kill()
        await self._process.wait()
        self._profile.cleanup()


async def test_chromium_renders_the_page_in_dutch_and_posts_the_form(rig: Rig) -> None:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    tid, path = await resolved_link(rig)
    async with on_a_port(rig.api.app) as base:  # type: ignore[attr-defined]
        page = Page("nl-NL,nl")
        await page.start()
        try:
            await page.open(base + path)
            assert await page.evaluate("document.documentElement.lang") == "nl"
            title = await page.evaluate("document.getElementById('title').textContent")
            assert title == "Ticket 4711"
            # the style block is allowed by its hash: the page is laid out by it
            width = await page.evaluate("getComputedStyle(document.querySelector('main')).maxWidth")
            assert width == "576px"
            assert (
                await page.evaluate("document.querySelectorAll('input[name=rating]').length") == 5
            )
            await page.evaluate(
                "document.querySelector('input[name=rating][value=\"5\"]').checked = true;"
                "document.getElementById('comment-text').value = 'Snel opgelost, dank!';"
                "window.__left = true;"
                "document.querySelector('button[value=confirm]').click()"
            )
            await page.until("!window.__left && !!document.getElementById('confirmed')")
            text = await page.evaluate("document.querySelector('main').innerText")
            assert "U hebt de afsluiting bevestigd op 16 maart 2026, 11:00." in text
            assert "Uw beoordeling: 5 van 5." in text and "Snel opgelost, dank!" in text
            assert await page.evaluate("location.pathname") == path
        finally:
            await page.close()
    ticket = (await rig.api.get(f"/v1/tickets/{tid}")).json()
    assert ticket["status_kind"] == "closed"
    assert ticket["confirmation"] == {
        "confirmed_at": ticket["confirmation"]["confirmed_at"],
        "rating": 5,
        "comment": "Snel opgelost, dank!",
    }
