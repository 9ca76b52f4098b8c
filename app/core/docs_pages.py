"""Headers for the API documentation pages (/docs, /redoc), whose assets the service serves.

The content security policy lets those pages load only from this origin: ReDoc's bundle asks
for its attribution logo from a CDN (a known, unconfigurable behaviour), which the policy refuses,
so a page opened offline or on a locked-down network behaves exactly as one opened online.
"""

from __future__ import annotations

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
