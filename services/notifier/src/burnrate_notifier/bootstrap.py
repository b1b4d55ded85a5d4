"""The composition root of the notifier service: the only place that wires things."""

from burnrate_common.clock import Clock, SystemClock
from burnrate_common.runtime import ServiceDefinition

from burnrate_notifier import handlers
from burnrate_notifier.api import feed, notifications, opt_outs, unsubscribe
from burnrate_notifier.domain.unsubscribe import UnsubscribeLinks
from burnrate_notifier.mail import Templates
from burnrate_notifier.pages import Pages
from burnrate_notifier.sender import SMTP_CONNECTIONS, Sender, SmtpTransport
from burnrate_notifier.service import Deps
from burnrate_notifier.settings import NotifierSettings
from burnrate_notifier.webhook import Resolver, WebhookSender, WebhookTransport, system_resolver


def build(
    settings: NotifierSettings | None = None,
    *,
    clock: Clock | None = None,
    resolve: Resolver = system_resolver,
) -> ServiceDefinition[Deps]:
    """``resolve``: how webhook hosts are looked up (tests make names resolve anywhere)."""
    settings = settings or NotifierSettings()
    # Each SMTP connection holds a database connection while it sends: leave the pool room
    # for the consumer, the webhook sender and /readyz.
    connections = max(1, min(SMTP_CONNECTIONS, settings.db_pool_max_size - 3))
    sender = Sender(settings, SmtpTransport(settings), connections=connections)
    webhooks = WebhookSender(settings, WebhookTransport(settings, resolve))
    deps = Deps(
        clock=clock or SystemClock(),
        templates=Templates(),
        pages=Pages(),
        message_id_domain=settings.message_id_domain,
        max_mails_per_rule_period=settings.max_mails_per_rule_period,
        max_mails_per_address_per_day=settings.max_mails_per_address_per_day,
        report_links=settings,
        unsubscribe_links=UnsubscribeLinks(
            settings.link_secret, settings.notifier_public_url, settings.unsubscribe_link_days
        ),
    )
    return ServiceDefinition(
        settings=settings,
        package="burnrate_notifier",
        title="Burnrate notifier",
        deps=deps,
        routers=[notifications.router, feed.router, opt_outs.router, unsubscribe.router],
        handlers=handlers.HANDLERS,
        background=[sender.run, webhooks.run],
    )
