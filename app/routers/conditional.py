"""Conditional writes on resources that carry an ETag but no required If-Match (attack pass 16,
A16-8): assessments, referrals, steps and panels. If-Match stays optional on their acts
(clients send none today); when sent, it is about the resource the path names, and the domain
compares it, under the write's lock, with the resource's ETag as it then stands: 412 when it
does not hold (RFC 9110 §13.1.1; ``*`` holds for a resource that exists). The records made
under a case (judgements, events, assessments, referrals, oversight entries) take it as the
case's (``CASE_IF_MATCH``), checked where the write loads the case under its lock
(:func:`app.domain.access.require_case_unchanged`)."""

# No ``from __future__ import annotations``: the header's description is built per route from
# the closure's ``kind``, so the annotation must be evaluated where the function is defined.
import uuid
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from app.domain.common import IF_MATCH_SCOPE_KEY, IfMatch

IF_MATCH_TEXT = (
    "Optional: the ETag of the {noun} as you read it (`GET` answers it). When sent, the act is "
    "done only if the {noun} is still as you read it: 412 `precondition-failed` (with "
    "`current_etag`) when it has changed since; `*` holds for any {noun} that exists. Without "
    "it the act goes ahead on the {noun} as it now stands.")


def if_match(kind: str, param: str) -> Any:
    """``Depends`` that keeps the request's optional If-Match for the domain, as being about
    the ``kind`` whose id is the path parameter ``param``."""

    async def keep(
        request: Request,
        if_match: Annotated[str | None, Header(
            max_length=200, description=IF_MATCH_TEXT.format(noun=kind))] = None,
    ) -> None:
        if if_match is None:
            return
        raw = str(request.path_params.get(param, ""))
        try:
            ident = str(uuid.UUID(raw))
        except ValueError:
            ident = raw  # the route's own validation answers 422
        # Kept in the request's scope, which the request's session names (no session
        # dependency here: issue 15); read by app.domain.common.conditional_on.
        request.scope[IF_MATCH_SCOPE_KEY] = IfMatch(kind, ident, if_match)

    return Depends(keep)


# A record made under a case (a judgement, event, assessment, referral or oversight entry): an
# If-Match sent is about the case the path names (its ETag: GET /v1/cases/{id}).
CASE_IF_MATCH = if_match("case", "case_id")
