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
