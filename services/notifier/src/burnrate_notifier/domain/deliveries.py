"""The life of a delivery: queued → sent, or retrying with backoff → sent | failed; or
suppressed from the start (opted out, over the mail limit) and never sent."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DeliveryState(StrEnum):
    QUEUED = "queued"
    RETRYING = "retrying"
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


class Channel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


#: Share of the delay that jitter may add, so replicas and mails do not retry in lockstep.
JITTER_SHARE = 0.25


def retry_delay_seconds(attempts: int, *, base: float, cap: float, jitter: float) -> float:
    """Wait after ``attempts`` failed tries: ``base · 2^attempts``, capped at ``cap``, then
    stretched by up to 25 % (``jitter`` in [0, 1)) so the schedule is a floor, never shorter."""
    if attempts < 1:
        raise ValueError("attempts counts failed tries, so it is at least 1")
    if not 0 <= jitter < 1:
        raise ValueError("jitter is a fraction in [0, 1)")
    # min() before the power would overflow: 2**1100 is fine for int, not for float.
    exponent = min(attempts, 64)
    delay = min(base * 2.0**exponent, cap)
    return delay * (1 + JITTER_SHARE * jitter)


@dataclass(frozen=True)
class Next:
    """What becomes of a delivery after a failed try."""

    state: DeliveryState
    attempts: int
    delay_seconds: float | None


def after_failure(
    attempts_before: int,
    *,
    permanent: bool,
    max_attempts: int,
    base: float,
    cap: float,
    jitter: float,
) -> Next:
    """A permanent refusal (a 5xx for this recipient or message) fails at once; anything else
    is retried until ``max_attempts`` tries are spent. A retry by hand keeps the attempts, so
    it buys exactly one more try."""
    attempts = attempts_before + 1
    if permanent or attempts >= max_attempts:
        return Next(DeliveryState.FAILED, attempts, None)
    return Next(
        DeliveryState.RETRYING,
        attempts,
        retry_delay_seconds(attempts, base=base, cap=cap, jitter=jitter),
    )


def outage_delay_seconds(rounds: int, *, base: float, cap: float, jitter: float) -> float:
    """Wait before trying the SMTP server again after ``rounds`` failed connects in a row:
    ``base · 2^(rounds-1)``, capped at ``cap``, then shortened by up to 25 % of jitter — so
    the cap holds for every wait (it is the longest a server back from an outage waits for
    its mail), and replicas that hit the cap together still spread their reconnects.

    An outage of the server is not a failure of any mail: it spends no attempts, so however
    long it lasts, every mail is still there when the server comes back.
    """
    if rounds < 1:
        raise ValueError("rounds counts failed connects, so it is at least 1")
    if not 0 <= jitter < 1:
        raise ValueError("jitter is a fraction in [0, 1)")
    delay = min(base * 2.0 ** min(rounds - 1, 64), cap)
    return delay * (1 - JITTER_SHARE * jitter)
