"""The contracts service consumes no events (it issues API keys itself): an empty registry."""

from burnrate_common.handling import EventHandlers

from burnrate_contracts.service import Deps

HANDLERS: EventHandlers[Deps] = EventHandlers()
