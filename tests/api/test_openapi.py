"""The committed OpenAPI document matches the app (regenerate: python scripts/openapi.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_openapi_has_not_drifted() -> None:
    """openapi/openapi.json is exactly what the app generates."""
    spec = importlib.util.spec_from_file_location("openapi_script", ROOT / "scripts" / "openapi.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (ROOT / "openapi" / "openapi.json").read_text()
    assert committed == module.render(), "openapi.json drifted: run python scripts/openapi.py"
