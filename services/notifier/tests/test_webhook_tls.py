"""The webhook transport over real TLS: it connects to the checked address, while SNI and the
certificate check still use the URL's host (a certificate for another name is refused)."""

import asyncio
import shutil
import socket
import ssl
import subprocess

import httpx
import pytest
from burnrate_notifier.webhook import PinnedTransport, WebhookRefused
from burnrate_testing import eventually

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")

HOST = "hooks.rebind.test"  # no real DNS answers .test (RFC 6761): only our resolver does


@pytest.fixture
def certificate(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    command = (
        f"openssl req -x509 -newkey rsa:2048 -nodes -days 1 -keyout {key} -out {cert}"
        f" -subj /CN={HOST} -addext subjectAltName=DNS:{HOST}"
    )
    subprocess.run(command.split(), check=True, capture_output=True)
    return key, cert


@pytest.fixture
async def tls_receiver(certificate):
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def hook(request):
        return JSONResponse({"host": request.headers["host"]})

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    key, cert = certificate
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/hook", hook, methods=["POST"])]),
            host="127.0.0.1",
            port=port,
            ssl_keyfile=str(key),
            ssl_certfile=str(cert),
            log_level="warning",
            lifespan="off",
        )
    )
    task = asyncio.create_task(server.serve())
    await eventually(_started(server))
    yield port, cert
    server.should_exit = True
    await task


def _started(server):
    async def started():
        return server.started

    return started


async def test_https_goes_to_the_checked_address_with_the_urls_name(tls_receiver):
    port, cert = tls_receiver
    lookups = []

    async def resolve(host, port):
        lookups.append(host)
        return ["127.0.0.1"]

    trusted = ssl.create_default_context(cafile=str(cert))

    def client(allow_private):
        transport = PinnedTransport(resolve, allow_private, verify=trusted)
        return httpx.AsyncClient(transport=transport, trust_env=False)

    async with client(allow_private=True) as c:
        response = await c.post(f"https://{HOST}:{port}/hook")
        assert response.json() == {"host": f"{HOST}:{port}"}
        assert response.request.url.host == HOST  # the caller sees the URL it asked for
        # The certificate is checked against the URL's host, not the address connected to,
        # also right after a call to another name on the same address (no reused connection).
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await c.post(f"https://other.rebind.test:{port}/hook")
    assert lookups == [HOST, "other.rebind.test"]

    async with client(allow_private=False) as c:
        with pytest.raises(WebhookRefused, match="is a loopback address"):
            await c.post(f"https://{HOST}:{port}/hook")
