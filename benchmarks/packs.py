"""Loading and checking one pack (read, validate, compile conditions, check the vocabulary).

Run: ``.venv/bin/python benchmarks/packs.py``. Prints, per bundled pack, the best, median and
worst of 30 loads in milliseconds (the budget is 100 ms per pack).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.workflows.engine import prepare  # noqa: E402
from app.workflows.packs import PACK_DIR, load_pack  # noqa: E402


def main() -> None:
    """Time ``load_pack`` (which checks) and the engine's tables (``prepare``, as the app's
    start-up does) on every bundled pack."""
    for path in sorted(PACK_DIR.glob("*.toml")):
        times = []
        for _ in range(30):
            started = time.perf_counter()
            prepare(load_pack(path))
            times.append((time.perf_counter() - started) * 1000)
        print(f"{path.stem:32} best {min(times):6.1f} ms  median "
              f"{statistics.median(times):6.1f} ms  worst {max(times):6.1f} ms")


if __name__ == "__main__":
    main()
