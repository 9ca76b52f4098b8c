"""Make docs/timeliness-page.png for the README: a throwaway SQLite service with six months of
Wokingham incidents (some steps done on time, some late, some left overdue), the page opened in
headless chromium, a screenshot. Usage: .venv/bin/python scripts/readme_screenshot.py"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.core.config import Settings  # noqa: E402
from app.core.migrate import upgrade  # noqa: E402
from app.core.security import mint_dev_token  # noqa: E402
from app.main import create_app  # noqa: E402
from tests.ui.browser import Page, chromium, live_server, open_page  # noqa: E402

SECRET = "readme-screenshot-" + "x" * 40
INCIDENTS = ["2026-01-13T10:00:00Z", "2026-02-10T10:00:00Z", "2026-03-10T11:00:00Z",
             "2026-04-14T09:00:00Z", "2026-05-12T09:00:00Z", "2026-06-09T09:00:00Z"]


async def build(settings: Settings) -> str:
    """Fill the service; answer a chair's token."""
    app = create_app(settings)
    async with LifespanManager(app) as manager, httpx.AsyncClient(
        transport=httpx.ASGITransport(app=manager.app), base_url="http://svc") as client:

        def auth(role: str, sub: str) -> dict[str, str]:
            token = mint_dev_token(settings, sub=sub, roles=[role], service="wokingham")
            return {"Authorization": f"Bearer {token}"}

        admin = mint_dev_token(settings, sub="admin", roles=["admin"], service=None)
        await client.post("/v1/services", headers={"Authorization": f"Bearer {admin}"},
                          json={"slug": "wokingham", "name": "Wokingham PYJS",
                                "policy_pack": "wokingham-pyjs-2024"})
        for month, at in enumerate(INCIDENTS):
            for n in range(4):
                holder, manager = f"cw-{n % 3}", f"lm-{n % 2}"
                case = (await client.post("/v1/cases", headers=auth("line_manager", manager), json={
                    "child": {"given_name": "Demo", "family_name": f"Child {month}{n}",
                              "date_of_birth": "2010-05-01"},
                    "external_ref": {"system": "IYSS", "id": f"Y-{month}{n}"},
                    "case_holder_id": holder, "line_manager_id": manager,
                    "intervention": "court_order", "csc_status": "none",
                    "opened_at": "2025-12-01T10:00:00Z"})).json()["data"]
                occurred = datetime.fromisoformat(at) + timedelta(days=n)
                r = await client.post(f"/v1/cases/{case['id']}/events",
                                      headers=auth("case_holder", holder),
                                      json={"type": "new_incident",
                                            "occurred_at": occurred.isoformat()})
                for step in r.json()["next_steps"]:
                    if step["due_at"] is None or step["code"] == "review_assessment" and n == 0:
                        continue  # left open: overdue
                    due = datetime.fromisoformat(step["due_at"])
                    late = (month + n) % 3 == 0 if step["code"] != "report_to_line_manager" \
                        else n % 2 == 0
                    # On time: before the due time, or for W5 ("immediately", due when the
                    # incident happened) two hours later, the same working day.
                    early = (timedelta(hours=2) if step["code"] == "report_to_line_manager"
                             else -timedelta(hours=1))
                    done = min(due + timedelta(days=2 + month) if late else due + early,
                               datetime.now(UTC))
                    r = await client.post(f"/v1/next-steps/{step['id']}/complete",
                                          headers=auth("case_holder", holder),
                                          json={"occurred_at": done.isoformat()})
                    assert r.status_code == 200, r.text
        return mint_dev_token(settings, sub="chair-1", roles=["chair"], service="wokingham")


async def shoot(base: str, ws_url: str, token: str, target: Path) -> None:
    """Open the page, paste the token, save the screenshot."""
    async with await open_page(ws_url) as ws:
        page = Page(ws)
        await page.goto(f"{base}/ui/reports/timeliness")
        await page.evaluate(f"""(() => {{
          document.getElementById('from').value = '2026-01-01';
          document.getElementById('to').value = '2026-06-30';
          document.getElementById('token').value = '{token}';
          document.getElementById('authorise').click();
        }})()""")
        await page.wait_for("window.yjReport.ready")
        await page.screenshot(target)


def main() -> None:
    """Build, serve, shoot."""
    target = ROOT / "docs" / "timeliness-page.png"
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'shot.db'}"
        upgrade(url)
        settings = Settings(env="test", database_url=url, jwt_secret=SECRET, log_level="WARNING")
        token = asyncio.run(build(settings))
        with live_server(create_app(settings)) as base, chromium(Path(tmp) / "p") as ws_url:
            asyncio.run(shoot(base, ws_url, token, Path(tmp) / "shot.png"))
        shutil.copyfile(Path(tmp) / "shot.png", target)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
