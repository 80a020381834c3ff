"""What the kiosk's screens say: formatting, Buddhist-era dates, tolerance of junk."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from broker.contract import Answer
from broker.settings import SettingError
from kiosk import i18n
from kiosk.present import (
    history_rows,
    hours_today,
    idle_view,
    member_view,
    message_view,
    parse_hours,
    read_config,
    seconds_to_next_minute,
)

FULL = Answer(
    query_id="q1",
    outcome="member",
    member={
        "id": 42,
        "name": "กิ่งตฤทัย ศรีสุข",
        "tier": "gold",
        "group": "U2",
        "valid_until": "2026-05-31",
        "staff": False,
        "card": "04A1B2C3D4E5F6",
    },
    balance=1295,
    privileges={
        "borrow": {"books": 100, "loan_days": None, "loan": {"th": "1 ภาคการศึกษา", "en": "1 semester"}},
        "locker_days": 30,
        "study_room_hours": 6,
        "fine_discount_baht": 250,
        "fine_discount_points": 1250,
        "next": {"points": 1500, "needed": 205, "unlocks": {"th": "ตู้ฝากสัมภาระ 60 วัน", "en": "locker 60 days"}},
    },
    history=[
        {
            "id": 9,
            "at": "2016-01-21T04:14:10+00:00",
            "activity": "entry",
            "label": {"th": "การเข้าใช้บริการพื้นที่ต่างๆ", "en": "Using the library's areas"},
            "item": None,
            "points": 5,
            "voided": False,
            "void_of": None,
        },
        {
            "id": 8,
            "at": "2016-01-20T10:00:00+07:00",
            "activity": "borrow",
            "label": None,
            "item": None,
            "points": 5,
            "voided": True,
            "void_of": None,
        },
        {
            "id": 7,
            "at": "2016-01-20T10:05:00+07:00",
            "activity": "borrow",
            "label": None,
            "item": None,
            "points": -5,
            "voided": False,
            "void_of": 8,
        },
        {"id": 6, "at": "garbage", "activity": "mystery", "points": "x"},
    ],
    stats={"earned_today": 5, "earned_semester": 120, "semester": "2/2558"},
)


def test_buddhist_era_in_thai_gregorian_in_english():
    when = datetime(2016, 1, 21, 11, 14, 10)
    assert i18n.format_datetime(when, "th") == "21/1/2559 11:14"
    assert i18n.format_datetime(when, "en") == "21 Jan 2016 11:14"
    assert i18n.format_date_long(date(2016, 1, 21), "th") == "วันพฤหัสบดีที่ 21 มกราคม พ.ศ. 2559"
    assert i18n.format_date_long(date(2016, 1, 21), "en") == "Thursday 21 January 2016"


def test_every_key_has_both_languages():
    for key, (th, en) in i18n.STRINGS.items():
        assert th and en, key
    assert i18n.tr("no.such.key", "th") == "no.such.key"
    assert i18n.tr("member.today", "en", points="+5") == "Today +5"


def test_member_view_full_answer_both_languages():
    th = member_view(FULL, "th")
    assert th["name"] == "กิ่งตฤทัย ศรีสุข" and th["tier"] == "gold" and th["tier_label"] == "บัตรทอง"
    assert th["balance"] == "1,295"
    assert th["today"] == "วันนี้ +5" and th["semester"] == "ภาคการศึกษา 2/2558 +120"
    assert th["card_number"] == "•••• E5F6"
    assert th["valid_until"] == "ใช้ได้ถึง 31/5/2569"
    assert [r[2] for r in th["privileges"]] == ["100 เล่ม / 1 ภาคการศึกษา", "30 วัน", "6 ชม./ครั้ง", "250 บาท"]
    assert th["next"] == "อีก 205 คะแนน ถึง 1,500 คะแนน: ตู้ฝากสัมภาระ 60 วัน"
    assert th["progress"] == pytest.approx(1295 / 1500)
    en = member_view(FULL, "en")
    assert en["tier_label"] == "Gold card"
    assert [r[1] for r in en["privileges"]] == ["Borrow", "Locker", "Study room", "Fine discount"]
    assert en["privileges"][0][2] == "100 books / 1 semester"
    assert en["next"] == "205 more points to 1,500: locker 60 days"
    assert en["valid_until"] == "Valid until 31 May 2026"


def test_progress_uses_band_start_when_given():
    answer = Answer(
        query_id="q",
        outcome="member",
        balance=295,
        privileges={"next": {"points": 300, "needed": 5, "from": 250, "unlocks": "20 books"}},
    )
    assert member_view(answer, "en")["progress"] == pytest.approx(0.9)


def test_top_level_when_next_is_null():
    answer = Answer(query_id="q", outcome="member", balance=3000, privileges={"locker_days": 90, "next": None})
    view = member_view(answer, "en")
    assert view["next"] == "Highest privilege level reached" and view["progress"] == 1.0


@pytest.mark.parametrize(
    "answer",
    [
        None,
        Answer(query_id="q", outcome="member"),
        Answer(
            query_id="q",
            outcome="member",
            member={"name": 5, "tier": "platinum", "id": "x", "valid_until": "soon"},
            balance=None,
            privileges={"borrow": "lots", "locker_days": True, "next": {"points": "many"}},
            stats={"earned_today": "5"},
            history=[{}, {"at": 3}],
        ),
    ],
)
def test_member_view_tolerates_missing_and_wrong_fields(answer):
    for lang in ("th", "en"):
        view = member_view(answer, lang)
        assert view["balance"] == "—" and view["tier"] == "unknown"
        assert view["privileges"] == [] and view["no_privileges"]
        assert view["name"] in ("สมาชิก", "Member")
        rows = history_rows(answer, lang)
        assert all(row["at"] == "—" for row in rows)


def _with_ils(ils) -> Answer:
    return Answer.parse(json.dumps({**FULL.to_dict(), "ils": ils}))


@pytest.mark.parametrize(
    "ils, th, en, state",
    [
        (
            {"state": "ok", "fines_baht": 35.0, "points_to_clear": 175},
            "ค่าปรับค้างชำระ 35 บาท — ใช้ 175 คะแนน",
            "Fines owed: 35 baht — use 175 points",
            "owed",
        ),
        (
            {"state": "ok", "fines_baht": 1250.5, "points_to_clear": 6253},
            "ค่าปรับค้างชำระ 1,250.50 บาท — ใช้ 6,253 คะแนน",
            "Fines owed: 1,250.50 baht — use 6,253 points",
            "owed",
        ),
        ({"state": "ok", "fines_baht": 35}, "ค่าปรับค้างชำระ 35 บาท", "Fines owed: 35 baht", "owed"),
        ({"state": "ok", "fines_baht": 0.0, "points_to_clear": 0}, "ไม่มีค่าปรับค้างชำระ", "No fines owed", "none"),
        ({"state": "unreachable"}, "ระบบห้องสมุดไม่ตอบสนอง", "library system not reachable", "unreachable"),
    ],
)
def test_member_view_shows_the_fines_the_library_system_reports(ils, th, en, state):
    answer = Answer(**{**FULL.__dict__, "ils": ils})
    if "points_to_clear" in ils or ils["state"] == "unreachable":  # the shapes the server sends survive the wire
        assert _with_ils(ils).ils == ils
    assert (member_view(answer, "th")["fines"], member_view(answer, "th")["fines_state"]) == (th, state)
    assert (member_view(answer, "en")["fines"], member_view(answer, "en")["fines_state"]) == (en, state)


@pytest.mark.parametrize(
    "ils",
    [
        None,
        "ok",
        {},
        {"state": "weird", "fines_baht": 35},
        {"state": "ok"},
        {"state": "ok", "fines_baht": "35"},
        {"state": "ok", "fines_baht": True},
        {"state": "ok", "fines_baht": -5},
        {"state": "ok", "fines_baht": float("nan")},
    ],
)
def test_no_fines_line_without_a_usable_ils_answer(ils):
    answer = FULL if ils is None else Answer(**{**FULL.__dict__, "ils": ils})
    for lang in ("th", "en"):
        view = member_view(answer, lang)
        assert (view["fines"], view["fines_state"]) == ("", "")
        assert view["balance"] == "1,295"  # the rest of the screen is unaffected


def test_history_rows_dates_voids_and_reversals():
    th = history_rows(FULL, "th")
    assert th[0]["at"] == "21/1/2559 11:14"  # 04:14 UTC is 11:14 in Bangkok
    assert th[0]["activity"] == "การเข้าใช้บริการพื้นที่ต่างๆ" and th[0]["points"] == "+5"
    assert th[1]["voided"] and th[1]["status"] == "ยกเลิกแล้ว"
    assert th[1]["activity"] == "การยืมหนังสือและวารสาร"  # fallback label from the code
    assert th[2]["activity"].startswith("ยกเลิกรายการ") and th[2]["points"] == "-5" and th[2]["negative"]
    assert th[3]["at"] == "—" and th[3]["activity"] == "mystery" and th[3]["points"] == "—"
    en = history_rows(FULL, "en")
    assert en[0]["at"] == "21 Jan 2016 11:14" and en[1]["status"] == "voided"


def test_history_caps_at_20():
    answer = Answer(
        query_id="q",
        outcome="member",
        history=[{"at": "2016-01-21T11:14:00+07:00", "activity": "entry", "points": 5}] * 30,
    )
    assert len(history_rows(answer, "th")) == 20


def test_message_views():
    assert message_view("unknown", None, None, "en")["hint"].startswith("Fee 50 baht = 250 points")
    assert message_view("unknown", "invalid", None, "en")["title"] == "The card could not be read"
    assert message_view("blocked", None, None, "th")["title"] == "บัตรนี้ถูกระงับการใช้งาน"
    assert message_view("expired", None, None, "en")["title"] == "Your membership has expired"
    assert message_view("unavailable", "timeout", None, "en")["hint"] == "Trying again…"
    assert message_view("unavailable", "bad_answer", None, "en")["hint"] == ""
    answer = Answer(query_id="q", outcome="card_blocked", message={"th": "บัตรหาย", "en": "Card reported lost"})
    assert message_view("blocked", None, answer, "en")["server_message"] == "Card reported lost"


def test_idle_view_hours_and_clock():
    view = idle_view(datetime(2016, 1, 21, 21, 45), "th")
    assert view["clock"] == "21:45" and view["hours"] == "เวลาให้บริการวันนี้ 08:00–22:00 น."
    assert view["status"] == "ปิดให้บริการเวลา 22:00 น."
    assert idle_view(datetime(2016, 1, 21, 22, 5), "en")["status"] == "Closed now, opens at 08:00"
    assert (
        idle_view(datetime(2016, 1, 21, 9), "en", library_name={"th": "หอสมุด", "en": "Main Library"})["library"]
        == "Main Library"
    )
    assert parse_hours("07:30-20:00") == ("07:30", "20:00")
    assert parse_hours("nonsense") == ("08:00", "22:00")


def test_idle_view_shows_todays_hours_from_the_servers_week():
    week = {"mon": "09:30-16:45", "tue": "10:00-24:00", "sun": "closed"}
    monday, tuesday, wednesday, sunday = (date(2025, 1, d) for d in (6, 7, 8, 12))
    assert hours_today(week, monday) == ("09:30", "16:45")
    assert hours_today(week, tuesday) == ("10:00", "24:00")
    assert hours_today(week, wednesday) == ("08:00", "22:00")  # a day the week leaves out: the default
    assert hours_today(None, wednesday, ("07:00", "19:00")) == ("07:00", "19:00")
    assert hours_today(week, sunday) is None
    assert idle_view(datetime(2025, 1, 6, 10), "en", hours_today(week, monday))["hours"] == "Open today 09:30–16:45"
    assert idle_view(datetime(2025, 1, 7, 23, 30), "en", hours_today(week, tuesday))["status"] == "Closes at 24:00"
    closed_th = idle_view(datetime(2025, 1, 12, 10), "th", None)
    assert (closed_th["hours"], closed_th["status"]) == ("วันนี้ห้องสมุดปิดให้บริการ", "ปิดให้บริการทั้งวัน")
    closed_en = idle_view(datetime(2025, 1, 12, 10), "en", None)
    assert (closed_en["hours"], closed_en["status"]) == ("The library is closed today", "Closed all day")


def test_read_config_takes_library_hours_and_lang_as_the_server_sends_them():
    sent = {
        "lang": "en",
        "heartbeat_s": 30,
        "reader": "nfc:usb",
        "library": {"th": "หอสมุดกลาง", "en": "Central Library", "timezone": "Asia/Bangkok"},
        "hours": {"mon": "09:00-17:00", "sun": "closed"},
        "from_a_newer_server": 1,
    }
    got = read_config(sent)
    assert got == {
        "library_name": {"th": "หอสมุดกลาง", "en": "Central Library"},
        "tz": "Asia/Bangkok",
        "week_hours": {"mon": "09:00-17:00", "sun": "closed"},
        "lang": "en",
        "heartbeat_s": 30,
        "reader": "nfc:usb",
        "ignored": ["from_a_newer_server"],
    }
    assert read_config({"repeat_s": 1.5, "heartbeat_s": 5})["repeat_s"] == 1.5
    # nothing set: the kiosk keeps what it has, and reads from its own reader (--reader)
    assert read_config({}) == {"ignored": [], "reader": None}


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"hours": {"mon": "9-5"}}, "hours.mon must be HH:MM-HH:MM or closed, got '9-5'"),
        ({"hours": {"monday": "closed"}}, "hours.monday is not a weekday"),
        ({"lang": "fr"}, "lang must be one of th, en, got 'fr'"),
        ({"heartbeat_s": 0}, "heartbeat_s must be a number from 1 to 3600, got 0"),
        ({"repeat_s": -1}, "repeat_s must be a number from 0 to 600, got -1"),
        ({"reader": ""}, "reader must be text of 1 to 200 printable characters"),
        ({"library": {"en": ""}}, "library.en must be text"),
        ({"library": {"en": "X", "timezone": "Mars/Olympus"}}, "library.timezone: unknown time zone 'Mars/Olympus'"),
    ],
)
def test_read_config_refuses_a_bad_value_naming_its_path(settings, message):
    with pytest.raises((SettingError, ValueError)) as caught:
        read_config(settings)
    assert message in str(caught.value)


UTC = UTC


@pytest.mark.parametrize(
    "now,seconds",
    [
        (datetime(2026, 11, 22, 13, 15, 0, tzinfo=UTC), 60.0),
        (datetime(2026, 11, 22, 13, 15, 59, 900000, tzinfo=UTC), 0.1),
        (datetime(2026, 11, 22, 23, 59, 30, 250000, tzinfo=UTC), 29.75),
    ],
)
def test_clock_is_redrawn_when_the_minute_turns(now, seconds):
    # the app sleeps this long between clock updates: the displayed HH:MM must not change before
    later = now.timestamp() + seconds_to_next_minute(now)
    assert seconds_to_next_minute(now) == pytest.approx(seconds)
    assert idle_view(now, "en")["clock"] != idle_view(datetime.fromtimestamp(later, UTC), "en")["clock"]
    assert idle_view(now, "en")["clock"] == idle_view(datetime.fromtimestamp(later - 0.001, UTC), "en")["clock"]
