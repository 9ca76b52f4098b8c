"""Attack 24a, A24a-4 (low): the CMS read a restricted case's reopening instant to the second in
22 write-free probes: ``POST /v1/cases/{id}/events`` with ``known_at`` a second before
``occurred_at`` (always refused) was answered ``occurred-before-bound`` ("the case's
reopening") when ``occurred_at`` fell in the closed period and ``known_at is before
occurred_at`` after it. README: "A feed's or the CMS's problems never carry a stored value of
the case"; "A restricted case is never returned to a machine client". The request's own
consistency checks now come before every check against the case's stored dates.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.fidelity_support import pin
from tests.api.integrity_support import closed_prevention_case, patch_case
from tests.conftest import Tenant


async def _restricted_closed_and_reopened(t: Tenant, monkeypatch: pytest.MonkeyPatch) -> str:
    case_id = await closed_prevention_case(
        t, monkeypatch, recorded_at=(2026, 8, 12, 9, 0), opened_at="2026-08-03T09:00:00+01:00",
        closed_at="2026-08-10T10:00:00+01:00")
    pin(monkeypatch, 2026, 8, 28, 14, 0)
    r = await patch_case(t, case_id, {"closed_at": None, "reopen_reason": "back",
                                      "occurred_at": "2026-08-20T10:00:00+01:00"})
    assert r.status_code == 200, r.text
    r = await patch_case(t, case_id, {"access": {"allowed_staff": [
        "case_holder-1", "line_manager-1", "duty_manager-1"]}})
    assert r.status_code == 200, r.text
    return case_id


def _shape(r: Any) -> Any:
    body = r.json()
    return r.status_code, body["type"], body["detail"], body.get("errors"), body.get("bound")


async def test_A24a4_cms_event_refused_by_its_own_known_at_whichever_side_of_the_reopening(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    case_id = await _restricted_closed_and_reopened(somerset, monkeypatch)
    cms = somerset.auth("feed", "iyss-cms", scope="cms")
    answers = []
    for occurred, known in (("2026-08-15T10:00:00+01:00", "2026-08-15T09:59:59+01:00"),
                            ("2026-08-20T09:59:59+01:00", "2026-08-20T09:59:58+01:00"),
                            ("2026-08-20T10:00:01+01:00", "2026-08-20T10:00:00+01:00"),
                            ("2026-08-25T10:00:00+01:00", "2026-08-25T09:59:59+01:00")):
        r = await somerset.client.post(f"/v1/cases/{case_id}/events", headers=cms, json={
            "type": "plan_obstacle", "occurred_at": occurred, "known_at": known})
        answers.append(_shape(r))
    assert answers[0] == (422, answers[0][1], "known_at is before occurred_at: an event cannot "
                          "become known before it happened.",
                          [{"loc": "body.known_at", "msg": "must be at or after occurred_at"}],
                          None)
    assert answers[0][1].endswith("/validation-error")
    assert answers == [answers[0]] * 4


async def test_A24a4_a_closed_case_refuses_a_bad_body_by_the_body_not_the_closure(
        somerset: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    case_id = await closed_prevention_case(
        somerset, monkeypatch, recorded_at=(2026, 8, 12, 9, 0),
        opened_at="2026-08-03T09:00:00+01:00", closed_at="2026-08-10T10:00:00+01:00")
    r = await somerset.client.post(
        f"/v1/cases/{case_id}/events", headers=somerset.auth("feed", "iyss-cms", scope="cms"),
        json={"type": "plan_obstacle", "occurred_at": "2026-08-11T10:00:00+01:00",
              "known_at": "2026-08-11T09:00:00+01:00"})
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"loc": "body.known_at",
                                   "msg": "must be at or after occurred_at"}]
