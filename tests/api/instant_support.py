"""Helpers for the one-instant typing-order tests (fix36d, attack 35a): acts of every kind
(case events, PATCHes of the case's fields, MAPPA feed messages, judgements, a panel's decision)
dated at one instant, typed in every order, and the whole record each order leaves as the API
shows it: the case's fields, every step the case's history shows (any status: code, status,
title, actor, assignee, due, urgent, rule, ref, note, raised) and every timeline entry (when,
what, by whom, its details), recording times and ids left out, and who recorded a step's entry
(the write that typed it in). A step whose need ended at the instant it arose is not in the
case's history (never owed, ATTACK35A-7): the timeline leaves it out, and so does the record
compared here, though the step stays readable by its id."""

from __future__ import annotations

import json
import re
import uuid
from pprint import pformat
from typing import Any, NamedTuple

import httpx

from tests.api.act_order_support import decide_at_sitting, judgement_body
from tests.api.integrity_support import patch_case
from tests.conftest import Tenant
from tests.orders import typing_orders

REF = "IYSS"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Act(NamedTuple):
    """One dated act: ``kind`` (event, patch, mappa, judgement, decision), ``at`` (ISO 8601
    UTC) and its body less its date, as sorted JSON items."""

    kind: str
    at: str
    body: tuple[tuple[str, str], ...]

    @property
    def label(self) -> str:
        what = {k: json.loads(v) for k, v in self.body}
        name = what.get("type") or what.get("domain") or ",".join(sorted(what))
        return f"{self.at[5:16]} {self.kind} {name}"


def _act(kind: str, at: str, **body: Any) -> Act:
    return Act(kind, at, tuple(sorted((k, json.dumps(v, sort_keys=True))
                                      for k, v in body.items())))


def event(at: str, kind: str, **extra: Any) -> Act:
    """A case event of ``kind`` at ``at`` (``extra``: more of its body)."""
    return _act("event", at, type=kind, **extra)


def patched(at: str, **fields: Any) -> Act:
    """A PATCH of the case's fields dated ``at``, by its line manager."""
    return _act("patch", at, **fields)


def patched_as(role: str, at: str, **fields: Any) -> Act:
    """A PATCH of the case's fields dated ``at`` under ``role`` (``case_holder``: by its
    holder; ``duty_manager``: by duty_manager-1)."""
    return _act(f"patch as {role}", at, **fields)


def mappa(at: str, **details: Any) -> Act:
    """A MAPPA feed message received at ``at`` setting ``details``."""
    return _act("mappa", at, **details)


def own(at: str, domain: str, level: str) -> Act:
    """The case holder's own judgement of ``domain`` at ``level`` at ``at``."""
    return _act("judgement", at, domain=domain, level=level)


def decided(at: str, **fields: Any) -> Act:
    """A panel sitting at ``at`` (Somerset MARP, Wokingham High-Risk Panel) with the case on its
    agenda, its chair deciding ``fields`` dated at the sitting."""
    return _act("decision", at, **fields)


async def record(t: Tenant, case_id: str, ref: str, act: Act) -> None:
    """Record ``act`` on the case (2xx expected)."""
    body = {k: json.loads(v) for k, v in act.body}
    if act.kind == "event":
        r = await t.client.post(f"/v1/cases/{case_id}/events",
                                json={**body, "occurred_at": act.at},
                                headers=t.auth("case_holder"))
    elif act.kind == "patch":
        r = await patch_case(t, case_id, {**body, "occurred_at": act.at})
    elif act.kind.startswith("patch as "):
        r = await patch_case(t, case_id, {**body, "occurred_at": act.at},
                             role=act.kind.removeprefix("patch as "))
    elif act.kind == "mappa":
        r = await t.client.post("/v1/feeds/mappa/referrals", json={
            "case_external_ref": {"system": REF, "id": ref}, "kind": "mappa_h",
            "received_at": act.at, "details": body},
            headers={**t.auth("feed", "mappa-feed", scope="feed:mappa"),
                     "Idempotency-Key": str(uuid.uuid4())})
    elif act.kind == "judgement":
        r = await t.client.post(f"/v1/cases/{case_id}/judgements",
                                json=judgement_body(body["domain"], body["level"], act.at),
                                headers=t.auth("case_holder"))
    else:
        kind = "marp" if t.pack.startswith("som") else "high_risk_panel"
        r = await decide_at_sitting(t, case_id, kind, act.at, {
            "minutes": "Discussed", "actions": [], **body})
    assert r.status_code in (200, 201), (act, r.text)


async def case_rated_high(t: Tenant) -> str:
    """A case opened Monday 2 November 2026 09:00Z with a fresh feed reference, ROSH high on
    Tuesday 3 November 10:00Z (fix37d, fix38a); its id."""
    ref = f"FX-{uuid.uuid4().hex[:8]}"
    case_id: str = (await t.open_case(external_ref={"system": REF, "id": ref},
                                      opened_at="2026-11-02T09:00:00Z"))["data"]["id"]
    await record(t, case_id, ref, own("2026-11-03T10:00:00Z", "rosh", "high"))
    return case_id


async def send_event(t: Tenant, case_id: str, body: dict[str, Any]) -> httpx.Response:
    """The case holder records the event ``body`` on the case; the answer, whatever it is."""
    return await t.client.post(f"/v1/cases/{case_id}/events", json=body,
                               headers=t.auth("case_holder"))


async def open_step_lines(t: Tenant, case_id: str) -> list[tuple[Any, ...]]:
    """The case's open steps as (code, due_at, rule), sorted."""
    r = await t.client.get("/v1/next-steps", params={"case_id": case_id, "status": "open"},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    return sorted((s["code"], s["due_at"], s["policy"]["rule"]) for s in r.json()["data"])


class Whole(NamedTuple):
    """What an order leaves: the case's fields, every step, every timeline entry."""

    fields: tuple[Any, ...]
    steps: tuple[tuple[Any, ...], ...]
    timeline: tuple[tuple[Any, ...], ...]


def _named(value: Any, names: dict[str, str]) -> str:
    """``value`` as JSON with each id replaced by its name (a step's code, "case", ...)."""
    text = json.dumps(value, sort_keys=True)
    return _UUID.sub(lambda m: names.get(m.group(0), "id"), text)


async def whole_record(t: Tenant, case_id: str) -> Whole:
    """The case's whole record as the API shows it (recording times and ids left out)."""
    r = await t.client.get(f"/v1/cases/{case_id}", headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    fields = (tuple(sorted((d, (v or {}).get("level")) for d, v in data["ratings"].items())),
              *(json.dumps(data.get(f), sort_keys=True) for f in (
                  "on_register", "priority", "contact_level", "in_custody",
                  "expected_release_date", "mappa_category", "mappa_level",
                  "incoming_ratings", "case_holder_id", "closed_at")))
    r = await t.client.get(f"/v1/cases/{case_id}/timeline", params={"limit": 200},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    entries = r.json()["data"]
    shown = {e["entity_id"] for e in entries}
    steps: list[tuple[Any, ...]] = []
    names = {case_id: "case"}
    for status in ("open", "done", "superseded", "missed", "waived"):
        r = await t.client.get("/v1/next-steps", params={
            "case_id": case_id, "status": status, "limit": 200},
            headers=t.auth("line_manager"))
        assert r.status_code == 200, r.text
        for s in r.json()["data"]:
            names[s["id"]] = f"step {s['code']}"
            # A step the case's history leaves out (its need ended at the instant it arose:
            # never owed) stays on record, read by id; it is not part of the history compared.
            if s["status"] == "open" or s["id"] in shown:
                steps.append((s["code"], s["status"], s["title"], s["actor"],
                              s["assignee_id"], s["due_at"], s["urgent"], s["policy"]["rule"],
                              s["policy"]["ref"], s["note"], s["raised_at"]))
    # Who recorded the write a step's entry came from is left out: a step an act of the
    # instant raises or re-dates, typed in after another act of its instant, is that later
    # write's record (its audit), the same step at the same instant.
    timeline = [(e["at"], e["kind"], e["action"],
                 *((None, None) if e["kind"] == "step" else (e["by"], e["role"])),
                 names.get(e["entity_id"], e["kind"]), _named(e["details"], names))
                for e in entries]
    return Whole(fields, tuple(sorted(steps)), tuple(sorted(timeline)))


async def whole_in_every_order(t: Tenant, acts: list[Act], *, before: tuple[Act, ...] = (),
                               **opening: Any) -> Whole:
    """The whole record ``acts`` (dated at one instant; the first order is the one the docs
    give, docs/integrating.md §7) leave typed in each order on a new case, ``before`` typed
    first in every one; asserts each is that order's, and returns it."""
    got: dict[tuple[str, ...], Whole] = {}
    for order in typing_orders(acts):
        ref = f"FX-{uuid.uuid4().hex[:8]}"
        case = (await t.open_case(external_ref={"system": REF, "id": ref},
                                  **{"opened_at": "2026-11-02T09:00:00Z", **opening})
                )["data"]["id"]
        for act in (*before, *order):
            await record(t, case, ref, act)
        got[tuple(a.label for a in order)] = await whole_record(t, case)
    first = next(iter(got.values()))
    differ = {o: _differences(first, w) for o, w in got.items() if w != first}
    assert not differ, f"first order's open steps: {pformat(_open(first))}\nother orders: " \
        f"{pformat(differ, width=200)}"
    return first


def _open(whole: Whole) -> list[str]:
    """The open steps of ``whole`` (code, due, urgent, rule) in one line each."""
    return [f"{s[0]} {s[5]} urgent={s[6]} {s[7]}" for s in whole.steps if s[1] == "open"]


def _line(entry: tuple[Any, ...]) -> str:
    """An entry of a record in one line (a step's note cut short)."""
    if len(entry) == 7:  # a timeline entry: its details' due and rule only
        details = json.loads(entry[6])
        return " | ".join([*map(str, entry[:6]), str(details.get("due_at", details)
                                                      if "rule" in details else entry[6])])
    return " | ".join(str(v) for i, v in enumerate(entry) if i not in (2, 8, 9))


def _differences(first: Whole, other: Whole) -> dict[str, Any]:
    """What ``other`` has more and lacks of ``first``: steps, timeline entries, fields."""
    found: dict[str, Any] = {}
    for name in ("steps", "timeline"):
        mine, theirs = set(getattr(other, name)), set(getattr(first, name))
        if mine != theirs:
            found[name] = {"more": sorted(_line(e) for e in mine - theirs),
                           "missing": sorted(_line(e) for e in theirs - mine)}
    if other.fields != first.fields:
        found["fields"] = (other.fields, first.fields)
    return found


def steps_of(whole: Whole, code: str, status: str = "open") -> list[tuple[Any, ...]]:
    """The steps of ``code`` in ``status``: (actor, assignee, due, urgent, rule, ref)."""
    return [(s[3], s[4], s[5], s[6], s[7], s[8]) for s in whole.steps
            if s[0] == code and s[1] == status]


def codes_in_history(whole: Whole) -> set[str]:
    """The codes of every step the case's history shows (any status)."""
    return {s[0] for s in whole.steps}


def title_of(whole: Whole, code: str) -> list[str]:
    """The titles of the open steps of ``code``."""
    return [s[2] for s in whole.steps if s[0] == code and s[1] == "open"]
