"""The public service catalogue page (``/ui/catalogue``), against the real PostgreSQL: the
shipped levels with their targets, calendars and prices, no key needed, escaped, and a CSP
whose hash allows exactly the page's inline stylesheet."""

import base64
import hashlib
import re

import httpx
import pytest
from burnrate_contracts.bootstrap import build
from burnrate_contracts.settings import ContractsSettings
from burnrate_testing import serve

pytestmark = pytest.mark.integration


@pytest.fixture
async def api(isolation):
    async with serve(build(isolation.settings(ContractsSettings))) as client:
        yield client


def anonymous(api):
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=api.app), base_url="http://service")


async def test_the_catalogue_is_public_and_lists_levels_targets_calendars_prices(api):
    async with anonymous(api) as web:
        assert (await web.get("/v1/service-levels")).status_code == 401  # the JSON needs a key
        page = await web.get("/ui/catalogue")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    names = re.findall(r'data-level="([^"]+)"', html)
    assert names == ["bronze", "silver", "gold"]  # cheapest first, as the API lists them
    assert "250.00 EUR" in html and "1500.00 EUR" in html and "per month" in html
    gold = html[html.index('data-level="gold"') :]
    assert 'data-target="P1"' in gold
    assert "Mon–Fri 08:00–18:00" in html
    # the stylesheet is allowed by its hash, nothing else is
    csp = page.headers["content-security-policy"]
    css = re.search(r"<style>(.*?)</style>", html, re.S)[1]
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in csp and "default-src 'none'" in csp
    assert "<script" not in html


async def test_a_new_level_appears_escaped(api):
    targets = [
        {"metric": "resolution", "priority": "P1", "minutes": 30, "calendar": "24x7"},
        {"metric": "resolution", "category": "e-mail outage", "minutes": 240},
    ]
    created = await api.post(
        "/v1/service-levels",
        json={
            "name": "<b>platinum</b>",
            "description": "<script>alert(1)</script>",
            "targets": targets,
            "price": "3000.00",
            "price_period": "quarterly",
        },
    )
    assert created.status_code == 201, created.text
    html = (await api.get("/ui/catalogue")).text
    assert "&lt;b&gt;platinum&lt;/b&gt;" in html and "<script>alert(1)" not in html
    assert "3000.00 EUR <small>per quarter</small>" in html
    assert "e-mail outage <small>(any priority)</small>" in html
    assert "30 min</td>" in html and "The clock runs round the clock (24×7)" in html
