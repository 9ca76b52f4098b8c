"""The policy sees a case change made under the role that authorised it.

Somerset 2.2, 3.1 (S16): any act "a duty manager does in the line manager's place" is reported
back to the line manager (``advise_line_manager``). A manager holding both roles who changes a
case they line-manage acts as its line manager: nobody is to be advised; the same change by a
duty manager who is not the case's line manager asks for the advice."""

from __future__ import annotations

from app.core.security import mint_dev_token
from tests.api.integrity_support import etag, steps_of
from tests.conftest import Tenant


async def _patch(t: Tenant, case_id: str, token: str) -> None:
    r = await t.client.patch(f"/v1/cases/{case_id}", json={"csc_status": "cin"},
                             headers={"Authorization": f"Bearer {token}",
                                      "If-Match": await etag(t, case_id)})
    assert r.status_code == 200, r.text


async def test_S16_line_manager_who_is_also_duty_manager_changes_own_case(
    somerset: Tenant,
) -> None:
    """Roles [duty_manager, line_manager], the case's own line manager: no advice step."""
    case = (await somerset.open_case())["data"]
    both = mint_dev_token(somerset.settings, sub=case["line_manager_id"],
                          roles=["duty_manager", "line_manager"], service=somerset.slug)
    await _patch(somerset, case["id"], both)
    assert "advise_line_manager" not in {s["code"] for s in await steps_of(somerset, case["id"])}


async def test_S16_duty_manager_changes_another_managers_case(somerset: Tenant) -> None:
    """A duty manager (not the case's line manager) makes the same change: S16 asks them to
    advise the line manager (actor duty_manager, ref 2.2, 3.1, no deadline)."""
    case = (await somerset.open_case())["data"]
    await _patch(somerset, case["id"], somerset.token("duty_manager"))
    [step] = [s for s in await steps_of(somerset, case["id"])
              if s["code"] == "advise_line_manager"]
    assert step["actor"] == "duty_manager"
    assert step["due_at"] is None
    assert step["policy"]["ref"] == "2.2, 3.1"
    assert step["policy"]["rule"] == "S16"
