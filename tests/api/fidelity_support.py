"""Helpers for the practice-fidelity tests (issue 10) and the Wokingham ROSH matrix (M1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.core import clock
from tests.conftest import Tenant

WOKINGHAM = "wokingham-pyjs-2024"
# An impact and likelihood whose matrix level (M1) is the level itself.
MATRIX_FOR = {
    "low": ("medium", "likely"),
    "medium": ("major", "possible"),
    "high": ("major", "likely"),
    "very_high": ("major", "almost_certain"),
}


def with_matrix(pack: str, body: dict[str, Any]) -> dict[str, Any]:
    """Wokingham M1: a ROSH judgement states impact and likelihood; where a test gives neither,
    the pair whose matrix level is the recorded level (so no rationale is asked for). M8: so
    does an SWB judgement recorded with an assessment (the matrix on an Asset+)."""
    if pack != WOKINGHAM or not (body.get("domain") == "rosh" or (
            body.get("domain") == "swb" and body.get("assessment_id"))):
        return body
    if "impact" in body or "likelihood" in body or body.get("level") not in MATRIX_FOR:
        return body
    impact, likelihood = MATRIX_FOR[str(body["level"])]
    return {**body, "impact": impact, "likelihood": likelihood}


async def taken_by_marp(t: Any, case_id: str, domain: str, level: str,
                        at: str = "2026-06-03T10:00:00+01:00",
                        decided: str = "2026-06-03T11:00:00+01:00",
                        review: str = "2026-07-01") -> None:
    """A MARP at ``at`` discusses the case (put on its agenda by the administrator), keeps
    ``domain`` at ``level`` and books its review (S20's attend_panel_review): the case is under
    MARP oversight (M6)."""
    r = await t.client.post("/v1/panels", json={"kind": "marp", "scheduled_for": at,
                                                "chair_id": "chair-1"},
                            headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    panel = r.json()["data"]
    r = await t.client.post(f"/v1/panels/{panel['id']}/items",
                            json={"case_id": case_id, "presenter_id": "case_holder-1"},
                            headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    r = await t.client.post(
        f"/v1/panels/{panel['id']}/items/{r.json()['data']['id']}/decision",
        json={f"{domain}_level": level, "review_date": review, "minutes": "Remains",
              "actions": [], "occurred_at": decided},
        headers=t.auth("chair", "chair-1"))
    assert r.status_code == 200, r.text


def steps_of(steps: list[dict[str, Any]], code: str) -> list[dict[str, Any]]:
    """The steps with this code."""
    return [s for s in steps if s["code"] == code]


async def open_steps(t: Any, case_id: str) -> list[dict[str, Any]]:
    """The case's open steps, as its line manager reads the case."""
    r = await t.client.get(f"/v1/cases/{case_id}", headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return r.json()["data"]["open_steps"]  # type: ignore[no-any-return]


@dataclass
class FidelityWeek:
    """A case followed through the week of Monday 24 August 2026, as the workers live it."""

    t: Any
    case_id: str
    assessment_id: str = ""
    panel_id: str = ""
    item_id: str = ""

    @classmethod
    async def start(cls, t: Any, **case: Any) -> FidelityWeek:
        """Open the case on Monday 24 August 09:00 and start its Asset+ at 10:00."""
        body = {"csc_status": "cp", "weapon_related": True,
                "opened_at": "2026-08-24T09:00:00+01:00", **case}
        opened = await t.open_case(**body)
        week = cls(t, opened["data"]["id"])
        week.assessment_id = (await week.assessment("start", "2026-08-24T10:00:00+01:00"))["id"]
        return week

    async def post(self, url: str, body: dict[str, Any], role: str = "case_holder",
                   status: int = 201) -> dict[str, Any]:
        """POST as a role; the decoded answer (asserting the status)."""
        r = await self.t.client.post(url, json=body, headers=self.t.auth(role))
        assert r.status_code == status, r.text
        return r.json()  # type: ignore[no-any-return]

    async def assessment(self, stage: str, at: str) -> dict[str, Any]:
        """Start an Asset+ at a stage; the assessment."""
        body = await self.post(f"/v1/cases/{self.case_id}/assessments",
                               {"type": "asset_plus", "stage": stage, "occurred_at": at})
        return body["data"]  # type: ignore[no-any-return]

    async def judge(self, body: dict[str, Any]) -> dict[str, Any]:
        """Record a judgement as the case holder."""
        return await self.post(f"/v1/cases/{self.case_id}/judgements",
                               with_matrix(self.t.pack, body))

    async def rosh(self, level: str, at: str) -> dict[str, Any]:
        """ROSH at a level (the matrix pair for it), with the assessment and victims."""
        return await self.judge({"domain": "rosh", "level": level, "victims": ["public"],
                                 "assessment_id": self.assessment_id, "occurred_at": at})

    async def rosh_high(self) -> dict[str, Any]:
        """ROSH high (major x likely) on Tuesday 25 August 10:00."""
        return await self.rosh("high", "2026-08-25T10:00:00+01:00")

    async def swb(self, level: str, rationale: str | None) -> dict[str, Any]:
        """SWB with the assessment on Tuesday 25 August 10:05."""
        body = {"domain": "swb", "level": level, "assessment_id": self.assessment_id,
                "occurred_at": "2026-08-25T10:05:00+01:00"}
        if rationale:
            body["rationale"] = rationale
        return await self.judge(body)

    async def countersign(self, assessment_id: str | None = None,
                          at: str = "2026-08-26T11:00:00+01:00") -> dict[str, Any]:
        """Submit (an hour before) and countersign an assessment as the line manager."""
        ident = assessment_id or self.assessment_id
        when = datetime.fromisoformat(at)
        submitted = (when - timedelta(hours=1)).isoformat()
        await self.post(f"/v1/assessments/{ident}/submit", {"occurred_at": submitted},
                        status=200)
        return await self.post(f"/v1/assessments/{ident}/countersign",
                               {"feedback": "Agreed.", "occurred_at": at}, "line_manager", 200)

    async def incident(self, at: str, **more: Any) -> dict[str, Any]:
        """A new incident recorded by the case holder."""
        return await self.post(f"/v1/cases/{self.case_id}/events",
                               {"type": "new_incident", "occurred_at": at, **more})

    async def request_and_book_panel(self) -> dict[str, Any]:
        """The case holder submits a panel referral (Wed 26 Aug); the chair books the panel for
        Tuesday 1 September 14:00 and puts the case on it."""
        referral = await self.post(f"/v1/cases/{self.case_id}/referrals",
                                   {"kind": "panel", "occurred_at": "2026-08-26T11:00:00+01:00"})
        await self.post(f"/v1/referrals/{referral['data']['id']}/submit",
                        {"occurred_at": "2026-08-26T12:00:00+01:00"}, status=200)
        return await self.book_panel(role="chair")

    async def book_panel(self, at: str = "2026-09-01T14:00:00+01:00", role: str = "chair",
                         kind: str = "high_risk_panel", presenter: str = "case_holder-1",
                         ) -> dict[str, Any]:
        """Schedule a panel and put the case on it; the add-item answer."""
        panel = await self.post("/v1/panels", {"kind": kind, "scheduled_for": at,
                                               "chair_id": "chair-1"}, role)
        self.panel_id = panel["data"]["id"]
        added = await self.post(f"/v1/panels/{self.panel_id}/items",
                                {"case_id": self.case_id, "presenter_id": presenter}, role)
        self.item_id = added["data"]["id"]
        return added

    async def decide(self, at: str = "2026-09-01T16:00:00+01:00", **body: Any) -> dict[str, Any]:
        """The chair records the decision on the case's item: by default one action for the
        case holder due on the review date (Wokingham's "specific action plan", A23b-2)."""
        plan = [{"description": "Review the plan", "owner_id": "case_holder-1",
                 "due_date": body["review_date"]}] if "review_date" in body else []
        return await self.post(
            f"/v1/panels/{self.panel_id}/items/{self.item_id}/decision",
            {"actions": plan, "minutes": "Discussed.", "occurred_at": at, **body}, "chair", 200)

    async def complete(self, step_id: str, role: str) -> dict[str, Any]:
        """Complete a step."""
        return await self.post(f"/v1/next-steps/{step_id}/complete", {}, role, 200)

    async def open_steps(self) -> list[dict[str, Any]]:
        """The case's open steps."""
        return await open_steps(self.t, self.case_id)

    async def done_steps(self) -> list[dict[str, Any]]:
        """The case's done steps."""
        r = await self.t.client.get("/v1/next-steps", params={
            "case_id": self.case_id, "status": "done", "limit": 200},
            headers=self.t.auth("line_manager"))
        assert r.status_code == 200, r.text
        return r.json()["data"]  # type: ignore[no-any-return]

    async def step(self, step_id: str) -> dict[str, Any]:
        """One step of the case, whatever its status."""
        for status in ("open", "done", "superseded", "waived"):
            r = await self.t.client.get("/v1/next-steps", params={
                "case_id": self.case_id, "status": status, "limit": 200},
                headers=self.t.auth("line_manager"))
            for s in r.json()["data"]:
                if s["id"] == step_id:
                    return s  # type: ignore[no-any-return]
        raise AssertionError(f"no step {step_id}")


def pin(monkeypatch: pytest.MonkeyPatch, *when: int) -> None:
    """Pin the service's clock (UTC) to ``when``."""
    moment = datetime(*when, tzinfo=UTC)  # type: ignore[misc]
    monkeypatch.setattr(clock, "now", lambda: moment)


async def away(t: Tenant, staff: str, starts: str, ends: str,
               reason: str | None = "annual leave") -> dict[str, Any]:
    """A duty manager records ``staff``'s leave (``reason``: none sent when ``None``); the
    answer."""
    body = {"starts_on": starts, "ends_on": ends}
    if reason is not None:
        body["reason"] = reason
    r = await t.client.post(f"/v1/staff/{staff}/absences", json=body,
                            headers=t.auth("duty_manager", "duty_manager-3"))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def cancel_leave(t: Tenant, absence: dict[str, Any]) -> None:
    """A duty manager cancels the recorded ``absence`` (as :func:`away` answered it)."""
    r = await t.client.delete(f"/v1/staff/{absence['staff_id']}/absences/{absence['id']}",
                              headers={**t.auth("duty_manager", "duty_manager-3"),
                                       "If-Match": f'"{absence["version"]}"'})
    assert r.status_code == 204, r.text


async def ok(r: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The decoded answer, asserting its status."""
    assert r.status_code == status, r.text
    return r.json()  # type: ignore[no-any-return]


async def steps(t: Tenant, case_id: str, status: str) -> list[dict[str, Any]]:
    """The case's steps with a status, as its line manager lists them."""
    return (await ok(await t.client.get(
        "/v1/next-steps", params={"case_id": case_id, "status": status, "limit": 200},
        headers=t.auth("line_manager"))))["data"]  # type: ignore[no-any-return]


async def holder_acts(t: Tenant, case_id: str, holder: str = "case_holder-1") -> None:
    """The case's holder records something on it (a draft AssetPlus): the evidence that they
    work under the case's line manager, who may then see and record their leave (A13-4)."""
    r = await t.client.post(f"/v1/cases/{case_id}/assessments",
                            json={"type": "asset_plus", "stage": "start"},
                            headers=t.auth("case_holder", holder))
    assert r.status_code == 201, r.text
