"""The composition root of the notifier service: the only place that wires things."""

from functools import partial

from burnrate_common.events import EventType
from burnrate_common.runtime import ServiceDefinition

from burnrate_notifier import handlers
from burnrate_notifier.api import notifications
from burnrate_notifier.mail import Templates
from burnrate_notifier.sender import Sender, SmtpTransport
from burnrate_notifier.settings import NotifierSettings


def build(settings: NotifierSettings | None = None) -> ServiceDefinition:
    settings = settings or NotifierSettings()
    templates = Templates()
    sender = Sender(settings, SmtpTransport(settings))
    return ServiceDefinition(
        settings=settings,
        package="burnrate_notifier",
        title="Burnrate notifier",
        routers=[notifications.router],
        handlers={
            EventType.CUSTOMER_CREATED: handlers.on_customer_changed,
            EventType.CUSTOMER_UPDATED: handlers.on_customer_changed,
            EventType.CONTRACT_CREATED: handlers.on_contract_changed,
            EventType.CONTRACT_UPDATED: handlers.on_contract_changed,
            EventType.ALERT_RAISED: partial(
                handlers.on_alert_raised,
                templates=templates,
                message_id_domain=settings.message_id_domain,
            ),
        },
        background=[sender.run],
    )
