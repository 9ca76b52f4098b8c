"""The API server process: uvicorn with the app factory, and nothing of the command line.

``yjrisk serve`` (and ``yjrisk dev``) check the packs and the schema, then replace themselves
with ``python -P -m app.core.serve ...`` (same process id, so signals and supervisors see one
process): the server then never loads typer, alembic or the pack tools, nor keeps the policy
context the checks built, and with ``--workers N`` uvicorn's spawned workers re-import this
small module as their main module rather than the command line. Measured: about 10 MB less
resident memory per process (see benchmarks/README.md, "Issue 15 figures").

Slow clients are cut off: the request head must arrive within
``YJ_HTTP_HEADER_TIMEOUT_SECONDS`` and an idle keep-alive connection closes after
``YJ_HTTP_KEEP_ALIVE_SECONDS``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

# The bound on a request head still arriving (uvicorn's ``h11_max_incomplete_event_size``
# option, which app.core.http.HeaderTimeoutHttpToolsProtocol reads as h11 did), as a multiple
# of the service's own header limit (YJ_MAX_HEADER_BYTES): a head over the limit that reaches
# the app whole is answered 431 problem+json by it with its clear title (app.core.edge); one
# larger than this bound is refused by the server's protocol, also 431 problem+json
# (app.core.http; attack 23, A23a-3).
H11_BUFFER_FACTOR = 4


def command(host: str, port: int, *, access_log: bool = True, workers: int = 1,
            ready: str | None = None) -> list[str]:
    """The argv that runs the server (``-P``: the current folder is not put on the path, so the
    ``app`` package is the installed one, as for the ``yjrisk`` script)."""
    argv = [sys.executable, "-P", "-m", "app.core.serve", "--host", host, "--port", str(port),
            "--workers", str(workers)]
    if ready:
        argv += ["--ready", ready]
    return argv if access_log else [*argv, "--quiet"]


def exec_server(host: str, port: int, *, access_log: bool = True, workers: int = 1,
                ready: str | None = None) -> None:
    """Replace this process with the server (never returns); ``ready``: a line printed on
    stdout once the server accepts connections (one process only)."""
    argv = command(host, port, access_log=access_log, workers=workers, ready=ready)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)


def leave_out_unused() -> None:
    """Make ``import`` of what the server never uses fail in this process (the server, or a
    worker it spawned), so each is left out of every API process (issue 15, goal 5;
    benchmarks/README.md, twentieth session, for what each saves):

    - rich (and pygments): structlog imports them whenever rich is installed (typer, the
      command line's, needs it), for one use: formatting a log event's exception. The service
      never hands structlog one (app.core.logging replaces ``exc_info`` with frames and type
      names first). About 4 MB.
    - watchfiles: uvicorn's package imports its reload supervisor and with it watchfiles (a
      Rust file watcher) whenever that is installed; the server never reloads (``yjrisk serve``
      has no reload option) and uvicorn falls back to its own watcher's class, never used
      either.
    - pydantic.v1: FastAPI imports it to ask whether a route's types are pydantic 1 models,
      which it no longer supports; without it that answer is no, which is true here (the
      service's models are pydantic 2's). About 1.4 MB."""
    for name in ("rich", "watchfiles", "pydantic.v1"):
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def main(args: list[str] | None = None) -> None:
    """Run uvicorn on ``app.main:app_factory`` with the settings' HTTP timeouts."""
    parser = argparse.ArgumentParser(prog="python -m app.core.serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--quiet", action="store_true", help="log level warning")
    parser.add_argument("--ready", default=None,
                        help="a line printed once the server accepts connections")
    options = parser.parse_args(args)

    import uvicorn

    from app.core.config import ConfigError, get_settings
    from app.core.http import SettingsHttpToolsProtocol
    from app.core.logging import configure_logging

    try:
        settings = get_settings()
    except ConfigError as exc:  # the settings changed since ``yjrisk serve`` checked them
        print(f"yjrisk: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    # The supervisor's own messages (a worker not ready in time, a worker replaced) are logged
    # in the service's JSON format rather than lost.
    configure_logging(settings.log_level, settings.log_json)
    config: dict[str, Any] = dict(
        factory=True, host=options.host, port=options.port, log_config=None,
        proxy_headers=True, log_level="warning" if options.quiet else "info",
        workers=options.workers, access_log=False,
        # httptools (llhttp, C), not h11 (pure Python): ~75 us less CPU a request (issue 15);
        # uvicorn's default loop is uvloop (installed with uvicorn[standard]).
        http=SettingsHttpToolsProtocol,
        # The service has no WebSocket route: uvicorn loads no WebSocket library (websockets,
        # ~17 modules of every API process; issue 15, goal 5) and an upgrade request is
        # answered as plain HTTP by the app (a 404 problem), not handed to it as a WebSocket.
        ws="none",
        timeout_keep_alive=settings.http_keep_alive_seconds,
        h11_max_incomplete_event_size=H11_BUFFER_FACTOR * settings.max_header_bytes,
        timeout_worker_healthcheck=settings.worker_healthcheck_seconds)
    if options.ready and options.workers == 1:
        ready = options.ready

        class Announcing(uvicorn.Server):
            """uvicorn's server, saying where it serves once its sockets listen (the dev
            start printed it before the app was imported, 5-20 s before the port accepted a
            request: attack pass 11, A11-12)."""

            async def startup(self, sockets: Any = None) -> None:
                await super().startup(sockets)
                if self.started:
                    print(ready, flush=True)

        Announcing(uvicorn.Config("app.main:app_factory", **config)).run()
        return
    uvicorn.run("app.main:app_factory", **config)


if __name__ == "__mp_main__":  # a worker uvicorn spawned (--workers N) imports this module
    leave_out_unused()

if __name__ == "__main__":
    leave_out_unused()
    main()
