"""Set up a running yjrisk for a load benchmark: a Wokingham service and N cases, over HTTP.

Prints nothing but writes ``cases.txt`` (one case id a line), ``token.txt`` (a case holder's
bearer token) and ``service.txt`` (the service's slug) into the folder given. Usage:
``python benchmarks/bench_setup.py URL SECRET DIR [--cases 200] [--role case_holder]``.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from app.core.config import Settings  # noqa: E402
from app.core.security import mint_dev_token  # noqa: E402


def main() -> None:
    """Create the service and cases; write the ids and a token."""
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("secret")
    parser.add_argument("out", type=Path)
    parser.add_argument("--cases", type=int, default=200)
    args = parser.parse_args()
    settings = Settings(env="test", jwt_secret=args.secret)
    slug = f"bench-{uuid.uuid4().hex[:6]}"
    admin = mint_dev_token(settings, sub="admin", roles=["admin"], service=None)
    holder = mint_dev_token(settings, sub="cw-bench", roles=["case_holder"], service=slug,
                            ttl_seconds=6 * 3600)
    with httpx.Client(base_url=args.url, timeout=30) as client:
        r = client.post("/v1/services", headers={"Authorization": f"Bearer {admin}"},
                        json={"slug": slug, "name": "Bench", "policy_pack": "wokingham-pyjs-2024"})
        r.raise_for_status()
        ids = []
        for i in range(args.cases):
            r = client.post("/v1/cases", headers={"Authorization": f"Bearer {holder}"}, json={
                "child": {"given_name": "Bench", "family_name": f"Child{i}",
                          "date_of_birth": "2010-03-04"},
                "case_holder_id": "cw-bench", "line_manager_id": "lm-bench",
                "intervention": "court_order", "csc_status": "none"})
            r.raise_for_status()
            ids.append(r.json()["data"]["id"])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cases.txt").write_text("\n".join(ids) + "\n")
    (args.out / "token.txt").write_text(holder)
    (args.out / "service.txt").write_text(slug)


if __name__ == "__main__":
    main()
