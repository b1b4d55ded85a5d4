"""The webhook sender: claims due webhook deliveries, POSTs their stored JSON body signed with
HMAC-SHA256, records the outcome like mail (same attempts, backoff and events).

Before each call the host is resolved and refused when any of its addresses is loopback,
link-local, private or otherwise not public (unless ``BURNRATE_WEBHOOK_ALLOW_PRIVATE``):
a rule's author must not be able to make the notifier call into the MSP's own network.
Redirects are not followed, for the same reason.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import asyncpg
import httpx
from burnrate_common.logs import correlation_id
from burnrate_common.runtime import Runtime

from burnrate_notifier import store
from burnrate_notifier.domain.deliveries import Channel
from burnrate_notifier.domain.webhooks import SIGNATURE_HEADER, addresses_problem, sign, url_problem
from burnrate_notifier.metrics import NotifierMetrics
from burnrate_notifier.sender import SendFailure, Settle, run_loop
from burnrate_notifier.settings import NotifierSettings

log = logging.getLogger(__name__)

USER_AGENT = "Burnrate-Webhook/1"


class WebhookRefused(Exception):
    """The URL may not be called: a permanent failure of this delivery."""


class WebhookTransport:
    """Builds the HTTP client (bootstrap builds the only one) and checks where it may go."""

    def __init__(self, settings: NotifierSettings) -> None:
        self._settings = settings

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=self._settings.webhook_timeout_seconds,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )

    async def check(self, url: str) -> None:
        """Raise :class:`WebhookRefused` when ``url`` may not be called."""
        problem = url_problem(url, require_https=self._settings.webhook_require_https)
        if problem:
            raise WebhookRefused(problem)
        if self._settings.webhook_allow_private:
            return
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                parts.hostname, port, type=socket.SOCK_STREAM
            )
        except socket.gaierror as exc:
            # Not resolvable now: maybe a DNS hiccup, so worth another try.
            raise OSError(f"cannot resolve {parts.hostname}: {exc}") from exc
        problem = addresses_problem(str(info[4][0]) for info in infos)
        if problem:
            raise WebhookRefused(f"refused: {parts.hostname} resolves to {problem}")


def classify_response(status: int) -> SendFailure | None:
    """None for 2xx. 408, 425, 429 and 5xx are worth another try; any other answer
    (a redirect, a 4xx) will not change by itself."""
    if 200 <= status < 300:
        return None
    retry = status in (408, 425, 429) or status >= 500
    return SendFailure(not retry, False, f"HTTP {status}")


class WebhookSender:
    def __init__(
        self,
        settings: NotifierSettings,
        transport: WebhookTransport,
        *,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._settings = settings
        self._transport = transport
        self._settle = Settle(settings, jitter)
        self._client: httpx.AsyncClient | None = None

    async def run(self, runtime: Runtime) -> None:
        async with self._transport.client() as client:
            self._client = client
            try:
                await run_loop(
                    runtime,
                    self._settings.sender_poll_seconds,
                    self.send_round,
                    self._settings.send_batch_size,
                )
            finally:
                self._client = None

    async def send_round(self, pool: asyncpg.Pool, metrics: NotifierMetrics) -> int:
        """Call what is due, one delivery per transaction; returns how many were settled."""
        async with pool.acquire() as conn:
            if not await store.has_due(conn, Channel.WEBHOOK):
                return 0
            settled = 0
            while settled < self._settings.send_batch_size:
                async with conn.transaction():
                    rows = await store.claim_due(conn, Channel.WEBHOOK, 1)
                    if not rows:
                        break
                    await self._call(conn, rows[0], metrics)
                settled += 1
        return settled

    async def _call(
        self, conn: asyncpg.Connection, row: asyncpg.Record, metrics: NotifierMetrics
    ) -> None:
        assert self._client is not None
        token = correlation_id.set(row["correlation_id"])
        try:
            secret = self._settings.webhook_secret
            if secret is None:
                missing = SendFailure(True, False, "BURNRATE_WEBHOOK_SECRET is not set")
                await self._settle.failed(conn, row, missing, metrics)
                return
            body = row["body_text"].encode()
            started = time.perf_counter()
            failure: SendFailure | None
            try:
                await self._transport.check(row["recipient"])
                response = await self._client.post(
                    row["recipient"],
                    content=body,
                    headers={
                        "Content-Type": "application/json",
                        SIGNATURE_HEADER: sign(secret.get_secret_value().encode(), body),
                        "X-Burnrate-Delivery": str(row["id"]),
                        "X-Burnrate-Event": "alert.raised",
                    },
                )
            except WebhookRefused as exc:
                failure = SendFailure(True, False, str(exc))
            except (httpx.HTTPError, OSError) as exc:
                failure = SendFailure(False, True, f"{type(exc).__name__}: {exc}")
            else:
                failure = classify_response(response.status_code)
            if failure is not None:
                await self._settle.failed(conn, row, failure, metrics)
                return
            metrics.send_seconds.labels(Channel.WEBHOOK.value).observe(
                time.perf_counter() - started
            )
            await self._settle.sent(conn, row, metrics)
        finally:
            correlation_id.reset(token)
