"""Helpers for the history typing-order tests (fix34b): dated acts of every kind that changes
the fields a case's timeline shows (judgements of each domain, a transfer in with incoming
ratings, custody entry and release, MAPPA feed messages, panel decisions, closure and
reopening, a statutory change) typed in every order, and the field changes each order leaves
on the timeline and in the subject access export, compared with time order's."""

from __future__ import annotations

import json
import uuid
from pprint import pformat
from typing import Any, NamedTuple

from tests.api.act_order_support import decide_at_sitting
from tests.api.fidelity_support import with_matrix
from tests.api.integrity_support import mappa_message, patch_case
from tests.conftest import Tenant
from tests.orders import typing_orders

REF = "IYSS"
OPENED = "2026-08-03T08:00:00Z"  # Monday 3 August 2026, 09:00 BST


class Act(NamedTuple):
    """One dated act: ``kind`` (judgement, event, patch, mappa, decision), when (``at``, ISO
    8601 UTC) and its body (without ``occurred_at``)."""

    kind: str
    at: str
    body: tuple[tuple[str, Any], ...]

    @property
    def label(self) -> str:
        what = {k: json.loads(v) for k, v in self.body}
        name = what.get("domain") or what.get("type") or ",".join(sorted(what))
        return f"{self.at[5:16]} {self.kind} {name} {what.get('level', '')}".strip()


def _act(kind: str, at: str, **body: Any) -> Act:
    return Act(kind, at, tuple(sorted((k, json.dumps(v, sort_keys=True))
                                      for k, v in body.items())))


def judged(at: str, domain: str, level: str) -> Act:
    """The service's own judgement of ``domain`` at ``level`` at ``at``."""
    return _act("judgement", at, domain=domain, level=level)


def transfer_in(at: str, **incoming: str) -> Act:
    """A transfer in at ``at`` with the ratings the child arrives with."""
    return _act("event", at, type="transfer_in", incoming_ratings=incoming,
                details={"from": "Dorset YJS"})


def event(at: str, kind: str, **extra: Any) -> Act:
    """A case event of ``kind`` at ``at``."""
    return _act("event", at, type=kind, **extra)


def patched(at: str, **fields: Any) -> Act:
    """A PATCH of the case's fields dated ``at`` (a closure: ``closed_at``; a reopening:
    ``closed_at=None`` with a reason)."""
    return _act("patch", at, **fields)


def closure(at: str) -> Act:
    """The case closed at ``at``."""
    return _act("patch", at, closed_at=at, closure_reason="Order completed")


def reopening(at: str) -> Act:
    """The case reopened at ``at``."""
    return _act("patch", at, closed_at=None, reopen_reason="New court order")


def mappa(at: str, **fields: Any) -> Act:
    """A MAPPA feed message received at ``at`` setting ``fields``."""
    return _act("mappa", at, **fields)


def decided(at: str, **levels: str) -> Act:
    """A MARP (Somerset) or High-Risk Panel (Wokingham) sitting at ``at`` that decides the
    case's ``rosh_level``/``swb_level``."""
    return _act("decision", at, **levels)


async def record(t: Tenant, case_id: str, ref: str, act: Act) -> None:
    """Record ``act`` on the case (2xx expected)."""
    body = {k: json.loads(v) for k, v in act.body}
    if act.kind == "judgement":
        body = with_matrix(t.pack, {**body, "occurred_at": act.at, "rationale": "Assessed"})
        if body["level"] != "low" and body["domain"] == "rosh" or t.pack.startswith("wok"):
            body["victims"] = ["ex-partner"]
        if t.pack.startswith("som") and body["domain"] == "rosh" and "impact" not in body:
            body.update({"low": {"impact": "minor", "likelihood": "possible"},
                         "medium": {"impact": "major", "likelihood": "possible"},
                         "high": {"impact": "major", "likelihood": "likely"},
                         "very_high": {"impact": "critical", "likelihood": "almost_certain"},
                         }[body["level"]])
        r = await t.client.post(f"/v1/cases/{case_id}/judgements", json=body,
                                headers=t.auth("case_holder"))
    elif act.kind == "event":
        r = await t.client.post(f"/v1/cases/{case_id}/events",
                                json={**body, "occurred_at": act.at},
                                headers=t.auth("case_holder"))
    elif act.kind == "patch":
        r = await patch_case(t, case_id, {**body, "occurred_at": act.at})
    elif act.kind == "mappa":
        r = await mappa_message(t, ref, act.at, body)
    else:
        kind = "marp" if t.pack.startswith("som") else "high_risk_panel"
        r = await decide_at_sitting(t, case_id, kind, act.at, {
            **body, "minutes": "Discussed", "actions": [
                {"description": "Review the plan", "owner_id": "case_holder-1",
                 "due_date": "2026-12-31"}]})
    assert r.status_code in (200, 201), (act, r.text)


def _shown(name: str, value: Any) -> Any:
    """A field's value as compared: a rating map by each domain's level, JSON text."""
    if name == "ratings":
        value = {d: r["level"] for d, r in sorted((value or {}).items()) if r}
    return json.dumps(value, sort_keys=True)


def _changes(entries: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return sorted((e["at"], name, _shown(name, old), _shown(name, new))
                  for e in entries for name, (old, new) in e["changes"].items())


async def field_changes(t: Tenant, case_id: str) -> tuple[Any, Any]:
    """Every field change (when, field, from, to) the case's timeline lists, and the subject
    access export's."""
    r = await t.client.get(f"/v1/cases/{case_id}/timeline", params={"limit": 200},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    timeline = _changes([{"at": e["at"], "changes": e["details"]["changes"]}
                         for e in r.json()["data"] if e["action"] == "fields_changed"])
    r = await t.client.get(f"/v1/cases/{case_id}/subject-access-export",
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    (case_file,) = [c for c in r.json()["data"]["cases"] if c["case"]["id"] == case_id]
    return timeline, _changes(case_file["field_changes"])


async def typed_in(t: Tenant, order: tuple[Act, ...], before: tuple[Act, ...] = (),
                   **opening: Any) -> tuple[Any, Any]:
    """A new case with ``before`` then ``order`` typed in; its :func:`field_changes`."""
    ref = f"FX-{uuid.uuid4().hex[:8]}"
    case = (await t.open_case(external_ref={"system": REF, "id": ref}, opened_at=OPENED,
                              **opening))["data"]["id"]
    for act in (*before, *order):
        await record(t, case, ref, act)
    return await field_changes(t, case)


async def history_in_every_order(t: Tenant, acts: list[Act], before: tuple[Act, ...] = (),
                                 **opening: Any) -> tuple[Any, Any]:
    """The field changes ``acts`` (given in time order) leave typed in each order; asserts
    every order leaves time order's, on the timeline and in the export, and that the export
    lists the timeline's; returns time order's."""
    got = {tuple(a.label for a in order): await typed_in(t, order, before, **opening)
           for order in typing_orders(acts)}
    first = next(iter(got.values()))
    assert first[0] == first[1], pformat(first)
    differ = {order: (sorted(set(seen[0]) - set(first[0])), sorted(set(first[0]) - set(seen[0])))
              for order, seen in got.items() if seen != first}
    assert differ == {}, f"time order: {pformat(first[0])}\nother orders (more, missing): " \
        f"{pformat(differ)}"
    return first
