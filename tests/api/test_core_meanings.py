"""The core's meanings through HTTP, for a third service's pack (attack 28b, ATK28B-14, ATK28B-15).

ATK28B-14: ``death`` is a core event type every service accepts. The fictional example pack and a
third authority's pack that does not declare it recorded a death and then kept asking for child
protection referrals, panel referrals and a mental health assessment of the dead child. A child
dies once and nothing about the living child follows: the example pack declares the core's death,
and a pack that does not has it all the same (final: 409 ``after-final-event``; once per case;
the open steps about earlier acts ended with the reason).

ATK28B-15: policy-rules Vocabulary "`lor` (likelihood of re-offending: low/medium/high only)": a
pack without M7 refuses a very high LoR all the same (422 ``invalid-level`` at ``body.level``,
rule ``LOR_SCALE``), in the write and the preview.

Dates: Thursday 27 and Friday 28 August 2026 (BST); Monday 31 August is a bank holiday.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.config import Settings
from tests.conftest import Tenant, database_at, make_tenant, serving
from tests.workflows.test_core_meanings import NOTIFY_ON_DEATH, SOURCE, owner_pack_text

OWNER = "northvale-yjs"
DIED = "2026-08-28T15:20:00+01:00"


@pytest.fixture
async def owner(settings: Settings, tmp_path: Path) -> AsyncIterator[Tenant]:
    """A service under a third authority's pack in YJ_PACKS_DIR, without ``death`` declared and
    without M7, on an app and database of its own (its pack is recorded there)."""
    (tmp_path / f"{OWNER}.toml").write_text(owner_pack_text())
    (tmp_path / SOURCE.name).write_text(SOURCE.read_text())
    with database_at("head") as url:
        async with serving(settings, url, tmp_path) as client:
            yield await make_tenant(client, settings, OWNER)


@pytest.fixture
async def example(client: httpx.AsyncClient, settings: Settings) -> Tenant:
    """A fresh service under the bundled example pack."""
    return await make_tenant(client, settings, "example-yjs")


async def _post(t: Tenant, url: str, body: dict[str, Any], status: int = 201) -> Any:
    r = await t.client.post(url, json=body, headers=t.auth("case_holder"))
    assert r.status_code == status, r.text
    return r.json()


async def _steps(t: Tenant, case_id: str, status: str) -> list[dict[str, Any]]:
    r = await t.client.get("/v1/next-steps", params={"case_id": case_id, "status": status,
                                                     "limit": 200},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def _a_death_ends_the_work_with_the_child(t: Tenant) -> None:
    """A very high SWB and a parent or carer risk open the panel referral, the views, the
    mental health referral, the child protection referral, the discussion and the incident
    record (with the assessment the opening asked for); the death ends them all with the reason,
    linked to it. A judgement or a parent or carer risk dated after it is 409
    after-final-event naming the death; a second report of it is the first (200), raising
    nothing."""
    case_id = (await t.open_case())["data"]["id"]
    events = f"/v1/cases/{case_id}/events"
    judgements = f"/v1/cases/{case_id}/judgements"
    await _post(t, judgements, {"domain": "swb", "level": "very_high",
                                "occurred_at": "2026-08-27T10:00:00+01:00"})
    await _post(t, events, {"type": "parent_carer_risk",
                            "occurred_at": "2026-08-27T11:00:00+01:00"})
    before = {s["code"] for s in await _steps(t, case_id, "open")}
    assert {"complete_assessment", "refer_to_risk_panel", "seek_child_and_carer_views",
            "refer_mental_health_assessment", "child_protection_referral",
            "discuss_with_manager", "record_incident"} <= before, before
    died = await _post(t, events, {"type": "death", "occurred_at": DIED})
    death_id = died["data"]["id"]
    assert await _steps(t, case_id, "open") == []
    # The manager discussion (due 24 hours after the judgement) and the opening's assessment
    # were already late at the death: missed with it, the rest superseded (ATTACK34B-7).
    late = {"complete_assessment", "discuss_with_manager"}
    missed = await _steps(t, case_id, "missed")
    assert {s["code"] for s in missed} == late
    superseded = await _steps(t, case_id, "superseded")
    assert {s["code"] for s in superseded} == before - late
    for step in [*superseded, *missed]:
        assert "the child has died: this work with the child can no longer be done" in step["note"]
        assert death_id in step["note"]
    for url, body in ((judgements, {"domain": "swb", "level": "very_high",
                                    "occurred_at": "2026-08-28T15:30:00+01:00"}),
                      (events, {"type": "parent_carer_risk",
                                "occurred_at": "2026-08-28T15:32:00+01:00"})):
        problem = await _post(t, url, body, status=409)
        assert problem["type"].endswith("/after-final-event"), problem
        assert problem["final_event"]["type"] == "death"
    again = await _post(t, events, {"type": "death", "occurred_at": "2026-08-28T16:00:00+01:00"},
                        status=200)
    assert again["data"]["id"] == death_id
    r = await t.client.get(events, headers=t.auth("line_manager"))
    assert [e["type"] for e in r.json()["data"]] == ["death", "parent_carer_risk"]  # latest first
    assert await _steps(t, case_id, "open") == []


async def test_atk28b_14_the_example_pack_ends_the_work_with_a_child_who_died(
        example: Tenant) -> None:
    """The bundled example pack, which "shows what a pack can declare", declares the core's
    death: nothing about the living child after it."""
    await _a_death_ends_the_work_with_the_child(example)


async def test_atk28b_14_a_pack_without_death_has_the_cores(owner: Tenant) -> None:
    """A third authority's pack that does not declare ``death`` has the core's all the same."""
    await _a_death_ends_the_work_with_the_child(owner)


async def test_atk28b_15_a_pack_without_M7_refuses_a_very_high_lor(owner: Tenant) -> None:
    """policy-rules: "`lor` (likelihood of re-offending: low/medium/high only)". Without M7, a
    very high LoR is 422 invalid-level at body.level (rule LOR_SCALE), in the write and the
    preview, and the case keeps no such rating; a high LoR is recorded."""
    case_id = (await owner.open_case())["data"]["id"]
    url = f"/v1/cases/{case_id}/judgements"
    body = {"domain": "lor", "level": "very_high", "occurred_at": "2026-08-28T15:30:00+01:00"}
    problem = await _post(owner, url, body, status=422)
    assert problem["type"].endswith("/invalid-level"), problem
    assert problem["rules"] == ["LOR_SCALE"]
    assert [e["loc"] for e in problem["errors"]] == ["body.level"]
    r = await owner.client.post("/v1/workflow/preview", headers=owner.auth("case_holder"), json={
        "case_id": case_id, "judgement": body})
    assert r.status_code == 200, r.text
    preview = r.json()["data"]
    assert preview["valid"] is False
    assert [v["rule"] for v in preview["violations"]] == ["LOR_SCALE"]
    case = (await owner.client.get(f"/v1/cases/{case_id}", headers=owner.auth("line_manager")))
    assert case.json()["data"]["ratings"]["lor"] is None
    await _post(owner, url, {**body, "level": "high"})
    case = (await owner.client.get(f"/v1/cases/{case_id}", headers=owner.auth("line_manager")))
    assert case.json()["data"]["ratings"]["lor"]["level"] == "high"


@pytest.fixture
async def notifying(settings: Settings, tmp_path: Path) -> AsyncIterator[Tenant]:
    """A service under a third authority's pack without ``death`` declared whose chair
    notifies the YJB of a charge or a death (X30), on an app and database of its own."""
    (tmp_path / f"{OWNER}.toml").write_text(owner_pack_text() + NOTIFY_ON_DEATH)
    (tmp_path / SOURCE.name).write_text(SOURCE.read_text())
    with database_at("head") as url:
        async with serving(settings, url, tmp_path) as client:
            yield await make_tenant(client, settings, OWNER)


async def test_attack30b_6_the_core_death_leaves_the_notification_of_an_earlier_charge_owed(
        notifying: Tenant) -> None:
    """ATTACK30B-6; Somerset 12 "Somerset YJT will complete notification within the expected
    timeframes for any child who is charged with any notifiable offence or dies whilst relevant
    to our service (up to 20 days following the end of supervision)": notifying the YJB of a
    charge is not work with the child, and the core death asks for that notification itself.
    The chair's X30 about the charge (Thursday 27 August 2026) stays open after the death
    (Friday 28 August), beside the death's own; the charge's incident record is ended."""
    t = notifying
    case_id = (await t.open_case())["data"]["id"]
    events = f"/v1/cases/{case_id}/events"
    charged = await _post(t, events, {"type": "charged",
                                      "occurred_at": "2026-08-27T10:00:00+01:00"})
    died = await _post(t, events, {"type": "death", "occurred_at": DIED})
    open_now = await _steps(t, case_id, "open")
    assert sorted((s["code"], s["subject_id"]) for s in open_now
                  if s["code"] == "notify_serious_incident") == sorted(
        [("notify_serious_incident", charged["data"]["id"]),
         ("notify_serious_incident", died["data"]["id"])])
    ended = {s["code"] for s in await _steps(t, case_id, "superseded")}
    assert "record_incident" in ended
    assert "notify_serious_incident" not in ended
