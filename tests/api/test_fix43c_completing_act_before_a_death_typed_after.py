"""fix43c (ATTACK41-8, ATTACK41-10): an act dated before a child's death that, in time order,
DOES (answers) steps, typed in after the death. In time order the act did them at its date and
the death ended only what was still open then. Typed in after the death, the steps stayed as
the death had left them (superseded or missed at it): a countersignature typed late did not
complete Wokingham's W1; a MARP referral submitted before the death did not do Somerset's S7
and S8 when it, or the High that raised them, was typed in after the death. Now every typing
order leaves time order's record (fix41d's comparison: fields, every step with its note and
link, the step timeline, field changes, the timeliness report).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from app.core.config import Settings
from tests.api.instant_support import REF, Act, event, own
from tests.api.test_fix41c_referral_times import VIEWS
from tests.api.test_fix41d_acts_before_a_death_typed_after import (
    ACT,
    BY_DEATH,
    DEATH,
    OPENED,
    Record,
    _act,
    _nothing_after_the_death,
    _of,
    _visible,
)
from tests.api.test_fix41d_acts_before_a_death_typed_after import _record as _recorded
from tests.conftest import Tenant, make_tenant
from tests.orders import typing_orders

HIGH = "2026-11-02T10:00:00Z"  # Monday 2 November 2026 10:00 GMT
SUBMITTED = "2026-11-04T10:00:00Z"  # Wednesday 4 November 2026 10:00 GMT
COUNTERSIGNED = "2026-11-10T10:00:00Z"  # Tuesday 10 November 2026 10:00 GMT


async def _marp(t: Tenant, case_id: str, at: str) -> None:
    """The case holder's MARP referral, with the child's and carer's views, made and submitted
    at ``at``."""
    r = await t.client.post(f"/v1/cases/{case_id}/referrals", json={
        "kind": "panel", "details": VIEWS, "occurred_at": at}, headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    r = await t.client.post(f"/v1/referrals/{r.json()['data']['id']}/submit",
                            json={"occurred_at": at}, headers=t.auth("case_holder"))
    assert r.status_code == 200, r.text


async def _record(t: Tenant, case_id: str, ref: str, act: Act) -> None:
    if act.kind == "marp":
        await _marp(t, case_id, act.at)
    else:
        await _recorded(t, case_id, ref, act)


async def _every_order(client: httpx.AsyncClient, settings: Settings, pack: str,
                       acts: list[Act], *, before: tuple[Act, ...] = ()) -> Record:
    """``acts`` (in time order) typed in every order after ``before``, each on a case of a
    service of its own; asserts every order shows what time order shows; that record."""
    got: dict[tuple[str, ...], Record] = {}
    for order in typing_orders(acts):
        t = await make_tenant(client, settings, pack)
        ref = f"FX-{uuid.uuid4().hex[:8]}"
        case_id = (await t.open_case(external_ref={"system": REF, "id": ref},
                                     opened_at=OPENED))["data"]["id"]
        for act in (*before, *order):
            await _record(t, case_id, ref, act)
        got[tuple(f"{a.kind}@{a.at}" for a in order)] = await _visible(t, case_id, ())
        await _nothing_after_the_death(t, case_id)
    first = next(iter(got.values()))
    for order, seen in got.items():
        for part, mine, theirs in zip(("fields", "steps", "step timeline", "field changes",
                                       "report"), seen, first, strict=True):
            assert mine == theirs, (order, part, sorted(set(mine) - set(theirs)),
                                    sorted(set(theirs) - set(mine)))
    return first


def _done_at(got: Record, code: str) -> list[tuple[Any, ...]]:
    """(status, what did it) of the steps of ``code`` and when the timeline says they were
    done (or ended)."""
    steps = [(s[1], s[9]) for s in got[1] if s[0] == code]
    ends = sorted((e[0], e[2]) for e in got[2] if _code(e) == code and e[2] != "created")
    return [steps, ends]


def _code(entry: tuple[Any, ...]) -> str | None:
    details = json.loads(entry[6]) if isinstance(entry[6], str) else entry[6]
    return details.get("code") if isinstance(details, dict) else None


async def test_W1_ATTACK41_8_an_assessment_countersigned_before_a_death_typed_after_it(
        client: httpx.AsyncClient, settings: Settings) -> None:
    """Wokingham 2024, Assessment type: "Children on statutory Court Orders ... will be
    assessed using Asset+"; "Assessments must be completed at the start of the
    intervention/Order" (W1, done by the countersigned Asset+). An Asset+ started and
    submitted on Monday 9 November 2026, countersigned on Tuesday 10 November 10:00, the
    child's death on Thursday 12 November 10:00, the countersignature and the death typed in
    either order: W1 done by the countersignature on 10 November. Before, with the death typed
    first, W1 stayed superseded at the death."""
    got = await _every_order(client, settings, "wokingham-pyjs-2024",
                             [_act("countersign", COUNTERSIGNED), event(DEATH, "death")],
                             before=(_act("submitted", ACT),))
    [steps, ends] = _done_at(got, "complete_assessment")
    assert [s[0] for s in steps] == ["done"]
    assert '"type": "assessment"' in steps[0][1]
    assert ends == [(COUNTERSIGNED, "done")]


async def test_S7_S8_ATTACK41_10_a_marp_referral_before_a_death_typed_after_it(
        client: httpx.AsyncClient, settings: Settings) -> None:
    """Somerset 2023, 3.2.3: "The case holder will refer the case to the next YJT MARP by
    contacting the appropriate administrator and completion of section 1 of the MARP referral
    form" (S7); 6.2: "Child and parent/carer views will be sought before the initial panel and
    be included in the MARP referral form" (S8). A High ROSH on Monday 2 November 2026 10:00,
    the MARP referral with the views submitted on Wednesday 4 November 10:00, the child's
    death on Thursday 12 November 10:00, typed in every order: S7 and S8 done by the referral
    on 4 November; the death ends only what was still open (S5, S11...). Before, with the
    referral or the High typed after the death, S7 and S8 were superseded at the death."""
    got = await _every_order(client, settings, "somerset-yjt-2023",
                             [own(HIGH, "rosh", "high"), Act("marp", SUBMITTED, ()),
                              event(DEATH, "death")])
    for code in ("refer_to_panel", "seek_child_and_carer_views"):
        [steps, ends] = _done_at(got, code)
        assert [s[0] for s in steps] == ["done"], (code, steps)
        assert '"type": "referral"' in steps[0][1]
        assert ends == [(SUBMITTED, "done")], code
    assert _of(got, "S5") == [("missed", "2026-11-03T10:00:00Z", BY_DEATH)]
