"""Headers for the API documentation pages (/docs, /redoc), whose assets the service serves.

The content security policy lets those pages load only from this origin: ReDoc's bundle asks
for its attribution logo from a CDN (a known, unconfigurable behaviour), which the policy refuses,
so a page opened offline or on a locked-down network behaves exactly as one opened online.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DOCS_PAGE_HEADERS = {
    # The pages' own bootstrap script and the bundles' styles are inline; everything else is
    # this origin's (ReDoc's search runs in a worker made from a blob: URL).
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' "
        "'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
        "worker-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


class DocsPageHeadersMiddleware:
    """Adds ``DOCS_PAGE_HEADERS`` to the answers of the documentation pages' paths."""

    def __init__(self, app: ASGIApp, paths: frozenset[str]) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass through; on a docs page, set the headers on the response start."""
        if scope["type"] != "http" or scope.get("path") not in self.paths:
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in DOCS_PAGE_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)
