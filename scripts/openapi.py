"""Write openapi/openapi.json from the app (``python scripts/openapi.py``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.config import Settings  # noqa: E402
from app.main import create_app  # noqa: E402


def render() -> str:
    """The OpenAPI document, deterministic."""
    app = create_app(Settings(env="test", jwt_secret="openapi-only", log_level="WARNING"))
    return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    (ROOT / "openapi" / "openapi.json").write_text(render())
    print("openapi/openapi.json written")
