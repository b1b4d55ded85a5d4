"""The composition root of the billing service: the only place that wires things."""

from __future__ import annotations

from burnrate_common.clock import Clock, SystemClock
from burnrate_common.runtime import ServiceDefinition

from burnrate_billing import handlers
from burnrate_billing.api import balances, customer, documents, invoices, statements, tickets
from burnrate_billing.service import Deps
from burnrate_billing.settings import BillingSettings


def build(
    settings: BillingSettings | None = None, *, clock: Clock | None = None
) -> ServiceDefinition[Deps]:
    """``clock``: the one source of time (statuses, links, invoice dates); tests pass a
    ``FixedClock``."""
    settings = settings or BillingSettings()
    return ServiceDefinition(
        settings=settings,
        package="burnrate_billing",
        title="Burnrate billing",
        deps=Deps(clock=clock or SystemClock(), settings=settings),
        routers=[
            documents.router,  # before statements and invoices: their /{id} takes any path
            statements.router,
            invoices.router,
            customer.router,
            tickets.router,
            balances.router,
        ],
        handlers=handlers.HANDLERS,
    )
