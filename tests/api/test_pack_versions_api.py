"""Versioned packs over HTTP: a service moves to a revised policy by date, with no redeploy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.config import Settings
from tests.conftest import database_at, make_tenant, serving
from tests.workflows.support import WOKINGHAM, revision


@asynccontextmanager
async def _client(settings: Settings, packs_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose YJ_PACKS_DIR is ``packs_dir``, on a database of its own
    (:func:`tests.conftest.serving`)."""
    with database_at("head") as url:
        async with serving(settings, url, packs_dir) as c:
            yield c


@pytest.fixture
async def revised_client(settings: Settings, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose YJ_PACKS_DIR holds Wokingham's (fictional) version 2.0, in force from
    1 September 2026, beside the bundled version 1.0."""
    revision(tmp_path)
    async with _client(settings, tmp_path) as c:
        yield c


def staff_step(answer: dict[str, Any]) -> dict[str, Any]:
    """The W21 step of a write's answer."""
    return next(s for s in answer["next_steps"] if s["code"] == "record_risk_to_staff")


async def test_W21_acts_are_judged_by_the_version_in_force_when_they_happened(
    revised_client: httpx.AsyncClient, settings: Settings
) -> None:
    """Wokingham "Risk to staff" is recorded within one working day under version 1.0; a risk
    that happened on 28 August, recorded late, is still judged by 1.0; one on 2 September by
    2.0 (immediately). Each step cites {pack, version, ref, rule}."""
    t = await make_tenant(revised_client, settings, WOKINGHAM)
    case = (await t.open_case())["data"]
    url = f"/v1/cases/{case['id']}/events"
    before = await revised_client.post(url, headers=t.auth("case_holder"), json={
        "type": "risk_to_staff", "occurred_at": "2026-08-28T15:30:00+01:00"})
    assert before.status_code == 201, before.text
    step = staff_step(before.json())
    assert step["policy"] == {"pack": WOKINGHAM, "version": "1.0",
                              "ref": "Risk to staff, Internal and External Controls",
                              "rule": "W21"}
    # Known on a Friday: "before the end of the working week" (A23b-4), Friday 28 August.
    assert (step["due_at"], step["urgent"]) == ("2026-08-28T22:59:59Z", False)
    other = (await t.open_case())["data"]
    after = await revised_client.post(f"/v1/cases/{other['id']}/events",
                                      headers=t.auth("case_holder"), json={
                                          "type": "risk_to_staff",
                                          "occurred_at": "2026-09-02T10:00:00+01:00"})
    assert after.status_code == 201, after.text
    step = staff_step(after.json())
    assert step["policy"] == {"pack": WOKINGHAM, "version": "2.0",
                              "ref": "Risk to staff and other children", "rule": "W21"}
    assert (step["due_at"], step["urgent"]) == ("2026-09-02T09:00:00Z", True)


async def test_policy_pack_lists_its_versions(
    revised_client: httpx.AsyncClient, settings: Settings
) -> None:
    """GET /v1/policy-packs/{id}: the newest version, every version with its date; ?version=."""
    t = await make_tenant(revised_client, settings, WOKINGHAM)
    r = await revised_client.get(f"/v1/policy-packs/{WOKINGHAM}", headers=t.auth("chair"))
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["version"] == "2.0"
    assert [(v["version"], v["effective_from"]) for v in data["versions"]] == [
        ("1.0", "2024-03-01"), ("2.0", "2026-09-01")]
    old = await revised_client.get(f"/v1/policy-packs/{WOKINGHAM}", params={"version": "1.0"},
                                   headers=t.auth("chair"))
    assert (old.status_code, old.json()["data"]["version"]) == (200, "1.0")
    missing = await revised_client.get(f"/v1/policy-packs/{WOKINGHAM}",
                                       params={"version": "9"}, headers=t.auth("chair"))
    assert missing.status_code == 404


@pytest.fixture
async def oversight_revised_client(
    settings: Settings, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """An app with a (fictional) Wokingham 2.0 from 1 September 2026 in which a management
    oversight entry no longer stands for the W6 review."""
    path = revision(tmp_path)
    text = path.read_text()
    kept = 'dedupe = "case"\nsatisfiable_by_oversight = true\n'
    assert text.count(kept) == 1
    path.write_text(text.replace(kept, 'dedupe = "case"\n'))
    async with _client(settings, tmp_path) as c:
        yield c


async def test_W6_an_oversight_entry_is_judged_by_the_version_in_force_at_its_date(
    oversight_revised_client: httpx.AsyncClient, settings: Settings
) -> None:
    """W6 "Review the Asset+ after the new event (or record a defensible management oversight
    entry why not)": under 1.0 an oversight entry dated 25 August 2026 stands for the review,
    even when it is recorded after 2.0 came into force; one dated 2 September does not (2.0
    took that away): 201 and 422."""
    client = oversight_revised_client
    t = await make_tenant(client, settings, WOKINGHAM)
    for occurred_at, status in (("2026-08-25T09:00:00Z", 201), ("2026-09-02T09:00:00Z", 422)):
        case = (await t.open_case())["data"]
        event = await client.post(f"/v1/cases/{case['id']}/events",
                                  headers=t.auth("case_holder"),
                                  json={"type": "new_incident",
                                        "occurred_at": "2026-08-20T14:00:00Z"})
        assert event.status_code == 201, event.text
        review = next(s for s in event.json()["next_steps"] if s["code"] == "review_assessment")
        assert review["policy"]["version"] == "1.0"
        entry = await client.post(f"/v1/cases/{case['id']}/oversight",
                                  headers=t.auth("line_manager"),
                                  json={"note": "Minor; already in the plan.",
                                        "satisfies_step_id": review["id"],
                                        "occurred_at": occurred_at})
        assert entry.status_code == status, entry.text
