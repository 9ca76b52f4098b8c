"""Helpers for the typing-order tests (fix32a): dated acts (a transfer in with the ratings the
child arrives with, the service's own judgements, a panel's decision) typed in every order, and
the record each order leaves (open steps with their subjects, ratings, register, contact level,
priority)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pprint import pformat
from typing import Any, NamedTuple

from tests.api.act_order_support import judgement_body
from tests.api.integrity_support import on_marp_agenda
from tests.conftest import Tenant, make_tenant
from tests.orders import typing_orders

DAY = "2026-11-24T"  # Tue 24 Nov 2026, London on GMT, no bank holiday near


class Act(NamedTuple):
    """One dated act: a transfer in (``kind`` "transfer_in", ``what`` its incoming ratings),
    a judgement (``kind`` "judgement", ``what`` (domain, level)), by the role ``by``, or the
    panel's decision on the case's item (``kind`` "decision", ``what`` its levels: the
    ``decision`` url :func:`in_every_order`'s ``prepare`` gives)."""

    at: str
    kind: str
    what: tuple[Any, ...]
    by: str = "case_holder"


class Record(NamedTuple):
    """What an order of acts leaves: the open steps (code, actor, assignee, due, rule,
    subject: "case", or the act it names, "10:00 transfer_in"), the ratings, on_register,
    contact_level and priority."""

    steps: tuple[tuple[Any, ...], ...]
    ratings: dict[str, str | None]
    on_register: bool
    contact_level: str | None
    priority: bool


def arrival(at: str, **incoming: str) -> Act:
    """A transfer in at ``at`` (HH:MM on the day) with the ratings the child arrives with."""
    return Act(at, "transfer_in", tuple(sorted(incoming.items())))


def own(at: str, domain: str, level: str, by: str = "case_holder") -> Act:
    """The service's own judgement of ``domain`` at ``level`` at ``at``, recorded by ``by``."""
    return Act(at, "judgement", (domain, level), by)


def mappa(at: str, **details: int) -> Act:
    """A MAPPA feed message about the case received at ``at`` (``mappa_category=1``, ...);
    the case needs the IYSS reference :func:`in_every_order`'s ``prepare`` gives it."""
    return Act(at, "mappa", tuple(sorted(details.items())), "feed")


def decided(at: str, **levels: Any) -> Act:
    """The panel's decision on the case's item at ``at`` setting ``levels`` (rosh_level=...;
    also any other decision field: review_date, actions), by its chair."""
    return Act(at, "decision", tuple(sorted(levels.items())), "chair")


def happened(at: str, kind: str, **details: Any) -> Act:
    """A case event of ``kind`` (custody_release, death, ...) at ``at``, recorded by the
    case's holder (``details``: more of its body)."""
    return Act(at, "event", (kind, *sorted(details.items())))


async def record(t: Tenant, case_id: str, act: Act, urls: dict[str, str] | None = None
                 ) -> str:
    """Record ``act`` on the case (201 expected; a decision: 200 at ``urls["decision"]``);
    the id of its record."""
    if act.kind == "mappa":
        assert urls is not None, "a feed message needs the case's IYSS reference"
        r = await t.client.post("/v1/feeds/mappa/referrals", json={
            "case_external_ref": {"system": "IYSS", "id": urls["iyss"]}, "kind": "mappa_h",
            "received_at": f"{DAY}{act.at}:00Z", "details": dict(act.what)},
            headers={**t.auth("feed", "mappa-feed", scope="feed:mappa"),
                     "Idempotency-Key": str(uuid.uuid4())})
        assert r.status_code in (200, 201, 202), r.text
        return f"feed {act.at}"
    if act.kind == "decision":
        assert urls is not None, "a decision needs the item prepare booked"
        r = await t.client.post(urls["decision"], json={
            "actions": [], **dict(act.what), "minutes": "Panel held",
            "occurred_at": f"{DAY}{act.at}:00Z"}, headers=t.auth("chair", "chair-1"))
        assert r.status_code == 200, r.text
        return str(r.json()["data"]["id"])
    if act.kind == "judgement":
        domain, level = act.what
        r = await t.client.post(f"/v1/cases/{case_id}/judgements",
                                json=judgement_body(domain, level, f"{DAY}{act.at}:00Z"),
                                headers=t.auth(act.by))
    elif act.kind == "event":
        kind, *details = act.what
        r = await t.client.post(f"/v1/cases/{case_id}/events", json={
            "type": kind, "occurred_at": f"{DAY}{act.at}:00Z", **dict(details)},
            headers=t.auth(act.by))
    else:
        r = await t.client.post(f"/v1/cases/{case_id}/events", json={
            "type": "transfer_in", "occurred_at": f"{DAY}{act.at}:00Z",
            "incoming_ratings": dict(act.what), "details": {"from": "Another YJS"}},
            headers=t.auth(act.by))
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["id"])


async def high_on_the_days_marp(t: Tenant, case_id: str) -> dict[str, str]:
    """The case holder's own ROSH high at 08:00 on ``DAY`` and a MARP at 09:00 (chair-1) with
    the case on its agenda (presented by case_holder-1): the decision's url (fix36a, fix37a)."""
    await record(t, case_id, own("08:00", "rosh", "high"))
    panel, item = await on_marp_agenda(t, case_id, f"{DAY}09:00:00Z")
    return {"decision": f"/v1/panels/{panel}/items/{item}/decision"}


async def the_record(t: Tenant, case_id: str, names: dict[str, str] | None = None) -> Record:
    """The case's record as the API shows it; a step's subject named by ``names`` (record id
    to the act's "HH:MM kind"), "case" for the case."""
    names = {**(names or {}), case_id: "case"}
    r = await t.client.get("/v1/next-steps", params={"case_id": case_id, "status": "open"},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    steps = tuple(sorted((s["code"], s["actor"], s["assignee_id"], s["due_at"],
                          s["policy"]["rule"], names.get(str(s["subject_id"]), "other"))
                         for s in r.json()["data"]))
    r = await t.client.get(f"/v1/cases/{case_id}", headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    return Record(steps, {d: (v or {}).get("level") for d, v in data["ratings"].items()},
                  data["on_register"], data["contact_level"], data["priority"])


Prepare = Callable[[Tenant, str], Awaitable[dict[str, str]]]


async def in_every_order(t: Tenant, acts: list[Act], *, prepare: Prepare | None = None,
                         fresh: bool = False) -> Record:
    """The record ``acts`` leave typed in each order; asserts every order leaves time order's
    (``acts`` are given in time order) and returns it. ``prepare``: what each fresh case gets
    before the acts (a panel with the case on its agenda), returning the urls the acts use.
    ``fresh``: each order after the first in a service of its own (``t``'s pack): a sitting
    ``prepare`` books is the service's, and one order's sitting, which has not decided the
    next order's case, is that case's next panel (fix37a)."""
    records: dict[tuple[str, ...], Record] = {}
    first_order = True
    for order in typing_orders(acts):
        if fresh and not first_order:
            t = await make_tenant(t.client, t.settings, t.pack)
        first_order = False
        iyss = uuid.uuid4().hex[:12]
        case = (await t.open_case(opened_at="2026-11-02T09:00:00Z",
                                  external_ref={"system": "IYSS", "id": iyss}))["data"]["id"]
        urls = {"iyss": iyss, **(await prepare(t, case) if prepare is not None else {})}
        names = {}
        for act in order:
            names[await record(t, case, act, urls)] = f"{act.at} {act.kind}"
        records[tuple(f"{a.at} {a.kind}" for a in order)] = await the_record(t, case, names)
    first = next(iter(records.values()))
    differ = {order: got for order, got in records.items() if got != first}
    assert differ == {}, f"time order: {pformat(first)}\nother orders: {pformat(differ)}"
    return first


def steps_of(got: Record, code: str) -> list[tuple[Any, ...]]:
    """The open steps of ``code`` (actor, assignee, due, rule)."""
    return [s[1:5] for s in got.steps if s[0] == code]


def subjects_of(got: Record, code: str) -> list[str]:
    """The subjects of the open steps of ``code`` ("case", or the act: "10:00 transfer_in")."""
    return [s[5] for s in got.steps if s[0] == code]


SHOWN_STATUSES = ("open", "done", "superseded", "missed", "waived")


async def visible_steps(t: Tenant, case_id: str, *rules: str, report: tuple[str, str]
                        ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], Any]:
    """What a reader sees of the case's steps of ``rules`` (fix41c): the steps as the lists
    show them (rule, code, actor, status, raised_at, due_at, completed_at, completed_by, the
    note's last line), those in every status but a superseded one its timeline leaves out (a
    step raised and ended at one instant, never owed: its row stays, readable by its id);
    its history of them (at, action, rule, code; sorted, the entries of one instant are listed
    in recording order); and the service's timeliness report for the London dates ``report``
    by rule, its rows and ageing of ``rules`` (``t``: a tenant of its own, so the report is
    the case's). The rows kept hidden are not in it: they may differ between typing
    orders (docs/integrating.md §7)."""
    r = await t.client.get(f"/v1/cases/{case_id}/timeline", params={"limit": 200},
                           headers=t.auth("line_manager"))
    assert r.status_code == 200, r.text
    entries = [e for e in r.json()["data"]
               if e["kind"] == "step" and e["details"].get("rule") in rules]
    shown = {e["entity_id"] for e in entries}
    found = []
    for status in SHOWN_STATUSES:
        r = await t.client.get("/v1/next-steps", params={
            "case_id": case_id, "status": status, "limit": 200}, headers=t.auth("line_manager"))
        assert r.status_code == 200, r.text
        found += [(s["policy"]["rule"], s["code"], s["actor"], s["status"], s["raised_at"],
                   s["due_at"], s["completed_at"], s["completed_by"],
                   (s["note"] or "").splitlines()[-1:])
                  for s in r.json()["data"] if s["policy"]["rule"] in rules
                  and (status != "superseded" or s["id"] in shown)]
    history = sorted((e["at"], e["action"], e["details"]["rule"], e["details"]["code"])
                     for e in entries)
    r = await t.client.get("/v1/reports/timeliness", params={
        "from": report[0], "to": report[1], "group_by": "rule"}, headers=t.auth("chair"))
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    timeliness = {part: [row for row in data[part] if row["rule"] in rules]
                  for part in ("rows", "ageing")}
    return sorted(found, key=repr), history, timeliness
