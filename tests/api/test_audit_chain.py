"""The tamper-evident write audit (issue 13, part 3): a SHA-256 hash chain per service."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import col, select

from app.core.security import Principal, mint_dev_token
from app.domain.audit import GENESIS, AuditEntry, canonical_entry, chain_heads, record_audit
from app.domain.services import Service
from tests.api.support import Factory, db  # noqa: F401 - fixture
from tests.conftest import Tenant


async def _service_chain(db: Factory, tenant: Tenant) -> list[AuditEntry]:  # noqa: F811
    async with db() as session:
        service_id = (await session.exec(
            select(Service.id).where(Service.slug == tenant.slug))).one()
        chain = str(service_id)
        rows = await session.exec(select(AuditEntry).where(AuditEntry.chain == chain)
                                  .order_by(col(AuditEntry.seq)))
        return list(rows.all())


async def _verify(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, Any]:
    r = await client.get("/v1/audit/verify", headers=tenant.auth("chair"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def _some_writes(client: httpx.AsyncClient, tenant: Tenant) -> str:
    case = (await tenant.open_case())["data"]
    for level in ("medium", "high"):
        r = await client.post(f"/v1/cases/{case['id']}/judgements",
                              json={"domain": "rosh", "level": level},
                              headers=tenant.auth("case_holder"))
        assert r.status_code == 201, r.text
    return str(case["id"])


async def test_each_entry_hashes_its_predecessor_and_its_canonical_json(
    client: httpx.AsyncClient, db: Factory, somerset: Tenant  # noqa: F811
) -> None:
    """hash = SHA-256(previous hash || canonical JSON of the entry), seq 1, 2, 3... per
    service; the first entry follows the genesis value; verification checks them all."""
    await _some_writes(client, somerset)
    chain = await _service_chain(db, somerset)
    assert [e.seq for e in chain] == list(range(1, len(chain) + 1))
    prev = GENESIS
    for entry in chain:
        assert entry.prev_hash == prev
        assert entry.hash == hashlib.sha256(prev.encode() + canonical_entry(entry)).hexdigest()
        prev = entry.hash
    assert await _verify(client, somerset) == {
        "ok": True, "checked": len(chain), "first_broken_id": None}


async def test_an_entry_edited_with_sql_is_named(
    client: httpx.AsyncClient, db: Factory, somerset: Tenant  # noqa: F811
) -> None:
    """Someone with database access rewrites who made a judgement: verification fails and
    names that entry (not the ones after it)."""
    await _some_writes(client, somerset)
    chain = await _service_chain(db, somerset)
    target = chain[1]
    async with db() as session, session.begin():
        await session.exec(sa.update(AuditEntry).where(col(AuditEntry.id) == target.id)
                           .values(actor_sub="someone-else"))
    assert await _verify(client, somerset) == {
        "ok": False, "checked": 2, "first_broken_id": str(target.id)}


async def test_a_deleted_entry_breaks_the_chain_at_its_successor(
    client: httpx.AsyncClient, db: Factory, somerset: Tenant  # noqa: F811
) -> None:
    """Removing an entry from the middle is found at the next one (its predecessor hash and
    position no longer match)."""
    await _some_writes(client, somerset)
    chain = await _service_chain(db, somerset)
    async with db() as session, session.begin():
        await session.exec(sa.delete(AuditEntry).where(col(AuditEntry.id) == chain[1].id))
    assert await _verify(client, somerset) == {
        "ok": False, "checked": 2, "first_broken_id": str(chain[2].id)}


async def test_concurrent_writes_never_fork_the_chain(
    client: httpx.AsyncClient, db: Factory, somerset: Tenant  # noqa: F811
) -> None:
    """Eight judgements on eight cases at once (no shared case lock): every write succeeds,
    the chain stays one line with no gap, and it verifies."""
    cases = [(await somerset.open_case())["data"]["id"] for _ in range(8)]

    async def judge(case_id: str) -> int:
        r = await client.post(f"/v1/cases/{case_id}/judgements",
                              json={"domain": "swb", "level": "medium"},
                              headers=somerset.auth("case_holder"))
        return r.status_code

    assert await asyncio.gather(*(judge(c) for c in cases)) == [201] * 8
    chain = await _service_chain(db, somerset)
    assert [e.seq for e in chain] == list(range(1, len(chain) + 1))
    assert len({e.prev_hash for e in chain}) == len(chain)
    assert (await _verify(client, somerset))["ok"] is True


async def test_verify_is_for_chairs_and_admins(
    client: httpx.AsyncClient, somerset: Tenant, wokingham: Tenant
) -> None:
    """A case holder or line manager gets 403; a chair cannot name another service (404); an
    admin may check one service by slug."""
    for role in ("case_holder", "line_manager", "feed"):
        r = await client.get("/v1/audit/verify", headers=somerset.auth(role))
        assert r.status_code == 403
    r = await client.get("/v1/audit/verify", params={"service": wokingham.slug},
                         headers=somerset.auth("chair"))
    assert r.status_code == 404
    await _some_writes(client, somerset)
    admin = mint_dev_token(somerset.settings, sub="admin-1", roles=["admin"], service=None)
    r = await client.get("/v1/audit/verify", params={"service": somerset.slug},
                         headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 200
    assert r.json()["data"]["ok"] is True


async def test_the_chain_head_is_what_an_operator_anchors(
    client: httpx.AsyncClient, db: Factory, somerset: Tenant  # noqa: F811
) -> None:
    """``yjrisk audit-head`` prints, per chain, the newest entry's position and hash."""
    await _some_writes(client, somerset)
    chain = await _service_chain(db, somerset)
    async with db() as session:
        heads = {h["chain"]: h for h in await chain_heads(session)}
    head = heads[chain[-1].chain]
    assert (head["seq"], head["hash"]) == (len(chain), chain[-1].hash)


async def test_entries_are_written_sealed_at_commit_and_dropped_by_a_rollback(
    client: httpx.AsyncClient, db: Factory, somerset: Tenant  # noqa: F811
) -> None:
    """An entry is stored only with its transaction's commit, already sealed (seq, prev_hash,
    hash set: never an unsealed row); an entry of a rolled-back transaction is never written,
    even when the same session commits afterwards."""
    await _some_writes(client, somerset)
    before = await _service_chain(db, somerset)
    principal = Principal(sub="tester", roles=frozenset({"chair"}), service=somerset.slug)
    service_id = before[0].service_id
    dropped, kept = uuid.uuid4(), uuid.uuid4()
    async with db() as session:
        await record_audit(session, principal, "test.dropped", "case", dropped,
                           service_id=service_id)
        await session.rollback()
        await record_audit(session, principal, "test.kept", "case", kept,
                           service_id=service_id, change={"a": 1})
        await session.commit()
    chain = await _service_chain(db, somerset)
    assert [(e.action, e.entity_id) for e in chain[len(before):]] == [("test.kept", kept)]
    assert chain[-1].seq == len(chain)
    assert chain[-1].prev_hash == before[-1].hash
    assert chain[-1].hash == hashlib.sha256(
        before[-1].hash.encode() + canonical_entry(chain[-1])).hexdigest()
    async with db() as session:
        unsealed = await session.exec(select(AuditEntry.id).where(
            col(AuditEntry.seq).is_(None) | col(AuditEntry.hash).is_(None)))
        assert unsealed.all() == []
    assert (await _verify(client, somerset))["ok"] is True
