"""Issue 15 (goal 5, memory): the server process does without rich and pygments (structlog
would import them for an exception formatter the service never uses), and its logs still
carry an exception's frames and type, in JSON and on the console; nor does it load watchfiles
(uvicorn's reloader), a WebSocket library (no route is a WebSocket) or pydantic.v1 (FastAPI's
question whether a type is a pydantic 1 model)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_PROBE = """
import sys
from pathlib import Path
from app.core.serve import leave_out_unused
leave_out_unused()
import structlog
from app.core.logging import configure_logging
for json_logs in (True, False):
    configure_logging("INFO", json_logs)
    try:
        1 / 0
    except ZeroDivisionError:
        structlog.get_logger("probe").exception("probe.failed")
loaded = sorted(m for m, v in sys.modules.items()
                if v is not None and m.split(".")[0] in ("rich", "pygments"))
print("LOADED", loaded)
"""


def test_the_server_process_logs_exceptions_without_rich() -> None:
    """With rich left out, both renderers log the exception's frames and type name; neither
    rich nor pygments is loaded."""
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                          check=True)
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == "LOADED []"
    logged = [line for line in lines if "probe.failed" in line]
    assert len(logged) == 2
    assert "builtins.ZeroDivisionError" in done.stdout


_SERVER_PROBE = """
import sys
from pathlib import Path
from app.core import serve
serve.leave_out_unused()
import uvicorn
seen = {}
uvicorn.run = lambda *a, **kw: seen.update(kw)
serve.main(["--port", "8999"])
config = uvicorn.Config("app.main:app_factory", **seen)
config.load()  # imports the protocols and builds the app, as the server does before serving
print("WS", config.ws_protocol_class)
left = ("rich", "pygments", "watchfiles", "websockets", "wsproto", "pydantic.v1")
print("LOADED", sorted(m for m, v in sys.modules.items() if v is not None and m.startswith(left)))
"""


def test_the_server_process_loads_no_reloader_websockets_or_pydantic_v1(
    tmp_path: Path,
) -> None:
    """The server's uvicorn configuration, loaded with its app as ``python -m app.core.serve``
    loads it: no WebSocket protocol (an upgrade request is answered as plain HTTP by the app)
    and none of watchfiles, websockets, wsproto, pydantic.v1, rich, pygments in the process."""
    env = {**os.environ, "YJ_ENV": "test", "YJ_JWT_SECRET": "x" * 40, "YJ_ENV_FILE": "",
           "YJ_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/probe.db"}
    done = subprocess.run([sys.executable, "-c", _SERVER_PROBE], capture_output=True,
                          text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines[-2:] == ["WS None", "LOADED []"]
