"""The JSON of list pages (the register, case lists, next-steps lists) without a pydantic model
per case and step.

A page of 50 cases holds ~150 open steps, each with its policy reference and reasons: shaped
through ``CaseOut`` and ``StepOut`` that is ~1,000 model instances per request, built and then
walked again to write the JSON, most of a page's CPU. Here each case and step becomes a plain
dict of what those models would hold, in their field order, and the page is written in one call
of pydantic's own JSON serializer (``TypeAdapter(Any)``: the same encoder and settings as the
models', so strings, numbers, dates and times come out byte for byte as before). Values are
taken as they are only where the model would take them unchanged (ids, columns of their own
type, names already trimmed); anything else (a reason, a name or a reference not in the shape
the app writes) goes through the model it belongs to, so it is shown, or refused, exactly as
before. ``tests/api/test_page_json.py`` holds the models' path as the reference and compares
the bytes.

The routes still declare ``response_model=`` (the OpenAPI document is unchanged) and answer
these bytes as FastAPI would (``application/json``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from fastapi import Response
from pydantic import TypeAdapter

from app.domain.cases import Child, RatingsOut, StoredRef
from app.domain.cases_table import ContactLevel, CscStatus, Intervention
from app.domain.common import EARLIEST, LATEST
from app.domain.restriction import AccessOut
from app.domain.services import Service
from app.domain.steps import step_json, steps_json

_ANY: TypeAdapter[Any] = TypeAdapter(Any)
_INTERVENTION: TypeAdapter[Intervention] = TypeAdapter(Intervention)
_CSC_STATUS: TypeAdapter[CscStatus] = TypeAdapter(CscStatus)
_CONTACT_LEVEL: TypeAdapter[ContactLevel] = TypeAdapter(ContactLevel)
_FIRST_DAY, _END_DAY = EARLIEST.date(), LATEST.date()


def page_response(data: list[Any], next_cursor: str | None) -> Response:
    """A ``Page`` (``{"data": [...], "next_cursor": ...}``) answered as FastAPI answers a
    response model: pydantic's JSON, ``application/json``."""
    return Response(content=_ANY.dump_json({"data": data, "next_cursor": next_cursor}),
                    media_type="application/json")


def written_response(data: Any, next_steps: list[Any], status_code: int = 201) -> Response:
    """A ``Written`` (``{"data": ..., "next_steps": [...]}``) answered as FastAPI answers that
    response model: pydantic's JSON, ``application/json``; ``data`` a model, ``next_steps``
    :meth:`~app.domain.policy.PolicyResult.next_steps_json`."""
    return Response(content=_ANY.dump_json({"data": data, "next_steps": next_steps}),
                    status_code=status_code, media_type="application/json")


def _trimmed(value: Any, most: int) -> bool:
    """Whether a ``StringConstraints(strip_whitespace=True, min_length=1, max_length=most)``
    field takes ``value`` unchanged (Python's whitespace includes every character pydantic
    trims)."""
    return type(value) is str and 0 < len(value) <= most and value == value.strip()


def _enum_value(value: Any, cls: type[Any], adapter: TypeAdapter[Any]) -> Any:
    """An enum column's value as the model shows it: a member's value, a string that is one
    (a list row read as the driver gives it) as it is, anything else through the model."""
    if type(value) is cls:
        return value.value
    if type(value) is str and value in cls._value2member_map_:
        return value
    return adapter.validate_python(value).value


def case_json(
    case: Any, service: Service, open_steps: list[dict[str, Any]], access: AccessOut | None
) -> dict[str, Any]:
    """A case as ``CaseOut`` shows it, from a row of a case list (or a :class:`Case`), with its
    open steps (:func:`step_json`) and, for those who may see it, its access list."""
    system, ident = case.external_system, case.external_id
    if not (system and ident):
        ext: Any = None
    elif _trimmed(system, 64) and _trimmed(ident, 128):
        ext = {"system": system, "id": ident}
    else:
        ext = StoredRef.model_validate({"system": system, "id": ident})
    given, family, born = case.given_name, case.family_name, case.date_of_birth
    if (_trimmed(given, 100) and _trimmed(family, 100) and type(born) is date
            and _FIRST_DAY <= born < _END_DAY):
        child: Any = {"given_name": given, "family_name": family, "date_of_birth": born}
    else:
        child = Child.model_validate(
            {"given_name": given, "family_name": family, "date_of_birth": born})
    contact = case.contact_level
    return {
        "id": str(case.id), "service": service.slug, "external_ref": ext, "child": child,
        "case_holder_id": case.case_holder_id, "line_manager_id": case.line_manager_id,
        "intervention": _enum_value(case.intervention, Intervention, _INTERVENTION),
        "statutory": case.statutory,
        "csc_status": _enum_value(case.csc_status, CscStatus, _CSC_STATUS),
        "weapon_related": case.weapon_related,
        "mappa_category": case.mappa_category, "mappa_level": case.mappa_level,
        "expected_release_date": case.expected_release_date, "in_custody": case.in_custody,
        "volunteer_attached": case.volunteer_attached, "opened_at": case.opened_at,
        "closed_at": case.closed_at,
        "ratings": RatingsOut.model_validate(
            {d: v for d, v in (case.ratings or {}).items() if v}),
        "facts": dict(case.facts or {}), "scores": dict(case.scores or {}),
        "on_register": case.on_register,
        "contact_level": None if contact is None
        else _enum_value(contact, ContactLevel, _CONTACT_LEVEL),
        "priority": case.priority, "priority_raised": case.priority_raised,
        "open_steps": open_steps,
        "restricted": case.access_mode is not None,
        "access": access, "version": case.version,
    }


def cases_json(
    cases: Sequence[Any], service: Service, steps: Mapping[uuid.UUID, list[dict[str, Any]]],
    access: Mapping[uuid.UUID, AccessOut] | None = None,
) -> list[dict[str, Any]]:
    """:func:`case_json` of each case of a page, with its open steps (by case id) and access
    list (:func:`~app.domain.restriction.access_views`)."""
    access = access or {}
    return [case_json(c, service, steps[c.id], access.get(c.id)) for c in cases]


__all__ = ["case_json", "cases_json", "page_response", "step_json", "steps_json",
           "written_response"]
