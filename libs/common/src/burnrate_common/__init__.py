"""What every Burnrate service needs the same way.

Settings, the event envelope and registry, the bus, the outbox relay and the inbox,
the database pool and migration runner, auth, errors, logging, metrics and health.
Domain logic lives in the service that owns it, never here.
"""
