"""The contract's text on making a referral agrees with what the service does (attack 26b,
ATTACK26B-10).

Somerset 3.2.4: very high SWB "will include (or has already included) a referral to statutory
child protection services" (S9). The referral is made when it is sent (the kind's ``made_by``):
the draft and its submission leave S9 open; the send closes it. The OpenAPI description of
``POST /v1/cases/{id}/referrals`` said the draft "satisfies the step that asked for it"."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from app.core import clock
from tests.api.management import open_steps
from tests.api.test_events import judge
from tests.conftest import Tenant


@pytest.fixture(autouse=True)
def on_20_april(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: datetime(2027, 4, 20, 9, 0, tzinfo=UTC))


async def test_S9_the_draft_closes_no_step_the_send_does_as_the_contract_says(
    client: httpx.AsyncClient, somerset: Tenant
) -> None:
    """S9 stays open after the child protection referral is drafted and submitted, and is
    done by its send; the OpenAPI description says the draft closes no step and names the
    kind's making act."""
    t = somerset
    case_id = (await t.open_case())["data"]["id"]
    await judge(t, case_id, "swb", "very_high", "2027-04-19T10:00:00+01:00")
    assert "child_protection_referral" in await open_steps(t, case_id)
    r = await t.client.post(f"/v1/cases/{case_id}/referrals",
                            json={"kind": "child_protection"}, headers=t.auth("case_holder"))
    assert r.status_code == 201, r.text
    referral = r.json()["data"]["id"]
    r = await t.client.post(f"/v1/referrals/{referral}/submit", headers=t.auth("case_holder"))
    assert r.status_code == 200, r.text
    assert "child_protection_referral" in await open_steps(t, case_id)
    r = await t.client.post(f"/v1/referrals/{referral}/send", headers=t.auth("case_holder"))
    assert r.status_code == 200, r.text
    assert "child_protection_referral" in await open_steps(t, case_id, "done")
    spec = (await client.get("/openapi.json")).json()
    text = spec["paths"]["/v1/cases/{case_id}/referrals"]["post"]["description"]
    assert "satisfies the step" not in text
    assert "The draft closes no step" in text
    assert "made_by" in text
