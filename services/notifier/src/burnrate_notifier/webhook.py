"""The webhook sender: claims due webhook deliveries, POSTs their stored JSON body signed with
HMAC-SHA256, records the outcome like mail (same attempts, backoff and events, and a call
whose handling raises is set aside like a mail: see :mod:`burnrate_notifier.sender`).

The URL is read by :func:`burnrate_common.webhook_urls.parse_webhook_url`, the parser the
rules service validated it with, and the URL called is the one it returns: a URL it
refuses fails at once (no retry makes it callable).

Before each call the host is resolved and refused when any of its addresses is loopback,
link-local, private or otherwise not public (unless ``BURNRATE_WEBHOOK_ALLOW_PRIVATE``):
a rule's author must not be able to make the notifier call into the MSP's own network.
The connection then goes to the address that was checked, never to a second lookup, so a
DNS answer that changes in between (DNS rebinding) cannot slip past the check; Host and
TLS (SNI, certificate) still name the URL's host. Redirects are not followed either.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence

import asyncpg
import httpx
from burnrate_common.db import Connection
from burnrate_common.logs import correlation_id
from burnrate_common.runtime import Runtime
from burnrate_common.webhook_urls import InvalidWebhookUrl, WebhookUrl, parse_webhook_url

from burnrate_notifier import store
from burnrate_notifier.domain.deliveries import Channel
from burnrate_notifier.domain.webhooks import SIGNATURE_HEADER, addresses_problem, sign
from burnrate_notifier.metrics import NotifierMetrics
from burnrate_notifier.sender import SendFailure, Settle, run_loop, work_through
from burnrate_notifier.service import Deps
from burnrate_notifier.settings import NotifierSettings

log = logging.getLogger(__name__)

USER_AGENT = "Burnrate-Webhook/1"


class WebhookRefused(Exception):
    """The URL may not be called: a permanent failure of this delivery."""


#: ``(host, port) → addresses``; injectable so tests can make a name resolve anywhere.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class PinnedTransport(httpx.AsyncBaseTransport):
    """Resolves the host once, refuses it if any address is not allowed, and connects to a
    checked address: the URL's host is swapped for the IP while the Host header (set when
    the request was built) and the TLS server name (``sni_hostname``, which is also the
    name the certificate is verified against) stay the original host.

    No keep-alive: pooled connections are keyed by the address, so a connection verified
    for one host would otherwise serve the next host on the same address."""

    def __init__(
        self, resolve: Resolver, allow_private: bool, verify: ssl.SSLContext | bool = True
    ) -> None:
        self._inner = httpx.AsyncHTTPTransport(
            verify=verify, limits=httpx.Limits(max_keepalive_connections=0)
        )
        self._resolve = resolve
        self._allow_private = allow_private

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.raw_host.decode("ascii")
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        try:
            addresses = list(await self._resolve(host, port))
        except OSError as exc:
            # Not resolvable now: maybe a DNS hiccup, so worth another try.
            raise OSError(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise OSError(f"cannot resolve {host}: no addresses")
        if not self._allow_private:
            problem = addresses_problem(addresses)
            if problem:
                raise WebhookRefused(f"refused: {host} resolves to {problem}")
        if request.url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": host}
        original = request.url
        for n, address in enumerate(addresses):
            request.url = original.copy_with(host=address.split("%", 1)[0])
            try:
                return await self._inner.handle_async_request(request)
            except httpx.ConnectError:
                if n == len(addresses) - 1:
                    raise
            finally:
                request.url = original
        raise AssertionError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        await self._inner.aclose()


class WebhookTransport:
    """Builds the HTTP client (bootstrap builds the only one) and checks where it may go."""

    def __init__(self, settings: NotifierSettings, resolve: Resolver = system_resolver) -> None:
        self._settings = settings
        self._resolve = resolve

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=PinnedTransport(self._resolve, self._settings.webhook_allow_private),
            timeout=self._settings.webhook_timeout_seconds,
            follow_redirects=False,
            # No proxies from the environment: a proxy would resolve the host itself,
            # past the check.
            trust_env=False,
            headers={"User-Agent": USER_AGENT},
        )

    def check(self, url: str) -> WebhookUrl:
        """The URL to call, as the shared parser reads it; :class:`WebhookRefused` when its
        form may not be called (its addresses are checked by :class:`PinnedTransport`, at
        connect)."""
        try:
            return parse_webhook_url(url, require_https=self._settings.webhook_require_https)
        except InvalidWebhookUrl as exc:
            raise WebhookRefused(str(exc)) from exc


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

    async def run(self, runtime: Runtime[Deps]) -> None:
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

        async def handle(conn: Connection, row: asyncpg.Record) -> bool:
            await self._call(conn, row, metrics)
            return False

        return await work_through(
            pool, Channel.WEBHOOK, self._settings.send_batch_size, handle, self._settle, metrics
        )

    async def _call(self, conn: Connection, row: asyncpg.Record, metrics: NotifierMetrics) -> None:
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
                url = self._transport.check(row["recipient"])
                response = await self._client.post(
                    str(url),
                    content=body,
                    headers={
                        "Content-Type": "application/json",
                        SIGNATURE_HEADER: sign(secret.get_secret_value().encode(), body),
                        "X-Burnrate-Delivery": str(row["id"]),
                        "X-Burnrate-Event": "alert.raised",
                    },
                )
            except (WebhookRefused, httpx.InvalidURL) as exc:
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
