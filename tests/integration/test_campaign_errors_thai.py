"""Campaign errors carry their Thai, and the reason a programme change or a campaign is refused
(the ``why`` of "the programme was not changed: %(why)s") is shown in the staff's language:
the console in Thai and English (Flask's test client, real SQLite), ``privcard admin`` with its
Thai line and ``--json`` ``error_th``. Dates in Thai are in the Buddhist era.
"""

from __future__ import annotations

import pytest

from server import catalogue
from server.domain import campaigns
from server.domain.config import ConfigError, build, default_raw
from tests.browser.web_support import ADMIN, flashes, post_form, sign_in
from tests.helpers import admin_here

PROG = build(default_raw())
GOOD = {"code": "exam_week", "kind": "bonus", "bonus": "5", "starts": "2026-12-07 08:00", "ends": "2026-12-11 20:00"}


@pytest.mark.parametrize(
    ("change", "english", "thai"),
    [
        (
            {"starts": "next monday"},
            "starts must be 'YYYY-MM-DD HH:MM', got 'next monday'",
            "starts ต้องเป็น 'YYYY-MM-DD HH:MM' (ปี ค.ศ.) (ได้รับ 'next monday')",
        ),
        (
            {"ends": "2026-12-06 23:59"},
            "ends (2026-12-06 23:59) is before starts (2026-12-07 08:00)",
            "เวลาสิ้นสุด ends (6/12/2569 23:59) อยู่ก่อนเวลาเริ่ม starts (7/12/2569 08:00)",
        ),
        (
            {"code": "Exam Week"},
            "code: lower-case letters, digits and _, up to 40, got 'Exam Week'",
            "code: ต้องเป็นอักษรอังกฤษตัวเล็ก ตัวเลข และ _ ไม่เกิน 40 ตัว (ได้รับ 'Exam Week')",
        ),
        (
            {"kind": "lottery"},
            "kind must be one of multiplier (points multiplied), bonus (bonus points), "
            "activity (a one-off activity), got 'lottery'",
            "kind ต้องเป็นหนึ่งใน multiplier (คูณคะแนน), bonus (คะแนนโบนัส), activity (กิจกรรมพิเศษครั้งเดียว) (ได้รับ 'lottery')",
        ),
        ({"th": "ก" * 201}, "th/en: a label of at most 200 characters", "th/en: ชื่อต้องยาวไม่เกิน 200 ตัวอักษร"),
        (
            {"kind": "multiplier", "multiplier": "11"},
            "multiplier must be a number from 1.01 to 10 (two decimals), got '11'",
            "multiplier ต้องเป็นตัวเลขตั้งแต่ 1.01 ถึง 10 (ทศนิยมไม่เกินสองตำแหน่ง) (ได้รับ '11')",
        ),
        ({"bonus": "lots"}, "bonus must be a whole number, got 'lots'", "bonus ต้องเป็นจำนวนเต็ม (ได้รับ 'lots')"),
        (
            {"bonus": "20000"},
            "bonus must be from 1 to 10000, got 20000",
            "bonus ต้องอยู่ระหว่าง 1 ถึง 10000 (ได้รับ 20000)",
        ),
        (
            {"kind": "activity", "code": "entry", "points": "5"},
            "code: 'entry' is already an activity of the programme",
            "code: 'entry' เป็นกิจกรรมของโครงการอยู่แล้ว",
        ),
        (
            {"kind": "activity", "code": "fair", "points": "5", "limit": "hourly"},
            "limit must be one of once (only once), per_day (once a day), "
            "per_item_per_day (once a day per item), unlimited (no limit), got 'hourly'",
            "limit ต้องเป็นหนึ่งใน once (ได้ครั้งเดียว), per_day (วันละครั้ง), "
            "per_item_per_day (วันละครั้งต่อรายการ), unlimited (ไม่จำกัด) (ได้รับ 'hourly')",
        ),
        ({"tiers": ["silver", ""]}, "tiers: bad entry ''", "tiers: รายการไม่ถูกต้อง ''"),
        (
            {"tiers": "platinum"},
            "tiers: unknown 'platinum'; known: gold, silver",
            "tiers: ไม่รู้จัก 'platinum' (ที่มี: gold, silver)",
        ),
    ],
)
def test_each_campaign_error_keeps_its_english_and_gives_its_thai(change, english, thai):
    with pytest.raises(ConfigError) as err:
        campaigns.validate({**GOOD, **change}, PROG, groups={"U1", "U2"})
    assert str(err.value) == english
    assert catalogue.thai_of(err.value) == thai


def _console(app, lang):
    client = app.test_client()
    sign_in(client, ADMIN, lang)
    return client


def _section(client, text: str) -> list[str]:
    return flashes(post_form(client, "/programme", "/programme/section", {"section": "rules", "text": text}).text)


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("th", "ไม่ได้เปลี่ยนโครงการ: rules.staff_pin_lockout_minutes ต้องไม่เกิน 1440 (หนึ่งวัน) (ได้รับ 5000)"),
        ("en", "the programme was not changed: rules.staff_pin_lockout_minutes must be at most 1440 (a day), got 5000"),
    ],
)
def test_a_refused_programme_edit_says_why_in_the_consoles_language(app, lang, said):
    client = _console(app, lang)
    before = app.extensions["privcard.service"].programme.version()
    assert _section(client, "[rules]\nstaff_pin_lockout_minutes = 5000\n") == [said]
    assert app.extensions["privcard.service"].programme.version() == before  # nothing changed


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        (
            "th",
            "ไม่ได้เปลี่ยนโครงการ: activities.late_stay.window: 30 นาทีก่อนปิดอยู่นอกเวลาเปิดของวันจันทร์ (08:00-08:20)",
        ),
        (
            "en",
            "the programme was not changed: activities.late_stay.window: 30 minutes before closing is outside "
            "the opening hours of Monday (08:00-08:20)",
        ),
    ],
)
def test_a_refused_programme_edit_names_the_weekday_in_the_consoles_language(app, lang, said):
    """The weekday a refusal names is a word of the console's language (วันจันทร์, Monday), not ``mon``."""
    client = _console(app, lang)
    text = '[hours]\ndefault = "08:00-22:00"\nmon = "08:00-08:20"\n'
    page = post_form(client, "/programme", "/programme/section", {"section": "hours", "text": text})
    assert flashes(page.text) == [said]


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        (
            "th",
            "ไม่ได้เปลี่ยนโครงการ: แคมเปญ quiz_week: activities: ไม่รู้จัก 'quiz' (ที่มี: ",
        ),
        ("en", "the programme was not changed: campaign quiz_week: activities: unknown 'quiz'; known: "),
    ],
)
def test_a_change_a_campaign_no_longer_fits_says_why_in_the_consoles_language(app, lang, said):
    """Deleting an activity a running campaign names: refused, the campaign's reason translated too."""
    client = _console(app, lang)
    post_form(client, "/programme", "/programme/activities", {"code": "quiz", "points": "7", "limit": "per_day"})
    svc = app.extensions["privcard.service"]
    svc.campaigns.add({**GOOD, "code": "quiz_week", "activities": "quiz", "ends": "2999-12-31 23:59"}, actor="t")
    [shown] = flashes(post_form(client, "/programme", "/programme/activities/quiz/delete", {}).text)
    assert shown.startswith(said), shown
    assert "quiz" in svc.programme.document()["activities"]


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("th", "ไม่ได้เพิ่มแคมเปญ: เวลาสิ้นสุด ends (6/12/2569 23:59) อยู่ก่อนเวลาเริ่ม starts (7/12/2569 08:00)"),
        ("en", "the campaign was not added: ends (2026-12-06 23:59) is before starts (2026-12-07 08:00)"),
    ],
)
def test_a_refused_campaign_says_why_in_the_consoles_language(app, lang, said):
    client = _console(app, lang)
    form = {**GOOD, "ends": "2026-12-06 23:59"}
    assert flashes(post_form(client, "/campaigns", "/campaigns", form).text) == [said]
    assert app.extensions["privcard.service"].campaigns.list() == []


def test_privcard_admin_prints_a_refused_campaign_in_english_then_thai(tmp_path):
    argv = ["--db", f"sqlite:///{tmp_path}/x.db", "--json", "campaign", "add", "double", "--kind", "multiplier"]
    argv += ["--multiplier", "0.5", "--starts", "2026-12-07 08:00", "--ends", "2026-12-11 20:00"]
    code, data, lines = admin_here(*argv)
    assert code == 1
    english = "the campaign was not added: multiplier must be a number from 1.01 to 10 (two decimals), got '0.5'"
    thai = "ไม่ได้เพิ่มแคมเปญ: multiplier ต้องเป็นตัวเลขตั้งแต่ 1.01 ถึง 10 (ทศนิยมไม่เกินสองตำแหน่ง) (ได้รับ '0.5')"
    assert data == {"error": english, "error_th": thai}
    assert lines == [f"privcard admin: {english}", f"privcard admin: {thai}"]


@pytest.mark.parametrize(
    ("argv", "english", "thai"),
    [
        (
            ("member", "set", "1", "tier"),
            "expected KEY=VALUE, got 'tier'",
            "ต้องเป็น KEY=VALUE (ได้รับ 'tier')",
        ),
        (
            ("import-attendance", "/nonexistent/list.csv", "--activity", "entry", "--event", "x"),
            "cannot read /nonexistent/list.csv: ",
            "อ่าน /nonexistent/list.csv ไม่ได้: ",
        ),
    ],
)
def test_privcard_admins_own_refusals_print_a_thai_line(tmp_path, argv, english, thai):
    code, data, lines = admin_here("--db", f"sqlite:///{tmp_path}/x.db", "--json", *argv)
    assert code == 1
    assert data["error"].startswith(english) and data["error_th"].startswith(thai), data
    assert lines[0].startswith(f"privcard admin: {english}") and lines[1].startswith(f"privcard admin: {thai}")
