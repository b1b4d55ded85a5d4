"""The sender loop: claims due deliveries, sends them over SMTP, records the outcome.

Each delivery is settled in its own transaction, its row locked (``FOR UPDATE SKIP LOCKED``)
from claim to commit, and the ``notification.*`` event goes to the outbox in that same
transaction. So two replicas never send the same mail, and a crash between the SMTP
server's "250" and the commit costs at most one resend of one mail, with its Message-ID.

An SMTP server that cannot be reached (refused, timed out, failed greeting, STARTTLS or
login) is an outage, not a failure of any mail: no attempt is spent, the due mails show
``retrying`` with the reason, and the sender tries again with capped exponential backoff.
Only what goes wrong while one message is being handed over counts towards
``send_max_attempts``. So an outage of any length loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiosmtplib
import asyncpg
from burnrate_common import outbox
from burnrate_common.aio import wait_for_event
from burnrate_common.bus import TRANSIENT_ERRORS
from burnrate_common.db import Connection
from burnrate_common.events import Envelope, EventType, NotificationOutcome, new_event
from burnrate_common.logs import correlation_id
from burnrate_common.runtime import Runtime

from burnrate_notifier import store
from burnrate_notifier.domain.deliveries import (
    Channel,
    DeliveryState,
    after_failure,
    outage_delay_seconds,
)
from burnrate_notifier.mail import OutgoingMail, build_message
from burnrate_notifier.metrics import NotifierMetrics
from burnrate_notifier.service import Deps
from burnrate_notifier.settings import NotifierSettings

log = logging.getLogger(__name__)

_MAX_ERROR_LENGTH = 1000


class SmtpTransport:
    """Opens connections to the configured SMTP server (bootstrap builds the only one)."""

    def __init__(self, settings: NotifierSettings) -> None:
        self._settings = settings

    def connection(self) -> aiosmtplib.SMTP:
        s = self._settings
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            timeout=s.smtp_timeout_seconds,
            use_tls=s.smtp_use_tls,
            # Explicit, never "if offered": a local sink without TLS must just work.
            start_tls=s.smtp_starttls,
        )


@dataclass(frozen=True)
class SendFailure:
    permanent: bool
    connection_lost: bool
    description: str


def classify(exc: BaseException) -> SendFailure:
    """A refusal of this recipient or message with a 5xx is permanent; a 4xx, a refusal of
    the session (HELO, sender, auth), a timeout or a lost connection is worth another try."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        text = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
        return SendFailure(bool(codes) and all(500 <= c < 600 for c in codes), False, text)
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError):
        return SendFailure(500 <= exc.code < 600, exc.code == 421, f"{exc.code} {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return SendFailure(False, exc.code == 421, f"{exc.code} {exc.message}")
    if isinstance(exc, ValueError | aiosmtplib.SMTPNotSupported):
        # An address or message this server can never take (e.g. no SMTPUTF8).
        return SendFailure(True, False, f"{type(exc).__name__}: {exc}")
    return SendFailure(False, True, f"{type(exc).__name__}: {exc}")


async def run_loop(
    runtime: Runtime[Deps],
    poll_seconds: float,
    send_round: Callable[[asyncpg.Pool, NotifierMetrics], Awaitable[int]],
    batch_size: int,
) -> None:
    """Send forever: woken by NOTIFY when deliveries are queued, polling as a fallback
    (and for retries falling due)."""
    metrics = NotifierMetrics.of(runtime.metrics.registry)
    pool = runtime.pool
    wake = asyncio.Event()

    def on_notify(*_: object) -> None:
        wake.set()

    async def sleep() -> None:
        await wait_for_event(wake, poll_seconds)

    while True:
        try:
            async with pool.acquire() as listener:
                await listener.add_listener(store.WAKE_CHANNEL, on_notify)
                try:
                    while True:
                        while await send_round(pool, metrics) >= batch_size:
                            pass
                        async with pool.acquire() as conn:
                            metrics.pending.set(await store.pending_count(conn))
                        await sleep()
                finally:
                    if not listener.is_closed():
                        await listener.remove_listener(store.WAKE_CHANNEL, on_notify)
        except TRANSIENT_ERRORS as exc:
            log.warning("sender waiting for the database", extra={"error": str(exc)})
        except Exception:
            log.exception("sender round failed")
        await sleep()


class Settle:
    """Records the outcome of one try of a claimed delivery, in the caller's transaction,
    with its ``notification.*`` event in the outbox."""

    def __init__(self, settings: NotifierSettings, jitter: Callable[[], float]) -> None:
        self._settings = settings
        self._jitter = jitter

    async def sent(self, conn: Connection, row: asyncpg.Record, metrics: NotifierMetrics) -> None:
        attempts = await store.mark_sent(conn, row["id"])
        await outbox.add(conn, [self._outcome(EventType.NOTIFICATION_SENT, row, attempts)])
        metrics.deliveries.labels(row["channel"], DeliveryState.SENT.value).inc()
        log.info(
            "notification sent",
            extra={"delivery_id": str(row["id"]), "channel": row["channel"], "attempts": attempts},
        )

    async def failed(
        self,
        conn: Connection,
        row: asyncpg.Record,
        failure: SendFailure,
        metrics: NotifierMetrics,
    ) -> None:
        s = self._settings
        nxt = after_failure(
            row["attempts"],
            permanent=failure.permanent,
            max_attempts=s.send_max_attempts,
            base=s.send_retry_base_seconds,
            cap=s.send_retry_max_seconds,
            jitter=self._jitter(),
        )
        error = failure.description[:_MAX_ERROR_LENGTH]
        await store.record_failure(
            conn,
            row["id"],
            state=nxt.state,
            attempts=nxt.attempts,
            delay_seconds=nxt.delay_seconds,
            error=error,
        )
        metrics.deliveries.labels(row["channel"], nxt.state.value).inc()
        extra = {
            "delivery_id": str(row["id"]),
            "channel": row["channel"],
            "attempts": nxt.attempts,
            "error": error,
        }
        if nxt.state is DeliveryState.FAILED:
            await outbox.add(
                conn, [self._outcome(EventType.NOTIFICATION_FAILED, row, nxt.attempts, error)]
            )
            log.error("notification failed", extra=extra)
        else:
            log.warning("notification will be retried", extra=extra | {"in": nxt.delay_seconds})

    def _outcome(
        self, event_type: EventType, row: asyncpg.Record, attempts: int, error: str | None = None
    ) -> Envelope:
        return new_event(
            event_type,
            NotificationOutcome(
                delivery_id=row["id"],
                alert_id=row["alert_id"],
                contract_id=row["contract_id"],
                channel=row["channel"],
                recipient=row["recipient"],
                attempts=attempts,
                error=error,
            ),
            key=row["contract_id"],
            producer=self._settings.service_name,
            correlation_id=row["correlation_id"],
            causation_id=row["causation_id"],
        )


class Sender:
    """The e-mail sender."""

    def __init__(
        self,
        settings: NotifierSettings,
        transport: SmtpTransport,
        *,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._settings = settings
        self._transport = transport
        self._jitter = jitter
        self._settle = Settle(settings, jitter)
        # Failed connects in a row, and no connect before this (monotonic) instant.
        self._outage_rounds = 0
        self._hold_until = 0.0

    async def run(self, runtime: Runtime[Deps]) -> None:
        await run_loop(
            runtime,
            self._settings.sender_poll_seconds,
            self.send_round,
            self._settings.send_batch_size,
        )

    async def send_round(self, pool: asyncpg.Pool, metrics: NotifierMetrics) -> int:
        """Send what is due over one SMTP connection; returns how many deliveries it settled."""
        if time.monotonic() < self._hold_until:
            return 0
        async with pool.acquire() as conn:
            if not await store.has_due(conn, Channel.EMAIL):
                return 0
        smtp = self._transport.connection()
        try:
            # Greeting, EHLO, STARTTLS and login: anything failing here is the server's.
            await smtp.connect()
        except Exception as exc:
            smtp.close()
            await self._server_unreachable(pool, metrics, exc)
            return 0
        if self._outage_rounds:
            log.info("SMTP server reachable again", extra={"failed_connects": self._outage_rounds})
        self._outage_rounds = 0
        metrics.smtp_up.set(1)
        settled = 0
        try:
            async with pool.acquire() as conn:
                while settled < self._settings.send_batch_size:
                    async with conn.transaction():
                        rows = await store.claim_due(conn, Channel.EMAIL, 1)
                        if not rows:
                            break
                        connection_lost = await self._send_one(conn, smtp, rows[0], metrics)
                    settled += 1
                    if connection_lost:
                        break
        finally:
            with contextlib.suppress(Exception):
                await smtp.quit()
            smtp.close()
        return settled

    async def _server_unreachable(
        self, pool: asyncpg.Pool, metrics: NotifierMetrics, exc: BaseException
    ) -> None:
        """An outage: the due mails wait, with the reason shown, and spend no attempt."""
        s = self._settings
        self._outage_rounds += 1
        delay = outage_delay_seconds(
            self._outage_rounds,
            base=s.smtp_outage_retry_base_seconds,
            cap=s.smtp_outage_retry_max_seconds,
            jitter=self._jitter(),
        )
        self._hold_until = time.monotonic() + delay
        error = f"SMTP server unreachable: {type(exc).__name__}: {exc}"[:_MAX_ERROR_LENGTH]
        async with pool.acquire() as conn:
            waiting = await store.postpone_due(conn, Channel.EMAIL, delay, error)
        metrics.smtp_up.set(0)
        metrics.smtp_unreachable.inc()
        log.warning(
            "SMTP server unreachable, mails wait",
            extra={"error": error, "waiting": waiting, "in": delay, "rounds": self._outage_rounds},
        )

    async def _send_one(
        self,
        conn: Connection,
        smtp: aiosmtplib.SMTP,
        row: asyncpg.Record,
        metrics: NotifierMetrics,
    ) -> bool:
        """Send one claimed delivery and record the outcome; True if the connection is gone."""
        token = correlation_id.set(row["correlation_id"])
        try:
            started = time.perf_counter()
            try:
                message = build_message(
                    OutgoingMail(
                        recipient=row["recipient"],
                        subject=row["subject"],
                        text=row["body_text"],
                        html=row["body_html"],
                        message_id=row["message_id"],
                        created_at=row["created_at"],
                        alert_id=row["alert_id"],
                        stage=row["stage"],
                        unsubscribe_url=row["unsubscribe_url"],
                    ),
                    self._settings.mail_from,
                )
                await smtp.send_message(
                    message,
                    sender=self._settings.mail_from_address,
                    recipients=[row["recipient"]],
                )
            except Exception as exc:
                failure = classify(exc)
                await self._settle.failed(conn, row, failure, metrics)
                return failure.connection_lost
            metrics.send_seconds.labels(Channel.EMAIL.value).observe(time.perf_counter() - started)
            await self._settle.sent(conn, row, metrics)
            return False
        finally:
            correlation_id.reset(token)
