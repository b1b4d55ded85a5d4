"""The composition root of the notifier service: the only place that wires things."""

from functools import partial

from burnrate_common.events import EventType
from burnrate_common.runtime import ServiceDefinition

from burnrate_notifier import handlers
from burnrate_notifier.api import feed, notifications, opt_outs, unsubscribe
from burnrate_notifier.domain.unsubscribe import UnsubscribeLinks
from burnrate_notifier.mail import Templates
from burnrate_notifier.sender import Sender, SmtpTransport
from burnrate_notifier.settings import NotifierSettings
from burnrate_notifier.webhook import Resolver, WebhookSender, WebhookTransport, system_resolver


def build(
    settings: NotifierSettings | None = None, *, resolve: Resolver = system_resolver
) -> ServiceDefinition:
    """``resolve``: how webhook hosts are looked up (tests make names resolve anywhere)."""
    settings = settings or NotifierSettings()
    sender = Sender(settings, SmtpTransport(settings))
    webhooks = WebhookSender(settings, WebhookTransport(settings, resolve))
    unsubscribe_links = UnsubscribeLinks(
        settings.link_secret, settings.notifier_public_url, settings.unsubscribe_link_days
    )
    delivery = handlers.Delivery(
        templates=Templates(),
        message_id_domain=settings.message_id_domain,
        max_mails_per_rule_period=settings.max_mails_per_rule_period,
        report_links=settings,
        unsubscribe_links=unsubscribe_links,
    )
    return ServiceDefinition(
        settings=settings,
        package="burnrate_notifier",
        title="Burnrate notifier",
        routers=[notifications.router, feed.router, opt_outs.router, unsubscribe.router],
        handlers={
            EventType.CUSTOMER_CREATED: handlers.on_customer_changed,
            EventType.CUSTOMER_UPDATED: handlers.on_customer_changed,
            EventType.CONTRACT_CREATED: handlers.on_contract_changed,
            EventType.CONTRACT_UPDATED: handlers.on_contract_changed,
            EventType.ALERT_RAISED: partial(handlers.on_alert_raised, delivery=delivery),
        },
        background=[sender.run, webhooks.run],
        extras={"unsubscribe_links": unsubscribe_links},
    )
