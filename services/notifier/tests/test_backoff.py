import pytest
from burnrate_notifier.domain.deliveries import (
    DeliveryState,
    Next,
    after_failure,
    outage_delay_seconds,
    retry_delay_seconds,
)


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
    assert outage_delay_seconds(10_000, base=1, cap=60, jitter=0.5) == 60 * 1.125
    with pytest.raises(ValueError):
        outage_delay_seconds(0, base=1, cap=60, jitter=0)
