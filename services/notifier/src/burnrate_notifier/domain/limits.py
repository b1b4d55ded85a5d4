"""Who of an alert's recipients gets a mail: opted-out addresses, addresses that already had
their share of mails for this contract, rule and period, and addresses that already had
their share of mails today from all rules together get none (a suppressed delivery records
why), so a flood of alerts — or of rules — can never become a mail bomb."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from burnrate_notifier.domain.recipients import Recipient


class Suppressed(StrEnum):
    OPTED_OUT = "opted_out"
    #: the address had its mails for this contract, rule and period
    MAIL_LIMIT = "mail_limit"
    #: the address had its mails of the last 24 hours, all rules together
    ADDRESS_DAILY_LIMIT = "address_daily_limit"


@dataclass(frozen=True)
class MailDecision:
    recipient: Recipient
    #: None: send it
    suppressed: Suppressed | None


def decide_mails(
    recipients: Sequence[Recipient],
    *,
    opted_out: Collection[str],
    mails_so_far: Mapping[str, int],
    limit: int | None,
    mails_today: Mapping[str, int] | None = None,
    daily_limit: int | None = None,
) -> list[MailDecision]:
    """One decision per recipient, in order. Addresses compare case-insensitively:
    ``opted_out``, ``mails_so_far`` and ``mails_today`` are keyed by the casefolded address.
    ``mails_so_far`` counts the mails already queued or sent (not suppressed ones) to that
    address for this contract, rule and period, capped by ``limit`` (None: no such cap —
    alerts of one ticket each, fired once per ticket stage by rules); ``mails_today``
    those of the last 24 hours, every rule's, capped by ``daily_limit`` (None: no daily
    cap)."""
    today = mails_today or {}
    decisions = []
    for recipient in recipients:
        key = recipient.address.casefold()
        if key in opted_out:
            decisions.append(MailDecision(recipient, Suppressed.OPTED_OUT))
        elif limit is not None and mails_so_far.get(key, 0) >= limit:
            decisions.append(MailDecision(recipient, Suppressed.MAIL_LIMIT))
        elif daily_limit is not None and today.get(key, 0) >= daily_limit:
            decisions.append(MailDecision(recipient, Suppressed.ADDRESS_DAILY_LIMIT))
        else:
            decisions.append(MailDecision(recipient, None))
    return decisions
