"""Opaque, tamper-proof keyset cursors for paged lists, each bound to its query and reader.

A cursor is base64url (no padding) of ``nonce (12 bytes) || AES-256-GCM ciphertext and tag``
(``cryptography``'s :class:`~cryptography.hazmat.primitives.ciphers.aead.AESGCM`, NIST SP
800-38D) of ``<part>|<part>|...|<query key>``: the sort key of the last item of a page, then a
fingerprint of the query's filters (every filter but the cursor and the page size); the
associated data names the version and the reader (``<service>/<sub>`` of the request's token).
So a cursor reveals nothing (a bare duty's exact ``created_at``, withheld by the API, is not one
base64 decode away: attack 20, A20-14) and cannot be forged or changed. A cursor of another
query or list, of another reader, a changed, truncated or foreign one is a 422
``invalid-cursor`` problem (docs/integrating.md), never a 500; nothing is skipped or repeated
when records are written between pages (keyset, not offset).

The key: 32 random bytes in the database's ``cursor_key`` row (migration 0028 makes it on both
databases; :func:`ready` makes it if absent, race-safe), read once per process and cached. The
service is stateless with all its state in the database, so every API process, on any host,
reads the same key; the configured secrets are no source: ``YJ_JWT_SECRET`` is unset in
production (RS256/ES256 from the JWKS) and the JWKS holds public keys only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import uuid
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel

from app.core.errors import Unprocessable

_ALPHABET = re.compile(r"^[A-Za-z0-9_-]{1,1024}$")
NONE = "-"  # a part that is absent (an undated step's due time)
NONCE_BYTES = 12  # AES-GCM's 96-bit nonce, random per cursor (SP 800-38D 8.2.2)
KEY_ROW = 1
_VERSION = b"yjrisk-cursor-v1"


class CursorKey(SQLModel, table=True):
    """The key cursors are sealed with (one row, ``id`` 1): 32 random bytes, base64url."""

    __tablename__ = "cursor_key"

    id: int = Field(primary_key=True)
    key: str = Field(max_length=64)
    created_at: datetime


_TABLE: Any = CursorKey.__table__  # type: ignore[attr-defined]
# This process's sealer (one database a process), and the reader of the list being paged.
_sealer: AESGCM | None = None
_reader: ContextVar[str] = ContextVar("yj_cursor_reader", default="")


async def ready(session: Any) -> None:
    """Before a list is paged: load the cursor key once per process (making the row if a
    database lacks it: ``INSERT ... ON CONFLICT DO NOTHING``, then read, so racing processes
    agree) and note the reader (``<service>/<sub>`` of the session's request; empty outside
    one), whom the cursors this list makes and reads are bound to."""
    global _sealer
    state = session.info.get("request_state")
    _reader.set(f"{getattr(state, 'principal_service', None) or ''}/"
                f"{getattr(state, 'principal_sub', None) or ''}")
    if _sealer is not None:
        return
    conn = await session.connection()
    read = sa.select(_TABLE.c.key).where(_TABLE.c.id == KEY_ROW)
    stored = (await conn.execute(read)).scalar_one_or_none()
    if stored is None:
        insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)
        await conn.execute(insert(_TABLE).values(
            id=KEY_ROW, key=new_key(), created_at=datetime.now(UTC)).on_conflict_do_nothing())
        stored = (await conn.execute(read)).scalar_one()
    _sealer = AESGCM(base64.urlsafe_b64decode(stored))


def new_key() -> str:
    """A fresh 256-bit AES key, base64url (what migration 0028 stores)."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def _aad() -> bytes:
    return _VERSION + b"|" + _reader.get().encode()


def _the_sealer() -> AESGCM:
    if _sealer is None:  # a list that did not call ready(): the code's mistake, not the client's
        raise RuntimeError("cursors.ready(session) was not awaited before paging")
    return _sealer


def query_key(shape: Mapping[str, Any]) -> str:
    """A short fingerprint of a query's filters (JSON, sorted keys)."""
    canonical = json.dumps(dict(shape), sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def encode(parts: Sequence[str], key: str) -> str:
    """The sealed cursor for a page ending at an item with these sort-key ``parts``, for the
    query with this ``key`` and the reader :func:`ready` noted."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = _the_sealer().encrypt(nonce, "|".join([*parts, key]).encode(), _aad())
    return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def invalid(msg: str = "invalid cursor") -> Unprocessable:
    """The 422 problem for a cursor this service did not make for this query."""
    return Unprocessable(
        "The cursor is not valid; use the next_cursor of the previous page.",
        slug="invalid-cursor", errors=[{"loc": "query.cursor", "msg": msg}])


def decode(cursor: str, key: str, count: int) -> list[str]:
    """The ``count`` sort-key parts of a cursor this service sealed for the query with this
    ``key`` and this reader; 422 ``invalid-cursor`` otherwise (changed, truncated, foreign,
    another reader's: the tag does not verify; another query's: its key differs)."""
    if not _ALPHABET.fullmatch(cursor):
        raise invalid()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (ValueError, binascii.Error) as exc:
        raise invalid() from exc
    if len(raw) <= NONCE_BYTES + 16:
        raise invalid()
    try:
        plain = _the_sealer().decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad())
        parts = plain.decode("ascii").split("|")
    except (InvalidTag, UnicodeDecodeError) as exc:
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
    """A cursor part that is an RFC 3339 instant with an offset, in UTC; 422
    ``invalid-cursor`` otherwise. Any instant a row may hold is accepted: the cursor is sealed
    (only this service makes one), so a range check would only refuse the service's own
    cursor for a page ending on an old row (a step due in 1990 of a case opened then; attack
    22, A22-3: the list could not be paged past it)."""
    try:
        at = datetime.fromisoformat(part)
    except ValueError as exc:
        raise invalid() from exc
    if at.tzinfo is None or at.utcoffset() is None:
        raise invalid()
    try:
        return at.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01 with a positive offset
        raise invalid() from exc


def identifier(part: str) -> uuid.UUID:
    """A cursor part that is a UUID; 422 ``invalid-cursor`` otherwise."""
    try:
        return uuid.UUID(part)
    except ValueError as exc:
        raise invalid() from exc
