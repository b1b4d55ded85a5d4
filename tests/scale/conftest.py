"""The scale-out tests: every consuming service as three replicas, on the shared servers and on
a three-node RabbitMQ cluster of the test's own."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from burnrate_devstack.chaos import Mailbox
from burnrate_testing.servers import free_port

# The tests share their harness (``replicated_stack``) by import; pytest's importlib mode
# does not put this folder on the path by itself.
sys.path.insert(0, str(Path(__file__).parent))

from replicated_stack import drop_database, fresh_database


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(free_port())
    box.up()
    yield box
    box.down()


@pytest.fixture
async def scale_database(postgres_server_url: str) -> AsyncIterator[str]:
    """A database of the test's own on the shared server."""
    import uuid

    name = f"burnrate_scale_{uuid.uuid4().hex[:8]}"
    url = await fresh_database(postgres_server_url, name)
    yield url
    await drop_database(postgres_server_url, name)
