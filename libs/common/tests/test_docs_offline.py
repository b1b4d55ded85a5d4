"""/docs renders without the internet: Swagger UI comes from an installed package."""

import asyncio
import contextlib
import os
import shutil
import socket

import pytest
import uvicorn
from burnrate_common.app import create_app
from burnrate_common.runtime import ServiceDefinition
from burnrate_common.settings import ServiceSettings
from burnrate_testing import eventually
from fastapi import APIRouter

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium")
router = APIRouter(prefix="/v1/things", tags=["things"])


@router.get("", summary="List the things")
async def list_things() -> list[str]:
    return []


@contextlib.asynccontextmanager
async def on_a_port(app):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await eventually(lambda: asyncio.sleep(0, server.started), timeout=30)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        async with asyncio.timeout(30):
            await task
        sock.close()


async def test_the_docs_page_renders_the_api_in_chromium_offline(isolation, tmp_path):
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    settings = isolation.settings(ServiceSettings, service_name="probe")
    definition = ServiceDefinition(
        settings=settings, package="burnrate_common", title="Probe", deps=None, routers=[router]
    )
    async with on_a_port(create_app(definition)) as base:
        page = await asyncio.create_subprocess_exec(
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            f"{base}/docs",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        async with asyncio.timeout(90):
            dom, _ = await page.communicate()
    html = dom.decode()
    assert "/static-offline-docs/swagger-ui-bundle.js" in html  # served by us, not a CDN
    # Rendered by Swagger UI's script: the operation of the router is on the page.
    assert "List the things" in html
    assert 'class="swagger-ui' in html
