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
from app.domain.audit import (
    GENESIS,
    AuditEntry,
    canonical_entry,
    chain_heads,
    record_audit,
    verify_chains,
)
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


AWKWARD = ['Zoë "quoted" \\ back\\slash / </script>', "\x01\x08\t\n\x0b\x0c\r\x1b\x1f\x7f",
           "\u2028\u2029\u00a0\ufeff", "😀 𝄞 \U0010ffff", "e\u0301 é 日本語", "", "null", "1.0"]


def test_an_entrys_canonical_json_is_its_parts_around_its_position() -> None:
    """``canonical_parts`` cuts an entry's canonical JSON around its ``seq``: at any position
    the head, the position in decimal and the tail are the canonical JSON byte for byte
    (PostgreSQL's ``yjrisk_audit_seal`` hashes these: migration 0029), whatever the text of
    its fields (quotes, backslashes, control characters, line separators, astral characters,
    combining marks) and with or without a service and case."""
    from datetime import UTC, datetime, timedelta, timezone

    from app.domain.audit import AuditRow, canonical_parts

    at = datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC)
    for k, text in enumerate(AWKWARD):
        for service in (uuid.uuid4(), None):
            row = AuditRow(service_id=service, case_id=service and uuid.uuid4(),
                           actor_sub=text, actor_role=text, action=f"a.{text}",
                           entity_type="case", entity_id=uuid.uuid4(),
                           at=at.astimezone(timezone(timedelta(hours=k))),
                           changed_fields=sorted([text, "z", "ä"]), reason=text or None,
                           digest="f" * 64, chain=str(service) if service else "platform")
            head, tail = canonical_parts(row)
            for seq in (1, 9, 10, 99, 1000, 2_147_483_647):
                row.seq = seq
                assert head + str(seq).encode() + tail == canonical_entry(row)



def test_canonical_json_and_change_digests_are_json_dumps_text() -> None:
    """The encoders the audit keeps (issue 15: not one built per call) write what
    ``json.dumps`` with the documented options writes, byte for byte: an entry's canonical
    JSON (sorted keys, no spaces, not ASCII-escaped) and a change's digest (sorted keys, no
    spaces, ASCII-escaped, other values as ``str``), whatever the text and the values."""
    import json
    from datetime import UTC, datetime
    from decimal import Decimal

    from app.domain.audit import AuditRow, _content, digest_of

    at = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    for text in AWKWARD:
        row = AuditRow(service_id=uuid.uuid4(), case_id=uuid.uuid4(), actor_sub=text,
                       actor_role=text, action=f"a.{text}", entity_type="step",
                       entity_id=uuid.uuid4(), at=at, changed_fields=[text, "ä"],
                       reason=text or None, digest="0" * 64, chain="platform", seq=7)
        assert canonical_entry(row) == json.dumps(
            _content(row), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        change = {text: [text, None], "b": {"z": 1, text: [1.5, True]}, "when": at,
                  "id": row.entity_id, "amount": Decimal("1.10"), "ä": text}
        assert digest_of(change) == hashlib.sha256(json.dumps(
            change, sort_keys=True, default=str, separators=(",", ":")).encode()).hexdigest()

async def test_entries_sealed_in_their_insert_hash_as_python_does(
    client: httpx.AsyncClient, db: Factory, somerset: Tenant  # noqa: F811
) -> None:
    """Entries whose text is awkward for JSON, several to a transaction, on the service's
    chain alone (PostgreSQL: sealed by ``yjrisk_audit_seal`` in their INSERT) or on the
    service's and the platform's chains at once (each chain's lock and head first, in chain
    order): every entry follows its predecessor and its hash is SHA-256(previous hash ||
    canonical JSON) as Python computes it; the chains verify."""
    await _some_writes(client, somerset)
    service_id = (await _service_chain(db, somerset))[0].service_id
    for text in AWKWARD:
        principal = Principal(sub=text or "x", roles=frozenset({"chair"}),
                              service=somerset.slug)
        async with db() as session:
            for n in range(3):
                await record_audit(session, principal, f"test.{n}", "case", uuid.uuid4(),
                                   service_id=service_id, reason=text or None,
                                   change={text: n, "ä": [text]})
            await session.commit()
        async with db() as session:
            await record_audit(session, principal, "test.service", "case", uuid.uuid4(),
                               service_id=service_id, reason=text or None)
            await record_audit(session, principal, "test.platform", "service", uuid.uuid4(),
                               service_id=None, reason=text or None)
            await session.commit()
    chain = await _service_chain(db, somerset)
    assert [e.seq for e in chain] == list(range(1, len(chain) + 1))
    prev = GENESIS
    for entry in chain:
        assert entry.prev_hash == prev
        assert entry.hash == hashlib.sha256(prev.encode() + canonical_entry(entry)).hexdigest()
        prev = entry.hash
    assert {e.reason for e in chain if e.action.startswith("test.")} == {
        t or None for t in AWKWARD}
    async with db() as session:
        assert (await verify_chains(session, [chain[0].chain])).ok
        platform = list((await session.exec(select(AuditEntry).where(
            AuditEntry.chain == "platform").order_by(col(AuditEntry.seq)))).all())
    mine = [i for i, e in enumerate(platform) if e.action == "test.platform"]
    assert len(mine) == len(AWKWARD)
    for i in mine:  # the platform's chain is shared with other tests: each entry's own link
        prev = platform[i - 1].hash if i else GENESIS
        assert (platform[i].seq, platform[i].prev_hash) == ((platform[i - 1].seq or 0) + 1
                                                            if i else 1, prev)
        assert platform[i].hash == hashlib.sha256(
            str(prev).encode() + canonical_entry(platform[i])).hexdigest()


async def test_concurrent_transactions_seal_one_line_each_writers_entries_together(
    client: httpx.AsyncClient, db: Factory, somerset: Tenant  # noqa: F811
) -> None:
    """Twelve transactions appending two entries each to one chain at once: the chain is one
    line with no gap nor fork (seq 1..n, each entry's predecessor the one before), each
    transaction's entries next to each other (the chain's lock is held from the head's read
    to the commit), and it verifies."""
    await _some_writes(client, somerset)
    before = await _service_chain(db, somerset)
    service_id = before[0].service_id
    principal = Principal(sub="racer", roles=frozenset({"chair"}), service=somerset.slug)

    async def append(k: int) -> None:
        async with db() as session:
            for n in range(2):
                await record_audit(session, principal, f"race.{k}.{n}", "case", uuid.uuid4(),
                                   service_id=service_id)
            await session.commit()

    await asyncio.gather(*(append(k) for k in range(12)))
    chain = await _service_chain(db, somerset)
    assert [e.seq for e in chain] == list(range(1, len(before) + 25))
    assert all(e.prev_hash == p.hash for p, e in zip(chain, chain[1:], strict=False))
    raced = [e.action for e in chain[len(before):]]
    assert sorted(raced) == sorted(f"race.{k}.{n}" for k in range(12) for n in range(2))
    assert all(a.rsplit(".", 1)[0] == b.rsplit(".", 1)[0] and a.endswith(".0")
               for a, b in zip(raced[::2], raced[1::2], strict=True))
    assert (await _verify(client, somerset))["ok"] is True
