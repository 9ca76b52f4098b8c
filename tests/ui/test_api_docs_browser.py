"""/docs (Swagger UI) and /redoc in a real headless chromium: both draw the API from assets the
service serves itself, and the browser fetches nothing from any other host (an offline or
locked-down local authority network gets the same page)."""

from __future__ import annotations

from pathlib import Path

from app.core.config import Settings
from app.main import create_app
from tests.ui.browser import Page, chromium, live_server, open_page

# Every resource the page asked for, with the HTTP status it got (0: never fetched, e.g. refused
# by the page's content security policy before any request left the browser).
LOADED_URLS = ("performance.getEntriesByType('resource')"
               ".map(e => [e.name, e.responseStatus])")


async def test_swagger_ui_and_redoc_draw_from_local_assets_only(
    browser_available: None, settings: Settings, tmp_path: Path
) -> None:
    """Swagger UI lists the operations and ReDoc its menu; every resource either page fetched
    came from the service's own origin (ReDoc's CDN attribution logo is refused by the page's
    content security policy, as it would fail offline)."""
    with live_server(create_app(settings)) as base, chromium(tmp_path / "profile") as ws_url:
        async with await open_page(ws_url) as ws:
            page = Page(ws)
            await page.goto(f"{base}/docs")
            await page.wait_for("document.querySelectorAll('.opblock').length > 20")
            swagger_title = await page.evaluate("document.querySelector('.title').textContent")
            swagger_loaded = await page.evaluate(LOADED_URLS)
            await page.goto(f"{base}/redoc")
            await page.wait_for("document.querySelectorAll('[role=menuitem]').length > 20")
            redoc_heading = await page.evaluate("document.querySelector('h1').textContent")
            redoc_loaded = await page.evaluate(LOADED_URLS)
    assert swagger_title.startswith("yjrisk")
    assert redoc_heading.startswith("yjrisk")
    for loaded in (swagger_loaded, redoc_loaded):
        assert [status for url, status in loaded if url == f"{base}/openapi.json"] == [200]
        local = [status for url, status in loaded if url.startswith(base + "/")]
        assert set(local) == {200}
        fetched_elsewhere = [url for url, status in loaded
                             if not url.startswith(base + "/") and status != 0]
        assert fetched_elsewhere == []
