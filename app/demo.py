"""Demo data for a newcomer: a service per policy pack, a few cases, a token per role."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from app.core.config import Settings
from app.core.db import build_engine, session_factory
from app.core.security import Principal, mint_dev_token
from app.domain.cases import CaseCreate, create_case
from app.domain.history import RecordedSession
from app.domain.services import ServiceCreate, create_service, get_service_by_slug
from app.main import build_policy_context

DEMO_SERVICES = [
    ("somerset", "Somerset Youth Justice Team", "somerset-yjt-2023"),
    ("wokingham", "Wokingham Prevention and Youth Justice Service", "wokingham-pyjs-2024"),
]
DEMO_STAFF = {
    "case_holder": "cw-alex",
    "line_manager": "lm-sam",
    "duty_manager": "dm-jo",
    "chair": "chair-kim",
    "panel_admin": "pa-lee",
    "feed": "feed-iyss",
}
DEMO_CHILDREN = [
    ("Jordan", "Reed", "2009-02-14", "court_order", "none"),
    ("Casey", "Morgan", "2010-07-30", "youth_conditional_caution", "cp"),
    ("Riley", "Hughes", "2011-11-03", "prevention", "cin"),
]


async def seed(settings: Settings) -> dict[str, Any]:
    """Create what is missing and return the tokens to paste."""
    engine = build_engine(settings)
    factory = session_factory(engine, RecordedSession)
    ctx = build_policy_context(settings)
    admin = Principal(sub="demo-seed", roles=frozenset({"admin"}), service=None)
    try:
        for slug, name, pack in DEMO_SERVICES:
            async with factory() as session:
                if await get_service_by_slug(session, slug) is None:
                    await create_service(
                        session, admin, ServiceCreate(slug=slug, name=name, policy_pack=pack),
                        set(ctx.packs),
                    )
                    manager = Principal(sub=DEMO_STAFF["line_manager"],
                                        roles=frozenset({"line_manager"}), service=slug)
                    opened = datetime.now(UTC) - timedelta(days=3)
                    for given, family, dob, intervention, csc in DEMO_CHILDREN:
                        body = CaseCreate.model_validate({
                            "external_ref": {"system": "IYSS", "id": f"{slug}-{given.lower()}"},
                            "child": {"given_name": given, "family_name": family,
                                      "date_of_birth": dob},
                            "case_holder_id": DEMO_STAFF["case_holder"],
                            "line_manager_id": DEMO_STAFF["line_manager"],
                            "intervention": intervention, "csc_status": csc,
                            "opened_at": opened.isoformat(),
                        })
                        await create_case(session, manager, body, ctx)
                    await session.commit()
    finally:
        await engine.dispose()
    tokens = {
        role: mint_dev_token(settings, sub=sub, roles=[role], service="somerset",
                             ttl_seconds=7 * 24 * 3600)
        for role, sub in DEMO_STAFF.items()
    }
    tokens["admin"] = mint_dev_token(settings, sub="admin-1", roles=["admin"], service=None,
                                     ttl_seconds=7 * 24 * 3600)
    return {"services": [s[0] for s in DEMO_SERVICES], "staff": DEMO_STAFF,
            "tokens_for_service_somerset": tokens}
