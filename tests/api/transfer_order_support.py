"""Helpers for the transfer typing-order tests (fix35f, attack 35a): dated acts (transfers in
and out, the service's own judgements, a panel's decision at a sitting) typed in every order,
and the whole record each order leaves: the case's fields, every step the case ever had (open
or not: code, status, actor, assignee, due, rule) and the timeline's step entries (when each
was created, superseded, ...: the act's time, never the recording time); a step raised and
lapsed at one instant, which in time order never arose, left out (:func:`whole_record`).
Every order must leave time order's (docs/integrating.md: "dates count, not the order acts
are typed in")."""

from __future__ import annotations

import json
from pprint import pformat
from typing import Any, NamedTuple

from tests.api.act_order_support import decide_at_sitting, judgement_body
from tests.conftest import Tenant
from tests.orders import typing_orders


class Act(NamedTuple):
    """One dated act: ``kind`` "event" (``what``: its body less ``occurred_at``, as sorted
    items), "judgement" (``what``: domain, level) or "decision" (a panel sitting at ``at``
    that decides ``what``: sorted levels); ``at`` ISO 8601 UTC."""

    at: str
    kind: str
    what: tuple[Any, ...]

    @property
    def label(self) -> str:
        return f"{self.at[5:16]} {self.kind} {self.what[0] if self.kind != 'event' else ''}"


def transfer_in(at: str, **incoming: str) -> Act:
    """A transfer in at ``at`` with the ratings the child arrives with."""
    return Act(at, "event", tuple(sorted({
        "type": json.dumps("transfer_in"),
        "incoming_ratings": json.dumps(incoming, sort_keys=True),
        "details": json.dumps({"from": "Dorset YJS"})}.items())))


def transfer_out(at: str, transfer_date: str) -> Act:
    """A transfer out at ``at``, the child transferring on ``transfer_date``."""
    return Act(at, "event", (("transfer_date", json.dumps(transfer_date)),
                             ("type", json.dumps("transfer_out"))))


def own(at: str, domain: str, level: str) -> Act:
    """The service's own judgement of ``domain`` at ``level`` at ``at`` (by the case holder)."""
    return Act(at, "judgement", (domain, level))


def decided(at: str, **levels: str) -> Act:
    """A panel (Somerset MARP, Wokingham High-Risk Panel) sitting at ``at`` with the case on
    its agenda, its chair deciding ``levels`` (rosh_level=...) dated at the sitting."""
    return Act(at, "decision", tuple(sorted(levels.items())))


async def record(t: Tenant, case_id: str, act: Act) -> None:
    """Record ``act`` on the case (2xx expected)."""
    if act.kind == "judgement":
        r = await t.client.post(f"/v1/cases/{case_id}/judgements",
                                json=judgement_body(*act.what, act.at),
                                headers=t.auth("case_holder"))
    elif act.kind == "event":
        body = {k: json.loads(v) for k, v in act.what}
        r = await t.client.post(f"/v1/cases/{case_id}/events",
                                json={**body, "occurred_at": act.at},
                                headers=t.auth("case_holder"))
    else:
        kind = "marp" if t.pack.startswith("som") else "high_risk_panel"
        r = await decide_at_sitting(t, case_id, kind, act.at, {
            **dict(act.what), "minutes": "Discussed", "actions": []})
    assert r.status_code in (200, 201), (act, r.text)


class Whole(NamedTuple):
    """What an order leaves: the case's fields, every step (code, status, actor, assignee,
    due, rule), and the timeline's step entries (at, action, code)."""

    fields: tuple[Any, ...]
    steps: tuple[tuple[Any, ...], ...]
    history: tuple[tuple[Any, ...], ...]


async def whole_record(t: Tenant, case_id: str) -> Whole:
    """The case's whole record as the API shows it (recording times and ids left out)."""
    r = await t.client.get(f"/v1/cases/{case_id}", headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    fields = (tuple(sorted((d, (v or {}).get("level")) for d, v in data["ratings"].items())),
              data["on_register"], data["priority"], data["contact_level"],
              json.dumps(data.get("incoming_ratings"), sort_keys=True))
    r = await t.client.get(f"/v1/cases/{case_id}/timeline", params={"limit": 200},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    entries = [e for e in r.json()["data"] if e["kind"] == "step"]
    # A step raised and lapsed at one instant was never owed: a step a later act raised
    # (a transfer out's handover call on a High rating) that an act dated before it, typed in
    # after it, ends at once (a lowering dated before the transfer) keeps its record, which
    # was shown while it stood, but in time order it never arose (fix35f).
    by_step: dict[str, list[tuple[str, str]]] = {}
    for e in entries:
        by_step.setdefault(e["entity_id"], []).append((e["action"], e["at"]))
    never = {sid for sid, acts in by_step.items()
             if sorted(a for a, _ in acts) == ["created", "superseded"]
             and len({at for _, at in acts}) == 1}
    # The timeline itself now leaves such a step out (fix36d, ATTACK35A-7): a step it does
    # not show at all, superseded, is one too.
    shown = set(by_step)
    steps: list[tuple[Any, ...]] = []
    for status in ("open", "done", "superseded", "missed", "waived"):
        r = await t.client.get("/v1/next-steps", params={"case_id": case_id, "status": status,
                                                          "limit": 200},
                               headers=t.auth("line_manager"))
        assert r.status_code == 200, r.text
        steps += [(s["code"], s["status"], s["actor"], s["assignee_id"], s["due_at"],
                   s["policy"]["rule"]) for s in r.json()["data"] if s["id"] not in never
                  and (s["status"] != "superseded" or s["id"] in shown)]
    # Left out: a re-date at the instant the step arose (a back-dated act that raises a step
    # a later act raised first moves its arising back to its own date and re-dates it there;
    # in time order it arose with that date): the step's due as shown is compared above.
    # Also a re-date at a recording time (all the acts here are in August 2026): a panel
    # booked when the decision is typed re-dates the steps awaiting the next panel then, an
    # act of the booking (not dated), not of the acts compared.
    arose = {e["entity_id"]: e["at"] for e in entries if e["action"] == "created"}
    history = [(e["at"], e["action"], (e.get("details") or {}).get("code"))
               for e in entries if e["entity_id"] not in never
               and not (e["action"] == "redated" and (e["at"] == arose.get(e["entity_id"])
                                                      or e["at"] >= "2026-11-01"))]
    return Whole(fields, tuple(sorted(steps)), tuple(sorted(history)))


async def whole_in_every_order(t: Tenant, acts: list[Act], *, before: tuple[Act, ...] = ()
                               ) -> Whole:
    """The whole record ``acts`` (given in time order) leave typed in each order, ``before``
    typed first in every one; asserts each is time order's, and returns it."""
    got: dict[tuple[str, ...], Whole] = {}
    for order in typing_orders(acts):
        case = (await t.open_case(opened_at="2026-08-03T08:00:00Z"))["data"]["id"]
        for act in (*before, *order):
            await record(t, case, act)
        got[tuple(a.label for a in order)] = await whole_record(t, case)
    first = next(iter(got.values()))
    differ = {o: (sorted(set(w.steps) - set(first.steps)),
                  sorted(set(first.steps) - set(w.steps)),
                  sorted(set(w.history) - set(first.history)),
                  sorted(set(first.history) - set(w.history)), w.fields)
              for o, w in got.items() if w != first}
    assert not differ, f"time order: {pformat(first)}\nother orders (steps more, missing; " \
        f"history more, missing; fields): {pformat(differ)}"
    return first


def of(whole: Whole, code: str) -> list[tuple[Any, ...]]:
    """The steps of ``code`` (status, actor, assignee, due, rule)."""
    return [s[1:] for s in whole.steps if s[0] == code]


def history_of(whole: Whole, code: str) -> list[tuple[str, str]]:
    """The timeline's entries for steps of ``code`` (at, action)."""
    return [(h[0], h[1]) for h in whole.history if h[2] == code]
