"""Settings shared by every service; each service subclasses :class:`ServiceSettings`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Environment variables prefixed ``BURNRATE_``; defaults fit the local PostgreSQL and RabbitMQ."""

    model_config = SettingsConfigDict(env_prefix="BURNRATE_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/burnrate"
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

    @property
    def db_schema(self) -> str:
        return self.database_schema or self.service_name.replace("-", "_")

    @model_validator(mode="after")
    def _no_dev_secrets_in_production(self) -> ServiceSettings:
        if self.environment == "production" and self.bootstrap_api_key is not None:
            raise ValueError("BURNRATE_BOOTSTRAP_API_KEY is for development and tests only")
        return self
