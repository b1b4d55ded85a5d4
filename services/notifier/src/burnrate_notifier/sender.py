"""The sender loop: claims due deliveries, sends them over SMTP, records the outcome.

Each delivery is settled in its own transaction, its row locked (``FOR UPDATE SKIP LOCKED``)
from claim to commit, and the ``notification.*`` event goes to the outbox in that same
transaction. So two replicas never send the same mail, and a crash between the SMTP
server's "250" and the commit costs at most one resend per mail in flight, with its
Message-ID: one mail per SMTP connection the sender had open.

A mail is recorded as sent only after the server accepted it, so a mail recorded as sent
was sent. The mail sender's commits do not wait for the disk (``synchronous_commit =
off``): a crash of PostgreSQL may lose the last fraction of a second of them, and those
mails are sent once more, with the same Message-ID — the same bound, once per crash, as a
crash of the sender itself. Waiting for each commit's fsync would make every mail wait
for the disk (and for the WAL of everything else the server writes), one after the other.

Under a backlog the sender works over several SMTP connections at once (one per
``send_batch_size`` mails due, up to :data:`SMTP_CONNECTIONS`), and keeps its connections
open between rounds, so a mail does not wait for a connect, EHLO and QUIT either.

An SMTP server that cannot be reached (refused, timed out, failed greeting, STARTTLS or
login) is an outage, not a failure of any mail: no attempt is spent, the due mails show
``retrying`` with the reason, and the sender tries again with capped exponential backoff.
Only what goes wrong while one message is being handed over counts towards
``send_max_attempts``. So an outage of any length loses nothing.

One delivery never blocks the others: a delivery whose handling raises anything but a lost
database (a bug, a value PostgreSQL cannot store …) is set aside — marked failed with the
reason, counted, listed by the API and replayable by its retry endpoint — and the round goes
on with the next. A lost database connection is not the delivery's fault: its transaction
rolls back, and the loop reconnects and tries it again.
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
from burnrate_common.supervision import beat

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
#: The longest a sender idles between passes: each pass beats the loop's heartbeat, which
#: the supervisor expects well within its two minutes.
MAX_IDLE_SECONDS = 30.0
#: After a lost database: the first wait before trying again (doubling up to the idle cap).
_FIRST_RECONNECT_SECONDS = 0.5


def error_text(text: str) -> str:
    """A reason PostgreSQL can store: no NUL, no lone surrogate, bounded."""
    text = text.replace("\x00", "\N{REPLACEMENT CHARACTER}")
    return text.encode("utf-8", "replace").decode("utf-8")[:_MAX_ERROR_LENGTH]


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


async def _answers(smtp: aiosmtplib.SMTP) -> bool:
    """Whether a kept connection still works (the server may have dropped it meanwhile);
    one that does not is closed."""
    if smtp.is_connected:
        try:
            await smtp.noop()
            return True
        except Exception as exc:
            log.info("a kept SMTP connection no longer answers", extra={"error": str(exc)})
    smtp.close()
    return False


async def _quit(smtp: aiosmtplib.SMTP) -> None:
    with contextlib.suppress(Exception):
        await smtp.quit()
    smtp.close()


class ListenerLost(ConnectionError):
    """The connection that LISTENs for new deliveries is gone: listen again."""


async def run_loop(
    runtime: Runtime[Deps],
    poll_seconds: float,
    send_round: Callable[[asyncpg.Pool, NotifierMetrics], Awaitable[int]],
    batch_size: int,
    idle_seconds: Callable[[], float] | None = None,
) -> None:
    """Send forever: woken by NOTIFY when deliveries are queued, polling as a fallback
    (and for retries falling due). ``idle_seconds``: how long to idle now (default
    ``poll_seconds``), never more than :data:`MAX_IDLE_SECONDS`.

    A lost database (the LISTEN connection included) is waited out here; anything else
    that escapes a round is a bug of the loop and goes to its supervisor (logged, counted,
    restarted with backoff)."""
    metrics = NotifierMetrics.of(runtime.metrics.registry)
    pool = runtime.pool
    wake = asyncio.Event()

    def on_notify(*_: object) -> None:
        wake.set()

    async def sleep() -> None:
        seconds = idle_seconds() if idle_seconds is not None else poll_seconds
        await wait_for_event(wake, max(0.0, min(seconds, poll_seconds, MAX_IDLE_SECONDS)))

    backoff = _FIRST_RECONNECT_SECONDS
    while True:
        try:
            async with pool.acquire() as listener:
                await listener.add_listener(store.WAKE_CHANNEL, on_notify)
                listener.add_termination_listener(on_notify)
                try:
                    while True:
                        beat()
                        if listener.is_closed():
                            raise ListenerLost("the LISTEN connection was closed")
                        while await send_round(pool, metrics) >= batch_size:
                            beat()
                        async with pool.acquire() as conn:
                            metrics.pending.set(await store.pending_count(conn))
                        backoff = _FIRST_RECONNECT_SECONDS
                        await sleep()
                finally:
                    if not listener.is_closed():
                        listener.remove_termination_listener(on_notify)
                        await listener.remove_listener(store.WAKE_CHANNEL, on_notify)
        except TRANSIENT_ERRORS as exc:
            log.warning("sender waiting for the database", extra={"error": str(exc)})
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, MAX_IDLE_SECONDS)


#: Handles one claimed delivery in the caller's transaction; True ends the round.
HandleOne = Callable[[Connection, asyncpg.Record], Awaitable[bool]]


async def work_through(
    pool: asyncpg.Pool,
    channel: Channel,
    limit: int,
    handle: HandleOne,
    settle: Settle,
    metrics: NotifierMetrics,
    *,
    commit_without_waiting: bool = False,
) -> int:
    """Claim and handle due deliveries of ``channel``, one per transaction, up to ``limit``;
    returns how many were settled.

    A delivery whose handling raises anything but a lost database is set aside
    (:meth:`Settle.set_aside`) and the round goes on: it can never hold up the queue.

    ``commit_without_waiting``: each transaction commits without waiting for its WAL to
    reach the disk (``synchronous_commit = off``). Its rows stay locked until the commit all
    the same, and what it records stays true; only a crash of PostgreSQL itself may lose the
    last such commits (a fraction of a second of them), and their deliveries are tried
    again — for a mail: sent once more, with the same Message-ID, once per crash."""
    settled = 0
    async with pool.acquire() as conn:
        while settled < limit:
            beat()
            row: asyncpg.Record | None = None
            try:
                async with conn.transaction():
                    if commit_without_waiting:
                        await conn.execute("SET LOCAL synchronous_commit = off")
                    rows = await store.claim_due(conn, channel, 1)
                    if not rows:
                        break
                    row = rows[0]
                    try:
                        stop = await handle(conn, row)
                    except TRANSIENT_ERRORS:
                        raise
                    except Exception as exc:
                        if conn.is_closed():
                            raise
                        # Set aside while the row is still claimed, so no other sender (nor
                        # another connection of this one) takes it and sends it again —
                        # unless the failure aborted the transaction.
                        try:
                            await settle.set_aside(conn, row, exc, metrics)
                        except asyncpg.InFailedSQLTransactionError:
                            raise exc from None
                        stop = False
            except TRANSIENT_ERRORS:
                raise
            except Exception as exc:
                if row is None or conn.is_closed():
                    raise  # the claim failed, or the database went: not this delivery's fault
                # The transaction was aborted (or its commit failed): set the delivery aside
                # in a transaction of its own.
                await settle.set_aside(conn, row, exc, metrics)
                stop = False
            settled += 1
            if stop:
                break
    return settled


class Settle:
    """Records the outcome of one try of a claimed delivery, in the caller's transaction,
    with its ``notification.*`` event in the outbox."""

    def __init__(self, settings: NotifierSettings, jitter: Callable[[], float]) -> None:
        self._settings = settings
        self._jitter = jitter

    async def sent(self, conn: Connection, row: asyncpg.Record, metrics: NotifierMetrics) -> None:
        # The row is locked since its claim: this try is attempt number attempts + 1.
        attempts = row["attempts"] + 1
        await store.mark_sent(
            conn, row["id"], [self._outcome(EventType.NOTIFICATION_SENT, row, attempts)]
        )
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
        error = error_text(failure.description)
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

    async def set_aside(
        self,
        conn: Connection,
        row: asyncpg.Record,
        exc: BaseException,
        metrics: NotifierMetrics,
    ) -> None:
        """The delivery failed in a way no retry fixes: mark it failed with the reason (in
        the claim's transaction if the failure left it usable, else in one of its own), with
        its ``notification.failed`` event, so the rest of the queue flows on. The retry
        endpoint replays it once the cause is fixed."""
        error = error_text(f"set aside: {type(exc).__name__}: {exc}")
        channel = row["channel"]
        async with conn.transaction():
            attempts = await store.set_aside(conn, row["id"], error)
            if attempts is None:
                return  # settled meanwhile (another replica, a hand): nothing to set aside
            try:
                async with conn.transaction():
                    await outbox.add(
                        conn,
                        [self._outcome(EventType.NOTIFICATION_FAILED, row, attempts, error)],
                    )
            except TRANSIENT_ERRORS:
                raise
            except Exception:
                # The event itself cannot be made: the failed state and the log still say it.
                log.exception("no notification.failed event for a delivery set aside")
        metrics.deliveries.labels(channel, DeliveryState.FAILED.value).inc()
        metrics.set_aside.labels(channel).inc()
        log.error(
            "delivery set aside: it failed in a way a retry cannot fix",
            exc_info=exc,
            extra={"delivery_id": str(row["id"]), "channel": channel, "error": error},
        )

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


#: SMTP connections (each with a database connection) a sender uses at most at once.
SMTP_CONNECTIONS = 4
#: An SMTP connection idle this long is closed (servers drop idle ones after minutes).
SMTP_KEEP_SECONDS = 10.0


class Sender:
    """The e-mail sender.

    Its SMTP connections outlive a round: a connection kept from an earlier round is checked
    (NOOP) and used again, and closed once idle for :data:`SMTP_KEEP_SECONDS`. A round uses
    one connection per ``send_batch_size`` mails due, up to ``connections``: a few mails go
    out one after the other, a backlog over several connections at once — each mail in a
    transaction of its own, as ever."""

    def __init__(
        self,
        settings: NotifierSettings,
        transport: SmtpTransport,
        *,
        jitter: Callable[[], float] = random.random,
        connections: int = SMTP_CONNECTIONS,
    ) -> None:
        self._settings = settings
        self._transport = transport
        self._jitter = jitter
        self._settle = Settle(settings, jitter)
        self._connections = max(1, connections)
        # Failed connects in a row, and no connect before this (monotonic) instant.
        self._outage_rounds = 0
        self._hold_until = 0.0
        #: open SMTP connections between rounds, with the (monotonic) instant of their last use
        self._kept: list[tuple[aiosmtplib.SMTP, float]] = []

    async def run(self, runtime: Runtime[Deps]) -> None:
        try:
            await run_loop(
                runtime,
                self._settings.sender_poll_seconds,
                self.send_round,
                self._settings.send_batch_size,
                self.idle_seconds,
            )
        finally:
            # Stopping: no QUIT to wait for, the server sees the connections close.
            for smtp, _ in self._kept:
                smtp.close()
            self._kept = []

    async def send_round(self, pool: asyncpg.Pool, metrics: NotifierMetrics) -> int:
        """Send what is due; returns how many deliveries it settled."""
        if time.monotonic() < self._hold_until:
            return 0
        batch = self._settings.send_batch_size
        async with pool.acquire() as conn:
            due = await store.due_count(conn, Channel.EMAIL, batch * self._connections)
        if not due:
            await self.close_connections(idle_for=SMTP_KEEP_SECONDS)
            return 0
        sessions = await self._open(-(-due // batch), pool, metrics)
        outcomes = await asyncio.gather(
            *(self._send_over(smtp, pool, metrics) for smtp in sessions), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return sum(o for o in outcomes if isinstance(o, int))

    async def close_connections(self, *, idle_for: float = 0.0) -> None:
        """Close the kept SMTP connections idle for ``idle_for`` seconds or more."""
        now = time.monotonic()
        closing = [smtp for smtp, used in self._kept if now - used >= idle_for]
        self._kept = [(smtp, used) for smtp, used in self._kept if now - used < idle_for]
        for smtp in closing:
            await _quit(smtp)

    async def _open(
        self, wanted: int, pool: asyncpg.Pool, metrics: NotifierMetrics
    ) -> list[aiosmtplib.SMTP]:
        """Up to ``wanted`` (at most ``connections``) SMTP connections that answer: kept ones
        first, then new ones. None when the server cannot be reached (an outage)."""
        wanted = min(wanted, self._connections)
        sessions: list[aiosmtplib.SMTP] = []
        while self._kept and len(sessions) < wanted:
            smtp, _ = self._kept.pop()
            if await _answers(smtp):
                sessions.append(smtp)
        while len(sessions) < wanted:
            smtp = self._transport.connection()
            try:
                # Greeting, EHLO, STARTTLS and login: anything failing here is the server's.
                await smtp.connect()
            except Exception as exc:
                smtp.close()
                if sessions:
                    # Enough to go on with (the server may limit connections per client).
                    log.info("fewer SMTP connections this round", extra={"error": str(exc)})
                    break
                await self._server_unreachable(pool, metrics, exc)
                return []
            sessions.append(smtp)
        if self._outage_rounds:
            log.info("SMTP server reachable again", extra={"failed_connects": self._outage_rounds})
        self._outage_rounds = 0
        metrics.smtp_up.set(1)
        return sessions

    async def _send_over(
        self, smtp: aiosmtplib.SMTP, pool: asyncpg.Pool, metrics: NotifierMetrics
    ) -> int:
        """Send due mails over ``smtp`` until none is left, ``send_batch_size`` are settled or
        the connection is gone; keeps the connection for the next round if it still works."""
        lost = False

        async def handle(conn: Connection, row: asyncpg.Record) -> bool:
            nonlocal lost
            lost = await self._send_one(conn, smtp, row, metrics)
            return lost

        try:
            settled = await work_through(
                pool,
                Channel.EMAIL,
                self._settings.send_batch_size,
                handle,
                self._settle,
                metrics,
                commit_without_waiting=True,
            )
        except BaseException:
            smtp.close()
            raise
        if lost or not smtp.is_connected:
            smtp.close()
        else:
            self._kept.append((smtp, time.monotonic()))
        return settled

    def idle_seconds(self) -> float:
        """Idle until the SMTP server is due to be tried again (during an outage), else a
        poll interval: the reconnect comes when the backoff says, not a poll later."""
        held = self._hold_until - time.monotonic()
        return held if held > 0 else self._settings.sender_poll_seconds

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
        error = error_text(f"SMTP server unreachable: {type(exc).__name__}: {exc}")
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
