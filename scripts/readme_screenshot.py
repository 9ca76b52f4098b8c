"""Make docs/timeliness-page.png for the README: a throwaway SQLite service with six months of
Wokingham incidents (some steps done on time, some late, some left overdue; W6's reviews done
by a countersigned review AssetPlus, as the pack asks; a few orders ending with the incident
never recorded: missed), the page opened in headless chromium, a screenshot.
Usage: .venv/bin/python scripts/readme_screenshot.py"""

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

        async def assess(case_id: str, holder: str, manager: str, done: datetime,
                         stage: str) -> None:
            """The case holder writes and submits an AssetPlus of ``stage`` an hour before
            ``done``; the line manager countersigns it at ``done``."""
            at = (done - timedelta(hours=1)).isoformat()
            r = await client.post(f"/v1/cases/{case_id}/assessments",
                                  headers=auth("case_holder", holder),
                                  json={"type": "asset_plus", "stage": stage, "occurred_at": at})
            assert r.status_code == 201, r.text
            assessment = r.json()["data"]["id"]
            for act, who, body in (("submit", auth("case_holder", holder), {"occurred_at": at}),
                                   ("countersign", auth("line_manager", manager),
                                    {"feedback": "Review agreed.",
                                     "occurred_at": done.isoformat()})):
                r = await client.post(f"/v1/assessments/{assessment}/{act}", headers=who,
                                      json=body)
                assert r.status_code == 200, r.text

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
                closing = n == 0 and month % 2 == 0  # the order ends seven weeks on
                for step in r.json()["next_steps"]:
                    if step["due_at"] is None or step["code"] == "review_assessment" and n == 0 \
                            or step["code"] == "record_incident" and closing:
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
                    if step["code"] == "review_assessment":
                        # W6 is done only by the countersigned review (W2: "not considered
                        # complete until it has been counter signed by a line manager").
                        await assess(case["id"], holder, manager, done, "review")
                        continue
                    r = await client.post(f"/v1/next-steps/{step['id']}/complete",
                                          headers=auth("case_holder", holder),
                                          json={"occurred_at": done.isoformat()})
                    assert r.status_code == 200, r.text
                if closing:
                    # Seven weeks on the order ends: the closing AssetPlus, countersigned, is
                    # the review at last (late); the incident never recorded was missed (its
                    # need ended with the case, after its deadline).
                    closed = occurred + timedelta(weeks=7)
                    await assess(case["id"], holder, manager, closed - timedelta(hours=1),
                                 "closure")
                    tag = (await client.get(f"/v1/cases/{case['id']}",
                                            headers=auth("line_manager", manager))
                           ).headers["ETag"]
                    r = await client.patch(f"/v1/cases/{case['id']}",
                                           headers={**auth("line_manager", manager),
                                                    "If-Match": tag},
                                           json={"closed_at": closed.isoformat(),
                                                 "closure_reason": "Order ended"})
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
