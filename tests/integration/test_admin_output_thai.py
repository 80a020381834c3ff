"""``privcard admin``'s human output says everything in English, then in Thai, as its errors do:
a confirmation or summary is its English line, then its Thai line (dates in the Buddhist era);
a listing prints each row once under one header line naming the columns ``English/ไทย``;
``import-attendance``'s progress on stderr has its Thai line too. ``--json`` is unchanged.

The real entry point (``server.admin.main``) in this process, on a real SQLite file.
"""

from __future__ import annotations

import ast
import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from server import admin, catalogue
from tests.helpers import close_store

ROOT = Path(__file__).resolve().parents[2]
UID_A, UID_B = "04A1B2C3D4E5F6", "04A1B2C3D4E5F7"


@pytest.fixture
def cli(tmp_db_url, capsys):
    """``privcard admin --db URL ARGV`` (human output): (exit code, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = admin.main(["--db", tmp_db_url, *argv])
        out, err = capsys.readouterr()
        return code, out, err

    yield run
    close_store()


def _lines(text: str) -> list[str]:
    return text.splitlines()


def _be(day: date) -> str:
    """A date as a Thai line shows it: ``3/12/2569``."""
    return f"{day.day}/{day.month}/{day.year + 543}"


def test_members_and_cards_say_english_then_thai_and_list_each_row_once(cli):
    code, out, _ = cli("member", "add", "--name", "Somchai", "--card", UID_A, "--group", "U1")
    assert code == 0
    assert _lines(out) == ["enrolled member #1 Somchai: 250 points", "สมัครสมาชิก #1 Somchai แล้ว: 250 คะแนน"]
    assert cli("member", "add", "--name", "Malee", "--card", UID_B)[0] == 0

    code, out, _ = cli("member", "list")
    lines = _lines(out)
    assert code == 0 and len(lines) == 3  # the header and one row per member: no row twice
    assert "Member/สมาชิก" in lines[0] and "Balance/คะแนนคงเหลือ" in lines[0] and "Valid until/ใช้ได้ถึง" in lines[0]
    assert out.count("Somchai") == 1 and out.count("Malee") == 1
    assert lines[1].split()[:5] == ["#1", "Somchai", "silver", "U1", "250"]

    code, out, _ = cli("card", "block", UID_B)
    assert code == 0 and _lines(out) == [f"card {UID_B} blocked", f"ระงับบัตร {UID_B} แล้ว"]

    code, out, _ = cli("member", "show", "2")
    assert code == 0 and f"{UID_B} (blocked/ระงับ)" in out
    assert "New member / สมัครสมาชิกใหม่" in out and "Activity/กิจกรรม" in out  # the history: labels in both

    code, out, _ = cli("member", "tier", "1", "gold", "--reason", "staff of the year")
    assert code == 0 and _lines(out) == [
        "member #1 is now gold",
        "สมาชิก #1 ประเภทบัตรเป็น บัตรทอง แล้ว",  # the tier's Thai label in the programme, not its code
    ]

    code, out, _ = cli("member", "renew", "1")
    until = date.fromisoformat(re.search(r"until (\S+);", out).group(1))
    assert code == 0 and _lines(out) == [
        f"renewed member #1 until {until.isoformat()}; fee 50 baht recorded",
        f"ต่ออายุสมาชิก #1 ถึง {_be(until)} แล้ว บันทึกค่าธรรมเนียม 50 บาท",  # Buddhist era
    ]

    close_store()
    code, out, _ = cli("--db", "sqlite:///:memory:", "member", "list")  # nothing to list: both languages
    assert code == 0 and _lines(out) == ["no members", "ไม่มีสมาชิก"]


def test_devices_and_sites_list_under_a_bilingual_header(cli):
    code, out, _ = cli("device", "add", "gate-1", "--kind", "gate", "--direction", "in")
    assert code == 0 and _lines(out) == ["added gate gate-1", "เพิ่มอุปกรณ์ gate-1 (ประตู) แล้ว"]
    code, out, _ = cli("device", "list")
    lines = _lines(out)
    assert code == 0 and len(lines) == 2
    assert lines[0].startswith("Device/อุปกรณ์") and "Site/สาขา" in lines[0] and "Last seen/ติดต่อล่าสุด" in lines[0]
    assert lines[1].split() == ["gate-1", "gate", "MAIN", "in", "-", "unknown", "never/ไม่เคย"]

    code, out, _ = cli("site", "list")
    lines = _lines(out)
    assert code == 0 and len(lines) == 2 and "Site name/ชื่อสาขา" in lines[0]
    assert "University Library / ห้องสมุดมหาวิทยาลัย" in lines[1] and "yes/ใช่" in lines[1]


#: two sites as docs/sites.md has them: MAIN closed on Sundays, BRANCH2 with a closure and its own rules
SITES_TOML = """
[library]
default_site = "MAIN"
[sites.MAIN]
name_th = "หอสมุดกลาง"
name_en = "Central Library"
hours = { default = "08:00-20:00", sun = "closed" }
[sites.BRANCH2]
name_th = "ห้องสมุดคณะแพทยศาสตร์"
name_en = "Medical Library"
hours = { default = "08:00-22:00" }
closures = ["2026-12-07"]
[sites.BRANCH2.activities.late_stay]
window = "before_close:60"
[sites.BRANCH2.partners]
shops = ["Med Cafe"]
"""
#: the keys of device show --json and site show --json: scripts read them (a contract)
DEVICE_KEYS = [
    "id", "kind", "direction", "activity", "location", "site", "settings", "revision", "state",
    "last_seen", "status", "retired_at", "config",
]  # fmt: skip
SITE_KEYS = ["code", "name", "timezone", "default", "hours", "closures", "activities", "partners", "devices"]


def _row(lines: list[str], label: str) -> str:
    """The value on a summary's (or an indented part's) line labelled ``label`` (``English/ไทย``), single-spaced."""
    (line,) = [x.strip() for x in lines if x.strip().startswith(label + " ")]
    return " ".join(line[len(label) :].split())


def test_device_show_is_a_summary_in_both_languages_and_its_json_unchanged(cli, tmp_path, tmp_db_url):
    from datetime import UTC, datetime

    from broker.contract import Status
    from server.domain.config import load
    from tests.helpers import open_service

    programme = tmp_path / "sites.toml"
    programme.write_text(SITES_TOML, encoding="utf-8")
    conf = ("--config", str(programme))
    code, _, _ = cli(*conf, "device", "add", "g2", "--kind", "gate", "--direction", "out", "--site", "BRANCH2",
                     "--location", "North door", "--set", "open_ms=4000")  # fmt: skip
    assert code == 0 and cli(*conf, "device", "add", "kiosk-1", "--kind", "kiosk")[0] == 0
    # the kiosk reports its status at 23:50 UTC on 31 December: 06:50 on 1 January in Bangkok
    svc = open_service(tmp_db_url, prog=load(programme), clock=lambda: datetime(2026, 12, 31, 23, 50, tzinfo=UTC))
    assert svc.devices.record_status("kiosk-1", Status.parse('{"v":1,"state":"online","version":"1.4.0","outbox":2}'))
    close_store()

    code, out, _ = cli(*conf, "device", "show", "g2")
    lines = _lines(out)
    assert code == 0 and "{" not in out  # not the JSON
    assert _row(lines, "Device/อุปกรณ์") == "g2" and _row(lines, "Kind/ประเภท") == "gate/ประตู"
    assert _row(lines, "Site/สาขา") == "BRANCH2: Medical Library / ห้องสมุดคณะแพทยศาสตร์"
    assert _row(lines, "Direction/ทิศทาง") == "out/ออก" and _row(lines, "Location/ที่ตั้ง") == "North door"
    assert _row(lines, "Activity/กิจกรรม").startswith("late_stay: Reading in the last")  # its direction's, the label
    assert _row(lines, "State/สถานะ") == "unknown/ไม่ทราบ" and _row(lines, "Last seen/ติดต่อล่าสุด") == "never/ไม่เคย"
    assert _row(lines, "Config revision/รุ่นการตั้งค่า") == "1 (waiting to publish/รอส่งการตั้งค่า)"
    settings = lines.index("Settings/การตั้งค่า")
    assert "Setting/ค่าที่ตั้ง" in lines[settings + 1] and "Source/ที่มา" in lines[settings + 1]
    rows = {x.split()[0]: " ".join(x.split()[1:]) for x in lines[settings + 2 :]}
    assert rows["open_ms"] == "4000 ms set here/ตั้งที่อุปกรณ์นี้"
    assert rows["repeat_s"] == "3 s default/ค่าเริ่มต้น"
    assert rows["offline_policy"] == "allowlist/ตามรายชื่อบัตร default/ค่าเริ่มต้น"
    assert rows["library"] == "Medical Library / ห้องสมุดคณะแพทยศาสตร์, Asia/Bangkok programme/จากโครงการ"
    assert rows["hours"] == "mon-sun 08:00-22:00 / จันทร์-อาทิตย์ 08:00-22:00 programme/จากโครงการ"

    code, out, _ = cli(*conf, "device", "show", "kiosk-1")
    lines = _lines(out)
    assert code == 0 and _row(lines, "State/สถานะ") == "online/ออนไลน์"
    assert _row(lines, "Last seen/ติดต่อล่าสุด") == "2027-01-01 06:50 / 1/1/2570 06:50"  # Buddhist era in Thai
    assert _row(lines, "Software/ซอฟต์แวร์") == "1.4.0" and _row(lines, "Outbox/คิวค้างส่ง") == "2"
    assert _row(lines, "Site/สาขา") == "MAIN: Central Library / หอสมุดกลาง"  # the default site

    code, out, _ = cli(*conf, "--json", "device", "show", "kiosk-1")
    d = json.loads(out)  # the whole of stdout is the JSON, as it was
    assert code == 0 and list(d) == DEVICE_KEYS
    assert (d["site"], d["state"], d["last_seen"], d["status"]) == (
        None,
        "online",
        "2026-12-31T23:50:00.000+00:00",
        {"v": 1, "state": "online", "version": "1.4.0", "outbox": 2},
    )
    assert d["config"]["settings"]["hours"]["sun"] == "closed" and d["config"]["settings"]["lang"] == "th"


def test_site_show_is_a_summary_in_both_languages_and_its_json_unchanged(cli, tmp_path):
    programme = tmp_path / "sites.toml"
    programme.write_text(SITES_TOML, encoding="utf-8")
    conf = ("--config", str(programme))
    assert cli(*conf, "device", "add", "g2", "--kind", "gate", "--direction", "in", "--site", "BRANCH2")[0] == 0

    code, out, _ = cli(*conf, "site", "show", "BRANCH2")
    lines = _lines(out)
    assert code == 0 and "{" not in out
    assert _row(lines, "Site/สาขา") == "BRANCH2"
    assert _row(lines, "Thai name/ชื่อภาษาไทย") == "ห้องสมุดคณะแพทยศาสตร์"
    assert _row(lines, "English name/ชื่อภาษาอังกฤษ") == "Medical Library"
    assert _row(lines, "Time zone/เขตเวลา") == "Asia/Bangkok"
    assert _row(lines, "Activities changed at this site/กิจกรรมที่สาขานี้กำหนดเอง") == "late_stay"
    assert _row(lines, "Partner shops/ร้านค้าพันธมิตร") == "Med Cafe"
    hours = lines.index("Opening hours/เวลาเปิดทำการ")
    assert [x.split() for x in lines[hours + 1 : hours + 8]] == [
        [day, "08:00-22:00"]
        for day in ("mon/จันทร์", "tue/อังคาร", "wed/พุธ", "thu/พฤหัสบดี", "fri/ศุกร์", "sat/เสาร์", "sun/อาทิตย์")
    ]
    assert lines[hours + 8] == "Closures/วันปิดทำการ" and lines[hours + 9].split() == ["2026-12-07", "/", "7/12/2569"]
    assert lines[hours + 10] == "Devices/อุปกรณ์ (1)" and "Kind/ประเภท" in lines[hours + 11]
    assert lines[hours + 12].split() == ["g2", "gate/ประตู", "in/เข้า", "unknown/ไม่ทราบ", "never/ไม่เคย"]

    code, out, _ = cli(*conf, "site", "show", "MAIN")
    lines = _lines(out)
    assert code == 0 and _row(lines, "Site/สาขา") == "MAIN (Default site/สาขาหลัก)"
    assert _row(lines, "sun/อาทิตย์") == "closed/ไม่เปิด" and _row(lines, "mon/จันทร์") == "08:00-20:00"
    assert _row(lines, "Activities changed at this site/กิจกรรมที่สาขานี้กำหนดเอง") == "none/ไม่มี"
    assert _row(lines, "Partner shops/ร้านค้าพันธมิตร") == "The programme's partner shops. / ใช้ร้านค้าพันธมิตรของโครงการ"
    assert lines[lines.index("Closures/วันปิดทำการ") + 1].strip() == "none/ไม่มี"
    assert lines[-1] == "Devices/อุปกรณ์ (0)"

    code, out, _ = cli(*conf, "--json", "site", "show", "BRANCH2")
    r = json.loads(out)
    assert code == 0 and list(r) == SITE_KEYS
    assert r["name"] == {"th": "ห้องสมุดคณะแพทยศาสตร์", "en": "Medical Library"} and r["default"] is False
    assert r["hours"]["sun"] == "08:00-22:00" and r["closures"] == ["2026-12-07"]
    assert (r["activities"], r["partners"], r["devices"]) == (["late_stay"], ["Med Cafe"], ["g2"])


def test_points_commands_confirm_in_english_then_thai(cli):
    cli("member", "add", "--name", "Somchai", "--card", UID_A)
    cli("member", "add", "--name", "Malee", "--card", UID_B)

    code, out, _ = cli("award", UID_A, "--activity", "borrow")
    assert code == 0 and _lines(out) == ["credited: +5 points, balance 255", "ได้รับ +5 คะแนน คะแนนคงเหลือ 255 คะแนน"]

    code, out, _ = cli("award", UID_A, "--activity", "borrow")  # once a day: the outcome's Thai words, no code
    assert code == 0 and _lines(out) == [
        "limit_reached: no points, balance 255",
        "ไม่ได้รับคะแนน (ได้คะแนนแล้ววันนี้) คะแนนคงเหลือ 255 คะแนน",  # as the console's taps say it
    ]

    code, out, _ = cli("entries")
    lines = _lines(out)
    assert code == 0 and len(lines) == 4 and "Entry/เลขที่รายการ" in lines[0] and "Points/คะแนน" in lines[0]
    borrow = next(line for line in lines if "borrow" in line)
    entry = borrow.split()[0]

    code, out, _ = cli("void", entry, "--reason", "typo")
    assert code == 0 and _lines(out) == [
        f"voided entry {entry}: -5 points, member #1 balance 250",
        f"ยกเลิกรายการ {entry} แล้ว: -5 คะแนน สมาชิก #1 คะแนนคงเหลือ 250 คะแนน",
    ]

    code, out, _ = cli("transfer", "1", "2", "10")
    assert code == 0 and _lines(out) == [
        "moved 10 points from #1 (now 240) to #2 (now 260)",
        "โอน 10 คะแนนจาก #1 (คงเหลือ 240) ให้ #2 (คงเหลือ 260) แล้ว",
    ]

    code, out, _ = cli("redeem", "2", "--reward", "locker_day", "--units", "1")
    assert code == 0 and _lines(out) == [
        "redeemed 25 points for Locker (per day) (1 unit(s)); balance 235",
        "แลก 25 คะแนนเป็นตู้ฝากสัมภาระ (ต่อวัน) (1 หน่วย) แล้ว คะแนนคงเหลือ 235 คะแนน",
    ]


def test_term_show_says_today_in_the_buddhist_era(cli):
    code, out, _ = cli("term", "show")
    lines = _lines(out)
    today = date.fromisoformat(re.match(r"today (\S+):", lines[0]).group(1))
    assert code == 0 and lines[0].startswith(f"today {today.isoformat()}: semester ")
    assert lines[1].startswith(f"วันนี้ {_be(today)}: ภาคการศึกษา ")
    assert "คะแนนเมื่อหมดอายุ: คงคะแนนไว้" in lines[1]  # the rule's Thai words, not its code
    assert "Group/กลุ่มผู้ใช้" in lines[2] and sum("Undergraduate / ปริญญาตรี" in line for line in lines) == 1


def test_import_attendance_summary_and_progress_in_both_languages(cli, tmp_path):
    cli("member", "add", "--name", "Somchai", "--card", UID_A)
    listed = tmp_path / "list.csv"
    listed.write_text(f"uid\n{UID_A}\n04FFFFFFFFFFFF\n", encoding="utf-8")
    code, out, err = cli("import-attendance", str(listed), "--activity", "pulinet_event", "--event", "Thai day")
    assert code == 3  # some rows refused, as before
    lines = _lines(out)
    assert lines[:2] == [
        "credited 1, already credited 0, errors 1",
        "ได้คะแนน 1 ได้คะแนนไปแล้ว 0 ผิดพลาด 1",
    ]
    assert "Line/บรรทัด" in lines[2] and "Reason/เหตุผล" in lines[2]
    assert (
        lines[3].split(None, 1)[1]
        == "no member with id or card '04FFFFFFFFFFFF' / ไม่พบสมาชิกที่มีรหัสหรือหมายเลขบัตร '04FFFFFFFFFFFF'"
    )
    assert "job 1: 2/2 rows, 1 credited, 0 already, 1 errors" in _lines(err)
    assert "งาน 1: 2/2 แถว ได้คะแนน 1 ได้คะแนนไปแล้ว 0 ผิดพลาด 1" in _lines(err)


def test_the_command_groups_say_english_then_thai(cli, tmp_path):
    cli("member", "add", "--name", "Somchai", "--card", UID_A)
    # programme
    code, out, _ = cli("programme", "export", str(tmp_path / "p.toml"))
    assert code == 0 and _lines(out) == [
        f"wrote version 0 to {tmp_path / 'p.toml'}",
        f"เขียนโครงการฉบับที่ 0 ลงใน {tmp_path / 'p.toml'} แล้ว",
    ]
    # campaign: its dates in the Buddhist era in the Thai line, ISO in the table
    start = date.today() + timedelta(days=30)
    end = start + timedelta(days=4)
    code, out, _ = cli(
        "campaign", "add", "exam", "--kind", "multiplier", "--multiplier", "2",
        "--starts", f"{start} 00:00", "--ends", f"{end} 23:59",
    )  # fmt: skip
    lines = _lines(out)
    assert code == 0 and lines[0] == f"added campaign exam: points ×2, from {start} 00:00 to {end} 23:59"
    assert lines[1] == f"เพิ่มแคมเปญ exam แล้ว: คะแนน ×2 ตั้งแต่ {_be(start)} 00:00 ถึง {_be(end)} 23:59"
    assert "Campaign/แคมเปญ" in lines[2] and "points ×2 / คะแนน ×2" in lines[3] and len(lines) == 4
    # feedback
    code, out, _ = cli("feedback", "add", "--channel", "phone", "--category", "question", "--text", "Open Sunday?")
    assert code == 0 and _lines(out)[:2] == ["recorded feedback 1", "บันทึกความคิดเห็น 1 แล้ว"]
    code, out, _ = cli("feedback", "list")
    lines = _lines(out)
    assert code == 0 and len(lines) == 2 and "Assignee/ผู้รับผิดชอบ" in lines[0] and "Open Sunday?" in lines[1]
    assert "anonymous/ไม่ระบุตัวตน" in lines[1]
    code, out, _ = cli("feedback", "report")
    assert code == 0 and re.search(r"^ความคิดเห็นตั้งแต่ \d+/\d+/25\d\d ถึง \d+/\d+/25\d\d: 1 รายการ$", out, re.M)
    # message
    code, out, _ = cli("message", "preview")
    assert code == 0 and _lines(out) == [
        "1 member(s): 0 will receive it, 0 opted out, 1 without an address",
        "สมาชิก 1 คน: จะได้รับ 0 คน ไม่ประสงค์รับ 0 คน ไม่มีที่อยู่อีเมล 1 คน",
    ]
    code, out, _ = cli("message", "list")
    assert code == 0 and _lines(out) == ["no messages", "ไม่มีข้อความ"]
    # draw
    code, out, _ = cli("draw", "list")
    assert code == 0 and _lines(out) == ["no draws", "ไม่มีการจับรางวัล"]


def test_messages_list_reasons_and_deliveries_in_both_languages(cli, tmp_db_url):
    from server import store
    from server.services.messages import BUG_REASON, GAVE_UP_REASON, OutMessage
    from tests.helpers import open_service

    for name, uid in (("Somchai", UID_A), ("Malee", UID_B)):  # each is sent a welcome
        mail = f"{name.lower()}@example.org"
        assert cli("member", "add", "--name", name, "--card", uid, "--group", "U1", "--email", mail)[0] == 0
    assert cli("member", "set", "1", "consent_marketing=true")[0] == 0  # Malee did not consent
    code, out, _ = cli(
        "message", "send", "--segment", "group=U1", "--subject-th", "ข่าว", "--subject-en", "News",
        "--body-th", "สวัสดี", "--body-en", "Hello",
    )  # fmt: skip
    assert code == 0
    # two welcomes failed as the sender fails them: a bug, and temporary failures that used up the tries
    open_service(tmp_db_url)
    bug, gave_up = OutMessage.select().where(OutMessage.template == "welcome").order_by(OutMessage.id)
    for row, reason, tries in ((bug, f"{BUG_REASON}: ValueError: not a date", 1),
                               (gave_up, f"{GAVE_UP_REASON}: 3: 451 4.3.0 try again later", 3)):  # fmt: skip
        OutMessage.update(status="failed", reason=reason, attempts=tries, failed_at=store.utcnow()).where(
            OutMessage.id == row.id
        ).execute()
    close_store()

    code, out, _ = cli("message", "list", "--status", "failed")
    lines = _lines(out)
    assert code == 0 and len(lines) == 3 and "Reason/เหตุผล" in lines[0]
    assert lines[1].endswith(
        "  gave up after 3 tries (451 4.3.0 try again later) / เลิกส่งหลังจากลองส่ง 3 ครั้ง (451 4.3.0 try again later)"
    )
    assert lines[2].endswith(
        "  program error: this message could not be made or sent (ValueError: not a date)"
        " / ข้อผิดพลาดของโปรแกรม สร้างหรือส่งข้อความนี้ไม่ได้ (ValueError: not a date)"
    )
    assert "gave_up" not in out and "bug:" not in out
    code, out, _ = cli("--json", "message", "list", "--status", "failed")  # the codes, as stored
    assert code == 0 and [r["reason"].split(":")[0] for r in json.loads(out)] == ["gave_up", "bug"]

    code, out, _ = cli("message", "segments")
    lines = _lines(out)
    assert code == 0 and len(lines) == 2 and "Deliveries/การส่ง" in lines[0]
    assert lines[1].endswith(
        "queued 1, sent 0, failed 0, opted out 1, no address 0 / เข้าคิว 1, ส่งแล้ว 0, ส่งไม่สำเร็จ 0, ไม่ประสงค์รับ 1, ไม่มีที่อยู่ 0"
    ), lines[1]


def test_json_output_has_no_thai_line(cli):
    code, out, _ = cli("--json", "member", "add", "--name", "Somchai", "--card", UID_A)
    data = json.loads(out)  # the whole of stdout is the JSON, as before
    assert code == 0 and data["id"] == 1 and data["balance"] == 250 and "คะแนน" not in out
    code, out, _ = cli("--json", "member", "list")
    assert code == 0 and [m["name"] for m in json.loads(out)] == ["Somchai"]


# --------------------------------------------------------------------------- the catalogue keeps up

CLI_FILES = [
    "server/admin.py",
    "server/programme_cli.py",
    "server/feedback_cli.py",
    "server/messages_cli.py",
    "server/web/staff_admin.py",
    "server/broker_accounts.py",
    "server/admin_show.py",
]


def _strings(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.IfExp):
        yield from _strings(node.body)
        yield from _strings(node.orelse)
    elif isinstance(node, (ast.List, ast.Tuple)):
        for e in node.elts:
            yield from _strings(e)
    elif isinstance(node, ast.Dict):
        for v in node.values:
            yield from _strings(v)


def _cli_texts():
    """(where, English text) of every text the commands print through said/word/pair/table/listing."""
    for rel in CLI_FILES:
        for node in ast.walk(ast.parse((ROOT / rel).read_text())):
            if isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
                if any(n.endswith(("COLUMNS", "SAID", "FACTS")) and n != "EXPORT_COLUMNS" for n in names):
                    yield from ((f"{rel}:{node.lineno}", s) for s in _strings(node.value))
            if isinstance(node, ast.FunctionDef):
                yield from _named_texts(rel, node)
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name in ("said", "word", "pair", "_progress", "_say"):
                text = node.args[1] if name == "_say" else node.args[0]  # _say(args, template, …)
                found = list(_strings(text))
                # a name or attribute is data (a code's word: pair(dev.kind)) or a template assigned above
                assert found or isinstance(text, (ast.Name, ast.Attribute)), f"{rel}:{node.lineno}: not a literal text"
                yield from ((f"{rel}:{node.lineno}", s) for s in found)
            elif name == "table":
                yield from ((f"{rel}:{node.lineno}", s) for s in _strings(node.args[0]))
            elif name == "listing":
                for arg in node.args[2:5:2]:  # the columns and the text of an empty listing
                    yield from ((f"{rel}:{node.lineno}", s) for s in _strings(arg))


def _named_texts(rel: str, function: ast.FunctionDef):
    """The texts a function gives said/_progress/_say through a name (``template = (… if … else …)``):
    the literals assigned to that name in the function."""
    names = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and node.args:
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            text = (node.args[1] if name == "_say" else node.args[0]) if name in ("said", "_progress", "_say") else None
            if isinstance(text, ast.Name):
                names.add(text.id)
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in names for t in node.targets):
            yield from ((f"{rel}:{node.lineno}", s) for s in _strings(node.value))


def test_every_text_the_commands_print_has_its_thai():
    texts = list(_cli_texts())
    assert len(texts) > 150  # the scan sees them
    english = {s for _, s in texts}
    assert "enrolled member #%(id)s %(name)s: %(points)s points" in english and "Balance" in english
    for where, text in texts:
        assert text in catalogue.TH, f"{where}: no Thai for {text!r}"
        thai = catalogue.TH[text]
        assert thai != text, where
        assert set(re.findall(r"%\((\w+)\)", thai)) == set(re.findall(r"%\((\w+)\)", text)), where


def test_staff_accounts_say_english_then_thai(cli):
    code, out, _ = cli("staff", "add", "clerk", "--password", "a long enough password 1", "--must-change")
    assert (code, _lines(out)) == (
        0,
        [
            "staff account clerk (staff) created with a temporary password",
            "สร้างบัญชีเจ้าหน้าที่ clerk (เจ้าหน้าที่) แล้ว ด้วยรหัสผ่านชั่วคราว",
        ],
    )
    code, out, err = cli("staff", "token", "clerk", "--days", "3")
    token, expires = _lines(out), _lines(err)
    assert len(token) == 1 and " " not in token[0]  # stdout is the token alone (scripts read it)
    # the expiry, three days on (UTC): ISO in English, the Buddhist era in Thai
    when = date.fromisoformat(re.match(r"token 1 of clerk expires (\S+) \d\d:\d\d UTC$", expires[0]).group(1))
    assert when - date.today() in (timedelta(days=3), timedelta(days=4))
    assert re.match(rf"โทเค็น 1 ของ clerk หมดอายุ {_be(when)} \d\d:\d\d UTC$", expires[1]), expires[1]
    code, out, _ = cli("staff", "role", "clerk", "admin")
    assert _lines(out) == ["clerk is now admin", "clerk มีบทบาทเป็น ผู้ดูแลระบบ แล้ว"]  # the role's Thai, not its code
    code, out, _ = cli("staff", "disable", "clerk")
    assert _lines(out) == ["clerk disabled", "ระงับบัญชี clerk แล้ว"]
