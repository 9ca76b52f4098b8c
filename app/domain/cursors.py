"""Opaque keyset cursors for paged lists, each bound to the query it was made for.

A cursor is base64url (no padding) of ``<part>|<part>|...|<query key>``: the sort key of the
last item of a page, then a fingerprint of the query's filters (every filter but the cursor and
the page size). A cursor of another query or list, a changed or truncated one, or one with
padding or foreign characters is a 422 ``invalid-cursor`` problem (docs/integrating.md): a
client cannot replay one page's cursor against another list, and nothing is skipped or repeated
when records are written between pages (keyset, not offset).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from app.core.errors import Unprocessable

_ALPHABET = re.compile(r"^[A-Za-z0-9_-]{1,512}$")
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(2200, 1, 1, tzinfo=UTC)
NONE = "-"  # a part that is absent (an undated step's due time)


def query_key(shape: Mapping[str, Any]) -> str:
    """A short fingerprint of a query's filters (JSON, sorted keys)."""
    canonical = json.dumps(dict(shape), sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def encode(parts: Sequence[str], key: str) -> str:
    """The cursor for a page ending at an item with these sort-key ``parts``."""
    raw = "|".join([*parts, key])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def invalid(msg: str = "invalid cursor") -> Unprocessable:
    """The 422 problem for a cursor this service did not make for this query."""
    return Unprocessable(
        "The cursor is not valid; use the next_cursor of the previous page.",
        slug="invalid-cursor", errors=[{"loc": "query.cursor", "msg": msg}])


def decode(cursor: str, key: str, count: int) -> list[str]:
    """The ``count`` sort-key parts of a cursor made for the query with this ``key``; 422
    ``invalid-cursor`` otherwise."""
    if not _ALPHABET.fullmatch(cursor):
        raise invalid()
    try:
        parts = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode(
            "ascii").split("|")
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise invalid() from exc
    if len(parts) != count + 1:
        raise invalid()
    if not hmac.compare_digest(parts[-1], key):
        raise Unprocessable(
            "The cursor belongs to another query; page with the same filters, or start again "
            "without a cursor.", slug="invalid-cursor",
            errors=[{"loc": "query.cursor", "msg": "cursor of another query"}])
    return parts[:-1]


def instant(part: str) -> datetime:
    """A cursor part that is an RFC 3339 instant with an offset, within 2000..2200, in UTC;
    422 ``invalid-cursor`` otherwise."""
    try:
        at = datetime.fromisoformat(part)
    except ValueError as exc:
        raise invalid() from exc
    if at.tzinfo is None or at.utcoffset() is None:
        raise invalid()
    at = at.astimezone(UTC)
    if not _EARLIEST <= at < _LATEST:
        raise invalid()
    return at


def identifier(part: str) -> uuid.UUID:
    """A cursor part that is a UUID; 422 ``invalid-cursor`` otherwise."""
    try:
        return uuid.UUID(part)
    except ValueError as exc:
        raise invalid() from exc
