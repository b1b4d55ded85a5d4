"""Settings shared by every service; each service subclasses :class:`ServiceSettings`."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

#: The settings a service may also take under its own name, ``BURNRATE_<SERVICE>_<NAME>``
#: (``BURNRATE_RULES_DATABASE_URL``), before the shared ``BURNRATE_<NAME>``.
PER_SERVICE_FIELDS = ("database_url", "read_database_url")


def service_variable(service_name: str, field: str) -> str:
    """``BURNRATE_<SERVICE>_<FIELD>``: ``worklog-ingest``, ``database_url`` →
    ``BURNRATE_WORKLOG_INGEST_DATABASE_URL``."""
    return f"BURNRATE_{service_name.upper().replace('-', '_')}_{field.upper()}"


class _PerServiceEnvironment(PydanticBaseSettingsSource):
    """``BURNRATE_<SERVICE>_DATABASE_URL`` (and ``…_READ_DATABASE_URL``) of the service the
    settings class is for, its ``service_name``; case-insensitive, as the other variables."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # __call__ reads the variables itself

    def __call__(self) -> dict[str, Any]:
        service = self.settings_cls.model_fields["service_name"].default
        environment = {name.upper(): value for name, value in os.environ.items()}
        found: dict[str, Any] = {}
        for field in PER_SERVICE_FIELDS:
            value = environment.get(service_variable(str(service), field))
            if value:
                found[field] = value
        return found


class ServiceSettings(BaseSettings):
    """Environment variables prefixed ``BURNRATE_``; defaults fit the local PostgreSQL and RabbitMQ."""

    model_config = SettingsConfigDict(env_prefix="BURNRATE_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    #: ``BURNRATE_<SERVICE>_DATABASE_URL`` overrides ``BURNRATE_DATABASE_URL`` for one service,
    #: so each service's schema can live on a PostgreSQL server of its own.
    database_url: str = "postgresql://postgres@127.0.0.1:5432/burnrate"
    #: Where a service's read-only API queries may go (a streaming replica of its database):
    #: ``BURNRATE_<SERVICE>_READ_DATABASE_URL``, or ``BURNRATE_READ_DATABASE_URL`` for every
    #: service that has such queries. None: they use ``database_url``.
    read_database_url: str | None = None
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    # Prefix of the exchange and queue names, so several stacks (or tests) share one broker.
    amqp_prefix: str = "burnrate"
    host: str = "127.0.0.1"
    log_level: str = "INFO"
    bootstrap_api_key: SecretStr | None = None
    # Consumers: prefetch, attempts before dead-lettering, first retry delay.
    consumer_prefetch: int = Field(default=128, ge=1, le=10_000)
    # Messages handled in one transaction (each in its own savepoint), and how long to wait
    # for a batch to fill: one commit per batch instead of one per message.
    consumer_batch: int = Field(default=64, ge=1, le=1_000)
    consumer_linger_ms: float = Field(default=5.0, ge=0, le=1_000)
    consumer_max_attempts: int = Field(default=5, ge=1, le=20)
    consumer_retry_base_seconds: float = Field(default=1.0, gt=0)
    # Outbox relay: rows per publish round, unconfirmed publishes in flight, idle poll.
    outbox_batch_size: int = Field(default=500, ge=1, le=10_000)
    outbox_publish_window: int = Field(default=256, ge=1, le=10_000)
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    # Allocations between two young-generation collections of the garbage collector (Python's
    # default is 700): a batch of 10,000 worklogs allocates ~10^6 objects, and at 700 the
    # collector ran ~1,000 times per batch, a third of the accept path's CPU; at 50,000 it
    # was still ~6 % of all CPU under a bulk load (perf), at 200,000 ~1.7 %. 0: the default.
    gc_gen0_threshold: int = Field(default=200_000, ge=0)
    # A JSON body a route parses (not the batch, CSV, NDJSON and webhook routes, which stream
    # and cap their own): larger is a 413 before it is read.
    max_json_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Failed authentications one client address may make per minute before it gets 429.
    auth_failures_per_minute: int = Field(default=30, ge=1)
    db_pool_min_size: int = Field(default=2, ge=1)
    db_pool_max_size: int = Field(default=10, ge=1)

    # Each service overrides both; its port is read from ``BURNRATE_<SERVICE>_PORT``.
    service_name: str = "service"
    port: int = 8000

    # One schema per service in the shared database; tests give each test its own.
    database_schema: str | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Arguments first, then the service's own variables, then the shared ones.
        return (
            init_settings,
            _PerServiceEnvironment(settings_cls),
            env_settings,
            dotenv_settings,
            file_secret_settings,
        )

    @property
    def db_schema(self) -> str:
        return self.database_schema or self.service_name.replace("-", "_")

    @model_validator(mode="after")
    def _no_dev_secrets_in_production(self) -> ServiceSettings:
        if self.environment == "production" and self.bootstrap_api_key is not None:
            raise ValueError("BURNRATE_BOOTSTRAP_API_KEY is for development and tests only")
        return self
