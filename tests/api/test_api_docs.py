"""/docs (Swagger UI) and /redoc work with no internet: every asset they load comes from the
service itself (fastapi-offline), as in a local authority's locked-down network."""

from __future__ import annotations

import re

import httpx
import pytest

URL_ATTRIBUTE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
SCRIPT_URL = re.compile(r"""\burl\s*:\s*["']([^"']+)["']""")
ASSET_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_page_loads_only_local_assets(client: httpx.AsyncClient, page: str) -> None:
    """The page names no other host, and every script, style sheet and icon it names is served
    by the service (200, the right type, the real file)."""
    response = await client.get(page)
    assert response.status_code == 200
    html = response.text
    assert "://" not in html, "the docs page names another host"
    assets = URL_ATTRIBUTE.findall(html)
    assert any(a.endswith(".js") for a in assets), assets
    for asset in assets:
        assert asset.startswith("/"), asset
        assert not asset.startswith("//"), asset
        served = await client.get(asset)
        assert served.status_code == 200, asset
        kind = next(v for k, v in ASSET_TYPES.items() if asset.endswith(k))
        assert kind in served.headers["content-type"], asset
        assert len(served.content) > 1000, asset
    spec_urls = SCRIPT_URL.findall(html) + re.findall(r"spec-url=\"([^\"]+)\"", html)
    assert spec_urls == ["/openapi.json"]
    # The browser may fetch from this origin only (ReDoc's bundle asks a CDN for a logo).
    policy = dict(part.strip().split(" ", 1)
                  for part in response.headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'none'"
    for directive in ("script-src", "style-src", "img-src", "connect-src", "font-src"):
        assert "http" not in policy[directive], directive
        assert "*" not in policy[directive], directive
    assert policy["img-src"] == "'self' data:"
    assert (await client.get("/openapi.json")).status_code == 200
