"""Sites in Chromium, in English and Thai, against a real ``privcard server --http`` (issue 16):
the sites are added through the programme's section editor (live, no restart), a device is
put on a site from its form, a staff account is given a site on the staff page, the
reports are filtered by site, and the site-scoped admin sees only its site.

Screenshots ``console-sites*.png`` go to docs/screenshots/ with PRIVCARD_SCREENSHOTS=docs,
else to a temporary folder (``tests.browser.web_support.screenshot_dir``).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.brokers import python_env
from tests.browser.conftest import sign_in_page
from tests.browser.web_support import screenshot_dir
from tests.helpers import admin_argv

SITES_TOML = """[sites.MAIN]
name_th = "หอสมุดกลาง"
name_en = "Central Library"
hours = { default = "08:00-20:00" }

[sites.BRANCH2]
name_th = "ห้องสมุดคณะแพทยศาสตร์"
name_en = "Medical Library"
hours = { default = "08:00-22:00", sun = "closed" }
closures = ["2026-12-07"]

[sites.BRANCH2.activities.late_stay]
window = "before_close:60"
"""
BRANCH_ADMIN = ("anna", "anna-password-1")


@pytest.fixture
def shots() -> Path:
    return screenshot_dir()


def cli(db_url: str, *args: str) -> str:
    out = subprocess.run(admin_argv(db_url, *args), capture_output=True, text=True, env=python_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def submit(page, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def test_sites_pages_device_site_staff_scope_and_reports_filter_in_english_and_thai(
    browser, admin_page, console, shots
):
    page = admin_page
    page.goto(f"{console.url}/programme?section=sites#section-editor")
    page.fill("#section-form textarea[name=text]", SITES_TOML)
    submit(page, "#section-form button[type=submit]")
    assert "in force" in " ".join(page.locator(".flash").all_inner_texts())

    cli(console.db_url, "device", "add", "gate-main", "--kind", "gate", "--direction", "in")
    cli(console.db_url, "device", "add", "kiosk-med", "--kind", "kiosk", "--site", "BRANCH2")
    cli(console.db_url, "device", "add", "gate-med", "--kind", "gate", "--direction", "out", "--site", "BRANCH2")

    page.click("nav >> text=Sites")
    assert page.locator("tr[data-site]").count() == 2
    assert "Medical Library" in page.inner_text("tr[data-site=BRANCH2]")
    # its own late-stay window (60 minutes; the programme's is 30) is the number the name says
    assert "Reading in the last 60 minutes before closing" in page.inner_text("tr[data-site=BRANCH2]")
    page.screenshot(path=str(shots / "console-sites.png"), full_page=True)
    page.click("tr[data-site=BRANCH2] a")
    hours = page.inner_text("#site-hours")
    assert "08:00-22:00" in hours and "closed" in hours
    assert page.locator("tr[data-device=kiosk-med]").count() == 1
    page.screenshot(path=str(shots / "console-sites-detail.png"), full_page=True)

    # the device form: move the main gate to the branch and back
    page.goto(f"{console.url}/devices/gate-main")
    page.select_option("#device-site", "BRANCH2")
    submit(page, "#device-edit button[type=submit]")
    assert page.locator("#device-site").input_value() == "BRANCH2"
    assert "Medical Library" in page.inner_text("pre.config") or page.locator("pre.config").count() == 1
    page.screenshot(path=str(shots / "console-sites-device.png"), full_page=True)
    page.select_option("#device-site", "MAIN")
    submit(page, "#device-edit button[type=submit]")

    # a staff account for the branch only, from the staff page
    page.goto(f"{console.url}/staff")
    page.fill("#staff-form input[name=username]", BRANCH_ADMIN[0])
    page.select_option("#staff-form select[name=role]", "admin")
    page.fill("#staff-form input[name=password]", BRANCH_ADMIN[1])
    page.check("#staff-form input[name=sites][value=BRANCH2]")
    submit(page, "#staff-form button[type=submit]")
    assert page.is_checked(f"tr[data-staff={BRANCH_ADMIN[0]}] .staff-sites input[value=BRANCH2]")
    page.screenshot(path=str(shots / "console-sites-staff.png"), full_page=True)

    # reports: every site combined, or one
    page.goto(f"{console.url}/reports")
    assert page.locator("#report-site option").count() == 3
    page.select_option("#report-site", "BRANCH2")
    submit(page, ".range button[type=submit]")
    assert "site=BRANCH2" in page.url
    page.screenshot(path=str(shots / "console-sites-reports.png"), full_page=True)

    # the same pages in Thai
    page.goto(f"{console.url}/lang/th")
    page.goto(f"{console.url}/sites")
    assert "สาขา" in page.inner_text("h1") and "ห้องสมุดคณะแพทยศาสตร์" in page.inner_text("tr[data-site=BRANCH2]")
    assert "ใช้พื้นที่นั่งอ่านก่อนปิด 60 นาที" in page.inner_text("tr[data-site=BRANCH2]")
    page.screenshot(path=str(shots / "console-sites-th.png"), full_page=True)
    page.goto(f"{console.url}/reports?site=BRANCH2")
    assert "ทุกสาขา รวมกัน" in page.inner_text("#report-site")
    page.screenshot(path=str(shots / "console-sites-reports-th.png"), full_page=True)


def test_the_branch_admin_sees_only_its_site_in_the_browser(browser, console, shots):
    # the sites and devices come from the test above (one module, one console); an account
    # with a final password from the CLI, scoped to the branch
    who = ("berta", "berta-password-1")
    cli(console.db_url, "staff", "add", who[0], "--role", "admin", "--sites", "BRANCH2", "--password", who[1])
    page = sign_in_page(browser, console, who=who, lang="en")
    try:
        page.goto(f"{console.url}/devices")
        ids = page.locator("tr[data-device]").evaluate_all("rows => rows.map(r => r.dataset.device)")
        assert sorted(ids) == ["gate-med", "kiosk-med"]
        assert page.goto(f"{console.url}/devices/gate-main").status == 404
        assert page.goto(f"{console.url}/reports?site=MAIN").status == 404
        assert page.goto(f"{console.url}/programme").status == 403
        page.goto(f"{console.url}/sites")
        assert page.locator("tr[data-site]").count() == 1
        page.screenshot(path=str(shots / "console-sites-branch-admin.png"), full_page=True)
    finally:
        page.context.close()


def test_the_feedback_desk_by_site_in_the_browser(browser, console, shots):
    # feedback recorded with the CLI: as the branch's admin (berta, from the test above: at
    # BRANCH2, its one site) and as the operator at MAIN
    import json

    at_branch = json.loads(
        cli(
            console.db_url,
            "--as",
            "berta",
            "feedback",
            "add",
            "--channel",
            "phone",
            "--category",
            "question",
            "--text",
            "Parking at the medical library?",
        )
    )
    assert at_branch["site"] == "BRANCH2"
    at_main = json.loads(
        cli(
            console.db_url,
            "feedback",
            "add",
            "--channel",
            "counter",
            "--category",
            "suggestion",
            "--text",
            "More sockets on floor 2",
            "--site",
            "MAIN",
        )
    )
    page = sign_in_page(browser, console, who=("berta", "berta-password-1"), lang="th")
    try:
        page.goto(f"{console.url}/feedback")
        ids = page.locator("#feedback-rows tr[data-feedback]").evaluate_all("rows => rows.map(r => r.dataset.feedback)")
        assert ids == [str(at_branch["id"])]
        assert page.goto(f"{console.url}/feedback/{at_main['id']}").status == 404
        assert page.goto(f"{console.url}/feedback?site=MAIN").status == 404
    finally:
        page.context.close()
    page = sign_in_page(browser, console, lang="en")
    try:
        page.goto(f"{console.url}/feedback")
        assert page.locator(f"tr[data-feedback='{at_main['id']}'] .fb-site").inner_text() == "Central Library"
        page.select_option("#feedback-site", "BRANCH2")
        submit(page, "#feedback-filters button")
        ids = page.locator("#feedback-rows tr[data-feedback]").evaluate_all("rows => rows.map(r => r.dataset.feedback)")
        assert ids == [str(at_branch["id"])] and "site=BRANCH2" in page.url
        page.screenshot(path=str(shots / "console-feedback-sites.png"), full_page=True)
    finally:
        page.context.close()


#: where the branch may be put so that its day differs from Bangkok's (the dashboard names each
#: site's day only when they differ): one of these is on another day at any hour
AWAY = (
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Pacific/Kiritimati",
    "Europe/London",
    "America/New_York",
    "Pacific/Honolulu",
)


def _away_zone() -> str:
    """A zone whose day differs from Bangkok's now and for the next 10 minutes (the test's length)."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    now = datetime.now(UTC)

    def apart(zone: str, t) -> bool:
        return t.astimezone(ZoneInfo(zone)).date() != t.astimezone(ZoneInfo("Asia/Bangkok")).date()

    return next(z for z in AWAY if apart(z, now) and apart(z, now + timedelta(minutes=10)))


def test_two_sites_on_the_dashboard_the_programme_and_the_combined_report_in_thai_and_english(
    browser, admin_page, console
):
    """What the console says of two sites where one would do with one name: the dashboard's
    header names each site's own day (the branch is put in a time zone on another day), its
    taps name their site; the programme page says, under the late stay, the branch's own name
    and window; the points report of every site combined names the late stay per site.
    Screenshots ``console-sites-dashboard``, ``-programme``, ``-report`` (and ``-en``)."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from broker.contract import Tap
    from server.domain import config
    from tests.browser.web_support import shot
    from tests.helpers import close_store, local_time, open_service

    away = _away_zone()
    sites = SITES_TOML.replace('name_en = "Medical Library"\n', f'name_en = "Medical Library"\ntimezone = "{away}"\n')
    page = admin_page
    page.goto(f"{console.url}/programme?section=sites#section-editor")
    page.fill("#section-form textarea[name=text]", sites)
    submit(page, "#section-form button[type=submit]")
    assert "in force" in " ".join(page.locator(".flash").all_inner_texts())

    # taps, with the real service on the console's database: an entry at each site now, and a
    # late stay at each some days ago, inside each site's own window (the branch's last hour)
    import tomllib

    prog = config.load(overrides={"sites": tomllib.loads(sites)["sites"]})
    now = datetime.now(UTC)
    main_today = now.astimezone(ZoneInfo("Asia/Bangkok")).date()
    day = next(
        d
        for d in (main_today - timedelta(days=n) for n in range(3, 10))
        if d.weekday() != 6 and d.isoformat() != "2026-12-07"
    )
    svc = open_service(console.db_url, prog=prog)
    try:
        for site in ("MAIN", "BRANCH2"):
            svc.devices.add(f"shot-in-{site}", "gate", direction="in", site=site, location=f"Entrance {site}")
            svc.devices.add(
                f"shot-out-{site}", "gate", direction="out", activity="late_stay", site=site, location=f"Exit {site}"
            )
        svc.members.add("สมศรี ใจดี", "04AA000000000001", home_site="MAIN")
        svc.members.add("Somchai Rakrian", "04AA000000000002", home_site="BRANCH2")
    finally:
        close_store()
    taps = [
        ("shot-in-MAIN", "04AA000000000001", now - timedelta(minutes=3)),
        ("shot-in-BRANCH2", "04AA000000000002", now - timedelta(minutes=2)),
        ("shot-out-MAIN", "04AA000000000001", local_time(day, 19, 40)),  # MAIN closes at 20:00: its last 30
        ("shot-out-BRANCH2", "04AA000000000002", local_time(day, 21, 20, tz=away)),  # the branch: 22:00, its last 60
    ]
    for n, (device, uid, at) in enumerate(taps):
        svc = open_service(console.db_url, prog=prog, clock=lambda at=at: at.astimezone(UTC))
        try:
            r = svc.taps.decide(device, Tap(tap_id=f"shot-{n}", uid=uid, at=at.astimezone(UTC), clock_ok=True))
            assert r.outcome == "credited", (device, r)
        finally:
            close_store()

    names = {"en": ("Central Library", "Medical Library"), "th": ("หอสมุดกลาง", "ห้องสมุดคณะแพทยศาสตร์")}
    late = {
        "en": ("Reading in the last 30 minutes before closing", "Reading in the last 60 minutes before closing"),
        "th": ("ใช้พื้นที่นั่งอ่านก่อนปิด 30 นาที", "ใช้พื้นที่นั่งอ่านก่อนปิด 60 นาที"),
    }
    windows = {"en": "the last 60 minutes before closing · exit", "th": "60 นาทีสุดท้ายก่อนปิดทำการ · ประตูทางออก"}
    for lang, suffix in (("th", ""), ("en", "-en")):
        main, branch = names[lang]
        page.goto(f"{console.url}/lang/{lang}")
        # the dashboard: each site's day by its name, its code beside; each tap's site
        page.goto(f"{console.url}/")
        days = page.locator("[data-k=today] .site-day")
        assert days.count() == 2, page.inner_text("[data-k=today]")
        assert days.nth(0).inner_text().startswith(f"{main} MAIN "), days.nth(0).inner_text()
        assert days.nth(1).inner_text().startswith(f"{branch} BRANCH2 "), days.nth(1).inner_text()
        tap_sites = set(page.locator(".tap-site").all_inner_texts())
        assert {main, branch} <= tap_sites, tap_sites
        shot(page, f"console-sites-dashboard{suffix}")
        # the programme page: the branch's own name and window under the late stay, none for MAIN
        page.goto(f"{console.url}/programme")
        row = page.locator("tr[data-activity=late_stay]")
        own = [t.strip() for t in row.locator(".site-own[data-site=BRANCH2]").all_inner_texts()]
        assert own == [f"{branch}: {late[lang][1]}", f"{branch}: {windows[lang]}"], own
        assert row.locator(".site-own[data-site=MAIN]").count() == 0
        shot(page.locator("#activities table.activities"), f"console-sites-programme{suffix}")
        # every site combined: the late stay named per site, the two entries counted together
        page.goto(f"{console.url}/reports?from={day.isoformat()}&to={main_today.isoformat()}")
        points = page.locator("#report-points")
        label = f"{late[lang][0]} ({main}) · {late[lang][1]} ({branch})"
        row = points.locator("tbody tr", has_text=label)
        assert row.count() == 1, points.inner_text()
        assert row.locator("td.n").first.inner_text() == "2", row.inner_text()  # one entry at each site
        shot(page, f"console-sites-report{suffix}")
