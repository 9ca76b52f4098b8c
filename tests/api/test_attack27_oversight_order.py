"""Monthly reviews recorded as management oversight entries (``satisfies_step_id``) typed out
of order give the record typed in time order (attack 27, ATTACK27-3; the twin of ATTACK26B-5,
fixed for panel decisions and step completions by fix26b).

Somerset 4.5 (S11): "the line manager will add management oversight on CMS to evidence that the
case has been discussed". Wokingham (W30, Management oversight): "Monthly line supervision,
including case discussion, at least monthly." Both ``every 1m``: "the next is due one month
after the act that completed it". Typed March then February, the March review did the
occurrence due 4 February (a month late) and the February one was refused 422.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.core.config import Settings
from tests.api.integrity_support import judge, steps_of
from tests.conftest import make_tenant

DATES = {"F": "2026-02-03T10:00:00Z", "M": "2026-03-05T10:00:00Z"}
CASES = {"somerset-yjt-2023": ("monthly_manager_review", "rosh"),
         "wokingham-pyjs-2024": ("monthly_line_supervision", "swb")}


async def _typed(pack: str, order: str, client: httpx.AsyncClient, settings: Settings
                 ) -> tuple[list[tuple[Any, ...]], list[Any], list[tuple[Any, ...]]]:
    """High on Sun 4 January 2026 (the review due 4 February); the line manager's reviews of
    3 February and 5 March recorded as oversight entries on the open occurrence, in ``order``.
    The done occurrences (due, completed, by), the open one's due, and which entry did which
    occurrence (entry date, that occurrence's due)."""
    code, domain = CASES[pack]
    t = await make_tenant(client, settings, pack)
    case_id = (await t.open_case(opened_at="2026-01-01T10:00:00Z"))["data"]["id"]
    await judge(t, case_id, domain, "high", "2026-01-04T10:00:00Z")
    for key in order:
        (step,) = [s for s in await steps_of(t, case_id) if s["code"] == code]
        r = await client.post(f"/v1/cases/{case_id}/oversight",
                              json={"note": f"Review {key}", "occurred_at": DATES[key],
                                    "satisfies_step_id": step["id"]},
                              headers=t.auth("line_manager"))
        assert r.status_code == 201, r.text
    done = [s for s in await steps_of(t, case_id, "done") if s["code"] == code]
    due_of = {s["id"]: s["due_at"] for s in done}
    r = await client.get(f"/v1/cases/{case_id}/oversight", headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    links = sorted((e["occurred_at"], due_of.get(e["satisfies_step_id"]))
                   for e in r.json()["data"])
    open_ = [s["due_at"] for s in await steps_of(t, case_id) if s["code"] == code]
    return sorted((s["due_at"], s["completed_at"], s["completed_by"]) for s in done), open_, links


@pytest.mark.parametrize("pack", list(CASES), ids=["S11", "W30"])
async def test_S11_W30_oversight_reviews_typed_in_either_order_give_one_record(
    pack: str, client: httpx.AsyncClient, settings: Settings
) -> None:
    """Somerset 4.5 (S11): "the line manager will add management oversight on CMS to evidence
    that the case has been discussed"; Wokingham (W30): "Monthly line supervision, including case
    discussion, at least monthly." Typed February then March or March then February: the
    occurrence due 4 February done 3 February, the next (due 3 March) done 5 March, the open one
    due 5 April, and each entry linked to the occurrence it did."""
    done_fm, open_fm, links_fm = await _typed(pack, "FM", client, settings)
    done_mf, open_mf, links_mf = await _typed(pack, "MF", client, settings)
    assert [(due, completed) for due, completed, _ in done_fm] == [
        ("2026-02-04T10:00:00Z", "2026-02-03T10:00:00Z"),
        ("2026-03-03T10:00:00Z", "2026-03-05T10:00:00Z")]
    assert done_mf == done_fm
    assert open_mf == open_fm == ["2026-04-05T09:00:00Z"]  # 10:00 BST
    assert links_fm == [("2026-02-03T10:00:00Z", "2026-02-04T10:00:00Z"),
                        ("2026-03-05T10:00:00Z", "2026-03-03T10:00:00Z")]
    assert links_mf == links_fm
