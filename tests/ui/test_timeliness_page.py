"""The timeliness page in a real headless chromium (issue 14, part 2): it asks for the token
once, reads GET /v1/reports/timeliness, draws both charts, and its numbers equal the JSON."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import httpx

from app.core.config import Settings
from app.main import create_app
from tests.api.integrity_support import judge
from tests.api.management import march_service
from tests.conftest import Tenant
from tests.ui.browser import Page, chromium, live_server, open_page

PERIOD = {"from": "2026-01-01", "to": "2026-04-30"}
BANDS = ("days_0_7", "days_8_28", "days_29_90", "days_over_90")


def expected_rates(rate: dict[str, Any]) -> tuple[list[str], dict[str, list[float | None]]]:
    """The line chart the JSON calls for: every month of the period, and per rule the on-time %
    per month (null where nothing was judged)."""
    months = ["2026-01", "2026-02", "2026-03", "2026-04"]
    lines: dict[str, list[float | None]] = {}
    for label in sorted({f"{r['rule']} {r['code']}" for r in rate["rows"]}):
        by_month = {r["month"]: r["on_time_rate"] for r in rate["rows"]
                    if f"{r['rule']} {r['code']}" == label}
        lines[label] = [None if by_month.get(m) is None else round(by_month[m] * 100, 2)
                        for m in months]
    return months, lines


async def read_page(page: Page) -> dict[str, Any]:
    """What the page drew: chart data, painted pixels per canvas, the table's cells."""
    return await page.evaluate("""(() => {
      const painted = (id) => {
        const c = document.getElementById(id);
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
        return n;
      };
      const data = (id) => {
        const d = Chart.getChart(id).data;
        return {labels: d.labels, datasets: d.datasets.map(s => ({label: s.label, data: s.data}))};
      };
      return {
        rate: data('rate-chart'), ageing: data('ageing-chart'),
        painted: {rate: painted('rate-chart'), ageing: painted('ageing-chart')},
        table: [...document.querySelectorAll('#figures tbody tr')]
                 .map(tr => [...tr.children].map(td => td.textContent)),
        json: window.yjReport,
        external: performance.getEntriesByType('resource')
                    .map(e => e.name).filter(n => !n.startsWith(location.origin)),
      };
    })()""")


async def test_timeliness_page_draws_the_json(
    browser_available: None, settings: Settings, wokingham: Tenant, tmp_path: Path
) -> None:
    """Chromium opens the page, the manager pastes a token once, both charts are drawn and
    every number in them and in the table equals the report's JSON; a screenshot is saved."""
    await march_service(wokingham)
    token = wokingham.token("chair")
    with live_server(create_app(settings)) as base, chromium(tmp_path / "profile") as ws_url:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            headers = {"Authorization": f"Bearer {token}"}
            rate = (await http.get("/v1/reports/timeliness", headers=headers,
                                   params={**PERIOD, "group_by": ["month", "rule"]})).json()
            overview = (await http.get("/v1/reports/timeliness", headers=headers,
                                       params={**PERIOD, "group_by": "rule"})).json()
            page_response = await http.get("/ui/reports/timeliness")
        assert "script-src 'self'" in page_response.headers["content-security-policy"]
        async with await open_page(ws_url) as ws:
            page = Page(ws)
            await page.goto(f"{base}/ui/reports/timeliness")
            assert await page.evaluate("window.yjReport.ready") is False  # no token yet
            await page.evaluate(f"""(() => {{
              document.getElementById('from').value = '{PERIOD["from"]}';
              document.getElementById('to').value = '{PERIOD["to"]}';
              document.getElementById('token').value = '{token}';
              document.getElementById('authorise').click();
            }})()""")
            await page.wait_for("window.yjReport.ready")
            drawn = await read_page(page)
            shot = await page.screenshot(tmp_path / "timeliness.png")
            # Asked once: a reload reads the report again without asking.
            await page.send("Page.reload")
            await page.wait_for("document.readyState === 'complete' && window.yjReport.ready")
            assert await page.evaluate("document.getElementById('token').hidden") is True

    assert drawn["external"] == []
    for name in ("rows", "ageing"):
        assert drawn["json"]["rate"][name] == rate["data"][name]
        assert drawn["json"]["overview"][name] == overview["data"][name]
    months, lines = expected_rates(rate["data"])
    assert drawn["rate"]["labels"] == months
    assert {s["label"]: s["data"] for s in drawn["rate"]["datasets"]} == lines
    assert lines["W4 record_incident"] == [None, None, 50.0, None]
    ageing = overview["data"]["ageing"]
    assert {s["label"]: s["data"] for s in drawn["ageing"]["datasets"]} == {
        f"{a['rule']} {a['code']}": [a[b] for b in BANDS] for a in ageing}
    assert drawn["painted"]["rate"] > 2000
    assert drawn["painted"]["ageing"] > 2000
    table = {row[0]: row[1:] for row in drawn["table"]}
    for row in overview["data"]["rows"]:
        cells = table[f"{row['rule']} {row['code']}"]
        assert cells[:7] == [str(row[k]) for k in ("due", "on_time", "late", "missed",
                                                   "open_overdue", "no_timescale", "waived")]
        rate_text = "-" if row["on_time_rate"] is None else f"{row['on_time_rate'] * 100:.1f}%"
        median = row["median_days_late"]
        assert cells[7:] == [rate_text, "-" if median is None else f"{median:.2f}"]
    assert shot.startswith(b"\x89PNG")
    if target := os.environ.get("YJ_SAVE_SCREENSHOT"):
        shutil.copyfile(tmp_path / "timeliness.png", target)


async def test_S11_S41_timeliness_page_shows_the_missed_column(
    browser_available: None, settings: Settings, somerset: Tenant, tmp_path: Path
) -> None:
    """S11 (Somerset 4.5): line managers review High/Very High cases with case holders "at
    least monthly"; S41 (9): the list "will be discussed monthly". ROSH high on Saturday 31
    January 2026 10:00 GMT: both due Saturday 28 February 10:00; neither done, the rating is
    lowered to medium on Monday 16 March: both missed (fix35b). The page's figures table has a
    Missed column beside Late, as the JSON report has ``missed``: for February each row reads
    due 1, on time 0, late 1, missed 1, open overdue 0, on-time rate 0.0% (it had no such
    column: a missed step read as a plain late one)."""
    case_id = str((await somerset.open_case(opened_at="2026-01-05T09:00:00Z"))["data"]["id"])
    await judge(somerset, case_id, "rosh", "high", "2026-01-31T10:00:00Z")
    await judge(somerset, case_id, "rosh", "medium", "2026-03-16T10:00:00Z")
    token = somerset.token("chair")
    with live_server(create_app(settings)) as base, chromium(tmp_path / "profile") as ws_url:
        async with await open_page(ws_url) as ws:
            page = Page(ws)
            await page.goto(f"{base}/ui/reports/timeliness")
            await page.evaluate(f"""(() => {{
              document.getElementById('from').value = '2026-02-01';
              document.getElementById('to').value = '2026-02-28';
              document.getElementById('token').value = '{token}';
              document.getElementById('authorise').click();
            }})()""")
            await page.wait_for("window.yjReport.ready")
            drawn = await page.evaluate("""(() => ({
              head: [...document.querySelectorAll('#figures thead th')].map(th => th.textContent),
              table: [...document.querySelectorAll('#figures tbody tr')]
                       .map(tr => [...tr.children].map(td => td.textContent)),
              json: window.yjReport.overview.rows,
            }))()""")
    assert drawn["head"] == ["Rule", "Due", "On time", "Late", "Missed", "Open overdue",
                             "No timescale", "Waived", "On-time rate", "Median days late"]
    table = {row[0]: row[1:] for row in drawn["table"]}
    for label in ("S11 monthly_manager_review", "S41 discuss_register_monthly"):
        assert table[label] == ["1", "0", "1", "1", "0", "0", "0", "0.0%", "-"]
    assert {f"{r['rule']} {r['code']}": r["missed"] for r in drawn["json"]
            if r["rule"] in ("S11", "S41")} == {"S11 monthly_manager_review": 1,
                                               "S41 discuss_register_monthly": 1}
