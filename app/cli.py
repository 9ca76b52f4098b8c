"""The ``yjrisk`` command line: serve, migrate, seed demo data, mint dev tokens."""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Annotated

import typer

from app.core.config import get_settings
from app.core.migrate import upgrade
from app.core.security import ROLES, mint_dev_token

cli = typer.Typer(no_args_is_help=True, help="yjrisk: youth justice risk policy service")


@cli.command()
def migrate() -> None:
    """Apply every Alembic migration to the configured database."""
    upgrade(get_settings().database_url)
    typer.echo("migrations applied")


@cli.command()
def token(
    role: Annotated[list[str], typer.Option("--role", "-r", help="a role; repeat for several")],
    sub: Annotated[str, typer.Option(help="staff id (the token's sub)")],
    service: Annotated[str | None, typer.Option(help="service slug (not for admin)")] = None,
    hours: Annotated[int, typer.Option(min=1, max=24 * 7)] = 8,
) -> None:
    """Mint a dev/test HS256 token for a role, staff id and service."""
    unknown = set(role) - ROLES
    if unknown:
        raise typer.BadParameter(f"unknown roles: {sorted(unknown)}; known: {sorted(ROLES)}")
    typer.echo(mint_dev_token(get_settings(), sub=sub, roles=role, service=service,
                              ttl_seconds=hours * 3600))


@cli.command("seed-demo")
def seed_demo(print_tokens: bool = True) -> None:
    """Create the demo services and cases (idempotent) and print a token per role."""
    from app.demo import seed

    settings = get_settings()
    summary = asyncio.run(seed(settings))
    if print_tokens:
        typer.echo(json.dumps(summary, indent=2))


@cli.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    migrate_first: Annotated[bool, typer.Option("--migrate/--no-migrate")] = True,
    workers: Annotated[int, typer.Option(min=1, max=64, help="API processes (uvicorn)")] = 1,
) -> None:
    """Run the API with uvicorn (migrating first); ``--workers N`` runs N processes on one port."""
    import uvicorn

    from app.core.http import protocol_with_header_timeout

    if migrate_first:
        upgrade(get_settings().database_url)
    settings = get_settings()
    # Slow clients are cut off: the request head must arrive within YJ_HTTP_HEADER_TIMEOUT_SECONDS
    # and an idle keep-alive connection closes after YJ_HTTP_KEEP_ALIVE_SECONDS.
    uvicorn.run("app.main:app_factory", factory=True, host=host, port=port, log_config=None,
                proxy_headers=True, access_log=False, workers=workers,
                http=protocol_with_header_timeout(settings.http_header_timeout_seconds),
                timeout_keep_alive=settings.http_keep_alive_seconds)


async def _audit_heads() -> list[dict[str, object]]:
    from app.core.db import build_engine, session_factory
    from app.domain.audit import chain_heads

    engine = build_engine(get_settings())
    try:
        async with session_factory(engine)() as session:
            return list(await chain_heads(session))
    finally:
        await engine.dispose()


@cli.command("audit-head")
def audit_head() -> None:
    """Print the newest hash of every audit chain, one JSON object per line, for anchoring
    outside the database (see README, "Anchoring the audit chain")."""
    for head in asyncio.run(_audit_heads()):
        typer.echo(json.dumps(head, sort_keys=True))


async def _escalation(loop_seconds: float | None, webhook_seconds: float = 5) -> int:
    import app.domain.tables  # noqa: F401 - every table on the metadata, as in the API process
    from app.core.db import build_engine, session_factory
    from app.domain import escalation, webhooks

    settings = get_settings()
    engine = build_engine(settings)
    try:
        factory = session_factory(engine)
        if loop_seconds is None:
            escalated = await escalation.run_pass(factory)
            await webhooks.run_pass(factory)  # then deliver what the pass (and writes) queued
            return escalated
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)  # finish the current pass, then exit
        await asyncio.gather(escalation.run_forever(factory, loop_seconds, stop),
                             webhooks.run_forever(factory, webhook_seconds, stop))
        return 0
    finally:
        await engine.dispose()


@cli.command()
def tick() -> None:
    """Run one overdue-escalation pass and one webhook delivery pass, then exit (cron)."""
    from app.core.logging import configure_logging

    configure_logging(get_settings().log_level, get_settings().log_json)
    typer.echo(f"escalated {asyncio.run(_escalation(None))} overdue steps")


@cli.command()
def worker(
    interval: Annotated[float, typer.Option(min=1, help="seconds between passes")] = 60,
    webhook_interval: Annotated[
        float, typer.Option(min=0.5, help="seconds between webhook delivery passes")] = 5,
) -> None:
    """Run the overdue-escalation and webhook delivery loops (safe to run several on
    PostgreSQL)."""
    from app.core.logging import configure_logging

    configure_logging(get_settings().log_level, get_settings().log_json)
    asyncio.run(_escalation(interval, webhook_interval))
    typer.echo("worker stopped")


def main() -> None:
    """Console entry point."""
    cli()


if __name__ == "__main__":
    main()
