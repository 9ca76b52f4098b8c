"""Demo data for a newcomer: a service per policy pack, a few cases, a token per role.

Everything is dated on a fixed demo calendar so the README's worked examples give the same answers
on any real day: the cases opened in August 2026 and ``scripts/dev.sh`` starts the dev server's
clock at 15:35 London time on Friday 28 August 2026, the Friday before the late-summer bank
holiday (``DEMO_CLOCK_START``; see ``app.core.clock``).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dotenv import dotenv_values, set_key

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
# The machine clients' scopes (token claim ``scope``): the case management system's connector,
# and the two referral feeds (each posts only its own source's referrals).
DEMO_MACHINE_CLIENTS = {"feed": ("feed-iyss", "cms"), "feed_emrac": ("emrac-feed", "feed:emrac"),
                        "feed_mappa": ("mappa-feed", "feed:mappa")}
# (given name, family name, date of birth, intervention, CSC status, opened at, London time)
DEMO_CHILDREN = [
    ("Jordan", "Reed", "2009-02-14", "court_order", "none", "2026-08-04T09:30:00+01:00"),
    ("Casey", "Morgan", "2010-07-30", "youth_conditional_caution", "cp",
     "2026-08-10T11:00:00+01:00"),
    ("Riley", "Hughes", "2011-11-03", "prevention", "cin", "2026-08-17T14:00:00+01:00"),
]
# The dev server's clock starts here on every start (Friday 28 August 2026, 15:35 London).
DEMO_CLOCK_START = datetime(2026, 8, 28, 14, 35, tzinfo=UTC)
DEV_DATABASE_URL = "sqlite+aiosqlite:///./.dev/yjrisk.db"
TOKEN_TTL_SECONDS = 7 * 24 * 3600


# The settings a developer may give scripts/dev.sh in the environment (besides the demo clock)
# that .env must then repeat.
ENVIRONMENT_WINS = ("YJ_DATABASE_URL", "YJ_JWT_SECRET")


def write_dev_env(env_file: Path, *, real_now: datetime,
                  clock_start: datetime = DEMO_CLOCK_START,
                  given: Mapping[str, str] | None = None) -> None:
    """Write the dev settings into ``env_file`` (a ``.env``), keeping any other lines in it.

    Keeps an existing secret and database URL (so earlier tokens and data stay valid) and sets the
    demo clock to ``clock_start`` (aware; default ``DEMO_CLOCK_START``) at ``real_now`` (aware):
    the demo "now" is ``clock_start`` plus the real time since ``real_now``, for the server and
    every ``yjrisk`` command run in the folder (``yjrisk tick`` included). ``given``: the
    environment of ``scripts/dev.sh``; a database URL or secret set there is what the server
    uses (the environment wins over .env), so it is what .env gets too, and a ``yjrisk``
    command run later in the folder without it talks to the same database with the same
    secret (attack pass 16, A16-5); likewise ``YJ_PACKS_DIR`` (as an absolute path), so the
    commands load the packs the server's services run (ATK28B-8). A later start without them
    keeps what .env holds.
    """
    current = dotenv_values(env_file) if env_file.exists() else {}
    for name in ENVIRONMENT_WINS:
        if (given or {}).get(name, "").strip():
            current[name] = (given or {})[name]
    packs = (given or {}).get("YJ_PACKS_DIR", "").strip()
    if packs:
        # The server loads those packs, so every command in the folder must (attack 28b,
        # ATK28B-8: `yjrisk tick` refused to start for a service on a YJ_PACKS_DIR pack); an
        # absolute path, as it was meant from this folder.
        folder = Path(packs).expanduser()
        current["YJ_PACKS_DIR"] = str(folder if folder.is_absolute()
                                      else (env_file.resolve().parent / folder).resolve())
    legacy_secret = Path(".dev/jwt-secret")
    secret = current.get("YJ_JWT_SECRET") or (
        legacy_secret.read_text().strip() if legacy_secret.is_file() else ""
    ) or secrets.token_urlsafe(48)
    if not env_file.exists():
        env_file.write_text("# Written by scripts/dev.sh for local development only; never "
                            "commit or deploy it.\n")
        env_file.chmod(0o600)
    values = {
        "YJ_ENV": "dev",
        "YJ_JWT_SECRET": secret,
        "YJ_DATABASE_URL": current.get("YJ_DATABASE_URL") or DEV_DATABASE_URL,
        "YJ_DEMO_CLOCK_START": clock_start.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "YJ_DEMO_CLOCK_SET_AT": real_now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }
    if current.get("YJ_PACKS_DIR"):
        values["YJ_PACKS_DIR"] = str(current["YJ_PACKS_DIR"])
    for key, value in values.items():
        set_key(env_file, key, value, quote_mode="never")


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
                    for given, family, dob, intervention, csc, opened in DEMO_CHILDREN:
                        body = CaseCreate.model_validate({
                            "external_ref": {"system": "IYSS", "id": f"{slug}-{given.lower()}"},
                            "child": {"given_name": given, "family_name": family,
                                      "date_of_birth": dob},
                            "case_holder_id": DEMO_STAFF["case_holder"],
                            "line_manager_id": DEMO_STAFF["line_manager"],
                            "intervention": intervention, "csc_status": csc,
                            "opened_at": opened,
                        })
                        await create_case(session, manager, body, ctx)
                    await session.commit()
    finally:
        await engine.dispose()
    admin_token = mint_dev_token(settings, sub="admin-1", roles=["admin"], service=None,
                                 ttl_seconds=TOKEN_TTL_SECONDS)
    summary: dict[str, Any] = {"services": [s[0] for s in DEMO_SERVICES], "staff": DEMO_STAFF}
    for slug, _name, _pack in DEMO_SERVICES:
        tokens = {
            role: mint_dev_token(settings, sub=sub, roles=[role], service=slug,
                                 ttl_seconds=TOKEN_TTL_SECONDS)
            for role, sub in DEMO_STAFF.items() if role != "feed"
        }
        tokens.update({
            name: mint_dev_token(settings, sub=sub, roles=["feed"], service=slug,
                                 ttl_seconds=TOKEN_TTL_SECONDS, scope=scope)
            for name, (sub, scope) in DEMO_MACHINE_CLIENTS.items()
        })
        summary[f"tokens_for_service_{slug}"] = {**tokens, "admin": admin_token}
    return summary
