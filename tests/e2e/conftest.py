"""The five services as real processes, on a fresh database, with a real SMTP server."""

from __future__ import annotations

import email
import email.policy
import socket
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiosmtpd.controller import Controller
from burnrate_devstack.stack import SERVICES, Stack
from burnrate_testing import TEST_API_KEY, TEST_LINK_SECRET, delete_broker_objects


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """An aiosmtpd handler keeping every received message, parsed."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            email.message_from_bytes(
                envelope.original_content or envelope.content, policy=email.policy.default
            )
        )
        return "250 OK"


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()


@pytest.fixture
async def stack(postgres_server_url, amqp_url, smtp_server, tmp_path: Path):
    name = f"burnrate_e2e_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(postgres_server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    prefix = f"e2e-{uuid.uuid4().hex[:8]}"
    env = {
        "BURNRATE_DATABASE_URL": urlunsplit(
            urlsplit(postgres_server_url)._replace(path=f"/{name}")
        ),
        "BURNRATE_AMQP_URL": amqp_url,
        "BURNRATE_AMQP_PREFIX": prefix,
        "BURNRATE_BOOTSTRAP_API_KEY": TEST_API_KEY,
        "BURNRATE_REPORT_LINK_SECRET": TEST_LINK_SECRET,
        # Seven services in each of the parallel test workers share one PostgreSQL.
        "BURNRATE_DB_POOL_MIN_SIZE": "1",
        "BURNRATE_DB_POOL_MAX_SIZE": "5",
        "BURNRATE_SMTP_HOST": "127.0.0.1",
        "BURNRATE_SMTP_PORT": str(smtp_server.port),
        "BURNRATE_CONSUMER_RETRY_BASE_SECONDS": "0.2",
        "BURNRATE_OUTBOX_POLL_SECONDS": "0.2",
        "BURNRATE_SEND_RETRY_BASE_SECONDS": "0.2",
    }
    services = Stack(env=env, log_dir=tmp_path / "log", ports={s: free_port() for s in SERVICES})
    try:
        await services.start_all()
        yield services
    finally:
        services.stop_all()
        await delete_broker_objects(amqp_url, prefix)
        admin = await asyncpg.connect(postgres_server_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
