"""Issue 3 through HTTP: every rating check (M1-M7) and judgement/case-opening rule, by rule id.

Deadlines are asserted to the second on real calendar dates, reasoned from the packs and the
deadline forms of ``policy-rules.md`` (never read back from the API):

- Fri 28 Aug 2026, 15:30 BST (14:30Z): the late-summer bank holiday is Mon 31 Aug, so ``+2wd``
  is Tue 1 and Wed 2 Sept (end of day BST = 22:59:59Z); ``+24h`` is Sat 29 Aug 14:30Z.
- Thu 2 Apr 2026: Good Friday 3 Apr and Easter Monday 6 Apr are closed: ``+2wd`` = Wed 8 Apr.
- Thu 24 Dec 2026: Christmas Fri 25, Boxing Day falls on Saturday and is observed on Mon 28 Dec:
  ``+2wd`` = Tue 29, Wed 30 Dec (GMT, 23:59:59Z). The date is after the day these tests were
  written, so those cases pin the API's "now" (the future-``occurred_at`` guard) past it.
- British Summer Time ends on Sun 25 Oct 2026 (and starts Sun 29 Mar 2026).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.core import clock
from app.core.config import Settings
from tests.api.fidelity_support import pin, with_matrix
from tests.api.integrity_support import assert_problem, heard_by_marp
from tests.api.test_assessments import case_steps, codes, the_step
from tests.conftest import Tenant, make_tenant

SOMERSET = "somerset-yjt-2023"
WOKINGHAM = "wokingham-pyjs-2024"

FRI_BH = "2026-08-28T15:30:00+01:00"  # Friday before the late-summer bank holiday
FRI_BH_2WD = "2026-09-02T22:59:59Z"  # end of Wed 2 Sept, London (BST)


@pytest.fixture
def recorded_friday(monkeypatch: pytest.MonkeyPatch) -> None:
    """The acts are recorded on Friday 28 August 2026 at 16:00 BST, just after FRI_BH: the
    MARPs after it can still take the referral (next-panel counts from the recording time)."""
    moment = datetime(2026, 8, 28, 15, 0, tzinfo=UTC)
    monkeypatch.setattr(clock, "now", lambda: moment)


# (occurred_at, +2wd due) on real calendar dates; see the module docstring.
TWO_WORKING_DAYS = [
    pytest.param(FRI_BH, FRI_BH_2WD, id="friday-before-late-summer-bank-holiday"),
    pytest.param("2026-04-02T10:00:00+01:00", "2026-04-08T22:59:59Z", id="thursday-before-easter"),
    pytest.param("2026-12-24T10:00:00Z", "2026-12-30T23:59:59Z", id="christmas-eve-boxing-day-mon"),
    # Friday in BST; the two working days (Mon 26, Tue 27 Oct) end in GMT.
    pytest.param("2026-10-23T16:00:00+01:00", "2026-10-27T23:59:59Z", id="october-clock-change"),
    # 23:30Z on Thursday 22 Oct is already Friday 23 Oct in London: the London day counts.
    pytest.param("2026-10-22T23:30:00Z", "2026-10-27T23:59:59Z", id="london-day-not-utc-day"),
    pytest.param("2026-03-09T10:00:00Z", "2026-03-11T23:59:59Z", id="ordinary-monday"),
    # Known on the Saturday of the bank-holiday weekend: Tue 1 and Wed 2 Sept.
    pytest.param("2026-08-29T10:00:00+01:00", FRI_BH_2WD, id="saturday-of-bank-holiday-weekend"),
]


@pytest.fixture
def now_after_2026(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin the clock of the future-``occurred_at`` guard after every date these tests use."""
    monkeypatch.setattr(clock, "now", lambda: datetime(2027, 1, 4, 12, 0, tzinfo=UTC))


@pytest.fixture(params=[SOMERSET, WOKINGHAM], ids=["somerset", "wokingham"])
async def tenant(request: pytest.FixtureRequest, client: httpx.AsyncClient,
                 settings: Settings) -> Tenant:
    """A fresh service under each pack in turn (for rules both packs share)."""
    return await make_tenant(client, settings, request.param)


# --- helpers -----------------------------------------------------------------------------------

async def judge(t: Tenant, case_id: str, role: str = "case_holder", sub: str | None = None,
                **body: Any) -> httpx.Response:
    """POST a judgement on the case."""
    return await t.client.post(f"/v1/cases/{case_id}/judgements",
                               json=with_matrix(t.pack, body), headers=t.auth(role, sub))


async def judged(t: Tenant, case_id: str, **body: Any) -> dict[str, Any]:
    """Record a judgement as the case holder; the decoded 201 answer."""
    if t.pack == WOKINGHAM and body.get("domain") == "rosh" and body.get("level") != "low":
        body.setdefault("victims", ["public"])  # M5
    r = await judge(t, case_id, **body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def read_case(t: Tenant, case_id: str, role: str = "line_manager") -> dict[str, Any]:
    """The case as its line manager reads it."""
    r = await t.client.get(f"/v1/cases/{case_id}", headers=t.auth(role))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def history(t: Tenant, case_id: str) -> list[dict[str, Any]]:
    """The case's judgement history."""
    r = await t.client.get(f"/v1/cases/{case_id}/judgements", headers=t.auth("case_holder"))
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


def assert_step(
    step: dict[str, Any], *, code: str, actor: str, assignee: str | None, due_at: str | None,
    pack: str, ref: str, rule: str, urgent: bool = False, awaiting: bool = False,
) -> None:
    """A step's who / when / why, field by field."""
    assert step["code"] == code
    assert step["actor"] == actor
    assert step["assignee_id"] == assignee
    assert step["due_at"] == due_at
    assert step["urgent"] is urgent
    assert step["awaiting_panel_date"] is awaiting
    assert step["status"] == "open"
    version = "1.0" if pack == "wokingham-pyjs-2024" else "1"
    assert step["policy"] == {"pack": pack, "version": version, "ref": ref, "rule": rule}


def problem_type(r: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    """The response is a problem of this status whose type ends in ``slug``."""
    body = assert_problem(r, status)
    assert body["type"].endswith(f"/{slug}"), body["type"]
    return body


# --- M1: the impact / likelihood matrix --------------------------------------------------------

MATRIX = [
    ("slight", "almost_certain", "low"),
    ("minor", "likely", "low"),
    ("medium", "very_likely", "low"),
    ("major", "unlikely", "medium"),
    ("major", "possible", "medium"),
    ("major", "likely", "high"),
    ("critical", "very_likely", "high"),
    ("critical", "almost_certain", "very_high"),
    ("major", "almost_certain", "very_high"),
]


@pytest.mark.parametrize(("impact", "likelihood", "expected"), MATRIX)
async def test_M1_matrix_level_beside_level(
    tenant: Tenant, impact: str, likelihood: str, expected: str
) -> None:
    """M1: the answer carries matrix_level beside the recorded level, per impact x likelihood."""
    t = tenant
    case = (await t.open_case())["data"]
    body = await judged(t, case["id"], domain="rosh", level=expected, impact=impact,
                        likelihood=likelihood, setting="community",
                        occurred_at="2026-06-01T10:00:00+01:00")
    data = body["data"]
    assert data["level"] == expected
    assert data["matrix_level"] == expected
    assert data["impact"] == impact
    assert data["likelihood"] == likelihood
    assert data["setting"] == "community"
    assert "acknowledge_rating_rationale" not in codes(body["next_steps"])


async def test_M1_custody_setting_same_matrix(somerset: Tenant) -> None:
    """M1: the custody table is the same as the community one."""
    case = (await somerset.open_case())["data"]
    body = await judged(somerset, case["id"], domain="rosh", level="medium", impact="critical",
                        likelihood="possible", setting="custody")
    assert body["data"]["matrix_level"] == "medium"
    assert body["data"]["setting"] == "custody"


async def test_M1_no_matrix_without_impact_and_likelihood(somerset: Tenant) -> None:
    """M1: without impact and likelihood there is no matrix level (null, not guessed)."""
    case = (await somerset.open_case())["data"]
    body = await judged(somerset, case["id"], domain="rosh", level="medium")
    assert body["data"]["matrix_level"] is None
    body = await judged(somerset, case["id"], domain="rosh", level="medium", impact="major")
    assert body["data"]["matrix_level"] is None


async def test_M1_somerset_records_a_level_off_the_matrix(somerset: Tenant) -> None:
    """M1 (Somerset has no M2): a level off the matrix is kept, the matrix shown beside it."""
    case = (await somerset.open_case())["data"]
    body = await judged(somerset, case["id"], domain="rosh", level="medium", impact="major",
                        likelihood="likely")
    assert body["data"]["level"] == "medium"
    assert body["data"]["matrix_level"] == "high"


# --- M2-M5: Wokingham's rationale and victims checks -------------------------------------------

async def test_M2_professional_gut_needs_rationale(wokingham: Tenant) -> None:
    """M2: a level that departs from the matrix needs a rationale (422), then is acknowledged."""
    case = (await wokingham.open_case())["data"]
    body = {"domain": "rosh", "level": "medium", "impact": "major", "likelihood": "likely",
            "victims": ["ex-partner"], "occurred_at": FRI_BH}
    r = await judge(wokingham, case["id"], **body)
    problem = problem_type(r, 422, "rationale-required")
    assert "body.rationale" in [e["loc"] for e in problem["errors"]]
    r = await judge(wokingham, case["id"], **body, rationale="   ")
    problem_type(r, 422, "rationale-required")
    assert await history(wokingham, case["id"]) == []
    ok = await judged(wokingham, case["id"], **body,
                      rationale="Protective factors: stable placement, no contact with victim.")
    assert ok["data"]["level"] == "medium"
    assert ok["data"]["matrix_level"] == "high"
    assert ok["data"]["rationale"].startswith("Protective factors")
    assert_step(the_step(ok["next_steps"], "acknowledge_rating_rationale"),
                code="acknowledge_rating_rationale", actor="line_manager",
                assignee="line_manager-1", due_at=None, pack=WOKINGHAM,
                ref="Matrix of impact / likelihood judgements", rule="M2")


async def test_M2_higher_than_matrix_also_needs_rationale(wokingham: Tenant) -> None:
    """M2: professional gut upwards (matrix low, recorded high) needs a rationale too."""
    case = (await wokingham.open_case())["data"]
    r = await judge(wokingham, case["id"], domain="rosh", level="high", impact="medium",
                    likelihood="likely", victims=["public"])
    problem_type(r, 422, "rationale-required")


async def test_M3_weapon_related_rosh_below_medium(wokingham: Tenant) -> None:
    """M3: weapon-related case, ROSH low needs a rationale; with it, the manager acknowledges."""
    case = (await wokingham.open_case(weapon_related=True))["data"]
    r = await judge(wokingham, case["id"], domain="rosh", level="low")
    problem = problem_type(r, 422, "rationale-required")
    assert "body.rationale" in [e["loc"] for e in problem["errors"]]
    ok = await judged(wokingham, case["id"], domain="rosh", level="low",
                      rationale="Knife carried once, for protection; no intent to harm.")
    assert_step(the_step(ok["next_steps"], "acknowledge_rating_rationale"),
                code="acknowledge_rating_rationale", actor="line_manager",
                assignee="line_manager-1", due_at=None, pack=WOKINGHAM,
                ref="ROSH for knife offences", rule="M3")
    medium = await judged(wokingham, case["id"], domain="rosh", level="medium")
    assert medium["data"]["rationale"] is None


async def test_M4_child_protection_plan_swb_below_high(wokingham: Tenant) -> None:
    """M4: on a CP plan, SWB below high needs a rationale; high does not."""
    case = (await wokingham.open_case(csc_status="cp"))["data"]
    r = await judge(wokingham, case["id"], domain="swb", level="medium")
    problem_type(r, 422, "rationale-required")
    ok = await judged(wokingham, case["id"], domain="swb", level="medium",
                      rationale="CP plan is about a sibling; child's own risks are managed.")
    assert_step(the_step(ok["next_steps"], "acknowledge_rating_rationale"),
                code="acknowledge_rating_rationale", actor="line_manager",
                assignee="line_manager-1", due_at=None, pack=WOKINGHAM,
                ref="SWB for children open to Children Social Care", rule="M4")
    other = (await wokingham.open_case(csc_status="cp"))["data"]
    high = await judged(wokingham, other["id"], domain="swb", level="high")
    assert "acknowledge_rating_rationale" not in codes(high["next_steps"])


@pytest.mark.parametrize("csc", ["cin", "cic"])
async def test_M4_in_care_or_in_need_swb_below_medium(wokingham: Tenant, csc: str) -> None:
    """M4: a child in care or in need: SWB low needs a rationale, medium does not."""
    case = (await wokingham.open_case(csc_status=csc))["data"]
    r = await judge(wokingham, case["id"], domain="swb", level="low")
    problem_type(r, 422, "rationale-required")
    other = (await wokingham.open_case(csc_status=csc))["data"]
    medium = await judged(wokingham, other["id"], domain="swb", level="medium")
    assert "acknowledge_rating_rationale" not in codes(medium["next_steps"])
    ok = await judged(wokingham, case["id"], domain="swb", level="low",
                      rationale="Plan ended; settled placement.")
    assert the_step(ok["next_steps"], "acknowledge_rating_rationale")["policy"]["rule"] == "M4"


async def test_M3_a_later_lowering_after_progress_needs_no_starting_rationale(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """M3 (attack 17, A17-16), "ROSH for knife offences": "a child who is involved with weapon
    related offending or incidents is likely to have a starting ROSH of at least medium ... if
    the context and circumstances of the child are such that the case worker assesses their
    initial ROSH to be low, this must be clearly explained in the evidence box and the line
    manager must also acknowledge the rationale". Starting ROSH medium on Mon 5 Oct 2026; after
    progress, low on Mon 15 Mar 2027 is an ordinary re-classification: no rationale, no
    acknowledgement. The starting judgement low still needs both (test above)."""
    pin(monkeypatch, 2027, 3, 15, 12, 0)
    case = (await wokingham.open_case(weapon_related=True,
                                      opened_at="2026-10-01T09:00:00+01:00"))["data"]
    await judged(wokingham, case["id"], domain="rosh", level="medium", impact="major",
                 likelihood="possible", occurred_at="2026-10-05T10:00:00+01:00")
    later = await judged(wokingham, case["id"], domain="rosh", level="low", impact="minor",
                         likelihood="unlikely", occurred_at="2027-03-15T10:00:00Z")
    assert later["data"]["rationale"] is None
    assert "acknowledge_rating_rationale" not in codes(later["next_steps"])


@pytest.mark.parametrize(("csc", "start", "lower"), [
    ("cin", "medium", "low"), ("cic", "medium", "low"), ("cp", "high", "medium")])
async def test_M4_a_later_lowering_after_progress_needs_no_starting_rationale(
        wokingham: Tenant, monkeypatch: pytest.MonkeyPatch, csc: str, start: str,
        lower: str) -> None:
    """M4 (attack 17, A17-16), "SWB for children open to Children Social Care": "a child who is on
    a Child Protection plan is likely to have a starting SWB concern of at least high ... For
    children in care (CIC) or children in need (CIN), it is expected that the initial SWB concern
    assessment is likely to be at least medium." The starting SWB at the floor on Mon 5 Oct 2026;
    a lower SWB after progress on Mon 15 Mar 2027 needs no starting rationale."""
    pin(monkeypatch, 2027, 3, 15, 12, 0)
    case = (await wokingham.open_case(csc_status=csc,
                                      opened_at="2026-10-01T09:00:00+01:00"))["data"]
    await judged(wokingham, case["id"], domain="swb", level=start,
                 occurred_at="2026-10-05T10:00:00+01:00")
    later = await judged(wokingham, case["id"], domain="swb", level=lower,
                         occurred_at="2027-03-15T10:00:00Z")
    assert later["data"]["rationale"] is None
    assert "acknowledge_rating_rationale" not in codes(later["next_steps"])


@pytest.mark.parametrize("level", ["medium", "high", "very_high"])
async def test_M5_rosh_medium_or_above_names_victims(wokingham: Tenant, level: str) -> None:
    """M5: ROSH at medium or above must name who is at risk (a list, groups allowed)."""
    case = (await wokingham.open_case())["data"]
    r = await judge(wokingham, case["id"], domain="rosh", level=level)
    problem = problem_type(r, 422, "victims-required")
    assert "body.victims" in [e["loc"] for e in problem["errors"]]
    r = await judge(wokingham, case["id"], domain="rosh", level=level, victims=[])
    problem_type(r, 422, "victims-required")
    r = await judge(wokingham, case["id"], domain="rosh", level=level,
                    victims=["ex-partner", "public"])
    assert r.status_code == 201, r.text
    assert r.json()["data"]["victims"] == ["ex-partner", "public"]


async def test_M5_not_for_low_rosh_or_somerset(wokingham: Tenant, somerset: Tenant) -> None:
    """M5 is Wokingham's and for medium and above only."""
    case = (await wokingham.open_case())["data"]
    assert (await judge(wokingham, case["id"], domain="rosh", level="low")).status_code == 201
    other = (await somerset.open_case())["data"]
    r = await judge(somerset, other["id"], domain="rosh", level="high")
    assert r.status_code == 201, r.text


# --- M6: Somerset lowering a case under MARP review needs the panel -------------------------------

@pytest.mark.parametrize(("domain", "high", "lower"), [
    ("rosh", "high", "medium"),
    ("rosh", "very_high", "high"),
    ("swb", "high", "low"),
    ("swb", "very_high", "medium"),
])
async def test_M6_lowering_a_case_under_marp_review_is_409(
    somerset: Tenant, domain: str, high: str, lower: str
) -> None:
    """M6 (7.2.1, 4.3): lowering a high/very high judgement on a case the MARP has taken (its
    review booked) is 409 and writes nothing."""
    case = (await somerset.open_case())["data"]
    await judged(somerset, case["id"], domain=domain, level=high,
                 occurred_at="2026-06-01T10:00:00+01:00")
    await heard_by_marp(somerset, case["id"], sits="2026-06-03T14:00:00+01:00",
                        review_date="2026-07-01", **{f"{domain}_level": high})
    before = await case_steps(somerset, case["id"])
    judgements = len(await history(somerset, case["id"]))
    r = await judge(somerset, case["id"], domain=domain, level=lower,
                    occurred_at="2026-06-05T10:00:00+01:00")
    problem_type(r, 409, "panel-approval-required")
    got = await read_case(somerset, case["id"])
    assert got["ratings"][domain]["level"] == high
    assert got["on_register"] is True
    assert len(await history(somerset, case["id"])) == judgements
    assert sorted(s["id"] for s in await case_steps(somerset, case["id"])) == \
        sorted(s["id"] for s in before)


async def test_M6_not_before_registration_nor_in_wokingham(
    somerset: Tenant, wokingham: Tenant
) -> None:
    """M6 needs the register: medium -> low is free, and Wokingham has no M6."""
    case = (await somerset.open_case())["data"]
    await judged(somerset, case["id"], domain="rosh", level="medium")
    assert (await judge(somerset, case["id"], domain="rosh", level="low")).status_code == 201
    other = (await wokingham.open_case())["data"]
    await judged(wokingham, other["id"], domain="rosh", level="high")
    r = await judge(wokingham, other["id"], domain="rosh", level="low")
    assert r.status_code == 201, r.text


# --- M7 ----------------------------------------------------------------------------------------

async def test_M7_lor_has_no_very_high(tenant: Tenant) -> None:
    """M7: LoR very_high is 422 (loc body.level) in both packs; LoR high is fine."""
    t = tenant
    case = (await t.open_case())["data"]
    r = await judge(t, case["id"], domain="lor", level="very_high")
    problem = problem_type(r, 422, "invalid-level")
    assert "body.level" in [e["loc"] for e in problem["errors"]]
    assert (await read_case(t, case["id"]))["ratings"]["lor"] is None
    assert (await judge(t, case["id"], domain="lor", level="high")).status_code == 201


# --- Somerset: case opening (S1, S2) -----------------------------------------------------------

@pytest.mark.parametrize(("opened_at", "due_at"), [
    # 4 calendar weeks on London wall time: 09:00 GMT on 2 March -> 09:00 BST on 30 March.
    pytest.param("2026-03-02T09:00:00Z", "2026-03-30T08:00:00Z", id="across-march-clock-change"),
    pytest.param(FRI_BH, "2026-09-25T14:30:00Z", id="bank-holiday-friday"),
])
async def test_S1_statutory_case_assetplus_within_4_weeks(
    somerset: Tenant, opened_at: str, due_at: str
) -> None:
    """S1: a statutory case opens with complete_assessment (AssetPlus) due +4w."""
    body = await somerset.open_case(opened_at=opened_at)
    step = the_step(body["next_steps"], "complete_assessment")
    assert_step(step, code="complete_assessment", actor="case_holder", assignee="case_holder-1",
                due_at=due_at, pack=SOMERSET, ref="2.1", rule="S1")
    assert "AssetPlus" in step["title"]
    assert step["subject_id"] == body["data"]["id"]


@pytest.mark.parametrize("intervention", ["prevention", "community_resolution", "targeted"])
async def test_S2_non_statutory_case_fact_finding(somerset: Tenant, intervention: str) -> None:
    """S2: a non-statutory case opens with a Fact Finding complete_assessment, no timescale."""
    body = await somerset.open_case(intervention=intervention)
    assert body["data"]["statutory"] is False
    step = the_step(body["next_steps"], "complete_assessment")
    assert_step(step, code="complete_assessment", actor="case_holder", assignee="case_holder-1",
                due_at=None, pack=SOMERSET, ref="2.1", rule="S2")
    assert "Fact Finding" in step["title"]


async def test_S2_statutory_flag_wins_over_intervention(somerset: Tenant) -> None:
    """S1/S2 follow the case's statutory flag when it is given explicitly."""
    body = await somerset.open_case(intervention="court_order", statutory=False)
    assert the_step(body["next_steps"], "complete_assessment")["policy"]["rule"] == "S2"


# --- Somerset: a high / very high judgement (S5-S11, S13, S15) --------------------------------

@pytest.mark.parametrize(("occurred_at", "due_at"), [
    pytest.param(FRI_BH, "2026-08-29T14:30:00Z", id="friday-before-bank-holiday"),
    # 24 clock hours across the end of BST (the wall clock would say 25 hours).
    pytest.param("2026-10-24T12:00:00+01:00", "2026-10-25T11:00:00Z", id="october-clock-change"),
    # Weekends and bank holidays count: Christmas Day itself.
    pytest.param("2026-12-24T16:00:00Z", "2026-12-25T16:00:00Z", id="christmas-eve"),
])
@pytest.mark.parametrize(("domain", "level"), [("rosh", "high"), ("swb", "very_high")])
@pytest.mark.usefixtures("now_after_2026")
async def test_S5_discuss_with_line_manager_within_24h(
    somerset: Tenant, domain: str, level: str, occurred_at: str, due_at: str
) -> None:
    """S5: a high/very high ROSH or SWB is discussed with the line manager within 24 hours."""
    case = (await somerset.open_case())["data"]
    body = await judged(somerset, case["id"], domain=domain, level=level, occurred_at=occurred_at)
    assert_step(the_step(body["next_steps"], "discuss_with_manager"),
                code="discuss_with_manager", actor="line_manager", assignee="line_manager-1",
                due_at=due_at, pack=SOMERSET, ref="3.1", rule="S5")


@pytest.mark.parametrize(("domain", "level"), [("rosh", "medium"), ("lor", "high")])
async def test_S5_S6_not_for_medium_or_lor(somerset: Tenant, domain: str, level: str) -> None:
    """S5/S6/S7 are for ROSH or SWB at high or very high only."""
    case = (await somerset.open_case())["data"]
    body = await judged(somerset, case["id"], domain=domain, level=level, occurred_at=FRI_BH)
    assert not codes(body["next_steps"]) & {
        "discuss_with_manager", "countersign_risk_plan", "refer_to_panel",
        "seek_child_and_carer_views", "monthly_manager_review"}


@pytest.mark.parametrize(("domain", "level"), [("rosh", "very_high"), ("swb", "high")])
async def test_S6_countersign_risk_plan(somerset: Tenant, domain: str, level: str) -> None:
    """S6: the line manager countersigns the pathways and planning section (no timescale)."""
    case = (await somerset.open_case())["data"]
    body = await judged(somerset, case["id"], domain=domain, level=level, occurred_at=FRI_BH)
    assert_step(the_step(body["next_steps"], "countersign_risk_plan"),
                code="countersign_risk_plan", actor="line_manager", assignee="line_manager-1",
                due_at=None, pack=SOMERSET, ref="3.1", rule="S6")


async def schedule(t: Tenant, when: str, kind: str = "marp") -> dict[str, Any]:
    """Schedule a panel as the panel administrator."""
    r = await t.client.post("/v1/panels", json={"kind": kind, "scheduled_for": when,
                                                "chair_id": "chair-1"},
                            headers=t.auth("panel_admin"))
    assert r.status_code == 201, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("domain", "level"), [("rosh", "high"), ("swb", "very_high")])
async def test_S7_refer_to_next_marp_awaiting_date(
    somerset: Tenant, domain: str, level: str
) -> None:
    """S7: refer to the next MARP; none scheduled, so no date and awaiting_panel_date."""
    case = (await somerset.open_case())["data"]
    body = await judged(somerset, case["id"], domain=domain, level=level, occurred_at=FRI_BH)
    assert_step(the_step(body["next_steps"], "refer_to_panel"),
                code="refer_to_panel", actor="case_holder", assignee="case_holder-1",
                due_at=None, awaiting=True, pack=SOMERSET, ref="3.2.3, 3.2.4", rule="S7")


@pytest.mark.usefixtures("recorded_friday")
async def test_S7_due_at_the_next_scheduled_marp(somerset: Tenant) -> None:
    """S7: with MARPs scheduled, the first at or after the judgement (not an earlier one)."""
    await schedule(somerset, "2026-08-20T14:00:00+01:00")  # before the judgement
    await schedule(somerset, "2026-09-17T14:00:00+01:00")
    await schedule(somerset, "2026-09-03T10:00:00+01:00")
    case = (await somerset.open_case())["data"]
    body = await judged(somerset, case["id"], domain="rosh", level="high", occurred_at=FRI_BH)
    assert_step(the_step(body["next_steps"], "refer_to_panel"),
                code="refer_to_panel", actor="case_holder", assignee="case_holder-1",
                due_at="2026-09-03T09:00:00Z", pack=SOMERSET, ref="3.2.3, 3.2.4", rule="S7")


async def test_S7_not_when_already_on_the_register(somerset: Tenant) -> None:
    """S7: a case already on the register is not referred again (SWB high after ROSH high)."""
    case = (await somerset.open_case())["data"]
    first = await judged(somerset, case["id"], domain="rosh", level="high", occurred_at=FRI_BH)
    refer = the_step(first["next_steps"], "refer_to_panel")
    body = await judged(somerset, case["id"], domain="swb", level="high",
                        occurred_at="2026-08-28T16:00:00+01:00")
    assert the_step(body["next_steps"], "refer_to_panel")["id"] == refer["id"]


@pytest.mark.parametrize(("domain", "level"), [("rosh", "very_high"), ("swb", "high")])
@pytest.mark.usefixtures("recorded_friday")
async def test_S8_seek_child_and_carer_views(somerset: Tenant, domain: str, level: str) -> None:
    """S8: the child's and carer's views are sought before the (next) MARP."""
    await schedule(somerset, "2026-09-03T10:00:00+01:00")
    case = (await somerset.open_case())["data"]
    body = await judged(somerset, case["id"], domain=domain, level=level, occurred_at=FRI_BH)
    assert_step(the_step(body["next_steps"], "seek_child_and_carer_views"),
                code="seek_child_and_carer_views", actor="case_holder",
                assignee="case_holder-1", due_at="2026-09-03T09:00:00Z", pack=SOMERSET,
                ref="6.2", rule="S8")


async def test_S8_awaiting_panel_date_without_a_marp(somerset: Tenant) -> None:
    """S8: no MARP scheduled yet: no date, awaiting_panel_date."""
    case = (await somerset.open_case())["data"]
    body = await judged(somerset, case["id"], domain="rosh", level="high", occurred_at=FRI_BH)
    assert_step(the_step(body["next_steps"], "seek_child_and_carer_views"),
                code="seek_child_and_carer_views", actor="case_holder",
                assignee="case_holder-1", due_at=None, awaiting=True, pack=SOMERSET,
                ref="6.2", rule="S8")


async def test_S9_very_high_swb_child_protection_immediately(somerset: Tenant) -> None:
    """S9: very high SWB: child protection referral due at once, flagged urgent."""
    case = (await somerset.open_case())["data"]
    body = await judged(somerset, case["id"], domain="swb", level="very_high", occurred_at=FRI_BH)
    assert_step(the_step(body["next_steps"], "child_protection_referral"),
                code="child_protection_referral", actor="case_holder", assignee="case_holder-1",
                due_at="2026-08-28T14:30:00Z", urgent=True, pack=SOMERSET, ref="3.2.4",
                rule="S9")


@pytest.mark.parametrize(("domain", "level"), [("swb", "high"), ("rosh", "very_high")])
async def test_S9_not_for_high_swb_or_rosh(somerset: Tenant, domain: str, level: str) -> None:
    """S9 is for very high SWB only."""
    case = (await somerset.open_case())["data"]
    body = await judged(somerset, case["id"], domain=domain, level=level, occurred_at=FRI_BH)
    assert "child_protection_referral" not in codes(body["next_steps"])


@pytest.mark.usefixtures("recorded_friday")
async def test_S10_very_high_rosh_is_the_marps_mappa_2_decision(somerset: Tenant) -> None:
    """S10, 7.1.9: "The MARP will decide if cases with Very High ROSH judgements need to be
    referred to MAPPA 2, unless this has already been done" (ATTACK34B-1): ROSH very high on
    the Friday before the bank holiday, no MAPPA category recorded: the MARP's decision, the
    chairs' step (no one assignee), due at the next MARP, Thursday 3 September 10:00 BST."""
    await schedule(somerset, "2026-09-03T10:00:00+01:00")
    case = (await somerset.open_case())["data"]
    body = await judged(somerset, case["id"], domain="rosh", level="very_high",
                        occurred_at=FRI_BH)
    assert_step(the_step(body["next_steps"], "identify_mappa_level"),
                code="identify_mappa_level", actor="chair", assignee=None,
                due_at="2026-09-03T09:00:00Z", pack=SOMERSET, ref="7.1.9, 3.2.4", rule="S10")


async def test_S10_not_at_high_nor_for_swb_nor_when_already_at_mappa_2(somerset: Tenant) -> None:
    """S10, 7.1.9 "Very High ROSH ... unless this has already been done": a MAPPA category 2
    case at high ROSH, a very high SWB, and a very high ROSH case already managed at MAPPA
    level 2 ask no MAPPA decision of the MARP."""
    for opened, domain, level in (({"mappa_category": 2}, "rosh", "high"),
                                  ({"mappa_category": 2}, "swb", "very_high"),
                                  ({"mappa_category": 2, "mappa_level": 2}, "rosh", "very_high")):
        case = (await somerset.open_case(**opened))["data"]
        body = await judged(somerset, case["id"], domain=domain, level=level,
                            occurred_at=FRI_BH)
        assert "identify_mappa_level" not in codes(body["next_steps"]), (opened, level)


@pytest.mark.parametrize(("occurred_at", "due_at"), [
    # A month from the 31st clamps to the end of February.
    pytest.param("2026-01-31T10:00:00Z", "2026-02-28T10:00:00Z", id="31st-plus-one-month"),
    # Calendar month on London wall time across the end of BST: 10:00 BST -> 10:00 GMT.
    pytest.param("2026-10-10T10:00:00+01:00", "2026-11-10T10:00:00Z", id="october-clock-change"),
    pytest.param(FRI_BH, "2026-09-28T14:30:00Z", id="friday-before-bank-holiday"),
])
async def test_S11_monthly_manager_review(somerset: Tenant, occurred_at: str, due_at: str) -> None:
    """S11: a high/very high case is reviewed by the line manager every month."""
    case = (await somerset.open_case(opened_at="2026-01-05T09:00:00Z"))["data"]
    body = await judged(somerset, case["id"], domain="rosh", level="high", occurred_at=occurred_at)
    assert_step(the_step(body["next_steps"], "monthly_manager_review"),
                code="monthly_manager_review", actor="line_manager", assignee="line_manager-1",
                due_at=due_at, pack=SOMERSET, ref="4.5", rule="S11")


async def test_S11_recurs_one_month_after_the_completing_review(somerset: Tenant) -> None:
    """S11: "review all cases where there is a High or Very High ROSH and/or Safety and
    Well-Being rating with case holders at least monthly" (4.5): the next review is due a
    month after the review that completed the last one."""
    case = (await somerset.open_case(opened_at="2026-01-05T09:00:00Z"))["data"]
    body = await judged(somerset, case["id"], domain="swb", level="high",
                        occurred_at="2026-01-31T10:00:00Z")
    review = the_step(body["next_steps"], "monthly_manager_review")
    r = await somerset.client.post(
        f"/v1/next-steps/{review['id']}/complete",
        json={"note": "Discussed in supervision", "occurred_at": "2026-02-26T15:00:00Z"},
        headers=somerset.auth("line_manager"))
    assert r.status_code == 200, r.text
    nxt = the_step(r.json()["next_steps"], "monthly_manager_review")
    assert nxt["id"] != review["id"]
    # Reviewed 26 Feb 15:00 + 1 month = 26 Mar 15:00 (still GMT: BST starts on 29 March).
    assert_step(nxt, code="monthly_manager_review", actor="line_manager",
                assignee="line_manager-1", due_at="2026-03-26T15:00:00Z", pack=SOMERSET,
                ref="4.5", rule="S11")


@pytest.mark.parametrize(("domain", "level"), [("rosh", "low"), ("swb", "medium")])
async def test_S12_level_change_informs_child_and_carer(
    somerset: Tenant, domain: str, level: str
) -> None:
    """S12: any change of ROSH or SWB level (unknown -> known included) is explained to them."""
    case = (await somerset.open_case())["data"]
    body = await judged(somerset, case["id"], domain=domain, level=level, occurred_at=FRI_BH)
    assert_step(the_step(body["next_steps"], "inform_child_and_carer"),
                code="inform_child_and_carer", actor="case_holder", assignee="case_holder-1",
                due_at=None, pack=SOMERSET, ref="6.1", rule="S12")


async def test_S12_only_on_a_change_and_not_for_lor(somerset: Tenant) -> None:
    """S12: the same level again, or a LoR change, creates no new inform step."""
    case = (await somerset.open_case())["data"]
    body = await judged(somerset, case["id"], domain="rosh", level="medium")
    step = the_step(body["next_steps"], "inform_child_and_carer")
    r = await somerset.client.post(f"/v1/next-steps/{step['id']}/complete", json={},
                                   headers=somerset.auth("case_holder"))
    assert r.status_code == 200, r.text
    again = await judged(somerset, case["id"], domain="rosh", level="medium")
    assert "inform_child_and_carer" not in codes(again["next_steps"])
    lor = await judged(somerset, case["id"], domain="lor", level="high")
    assert "inform_child_and_carer" not in codes(lor["next_steps"])
    lower = await judged(somerset, case["id"], domain="rosh", level="low")
    assert the_step(lower["next_steps"], "inform_child_and_carer")["id"] != step["id"]


@pytest.mark.parametrize(("domain", "level"), [
    ("rosh", "medium"), ("swb", "medium"), ("rosh", "high"), ("swb", "very_high")])
async def test_S13_update_intervention_plan(somerset: Tenant, domain: str, level: str) -> None:
    """S13: ROSH or SWB at medium or above: priority factors and contingency into the plan."""
    case = (await somerset.open_case())["data"]
    body = await judged(somerset, case["id"], domain=domain, level=level, occurred_at=FRI_BH)
    assert_step(the_step(body["next_steps"], "update_intervention_plan"),
                code="update_intervention_plan", actor="case_holder", assignee="case_holder-1",
                due_at=None, pack=SOMERSET, ref="4.2", rule="S13")


async def test_S13_not_for_low_or_lor(somerset: Tenant) -> None:
    """S13: low ROSH and any LoR create no update_intervention_plan."""
    case = (await somerset.open_case())["data"]
    body = await judged(somerset, case["id"], domain="rosh", level="low")
    assert "update_intervention_plan" not in codes(body["next_steps"])
    body = await judged(somerset, case["id"], domain="lor", level="high")
    assert "update_intervention_plan" not in codes(body["next_steps"])


@pytest.mark.parametrize(("domain", "level"), [("rosh", "high"), ("swb", "very_high")])
async def test_S15_non_statutory_high_moves_to_core_assessment(
    somerset: Tenant, domain: str, level: str
) -> None:
    """S15: a non-statutory case at high/very high moves to a core AssetPlus assessment."""
    case = (await somerset.open_case(intervention="prevention"))["data"]
    body = await judged(somerset, case["id"], domain=domain, level=level, occurred_at=FRI_BH)
    assert_step(the_step(body["next_steps"], "move_to_core_assessment"),
                code="move_to_core_assessment", actor="case_holder", assignee="case_holder-1",
                due_at=None, pack=SOMERSET, ref="2.1, 15.1", rule="S15")


async def test_S15_not_for_statutory_or_medium(somerset: Tenant) -> None:
    """S15: statutory cases (already AssetPlus) and medium levels do not move."""
    case = (await somerset.open_case())["data"]
    body = await judged(somerset, case["id"], domain="rosh", level="high")
    assert "move_to_core_assessment" not in codes(body["next_steps"])
    other = (await somerset.open_case(intervention="prevention"))["data"]
    body = await judged(somerset, other["id"], domain="rosh", level="medium")
    assert "move_to_core_assessment" not in codes(body["next_steps"])


# --- Wokingham: case opening (W1) --------------------------------------------------------------

@pytest.mark.parametrize(("intervention", "kind"), [
    ("prevention", "mini-asset"),
    ("community_resolution", "mini-asset"),
    ("youth_caution", "Asset+"),
    ("youth_conditional_caution", "Asset+"),
    ("court_order", "Asset+"),
    ("bail", "Asset+"),
    ("remand", "Asset+"),
    ("pre_sentence_report", "Asset+"),
    ("targeted", "lead professional"),
])
async def test_W1_assessment_type_by_intervention(
    wokingham: Tenant, intervention: str, kind: str
) -> None:
    """W1: every case opens with complete_assessment of the intervention's type, no timescale."""
    body = await wokingham.open_case(intervention=intervention)
    step = the_step(body["next_steps"], "complete_assessment")
    assert_step(step, code="complete_assessment", actor="case_holder", assignee="case_holder-1",
                due_at=None, pack=WOKINGHAM, ref="Assessment type", rule="W1")
    assert kind in step["title"]
    for other in {"mini-asset", "Asset+", "lead professional"} - {kind}:
        assert other not in step["title"]


# --- Wokingham: judgements (W7, W9-W12, W23) ---------------------------------------------------

@pytest.mark.parametrize(("occurred_at", "due_at"), TWO_WORKING_DAYS)
@pytest.mark.parametrize("level", ["high", "very_high"])
@pytest.mark.usefixtures("now_after_2026")
async def test_W7_request_high_risk_panel_within_2_working_days(
    wokingham: Tenant, level: str, occurred_at: str, due_at: str
) -> None:
    """W7: high/very high ROSH: request a High-Risk Panel within two working days."""
    case = (await wokingham.open_case())["data"]
    body = await judged(wokingham, case["id"], domain="rosh", level=level,
                        occurred_at=occurred_at)
    assert_step(the_step(body["next_steps"], "request_high_risk_panel"),
                code="request_high_risk_panel", actor="case_holder", assignee="case_holder-1",
                due_at=due_at, pack=WOKINGHAM, ref="High Risk Panel", rule="W7")


async def test_W7_not_for_swb_or_medium_rosh(wokingham: Tenant) -> None:
    """W7 is about ROSH: SWB high or ROSH medium request no High-Risk Panel."""
    case = (await wokingham.open_case())["data"]
    body = await judged(wokingham, case["id"], domain="swb", level="very_high")
    assert "request_high_risk_panel" not in codes(body["next_steps"])
    body = await judged(wokingham, case["id"], domain="rosh", level="medium")
    assert "request_high_risk_panel" not in codes(body["next_steps"])


@pytest.mark.parametrize(("occurred_at", "due_at"), TWO_WORKING_DAYS)
@pytest.mark.usefixtures("now_after_2026")
async def test_W9_marf_referral_within_2_working_days_of_the_countersignature(
    wokingham: Tenant, occurred_at: str, due_at: str
) -> None:
    """W9: "If a child with high or very high SWB concerns is not already open to Children Social
    Care, within two working days of the assessment being completed the PYJS case worker must
    complete a MARF referral"; "An assessment (Asset+ or mini-asset) is not considered complete
    until it has been counter signed by a line manager". The SWB judgement is recorded with its
    Asset+ on Monday 2 March; the countersignature (``occurred_at``) starts the two working days."""
    case = (await wokingham.open_case(csc_status="none"))["data"]
    assessment = await _asset_plus(wokingham, case["id"], "2026-03-02T10:00:00Z")
    body = await judged(wokingham, case["id"], domain="swb", level="high",
                        assessment_id=assessment, occurred_at="2026-03-02T11:00:00Z")
    assert [s["due_at"] for s in body["next_steps"] if s["code"] == "marf_referral"] == [None]
    signed = await _countersign(wokingham, assessment, occurred_at)
    assert_step(the_step(signed["next_steps"], "marf_referral"),
                code="marf_referral", actor="case_holder", assignee="case_holder-1",
                due_at=due_at, pack=WOKINGHAM, ref="Management of Safety and Well-being concerns",
                rule="W9")
    assert "align_with_social_care_plan" not in codes(signed["next_steps"])


async def _asset_plus(t: Tenant, case_id: str, at: str) -> str:
    """Start an Asset+ (a draft) as the case holder; its id."""
    r = await t.client.post(f"/v1/cases/{case_id}/assessments",
                            json={"type": "asset_plus", "stage": "start", "occurred_at": at},
                            headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["id"])


async def _countersign(t: Tenant, assessment_id: str, at: str) -> dict[str, Any]:
    """Submit the assessment (Monday 2 March, noon) and countersign it at ``at``."""
    r = await t.client.post(f"/v1/assessments/{assessment_id}/submit",
                            json={"occurred_at": "2026-03-02T12:00:00Z"},
                            headers=t.auth("case_holder"))
    assert r.status_code == 200, r.text
    r = await t.client.post(f"/v1/assessments/{assessment_id}/countersign",
                            json={"feedback": "Agreed.", "occurred_at": at},
                            headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("csc", ["cin", "cic", "cp"])
@pytest.mark.parametrize("level", ["high", "very_high"])
async def test_W10_open_to_social_care_aligns_plans(
    wokingham: Tenant, csc: str, level: str
) -> None:
    """W10: high SWB, child open to social care: align with the social worker's plan, no MARF."""
    case = (await wokingham.open_case(csc_status=csc))["data"]
    body = await judged(wokingham, case["id"], domain="swb", level=level, occurred_at=FRI_BH)
    assert_step(the_step(body["next_steps"], "align_with_social_care_plan"),
                code="align_with_social_care_plan", actor="case_holder",
                assignee="case_holder-1", due_at=None, pack=WOKINGHAM,
                ref="Management of Safety and Well-being concerns", rule="W10")
    assert "marf_referral" not in codes(body["next_steps"])


async def test_W9_W10_not_for_medium_swb(wokingham: Tenant) -> None:
    """W9/W10 start at high SWB."""
    case = (await wokingham.open_case())["data"]
    body = await judged(wokingham, case["id"], domain="swb", level="medium")
    assert not codes(body["next_steps"]) & {"marf_referral", "align_with_social_care_plan"}


async def test_W11_contact_level_follows_the_three_domains(wokingham: Tenant) -> None:
    """W11: contact level on the case after each judgement; null while a domain is unknown."""
    case = (await wokingham.open_case())["data"]
    assert case["contact_level"] is None
    steps = [
        ("rosh", "low", None),  # SWB and LoR still unknown: not "low across all three"
        ("swb", "low", None),
        ("lor", "low", "fortnightly"),
        ("lor", "medium", "weekly"),
        ("lor", "low", "fortnightly"),
        ("rosh", "medium", "weekly"),
        ("swb", "high", "twice_weekly"),
        ("swb", "very_high", "three_times_weekly"),
        ("swb", "medium", "weekly"),
        ("lor", "high", "twice_weekly"),
    ]
    for domain, level, expected in steps:
        await judged(wokingham, case["id"], domain=domain, level=level)
        got = await read_case(wokingham, case["id"])
        assert got["contact_level"] == expected, (domain, level)


async def test_W11_high_in_any_domain_even_with_others_unknown(wokingham: Tenant) -> None:
    """W11: high or very high in any one domain sets the level before the others are known."""
    case = (await wokingham.open_case())["data"]
    await judged(wokingham, case["id"], domain="lor", level="high")
    assert (await read_case(wokingham, case["id"]))["contact_level"] == "twice_weekly"
    other = (await wokingham.open_case())["data"]
    await judged(wokingham, other["id"], domain="rosh", level="very_high")
    assert (await read_case(wokingham, other["id"]))["contact_level"] == "three_times_weekly"
    third = (await wokingham.open_case())["data"]
    await judged(wokingham, third["id"], domain="rosh", level="medium")
    assert (await read_case(wokingham, third["id"]))["contact_level"] == "weekly"


async def test_W11_somerset_sets_no_contact_level(somerset: Tenant) -> None:
    """W11 is Wokingham's: a Somerset case keeps contact_level null."""
    case = (await somerset.open_case())["data"]
    await judged(somerset, case["id"], domain="rosh", level="high")
    assert (await read_case(somerset, case["id"]))["contact_level"] is None


@pytest.mark.parametrize(("domain", "ref"), [
    ("lor", "Management of Likelihood of (re-)offending"),
    ("rosh", "Management of Risk of Serious Harm"),
    ("swb", "Management of Safety and Well-being concerns"),
])
@pytest.mark.parametrize("level", ["medium", "high"])
async def test_W12_update_risk_management_plan(
    wokingham: Tenant, domain: str, ref: str, level: str
) -> None:
    """W12: any domain at medium or above: update the risk management plan."""
    case = (await wokingham.open_case())["data"]
    body = await judged(wokingham, case["id"], domain=domain, level=level, occurred_at=FRI_BH)
    assert_step(the_step(body["next_steps"], "update_risk_management_plan"),
                code="update_risk_management_plan", actor="case_holder",
                assignee="case_holder-1", due_at=None, pack=WOKINGHAM, ref=ref, rule="W12")


@pytest.mark.parametrize("domain", ["lor", "rosh", "swb"])
async def test_W12_not_for_low(wokingham: Tenant, domain: str) -> None:
    """W12: a low judgement needs no plan update."""
    case = (await wokingham.open_case())["data"]
    body = await judged(wokingham, case["id"], domain=domain, level="low")
    assert "update_risk_management_plan" not in codes(body["next_steps"])


@pytest.mark.parametrize(("domain", "level"), [("lor", "medium"), ("rosh", "low"),
                                               ("swb", "high")])
async def test_W23_any_level_change_informs_child_and_carer(
    wokingham: Tenant, domain: str, level: str
) -> None:
    """W23: any level change, in any domain, is explained to the child and family."""
    case = (await wokingham.open_case())["data"]
    body = await judged(wokingham, case["id"], domain=domain, level=level, occurred_at=FRI_BH)
    assert_step(the_step(body["next_steps"], "inform_child_and_carer"),
                code="inform_child_and_carer", actor="case_holder", assignee="case_holder-1",
                due_at=None, pack=WOKINGHAM, ref="Risk Management", rule="W23")


async def test_W23_not_when_the_level_is_unchanged(wokingham: Tenant) -> None:
    """W23: the same level again is no change."""
    case = (await wokingham.open_case())["data"]
    body = await judged(wokingham, case["id"], domain="lor", level="medium")
    step = the_step(body["next_steps"], "inform_child_and_carer")
    r = await wokingham.client.post(f"/v1/next-steps/{step['id']}/complete", json={},
                                    headers=wokingham.auth("case_holder"))
    assert r.status_code == 200, r.text
    again = await judged(wokingham, case["id"], domain="lor", level="medium")
    assert "inform_child_and_carer" not in codes(again["next_steps"])


# --- The register ------------------------------------------------------------------------------

async def test_REG_high_rosh_or_swb_puts_the_case_on_the_register(tenant: Tenant) -> None:
    """Register: ROSH or SWB high/very high puts the case on it; medium or LoR high does not."""
    t = tenant
    high = (await t.open_case())["data"]
    swb = (await t.open_case())["data"]
    medium = (await t.open_case())["data"]
    await judged(t, high["id"], domain="rosh", level="high")
    await judged(t, swb["id"], domain="swb", level="very_high")
    await judged(t, medium["id"], domain="rosh", level="medium")
    await judged(t, medium["id"], domain="lor", level="high")
    assert (await read_case(t, high["id"]))["on_register"] is True
    assert (await read_case(t, swb["id"]))["on_register"] is True
    assert (await read_case(t, medium["id"]))["on_register"] is False
    for role in ("chair", "panel_admin", "line_manager"):
        r = await t.client.get("/v1/register", headers=t.auth(role))
        assert r.status_code == 200, r.text
        listed = r.json()["data"]
        assert sorted(c["id"] for c in listed) == sorted([high["id"], swb["id"]]), role
        assert all(c["on_register"] is True for c in listed)
    r = await t.client.get("/v1/cases", params={"on_register": "true"},
                           headers=t.auth("line_manager"))
    assert sorted(c["id"] for c in r.json()["data"]) == sorted([high["id"], swb["id"]])


async def test_REG_wokingham_leaves_the_register_when_rosh_drops(wokingham: Tenant) -> None:
    """Register: Wokingham has no M6, so ROSH back to medium takes the case off the register."""
    case = (await wokingham.open_case())["data"]
    await judged(wokingham, case["id"], domain="rosh", level="high")
    await judged(wokingham, case["id"], domain="rosh", level="medium")
    assert (await read_case(wokingham, case["id"]))["on_register"] is False
    r = await wokingham.client.get("/v1/register", headers=wokingham.auth("chair"))
    assert r.json()["data"] == []


async def test_REG_case_holder_cannot_read_the_register(somerset: Tenant) -> None:
    """Register: a case holder is not among its readers (403)."""
    r = await somerset.client.get("/v1/register", headers=somerset.auth("case_holder"))
    assert_problem(r, 403)


# --- Issue-level behaviours --------------------------------------------------------------------

async def test_same_high_judgement_twice_one_refer_to_panel(somerset: Tenant) -> None:
    """Recording the same high judgement twice leaves exactly one open refer_to_panel."""
    case = (await somerset.open_case())["data"]
    first = await judged(somerset, case["id"], domain="rosh", level="high", occurred_at=FRI_BH)
    second = await judged(somerset, case["id"], domain="rosh", level="high",
                          occurred_at="2026-08-28T16:00:00+01:00")
    r = await somerset.client.get("/v1/next-steps", params={"case_id": case["id"]},
                                  headers=somerset.auth("case_holder"))
    assert r.status_code == 200, r.text
    refer = [s for s in r.json()["data"] if s["code"] == "refer_to_panel"]
    assert len(refer) == 1
    assert refer[0]["id"] == the_step(first["next_steps"], "refer_to_panel")["id"]
    assert refer[0]["id"] == the_step(second["next_steps"], "refer_to_panel")["id"]
    steps = await case_steps(somerset, case["id"])
    assert len([s["code"] for s in steps]) == len(codes(steps))  # no code twice


async def test_wokingham_rosh_high_then_low_supersedes_panel_request(wokingham: Tenant) -> None:
    """ROSH high then low: the open request_high_risk_panel becomes superseded, not deleted."""
    case = (await wokingham.open_case())["data"]
    high = await judged(wokingham, case["id"], domain="rosh", level="high", occurred_at=FRI_BH)
    request_step = the_step(high["next_steps"], "request_high_risk_panel")
    low = await judged(wokingham, case["id"], domain="rosh", level="low",
                       occurred_at="2026-08-28T17:00:00+01:00")
    assert "request_high_risk_panel" not in codes(low["next_steps"])
    assert "request_high_risk_panel" not in codes(await case_steps(wokingham, case["id"]))
    superseded = await case_steps(wokingham, case["id"], status="superseded")
    step = the_step(superseded, "request_high_risk_panel")
    assert step["id"] == request_step["id"]
    assert step["status"] == "superseded"
    assert step["policy"] == {"pack": WOKINGHAM, "version": "1.0",
                              "ref": "High Risk Panel", "rule": "W7"}


async def test_ratings_are_null_never_low_when_unknown(somerset: Tenant) -> None:
    """Unknown ratings are null (never "low"), and a first judgement has no previous level."""
    case = (await somerset.open_case())["data"]
    assert case["ratings"] == {"rosh": None, "swb": None, "lor": None}
    body = await judged(somerset, case["id"], domain="rosh", level="medium",
                        occurred_at="2026-06-01T10:00:00+01:00")
    assert body["data"]["previous_level"] is None
    got = await read_case(somerset, case["id"])
    assert got["ratings"]["swb"] is None
    assert got["ratings"]["lor"] is None
    assert got["ratings"]["rosh"]["level"] == "medium"
    assert got["ratings"]["rosh"]["judgement_id"] == body["data"]["id"]
    second = await judged(somerset, case["id"], domain="rosh", level="low")
    assert second["data"]["previous_level"] == "medium"


async def test_judgement_history_newest_first(somerset: Tenant) -> None:
    """GET judgements answers the history newest first (a back-filled one in its place)."""
    case = (await somerset.open_case())["data"]
    a = await judged(somerset, case["id"], domain="rosh", level="low",
                     occurred_at="2026-05-01T10:00:00+01:00")
    b = await judged(somerset, case["id"], domain="swb", level="medium",
                     occurred_at="2026-05-10T10:00:00+01:00")
    c = await judged(somerset, case["id"], domain="rosh", level="medium",
                     occurred_at="2026-05-20T10:00:00+01:00")
    backfilled = await judged(somerset, case["id"], domain="rosh", level="low",
                              occurred_at="2026-05-05T10:00:00+01:00")
    got = await history(somerset, case["id"])
    assert [j["id"] for j in got] == [c["data"]["id"], b["data"]["id"],
                                      backfilled["data"]["id"], a["data"]["id"]]
    assert got[0]["occurred_at"].startswith("2026-05-20T09:00:00")
    # The back-filled (older) judgement does not replace the current rating.
    assert (await read_case(somerset, case["id"]))["ratings"]["rosh"]["level"] == "medium"


async def test_backfilled_low_keeps_register_contact_and_panel_request(wokingham: Tenant) -> None:
    """A back-filled older ROSH low leaves the current high ROSH and what it requires intact."""
    case = (await wokingham.open_case())["data"]
    at = "2026-06-10T10:00:00+01:00"
    high = await judged(wokingham, case["id"], domain="rosh", level="high", occurred_at=at)
    await judged(wokingham, case["id"], domain="swb", level="low", occurred_at=at)
    await judged(wokingham, case["id"], domain="lor", level="low", occurred_at=at)
    request_id = the_step(high["next_steps"], "request_high_risk_panel")["id"]
    await judged(wokingham, case["id"], domain="rosh", level="low",
                 occurred_at="2026-06-01T10:00:00+01:00")
    got = await read_case(wokingham, case["id"])
    assert got["ratings"]["rosh"]["level"] == "high"  # holds today: history only
    assert got["on_register"] is True
    assert got["contact_level"] == "twice_weekly"
    open_ids = {s["id"] for s in await case_steps(wokingham, case["id"])}
    assert request_id in open_ids


async def test_backfilled_high_does_not_register_a_low_case(somerset: Tenant) -> None:
    """A back-filled older ROSH high does not register a case whose current ROSH is low, nor
    ask for the MARP referral (S7 lasts while a rating is high: it lapsed with the low). It is
    still a high judgement the policy asks things of from its own date (A10-30): "Any 'high'
    or 'very high' judgement rating will be discussed as soon as practicable with the relevant
    line manager or duty manager (within 24 hours)" (Somerset 3.1, S5): due 24 hours after the
    high of Monday 1 June 2026, already passed."""
    case = (await somerset.open_case())["data"]
    await judged(somerset, case["id"], domain="rosh", level="low",
                 occurred_at="2026-06-10T10:00:00+01:00")
    await judged(somerset, case["id"], domain="rosh", level="high",
                 occurred_at="2026-06-01T10:00:00+01:00")
    got = await read_case(somerset, case["id"])
    assert got["ratings"]["rosh"]["level"] == "low"  # holds today: history only
    assert got["on_register"] is False
    r = await somerset.client.get("/v1/register", headers=somerset.auth("chair"))
    assert case["id"] not in {c["id"] for c in r.json()["data"]}
    steps = await case_steps(somerset, case["id"])
    assert "refer_to_panel" not in codes(steps)
    assert "monthly_manager_review" not in codes(steps)
    discuss = the_step(steps, "discuss_with_manager")
    assert (discuss["actor"], discuss["due_at"], discuss["policy"]["rule"]) == (
        "line_manager", "2026-06-02T09:00:00Z", "S5")


async def test_backfilled_medium_on_a_registered_case_is_not_a_lowering(somerset: Tenant) -> None:
    """M6 concerns lowering the current rating: an older medium goes into the history."""
    case = (await somerset.open_case())["data"]
    await judged(somerset, case["id"], domain="rosh", level="high",
                 occurred_at="2026-06-10T10:00:00+01:00")
    r = await judge(somerset, case["id"], domain="rosh", level="medium",
                    occurred_at="2026-06-01T10:00:00+01:00")
    assert r.status_code == 201, r.text
    got = await read_case(somerset, case["id"])
    assert got["ratings"]["rosh"]["level"] == "high"
    assert got["on_register"] is True


async def test_backfilled_judgement_is_still_checked_on_its_own(wokingham: Tenant) -> None:
    """An older ROSH medium without victims is refused (M5) even though it is history only."""
    case = (await wokingham.open_case())["data"]
    await judged(wokingham, case["id"], domain="rosh", level="low",
                 occurred_at="2026-06-10T10:00:00+01:00")
    r = await judge(wokingham, case["id"], domain="rosh", level="medium",
                    occurred_at="2026-06-01T10:00:00+01:00")
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/victims-required")


async def test_concurrent_judgements_serialise_without_duplicate_steps(wokingham: Tenant) -> None:
    """Six LoR judgements at once all answer 201, and no step is opened twice."""
    case = (await wokingham.open_case())["data"]
    levels = ["medium", "high", "low", "high", "medium", "low"]
    answers = await asyncio.gather(*[
        judge(wokingham, case["id"], domain="lor", level=lv,
              occurred_at=f"2026-06-01T10:0{i}:00+01:00")
        for i, lv in enumerate(levels)
    ])
    assert [r.status_code for r in answers] == [201] * 6, [r.text for r in answers]
    assert len(await history(wokingham, case["id"])) == 6
    steps = await case_steps(wokingham, case["id"])
    assert len([s for s in steps if s["code"] == "inform_child_and_carer"]) == 1
    assert len([s for s in steps if s["code"] == "update_risk_management_plan"]) <= 1
    assert len([s["code"] for s in steps]) == len(codes(steps))
    got = await read_case(wokingham, case["id"])
    assert got["ratings"]["lor"]["level"] == "low"  # the latest occurred_at wins


async def test_concurrent_high_judgements_one_set_of_steps(somerset: Tenant) -> None:
    """Six ROSH/SWB high judgements at once: 201 each and one refer_to_panel, one S5, one S11."""
    case = (await somerset.open_case())["data"]
    answers = await asyncio.gather(*[
        judge(somerset, case["id"], domain=("rosh", "swb")[i % 2], level="high",
              occurred_at=FRI_BH)
        for i in range(6)
    ])
    assert [r.status_code for r in answers] == [201] * 6, [r.text for r in answers]
    steps = await case_steps(somerset, case["id"])
    for code in ("refer_to_panel", "discuss_with_manager", "monthly_manager_review",
                 "countersign_risk_plan", "seek_child_and_carer_views"):
        assert len([s for s in steps if s["code"] == code]) == 1, code


async def test_S16_duty_manager_judgement_advises_the_line_manager(somerset: Tenant) -> None:
    """A duty manager recording a judgement in the line manager's place must advise them."""
    case = (await somerset.open_case())["data"]
    r = await judge(somerset, case["id"], role="duty_manager", sub="dm-7", domain="rosh",
                    level="high", occurred_at="2026-08-28T15:30:00+01:00")
    assert r.status_code == 201, r.text
    advise = the_step(r.json()["next_steps"], "advise_line_manager")
    assert advise["actor"] == "duty_manager"
    assert advise["assignee_id"] == "dm-7"
    assert advise["due_at"] is None
    assert advise["urgent"] is False
    assert advise["policy"] == {"pack": SOMERSET, "version": "1", "ref": "2.2, 3.1", "rule": "S16"}
    again = await judge(somerset, case["id"], role="duty_manager", sub="dm-7", domain="swb",
                        level="medium", occurred_at="2026-08-28T16:00:00+01:00")
    advising = [s for s in again.json()["next_steps"] if s["code"] == "advise_line_manager"]
    assert [s["id"] for s in advising] == [advise["id"]]  # one open advice per case


# --- The answer's JSON (issue 15: written without a model per open step) -----------------------


async def test_judgement_answer_is_the_written_models_json(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 201 answer of a judgement is, byte for byte, what the ``Written[JudgementOut]``
    response model writes (as FastAPI writes it) for the same judgement and open steps, and
    its next steps are the case's open steps as a read of the case shows them: ROSH with the
    matrix, setting, a unicode rationale and victims, SWB and LoR, a rise that creates steps, a
    back-filled judgement."""
    from pydantic import TypeAdapter

    from app.domain import judgements as svc
    from app.routers.envelopes import Written

    written: TypeAdapter[Any] = TypeAdapter(Written[svc.JudgementOut])
    seen: list[Any] = []
    record = svc.record_judgement

    async def kept(*args: Any, **kwargs: Any) -> Any:
        seen.append(await record(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(svc, "record_judgement", kept)
    case = (await tenant.open_case())["data"]
    bodies: list[dict[str, Any]] = [
        {"domain": "rosh", "level": "high", "impact": "major", "likelihood": "likely",
         "setting": "community", "victims": ["public", "Zoë \"Ł\" 😀"],
         "rationale": "Line\u2028sep, 名前 and \\ back", "occurred_at": "2026-03-09T10:00:00Z"},
        {"domain": "swb", "level": "medium", "occurred_at": "2026-03-10T10:00:00+00:00"},
        {"domain": "lor", "level": "high", "rationale": "Rising", "occurred_at":
         "2026-03-11T09:00:00Z"},
        {"domain": "swb", "level": "low", "occurred_at": "2026-03-02T10:00:00Z"},  # back-filled
    ]
    reasons = 0
    for body in bodies:
        r = await judge(tenant, case["id"], **body)
        assert r.status_code == 201, r.text
        reasons += sum(len(s["reasons"]) for s in r.json()["next_steps"])
        judgement, result = seen[-1]
        reference = written.dump_json(written.validate_python(
            Written(data=judgement, next_steps=result.next_steps)), by_alias=True)
        assert r.content == reference
        assert r.headers["content-type"] == "application/json"
        shown = await read_case(tenant, case["id"])
        assert r.json()["next_steps"] == shown["open_steps"]
    assert reasons > 0  # the answers held open steps, with their reasons


async def test_M8_swb_on_an_asset_plus_without_the_matrix_is_explained_and_acknowledged(
        wokingham: Tenant) -> None:
    """M8 (Wokingham, ROSH and SWB interplay): "where these are assessed using Asset+, the risk
    matrix will have to be used to identify all known previous and current concerns. Only in
    exceptional circumstances will the matrix not be required, which will need to be explained
    in the evidence box by the case worker and specifically acknowledged and signed off by the
    line manager when they provide oversight of the assessment." Attack pass 14, A14-22: an SWB
    judgement on an Asset+ with neither impact nor likelihood went through unexplained. Without
    the matrix (or half of it): 422 ``rationale-required``; explained: the line manager's
    acknowledgement (M8, undated: the seed gives no timescale). With the matrix, or on no
    Asset+ (a mini-asset, or none named), nothing is asked."""
    case = (await wokingham.open_case())["data"]
    made = {}
    for kind in ("asset_plus", "mini_asset"):
        target = case if kind == "asset_plus" else (await wokingham.open_case())["data"]
        r = await wokingham.client.post(f"/v1/cases/{target['id']}/assessments",
                                        json={"type": kind, "stage": "start"},
                                        headers=wokingham.auth("case_holder"))
        assert r.status_code == 201, r.text
        made[kind] = (target["id"], r.json()["data"]["id"])
    on_asset = {"domain": "swb", "level": "medium", "assessment_id": made["asset_plus"][1]}
    for partial in ({}, {"impact": "medium"}, {"likelihood": "likely"}):
        r = await wokingham.client.post(f"/v1/cases/{case['id']}/judgements",
                                        json={**on_asset, **partial},
                                        headers=wokingham.auth("case_holder"))
        problem = problem_type(r, 422, "rationale-required")
        assert [e["loc"] for e in problem["errors"]] == ["body.rationale"]
    r = await wokingham.client.post(f"/v1/cases/{case['id']}/judgements", json={
        **on_asset, "rationale": "Child declined to engage with the matrix questions; "
                                 "concerns taken from the social worker's account."},
        headers=wokingham.auth("case_holder"))
    assert r.status_code == 201, r.text
    ok = r.json()
    assert_step(the_step(ok["next_steps"], "acknowledge_rating_rationale"),
                code="acknowledge_rating_rationale", actor="line_manager",
                assignee="line_manager-1", due_at=None, pack=WOKINGHAM,
                ref="ROSH and SWB interplay", rule="M8")
    other = (await wokingham.open_case())["data"]
    r = await wokingham.client.post(f"/v1/cases/{other['id']}/assessments",
                                    json={"type": "asset_plus", "stage": "start"},
                                    headers=wokingham.auth("case_holder"))
    asset = r.json()["data"]["id"]
    mini_case, mini = made["mini_asset"]
    for target, body in ((other["id"], {"assessment_id": asset, "impact": "medium",
                                        "likelihood": "likely"}),
                         (mini_case, {"assessment_id": mini}), (other["id"], {})):
        r = await wokingham.client.post(f"/v1/cases/{target}/judgements",
                                        json={"domain": "swb", "level": "medium", **body},
                                        headers=wokingham.auth("case_holder"))
        assert r.status_code == 201, r.text
        assert "acknowledge_rating_rationale" not in codes(r.json()["next_steps"]), body


async def test_W11_no_contact_level_on_a_case_that_is_not_statutory(wokingham: Tenant) -> None:
    """W11 ("Frequency of contact"): "As a guidance, the following level of (statutory)
    contacts would be appropriate ... It is also important that the criminal justice system is
    not used to address safeguarding, welfare or support needs." A prevention case and a youth
    conditional caution have no statutory contacts: no level, low or very high (attack pass 17,
    A17-13). A court order low across all three is fortnightly, as before."""
    for intervention in ("prevention", "youth_conditional_caution"):
        case = (await wokingham.open_case(intervention=intervention))["data"]
        for domain in ("rosh", "swb", "lor"):
            await judged(wokingham, case["id"], domain=domain, level="low")
        assert (await read_case(wokingham, case["id"]))["contact_level"] is None
        await judged(wokingham, case["id"], domain="swb", level="very_high")
        assert (await read_case(wokingham, case["id"]))["contact_level"] is None
    case = (await wokingham.open_case(intervention="court_order"))["data"]
    for domain in ("rosh", "swb", "lor"):
        await judged(wokingham, case["id"], domain=domain, level="low")
    assert (await read_case(wokingham, case["id"]))["contact_level"] == "fortnightly"
