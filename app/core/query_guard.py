"""One check of every route's query string (reads and writes) against the parameters the route
declares: an unknown parameter, a scalar one given twice, or a yes/no parameter that is not
``true`` or ``false`` is a 422 naming the parameter, an unknown one by its place in the query
string (never by its text; never silently ignored or guessed). On a
write this matters most: ``POST ...?dry_run=true`` must not store a record its sender believed
was only tried."""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.core.errors import ErrorCap, Unprocessable

BOOL_WORDS = frozenset({"true", "false"})
_SEQUENCES = (list, tuple, set, frozenset)


def _parts(annotation: Any) -> tuple[Any, ...]:
    """The members of an Optional/Union annotation (the annotation itself otherwise)."""
    if get_origin(annotation) in (Union, types.UnionType):
        return tuple(a for a in get_args(annotation) if a is not type(None))
    return (annotation,)


def _is_sequence(annotation: Any) -> bool:
    return any(get_origin(a) in _SEQUENCES or a in _SEQUENCES for a in _parts(annotation))


def _is_bool(annotation: Any) -> bool:
    return any(a is bool for a in _parts(annotation))


def _query_fields(dependant: Dependant) -> list[Any]:
    """The query parameters of a route and of every dependency it uses."""
    found = list(dependant.query_params)
    for sub in dependant.dependencies:
        found.extend(_query_fields(sub))
    return found


_SPECS: dict[int, tuple[frozenset[str], frozenset[str], frozenset[str], str]] = {}


def _spec(route: APIRoute) -> tuple[frozenset[str], frozenset[str], frozenset[str], str]:
    """(declared names, scalar names, yes/no names, "takes ..." text) of a route, cached."""
    found = _SPECS.get(id(route))
    if found is None:
        fields = _query_fields(route.dependant)
        allowed = frozenset(f.alias for f in fields)
        found = (allowed,
                 frozenset(f.alias for f in fields if not _is_sequence(f.field_info.annotation)),
                 frozenset(f.alias for f in fields if _is_bool(f.field_info.annotation)),
                 ", ".join(sorted(allowed)) or "no query parameters")
        _SPECS[id(route)] = found
    return found


async def refuse_unknown_query(request: Request) -> None:
    """422 naming each query parameter the matched route does not declare, each scalar one
    given more than once, and each yes/no one that is not ``true`` or ``false``; any method
    (it runs before the route's handler, so a refused write stores nothing)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    allowed, scalar, yes_no, takes = _spec(route)
    errors = ErrorCap()
    seen: set[str] = set()
    named: set[str] = set()  # the locs already answered (one error each, but "query")
    for position, (name, value) in enumerate(request.query_params.multi_items(), 1):
        loc = f"query.{name}"
        if name not in allowed:
            # Named by its place in the query string, never by its text (attack pass 9, N8).
            loc = "query"
            msg = f"unknown query parameter (parameter {position} of the query string); " \
                  f"this route takes {takes}"
        elif name in scalar and name in seen:
            msg = "given more than once; send it once"
        elif name in yes_no and value not in BOOL_WORDS:
            msg = "must be true or false"
        else:
            seen.add(name)
            continue
        seen.add(name)
        if loc not in named or loc == "query":
            named.add(loc)
            # At most MAX_PROBLEM_ERRORS entries, the rest counted (attack 24a, A24a-2:
            # 30,000 unknown parameters were a 5.3 MB answer).
            errors.keep({"loc": loc, "msg": msg})
    if errors.count:
        raise Unprocessable("The query string does not match this route; see errors.",
                            errors=errors.items, error_count=errors.count)


# For routes that take no CurrentPrincipal (which runs the check after the token and gate).
QueryGuard: Any = Depends(refuse_unknown_query)
