"""Attack 26a, A26a-14: what practitioners read about a panel (a step's note, a referral's
history, an audit entry's reason) named it by its kind's id in the pack (``high_risk_panel``,
``marp``, ``risk_panel``) rather than by its name there (``title``: "High-Risk Panel",
"Multi-Agency Risk Panel (MARP)", "Risk Panel"). Every such text now uses the pack's name."""

from __future__ import annotations

import re
from typing import Any

from tests.api.integrity_support import audit_of
from tests.api.test_assessments import case_steps
from tests.api.test_panel_action_owners import _decide
from tests.conftest import Tenant


async def _texts(t: Tenant, case_id: str) -> list[str]:
    """Every step note and title of the case, its referrals' history notes and its audit
    entries' reasons."""
    steps: list[dict[str, Any]] = []
    for status in ("open", "done", "superseded"):
        steps += await case_steps(t, case_id, status)
    r = await t.client.get(f"/v1/cases/{case_id}/referrals", headers=t.auth("case_holder"))
    assert r.status_code == 200, r.text
    history = [move.get("note") or "" for referral in r.json()["data"]
               for move in referral.get("history", [])]
    audit = [e.get("reason") or "" for e in await audit_of(t, case_id)]
    return [*(s.get("note") or "" for s in steps), *(s["title"] for s in steps), *history,
            *audit]


async def test_A26a14_a_high_risk_panel_is_named_as_the_pack_names_it(
        wokingham: Tenant) -> None:
    """Wokingham "High-Risk Panels": a case referred, put on the agenda and decided. The steps
    the decision satisfies say "Satisfied by the High-Risk Panel decision", and no note, title,
    referral history or audit reason of the case says ``high_risk_panel``."""
    case_id, _ = await _decide(wokingham, "case_holder-1")
    texts = await _texts(wokingham, case_id)
    assert [t for t in texts if re.search(r"high_risk_panel", t)] == []
    satisfied = [t for t in texts if t.startswith("Satisfied by the High-Risk Panel decision on "
                                                   "item ")]
    assert len(satisfied) == 2, texts
