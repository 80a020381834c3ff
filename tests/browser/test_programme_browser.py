"""The programme, campaigns and draws pages in Chromium, in English and Thai, against a
real ``privcard server --http`` and Mosquitto: an activity added on the page earns on the
next tap (no restart), a change that breaks the rules is refused naming the field, a
campaign is added from the form, a draw is recorded, run and shown with its seed.

Screenshots go to docs/screenshots/ with PRIVCARD_SCREENSHOTS=docs, else to a
temporary folder (``tests.browser.web_support.screenshot_dir``).
"""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.brokers import python_env
from tests.browser.conftest import sign_in_page
from tests.browser.web_support import screenshot_dir
from tests.helpers import Device, admin_argv


def flash(page) -> str:
    return " ".join(page.locator(".flash").all_inner_texts())


def submit(page, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def admin(db_url: str, *args: str) -> dict:
    out = subprocess.run(admin_argv(db_url, *args), capture_output=True, text=True, env=python_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture
def shots() -> Path:
    return screenshot_dir()


def test_programme_page_adds_an_activity_that_earns_on_the_next_tap_and_refuses_a_bad_window(
    admin_page, console, broker, shots
):
    page = admin_page
    code = f"club_{uuid.uuid4().hex[:4]}"
    page.click("nav >> text=Programme")
    page.fill("#activity-form input[name=code]", code)
    page.fill("#activity-form input[name=th]", "ชมรมหนังสือ")
    page.fill("#activity-form input[name=en]", "Book club")
    page.fill("#activity-form input[name=points]", "8")
    submit(page, "#activity-form button")
    assert "is in force (1 change)" in flash(page), flash(page)
    assert page.locator(f"tr[data-activity={code}]").inner_text().count("8")
    # the running server credits it on the next tap, without a restart
    card = "04" + uuid.uuid4().hex[:8].upper()
    admin(console.db_url, "member", "add", "--name", "Club member", "--card", card)
    admin(console.db_url, "device", "add", f"desk-{code}", "--kind", "counter", "--activity", code)
    with Device(broker.url) as dev:
        r = dev.tap(f"desk-{code}", card)
    assert (r.outcome, r.points, r.activity) == ("credited", 8, code)
    # a window outside the opening hours is refused, naming the field; nothing changes
    page.goto(f"{console.url}/programme?section=hours")
    before = page.inner_text(".pagehead")
    page.fill("#section-form textarea", '[hours]\ndefault = "08:00-08:20"\n')
    submit(page, "#section-form button")
    assert "activities.late_stay.window" in flash(page) and "not changed" in flash(page)
    assert page.inner_text(".pagehead") == before
    page.screenshot(path=str(shots / "console-programme-refused.png"), full_page=False)
    page.goto(f"{console.url}/programme")
    page.screenshot(path=str(shots / "console-programme.png"), full_page=True)
    page.goto(f"{console.url}/lang/th?next=/programme")
    page.goto(f"{console.url}/programme")
    assert "กิจกรรมที่ได้คะแนน" in page.inner_text("#activities") and "ชมรมหนังสือ" in page.inner_text("#activities")
    page.screenshot(path=str(shots / "console-programme-th.png"), full_page=True)
    # the download is the programme as TOML
    page.goto(f"{console.url}/lang/en?next=/programme")
    page.goto(f"{console.url}/programme")
    with page.expect_download() as dl:
        page.click("text=Download programme.toml")
    text = Path(dl.value.path()).read_text(encoding="utf-8")
    assert f"[activities.{code}]" in text and "points = 8" in text


def test_campaign_form_and_draw_pages_in_english_and_thai(admin_page, console, shots):
    page = admin_page
    tz = ZoneInfo("Asia/Bangkok")
    monday = datetime.now(tz).date() + timedelta(days=7)
    monday -= timedelta(days=monday.weekday())
    page.click("nav >> text=Campaigns")
    page.fill("#campaign-form input[name=code]", "exam_week")
    page.fill("#campaign-form input[name=th]", "สัปดาห์สอบ คะแนนเข้าใช้ 2 เท่า")
    page.fill("#campaign-form input[name=en]", "Exam week: double entry points")
    page.select_option("#campaign-form select[name=kind]", "multiplier")
    page.fill("#campaign-form input[name=starts]", f"{monday}T00:00")
    page.fill("#campaign-form input[name=ends]", f"{monday + timedelta(days=4)}T23:59")
    page.fill("#campaign-form input[name=multiplier]", "2")
    page.check("#campaign-form input[name=activities][value=entry]")
    page.check("#campaign-form label.check:has-text('Undergraduate') input")  # the groups are offered by name
    submit(page, "#campaign-form button")
    assert "Campaign exam_week added" in flash(page), flash(page)
    row = page.inner_text("tr[data-campaign=exam_week]")
    assert "points ×2" in row and "scheduled" in row and "23:59" in row
    assert "Undergraduate" in row and "U1" not in row  # and listed so
    # a bad one is refused with the field named
    page.fill("#campaign-form input[name=code]", "bad")
    page.select_option("#campaign-form select[name=kind]", "bonus")
    page.fill("#campaign-form input[name=starts]", f"{monday}T00:00")
    page.fill("#campaign-form input[name=ends]", f"{monday}T23:59")
    page.fill("#campaign-form input[name=bonus]", "")  # a bonus campaign without its N
    submit(page, "#campaign-form button")
    assert "not added: bonus must be a whole number" in flash(page), flash(page)
    page.goto(f"{console.url}/campaigns")
    page.screenshot(path=str(shots / "console-campaigns.png"), full_page=True)
    page.goto(f"{console.url}/lang/th?next=/campaigns")
    page.goto(f"{console.url}/campaigns")
    assert "แคมเปญ" in page.inner_text("h1") and "ตั้งเวลาไว้" in page.inner_text("tr[data-campaign=exam_week]")
    assert "ปริญญาตรี" in page.inner_text("tr[data-campaign=exam_week]")
    page.screenshot(path=str(shots / "console-campaigns-th.png"), full_page=True)

    # draws: record (seed hidden behind its SHA-256), run, winners and the seed shown, verified
    page.goto(f"{console.url}/lang/en?next=/draws")
    for i in range(3):
        card = "04" + uuid.uuid4().hex[:8].upper()
        admin(console.db_url, "member", "add", "--name", f"Reader {i}", "--card", card, "--group", "U1")
    page.goto(f"{console.url}/draws")
    page.fill("#draw-form input[name=name]", "End-of-year prize draw")
    page.fill("#draw-form input[name=winners]", "2")
    # the groups by their names (their codes are what the form sends)
    assert page.locator("#draw-form select[name=group] option").all_inner_texts()[1:] == [
        "Undergraduate",
        "Graduate student",
        "Academic staff",
        "Support staff",
        "External member",
    ]
    page.select_option("#draw-form select[name=group]", label="Undergraduate")
    page.fill("#draw-form input[name=prize_points]", "100")
    submit(page, "#draw-form button")
    assert "recorded with its seed" in flash(page)
    assert "published when the draw is run" in page.inner_text("#seed")
    submit(page, "text=Run the draw")
    seed = page.inner_text("#seed")
    assert len(seed) == 64 and "same winners" in page.inner_text("#verify")
    assert page.locator("ol.winners li").count() == 2
    assert "Group: Undergraduate" in page.inner_text("#draw-criteria")
    page.screenshot(path=str(shots / "console-draw.png"), full_page=True)
    page.goto(f"{console.url}/lang/th?next=/draws")
    page.goto(f"{console.url}/draws")
    assert "การจับรางวัลและการจัดอันดับ" in page.inner_text("h1")
    assert "นับคะแนนที่ได้รับในภาคการศึกษา" in page.inner_text("#ranking-counts")
    assert "ปริญญาตรี" in page.locator("#draw-form select[name=group] option").all_inner_texts()
    page.screenshot(path=str(shots / "console-draws-th.png"), full_page=True)


def test_staff_role_cannot_open_the_programme_pages(browser, console):
    from tests.browser.web_support import STAFF

    page = sign_in_page(browser, console, who=STAFF)
    try:
        for path in ("/programme", "/campaigns", "/draws", "/programme.toml"):
            r = page.goto(f"{console.url}{path}")
            assert r.status == 403, path
        assert page.locator("nav >> text=Programme").count() == 0
    finally:
        page.context.close()
