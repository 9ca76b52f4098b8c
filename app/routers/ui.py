"""Pages for managers, served by the service itself (scripts, styles and Chart.js included)."""

from __future__ import annotations

from pathlib import Path

from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from app.core.http import PathFilteredRouter

STATIC = Path(__file__).resolve().parent.parent / "ui" / "static"
# Everything comes from this origin; the page reads the JSON API with the bearer token.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}

router = PathFilteredRouter(include_in_schema=False)
static_files = StaticFiles(directory=STATIC)


@router.get("/ui/reports/timeliness")
async def timeliness_page() -> FileResponse:
    """The timeliness page: on-time rate by month, overdue ageing, the figures table."""
    return FileResponse(STATIC / "timeliness.html", media_type="text/html; charset=utf-8",
                        headers=PAGE_HEADERS)
