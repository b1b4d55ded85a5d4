"""Who of an alert's recipients gets a mail: opted-out addresses and addresses that already
had their share of mails for this contract, rule and period get none (a suppressed delivery
records why), so a flood of alerts can never become a mail bomb."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from burnrate_notifier.domain.recipients import Recipient


class Suppressed(StrEnum):
    OPTED_OUT = "opted_out"
    MAIL_LIMIT = "mail_limit"


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
    limit: int,
) -> list[MailDecision]:
    """One decision per recipient, in order. Addresses compare case-insensitively:
    ``opted_out`` and ``mails_so_far`` are keyed by the casefolded address, and
    ``mails_so_far`` counts the mails already queued or sent (not suppressed ones) to that
    address for this contract, rule and period."""
    decisions = []
    for recipient in recipients:
        key = recipient.address.casefold()
        if key in opted_out:
            decisions.append(MailDecision(recipient, Suppressed.OPTED_OUT))
        elif mails_so_far.get(key, 0) >= limit:
            decisions.append(MailDecision(recipient, Suppressed.MAIL_LIMIT))
        else:
            decisions.append(MailDecision(recipient, None))
    return decisions
