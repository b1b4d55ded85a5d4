"""The notifier's use cases, one module per resource; each one owns its transaction.

- :mod:`.alerts`: an alert becomes mails, a webhook call and feed entries (``alert.raised``)
- :mod:`.replicas`: the customers and contracts the alerts name (``customer.*``, ``contract.*``)
- :mod:`.notifications`: the deliveries, listed, shown and retried by hand
- :mod:`.feed`: the in-app feed of a team or an owner, read and unread
- :mod:`.opt_outs`: who receives no alert mail, by the API or by a mail's unsubscribe link
"""

from __future__ import annotations

from dataclasses import dataclass

from burnrate_common.clock import Clock
from burnrate_common.report_links import ReportLinkSettings

from burnrate_notifier.domain.unsubscribe import UnsubscribeLinks
from burnrate_notifier.mail import Templates
from burnrate_notifier.pages import Pages


@dataclass(frozen=True)
class Deps:
    """What the use cases need besides a connection; built in ``bootstrap``."""

    clock: Clock
    templates: Templates
    #: the HTML pages served to people without an API key (the unsubscribe page)
    pages: Pages
    #: the right-hand side of our Message-IDs
    message_id_domain: str
    #: at most this many mails to one address per contract, rule and period
    max_mails_per_rule_period: int
    #: at most this many mails to one address in 24 hours, every rule together
    max_mails_per_address_per_day: int
    #: signs the link to the customer's own report put in the customer contacts' mails
    report_links: ReportLinkSettings
    #: signs and checks the unsubscribe links of the mails to contacts and extra addresses
    unsubscribe_links: UnsubscribeLinks
