"""Services (tenants): one youth justice team running one policy pack."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic import Field as PField
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.core.identifiers import visible_text
from app.core.security import STAFF_ROLES, Principal
from app.domain.audit import record_audit
from app.domain.common import new_id, utcnow

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"


class Service(SQLModel, table=True):
    """A youth justice service; every other record belongs to exactly one."""

    __tablename__ = "service"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    slug: str = Field(max_length=64, sa_column_kwargs={"unique": True}, nullable=False)
    name: str = Field(max_length=200)
    policy_pack: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class ServiceCreate(BaseModel):
    """Body of ``POST /v1/services``."""

    model_config = ConfigDict(extra="forbid")
    slug: str = PField(pattern=SLUG_PATTERN, max_length=64)
    name: Annotated[str, PField(min_length=1, max_length=200), AfterValidator(visible_text)]
    policy_pack: str = PField(min_length=1, max_length=64)


class ServiceOut(BaseModel):
    """A service as the API shows it."""

    id: uuid.UUID
    slug: str
    name: str
    policy_pack: str
    created_at: datetime


async def services_without_pack(
    session: AsyncSession, known_packs: Collection[str]
) -> list[tuple[str, str]]:
    """``(slug, policy_pack)`` of each stored service whose policy pack is not among
    ``known_packs`` (the ids loaded: bundled and ``YJ_PACKS_DIR``), by slug; empty when every
    service can be judged. A process must not start with such a service: each of its writes
    would fail, and its steps could not be explained (attack 26a, A26a-17)."""
    rows = await session.exec(
        select(Service.slug, Service.policy_pack)
        .where(Service.policy_pack.not_in(sorted(known_packs)))  # type: ignore[attr-defined]
        .order_by(Service.slug)
    )
    return [(slug, pack) for slug, pack in rows.all()]


def unloaded_packs_message(missing: list[tuple[str, str]]) -> str:
    """One line naming the services whose pack is not loaded, and what to do."""
    named = "; ".join(f"service {slug!r} runs policy pack {pack!r}" for slug, pack in missing)
    return (f"refusing to start: {named}, which is not loaded (bundled packs and YJ_PACKS_DIR);"
            " put its pack file back (YJ_PACKS_DIR) before starting")


def to_out(service: Service) -> ServiceOut:
    """Shape a service for the API."""
    return ServiceOut.model_validate(service, from_attributes=True)


def require_unbound_admin(principal: Principal, path: Mapping[str, Any]) -> None:
    """403 for an admin token bound to a service (its ``service`` claim): it administers that
    service only, and creates none (A26a-13). The token alone decides it, so the route asks
    it before the body is read (``gates.rule``; attack pass 28a, ATK28A-3's kind)."""
    if principal.service is not None:
        raise Forbidden("An admin token bound to a service (its service claim) administers "
                        "that service only: creating a service needs an admin token with no "
                        "service.")


def _insert_service(dialect: str, values: dict[str, Any]) -> Any:
    """The service's row, inserted unless its slug is taken (then nothing, and no id back):
    the race-safe form of "is the slug free?". Of creates racing for one slug, the losers wait
    on the unique index for the winner's commit and then insert nothing, so each is told
    ``slug-taken`` as a create sent afterwards is, never the unique index's generic conflict
    (attack pass 28a, ATK28A-5)."""
    module = postgresql if dialect == "postgresql" else sqlite
    return (module.insert(Service).values(**values)
            .on_conflict_do_nothing(index_elements=["slug"])
            .returning(Service.id))  # type: ignore[arg-type]


async def create_service(
    session: AsyncSession, principal: Principal, body: ServiceCreate, known_packs: set[str]
) -> Service:
    """Create a service under a known policy pack; 409 ``slug-taken`` on a taken slug, taken
    long before or by a create at the same moment (:func:`_insert_service`); 403 for an admin
    token bound to a service (that service's admin: A26a-13)."""
    require_unbound_admin(principal, {})
    if body.policy_pack not in known_packs:
        raise Unprocessable(
            "Unknown policy pack.",
            slug="unknown-policy-pack",
            errors=[{"loc": "body.policy_pack", "msg": f"one of {sorted(known_packs)}"}],
        )
    made = Service(slug=body.slug, name=body.name, policy_pack=body.policy_pack)
    conn = await session.connection()
    claimed = (await conn.execute(_insert_service(
        session.get_bind().dialect.name, made.model_dump()))).scalar_one_or_none()
    if claimed is None:
        raise Conflict("The slug is taken.", slug="slug-taken")
    service = (await session.exec(select(Service).where(Service.id == claimed))).one()
    await record_audit(
        session, principal, "service.create", "service", service.id,
        service_id=service.id, change=body.model_dump(),
    )
    return service


_KNOWN_SLUGS: set[str] = set()


def service_found_before(slug: str) -> bool:
    """Whether this process has already found a service with this slug (no I/O: services are
    never deleted, so it still exists)."""
    return slug in _KNOWN_SLUGS


async def service_is_known(session: AsyncSession, slug: str) -> bool:
    """Whether a service with this slug exists. Services are never deleted, so a slug once
    found is remembered by the process; an unknown one is looked up every time (it may have
    been created since, by another process)."""
    if slug in _KNOWN_SLUGS:
        return True
    found = (await session.exec(select(Service.id).where(Service.slug == slug))).first()
    if found is not None:
        _KNOWN_SLUGS.add(slug)
    return found is not None


async def get_service_by_slug(session: AsyncSession, slug: str) -> Service | None:
    """Look a service up by slug."""
    result = await session.exec(select(Service).where(Service.slug == slug))
    return result.first()


async def read_service(session: AsyncSession, principal: Principal, slug: str) -> Service:
    """A service for an admin or for staff of that same service; 404 otherwise."""
    if principal.service is not None and principal.service != slug:
        raise NotFound("No such service.")  # staff, or an admin bound to another service
    if not (principal.has("admin") or principal.roles & STAFF_ROLES):
        raise Forbidden("Your role cannot read services.")
    service = await get_service_by_slug(session, slug)
    if service is None:
        raise NotFound("No such service.")
    return service


__all__ = ["Service", "ServiceCreate", "ServiceOut", "create_service", "read_service"]
