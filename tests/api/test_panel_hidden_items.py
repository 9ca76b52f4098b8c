"""Attack 18, A18-10: a restricted case hidden from a panel administrator's agenda view still
showed through the panel: its ETag changed when the hidden item came (and a conditional move
with the earlier one was 412), and cancelling the "empty" panel was 409 ``panel-has-items``
"Cases are on the panel's agenda".

Now the panel's ETag is the reader's: over the panel and the items they are shown, so a hidden
item neither changes it nor fails their conditional move; the cancellation is still refused
(cancelling would take a restricted case off its panel unseen) with one answer whether or not
the caller sees the items, naming no case, item or count. Those who see the item keep the
full tag: a change to it is a 412 for them.
"""

from __future__ import annotations

import pytest

from tests.api.fidelity_support import pin, with_matrix
from tests.api.integrity_support import assert_problem, patch_case
from tests.conftest import Tenant

SITS = "2026-09-18T10:00:00+01:00"
MOVED = "2026-09-21T10:00:00+01:00"  # a Monday: a panel sits on a working day


async def _hidden_high_case(t: Tenant) -> str:
    """A ROSH-high case restricted to its holder, its manager and the MARP's chair."""
    case = (await t.open_case(opened_at="2026-08-03T09:00:00+01:00"))["data"]["id"]
    r = await t.client.post(f"/v1/cases/{case}/judgements", headers=t.auth("case_holder"),
                            json=with_matrix(t.pack, {"domain": "rosh", "level": "high",
                                                      "victims": ["public"],
                                                      "occurred_at": "2026-08-26T10:00:00Z"}))
    assert r.status_code == 201, r.text
    r = await patch_case(t, case, {"access": {"allowed_staff": [
        "case_holder-1", "line_manager-1", "chair-kim"]}})
    assert r.status_code == 200, r.text
    return str(case)


async def test_a_hidden_item_does_not_show_through_the_panel(
    somerset: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The panel administrator (shut out of the case) reads the same empty agenda and the same
    ETag before and after the chair puts the case on it, and moves the panel with that ETag
    (200); the chair, who sees the item, gets another tag, and their tag from before the item
    is 412. Cancelling is 409 ``panel-has-items`` for both, in the same words, with no id."""
    pin(monkeypatch, 2026, 8, 28, 14, 35)
    case = await _hidden_high_case(somerset)
    chair, admin = somerset.auth("chair", "chair-kim"), somerset.auth("panel_admin")
    r = await somerset.client.post("/v1/panels", headers=chair, json={
        "kind": "marp", "scheduled_for": SITS, "chair_id": "chair-kim"})
    assert r.status_code == 201, r.text
    panel = r.json()["data"]["id"]
    before = await somerset.client.get(f"/v1/panels/{panel}", headers=admin)
    chair_before = (await somerset.client.get(f"/v1/panels/{panel}", headers=chair))
    assert before.headers["ETag"] == chair_before.headers["ETag"]
    r = await somerset.client.post(f"/v1/panels/{panel}/items", headers=chair,
                                   json={"case_id": case, "presenter_id": "case_holder-1"})
    assert r.status_code == 201, r.text
    item = r.json()["data"]["id"]
    after = await somerset.client.get(f"/v1/panels/{panel}", headers=admin)
    assert after.json()["data"]["items"] == []
    assert after.headers["ETag"] == before.headers["ETag"]
    seen = await somerset.client.get(f"/v1/panels/{panel}", headers=chair)
    assert [i["id"] for i in seen.json()["data"]["items"]] == [item]
    assert seen.headers["ETag"] != chair_before.headers["ETag"]
    assert r.headers["ETag"] == seen.headers["ETag"]  # the chair's write answers their tag

    for who in (admin, chair):
        problem = assert_problem(
            await somerset.client.delete(f"/v1/panels/{panel}", headers=who), 409)
        assert problem["type"].endswith("/panel-has-items")
        assert "may hold cases you are not shown" in problem["detail"]
        assert item not in str(problem)
        assert case not in str(problem)
    r = await somerset.client.post(
        f"/v1/panels/{panel}/reschedule", json={"scheduled_for": MOVED},
        headers={**chair, "If-Match": chair_before.headers["ETag"]})
    assert assert_problem(r, 412)["current_etag"] == seen.headers["ETag"]
    r = await somerset.client.post(
        f"/v1/panels/{panel}/reschedule", json={"scheduled_for": MOVED},
        headers={**admin, "If-Match": before.headers["ETag"]})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["items"] == []
    moved = await somerset.client.get(f"/v1/panels/{panel}", headers=admin)
    assert moved.headers["ETag"] == r.headers["ETag"] != before.headers["ETag"]
