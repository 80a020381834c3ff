"""A site with its own late-stay window (``before_close:45`` where the programme says 30) names
``late_stay`` with it everywhere the console shows it at that site: the sites list and page
("Activities changed at this site"), the devices list and a device's activity choice, a member's
ledger, the report of that site; the programme's other site keeps "30 minutes". Flask's test
client on a real SQLite file; the late stay is tapped at a fixed time with the real service layer.
"""

from __future__ import annotations

import re
from datetime import UTC, date
from html import unescape

import pytest

from broker.contract import Tap
from server import store
from server.domain import config
from server.services import bootstrap
from tests.browser.web_support import ADMIN
from tests.helpers import local_time
from tests.site_support import TWO_SITES, client, two_site_app

B_45 = config._merge(TWO_SITES, {"sites": {"B": {"activities": {"late_stay": {"window": "before_close:45"}}}}})
MONDAY = date(2026, 11, 23)
NAMES = {
    "en": ("Reading in the last 30 minutes before closing", "Reading in the last 45 minutes before closing"),
    "th": ("ใช้พื้นที่นั่งอ่านก่อนปิด 30 นาที", "ใช้พื้นที่นั่งอ่านก่อนปิด 45 นาที"),
}


@pytest.fixture
def app(tmp_db_url):
    app = two_site_app(tmp_db_url, overrides=B_45)
    at = local_time(MONDAY, 21, 20)  # 40 minutes before B closes: inside B's own window only
    svc = bootstrap(app.extensions["privcard.prog"], clock=lambda: at.astimezone(UTC))
    for site in ("A", "B"):
        svc.devices.add(f"out-{site}", "gate", direction="out", activity="late_stay", site=site)
    r = svc.taps.decide("out-B", Tap(tap_id="late-B", uid="04BBBB0000000002", at=at.astimezone(UTC), clock_ok=True))
    assert (r.outcome, r.points) == ("credited", 10)
    yield app
    store.db.close()


def _text(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def _row(html: str, attr: str, value: str) -> str:
    return _text(re.search(rf'<tr[^>]*{attr}="{value}"[^>]*>.*?</tr>', html, re.S).group(0))


@pytest.mark.parametrize("lang", ["en", "th"])
def test_the_console_names_the_late_stay_with_the_sites_own_window(app, lang):
    c = client(app, ADMIN)
    c.get(f"/lang/{lang}")
    thirty, forty_five = NAMES[lang]
    # the sites list and B's page: B's own rules by their names, B's window in them
    assert forty_five in _row(c.get("/sites").text, "data-site", "B")
    page = _text(c.get("/sites/B").text)
    assert forty_five in page and thirty not in page
    # the devices list and the device's page: each gate's activity as its site names it
    devices = c.get("/devices").text
    assert forty_five in _row(devices, "data-device", "out-B") and thirty in _row(devices, "data-device", "out-A")
    choice = re.search(r'<option value="late_stay"[^>]*>(.*?)</option>', c.get("/devices/out-B").text).group(1)
    assert unescape(choice) == forty_five
    # the member's ledger: the late stay made at B
    member = _text(c.get(f"/members/{app.members['B']}").text)
    assert forty_five in member and thirty not in member
    # B's report of points by activity
    report = _text(c.get("/reports?site=B&from=2026-11-23&to=2026-11-23").text)
    assert forty_five in report and thirty not in report


SITE_NAMES = {"en": ("Central Library", "Branch Library"), "th": ("หอสมุดกลาง", "ห้องสมุดสาขา")}
WINDOWS = {"en": "the last 45 minutes before closing · exit", "th": "45 นาทีสุดท้ายก่อนปิดทำการ · ประตูทางออก"}


@pytest.mark.parametrize("lang", ["en", "th"])
def test_the_programme_page_and_the_all_sites_report_say_each_sites_own_window(app, lang):
    """The programme page and the reports of every site combined said the programme's "…30
    minutes…" only, though B's late stay is its last 45: the programme page shows, under the
    activity, B's own window and name; the combined report names the late stay per site."""
    c = client(app, ADMIN)
    c.get(f"/lang/{lang}")
    thirty, forty_five = NAMES[lang]
    a, b = SITE_NAMES[lang]
    html = c.get("/programme").text
    row = re.search(r'<tr data-activity="late_stay">.*?</tr>', html, re.S).group(0)
    own = [_text(m) for m in re.findall(r'<div class="site-own" data-site="B">(.*?)</div>', row, re.S)]
    assert [s.strip() for s in own] == [
        f"{b}: {forty_five}",
        f"{b}: {WINDOWS[lang]}",
    ], own
    assert 'data-site="A"' not in row  # A keeps the programme's window: nothing said for it
    assert 'data-site="B"' not in re.search(r'<tr data-activity="entry">.*?</tr>', html, re.S).group(0)
    # every site combined: the late stay by each site's name for it, with the sites that use it
    report = _text(c.get("/reports?from=2026-11-23&to=2026-11-23").text)
    assert f"{thirty} ({a}) · {forty_five} ({b})" in report, report
    csv = c.get("/reports/points.csv?from=2026-11-23&to=2026-11-23").text
    assert f"late_stay,{thirty} ({a}) · {forty_five} ({b})," in csv, csv  # the CSV in the page's language
