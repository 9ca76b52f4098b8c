"""Issue 15 (goal 5, memory): the server process does without rich and pygments (structlog
would import them for an exception formatter the service never uses), and its logs still
carry an exception's frames and type, in JSON and on the console."""

from __future__ import annotations

import subprocess
import sys

_PROBE = """
import sys
from app.core.serve import leave_out_rich
leave_out_rich()
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
