import pytest
from burnrate_notifier.domain.deliveries import (
    DeliveryState,
    Next,
    after_failure,
    outage_delay_seconds,
    retry_delay_seconds,
)
from hypothesis import given
from hypothesis import strategies as st


def test_delay_doubles_from_twice_the_base():
    delays = [retry_delay_seconds(n, base=2, cap=900, jitter=0) for n in range(1, 8)]
    assert delays == [4, 8, 16, 32, 64, 128, 256]


def test_delay_is_capped_and_jitter_only_stretches_it():
    assert retry_delay_seconds(20, base=2, cap=900, jitter=0) == 900
    assert retry_delay_seconds(3, base=2, cap=900, jitter=0.5) == 16 * 1.125
    assert retry_delay_seconds(3, base=2, cap=900, jitter=0.999) < 16 * 1.25
    assert retry_delay_seconds(10_000, base=2, cap=60, jitter=0) == 60


@pytest.mark.parametrize("bad", [{"attempts": 0}, {"jitter": 1.0}, {"jitter": -0.1}])
def test_delay_refuses_nonsense(bad):
    args = {"attempts": 1, "base": 2, "cap": 900, "jitter": 0} | bad
    with pytest.raises(ValueError):
        retry_delay_seconds(**args)


def failure(attempts_before, permanent=False):
    return after_failure(
        attempts_before, permanent=permanent, max_attempts=8, base=2, cap=900, jitter=0
    )


def test_a_transient_failure_is_retried_until_the_attempts_are_spent():
    assert failure(0) == Next(DeliveryState.RETRYING, 1, 4)
    assert failure(6) == Next(DeliveryState.RETRYING, 7, 256)
    assert failure(7) == Next(DeliveryState.FAILED, 8, None)


def test_a_permanent_refusal_fails_at_once():
    assert failure(0, permanent=True) == Next(DeliveryState.FAILED, 1, None)


def test_a_retry_by_hand_after_failing_buys_one_more_try():
    assert failure(8) == Next(DeliveryState.FAILED, 9, None)


def test_an_smtp_outage_waits_longer_each_time_up_to_the_cap():
    delays = [outage_delay_seconds(n, base=1, cap=60, jitter=0) for n in range(1, 9)]
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60]
    with pytest.raises(ValueError):
        outage_delay_seconds(0, base=1, cap=60, jitter=0)


@given(
    rounds=st.integers(1, 10_000),
    base=st.floats(0.01, 100),
    cap=st.floats(0.1, 3600),
    jitter=st.floats(0, 1, exclude_max=True),
)
def test_the_smtp_reconnect_wait_never_exceeds_the_cap_jitter_included(rounds, base, cap, jitter):
    """The documented cap (BURNRATE_SMTP_OUTAGE_RETRY_MAX_SECONDS, 60 s) holds for every
    wait: jitter spreads the waits below the schedule, never above the cap."""
    delay = outage_delay_seconds(rounds, base=base, cap=cap, jitter=jitter)
    schedule = min(base * 2.0 ** min(rounds - 1, 64), cap)
    assert delay <= cap
    assert schedule * 0.75 <= delay <= schedule


def test_at_the_cap_jitter_still_spreads_the_reconnects():
    waits = {outage_delay_seconds(50, base=1, cap=60, jitter=j) for j in (0, 0.5, 0.999)}
    assert len(waits) == 3 and max(waits) == 60 and min(waits) > 45


def test_during_an_outage_the_sender_idles_until_the_reconnect_is_due_not_a_poll_later():
    import time

    from burnrate_notifier.sender import Sender, SmtpTransport
    from burnrate_notifier.settings import NotifierSettings

    settings = NotifierSettings(sender_poll_seconds=5, report_link_secret="x")
    sender = Sender(settings, SmtpTransport(settings))
    assert sender.idle_seconds() == 5
    sender._hold_until = time.monotonic() + 1.5
    assert 1.4 < sender.idle_seconds() <= 1.5
