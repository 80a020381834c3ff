"""Service errors in the console are shown in the staff member's language, with their
values (line numbers, card UIDs, balances) filled in; the JSON API stays English.
Flask's test client against a real SQLite database.
"""

from __future__ import annotations

import io
import re
import time
from datetime import date, timedelta

import pytest

from server import store
from tests.browser.web_support import ADMIN, csrf_of, flashes, post_form, sign_in, text

#: an event day inside the window staff may date events in (the last 366 days)
EVENT_DAY = (date.today() - timedelta(days=30)).isoformat()

CARD = "04A1B2C3D4"
#: a registration list: a header, a good row, the same member again, an unknown member id,
#: and a cell that is no card UID (with markup, which must stay text)
CSV = "uid\n04A1B2C3D4\n04:a1:b2:c3:d4\n12345\n<b>x</b>\n"


@pytest.fixture
def member(app):
    return app.extensions["privcard.service"].members.add("Somchai Jaidee", CARD)  # 250 sign-up points


def _client(app, lang):
    c = app.test_client()
    sign_in(c, ADMIN, lang)
    return c


def _event(client):
    post_form(client, "/events", "/events", {"name": "PULINET", "activity": "pulinet_event", "day": EVENT_DAY})
    return store.Event.get(store.Event.name == "PULINET")


def _upload(client, ev, body: bytes):
    page = client.get(f"/events/{ev.id}")
    return client.post(
        f"/events/{ev.id}/upload",
        data={"csrf_token": csrf_of(page.text), "file": (io.BytesIO(body), "list.csv")},
        content_type="multipart/form-data",
    )


def settled(client, location: str, timeout: float = 20.0):
    """The event page once its upload's background job has finished (it refreshes itself meanwhile)."""
    deadline = time.monotonic() + timeout
    while True:
        page = client.get(location)
        if 'id="import-progress"' not in page.text or time.monotonic() > deadline:
            return page
        time.sleep(0.05)


def _error_rows(html: str) -> dict[int, str]:
    """Line number -> the reason shown in the preview table's error rows."""
    rows = re.findall(r'<tr class="r-error"><td class="n">(\d+)</td>.*?<span class="bad-text">(.*?)</span>', html, re.S)
    return {int(n): text(reason) for n, reason in rows}


ROW_ERRORS = {
    "th": {
        3: "ผิดพลาด: สมาชิก %(id)s มีชื่อซ้ำในรายชื่อ",
        4: "ผิดพลาด: ไม่พบสมาชิกที่มีรหัสหรือหมายเลขบัตร '12345'",
        5: "ผิดพลาด: หมายเลขบัตรต้องเป็นเลขฐานสิบหก 8-20 หลัก (4-10 ไบต์) (ได้รับ '<b>x</b>')",
    },
    "en": {
        3: "error: member %(id)s is listed twice",
        4: "error: no member with id or card '12345'",
        5: "error: uid must be 4-10 bytes of hex (8-20 hex digits), got '<b>x</b>'",
    },
}


@pytest.mark.parametrize("lang", ["th", "en"])
def test_bad_rows_of_an_upload_are_explained_in_the_staff_language(app, member, lang):
    c = _client(app, lang)
    ev = _event(c)
    r = _upload(c, ev, CSV.encode())
    assert r.status_code == 302 and "upload=" in r.location
    page = settled(c, r.location)
    assert _error_rows(page.text) == {n: m % {"id": member.id} for n, m in ROW_ERRORS[lang].items()}
    assert "<b>x</b>" not in page.text  # the file's text is shown as text
    # the preview is stored once, with its reasons untranslated: the other language reads it in its own
    other = "en" if lang == "th" else "th"
    assert _error_rows(_client(app, other).get(r.location).text) == {
        n: m % {"id": member.id} for n, m in ROW_ERRORS[other].items()
    }
    # crediting it shows the same reasons in the result
    token = csrf_of(page.text)
    up = store.Upload.get()
    started = c.post(f"/events/{ev.id}/uploads/{up.id}/credit", data={"csrf_token": token})
    done = settled(c, started.location)
    assert _error_rows(done.text) == {n: m % {"id": member.id} for n, m in ROW_ERRORS[lang].items()}


@pytest.mark.parametrize(
    "lang, message",
    [
        ("th", "ไฟล์รายชื่อไม่ใช่ CSV ที่ถูกต้อง (บรรทัด 3): field larger than field limit (131072)"),
        ("en", "attendance file is not valid CSV (line 3): field larger than field limit (131072)"),
    ],
)
def test_a_file_that_is_not_csv_is_refused_in_the_staff_language(app, member, lang, message):
    c = _client(app, lang)
    ev = _event(c)
    r = _upload(c, ev, b"uid\n04A1B2C3D4\n" + b"A" * 140_000 + b"\n")
    assert r.status_code == 302 and "upload=" not in r.location
    assert flashes(c.get(r.location).text) == [message]
    assert store.Upload.select().count() == 0


#: refused member actions: (form action, form data, {language: the message shown})
REFUSALS = {
    "redeeming more than the balance": (  # 20 days x 25 points
        "redeem",
        {"reward": "locker_day", "units": "20"},
        {"th": "คะแนนคงเหลือ 250 คะแนน ไม่พอสำหรับ 500 คะแนน", "en": "balance 250 is less than 500 points"},
    ),
    "a transfer to an unknown card": (
        "transfer",
        {"to": "04:FF:EE:DD:CC", "points": "10"},
        {"th": "ไม่พบสมาชิกที่มีรหัสหรือหมายเลขบัตร '04:FF:EE:DD:CC'", "en": "no member with id or card '04:FF:EE:DD:CC'"},
    ),
}


@pytest.mark.parametrize("lang", ["th", "en"])
@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_refused_action_is_explained_in_the_staff_language_and_changes_nothing(app, member, case, lang):
    action, data, messages = REFUSALS[case]
    c = _client(app, lang)
    page = post_form(c, f"/members/{member.id}", f"/members/{member.id}/{action}", data)
    assert flashes(page.text) == [messages[lang]]
    assert app.extensions["privcard.service"].ledger.balance(member.id) == 250


def test_the_api_answers_in_english_whatever_the_session_language(app, member):
    c = _client(app, "th")
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', c.get("/").text).group(1)
    r = c.post(
        f"/api/members/{member.id}/redeem", json={"reward": "locker_day", "units": 20}, headers={"X-CSRFToken": token}
    )
    assert r.status_code == 400 and r.get_json() == {
        "error": "balance 250 is less than 500 points",
        "error_th": "คะแนนคงเหลือ 250 คะแนน ไม่พอสำหรับ 500 คะแนน",
    }
    r = c.post(
        "/api/transfers", json={"from": member.id, "to": "04:FF:EE:DD:CC", "points": 10}, headers={"X-CSRFToken": token}
    )
    assert r.status_code == 404 and r.get_json() == {
        "error": "no member with id or card '04:FF:EE:DD:CC'",
        "error_th": "ไม่พบสมาชิกที่มีรหัสหรือหมายเลขบัตร '04:FF:EE:DD:CC'",
    }
    r = c.post(
        "/api/events/import",
        json={"activity": "pulinet_event", "event": "PULINET", "day": EVENT_DAY, "csv": CSV, "dry_run": True},
        headers={"X-CSRFToken": token},
    )
    assert r.status_code == 200
    rows = sorted(r.get_json()["errors"], key=lambda e: e["line"])
    assert [{"line": e["line"], "error": e["error"]} for e in rows] == [
        {"line": 3, "error": f"member {member.id} is listed twice"},
        {"line": 4, "error": "no member with id or card '12345'"},
        {"line": 5, "error": "uid must be 4-10 bytes of hex (8-20 hex digits), got '<b>x</b>'"},
    ]
    # each row's Thai beside it (``error_th``), as the API's own refusals
    assert rows[0]["error_th"] == f"สมาชิก {member.id} มีชื่อซ้ำในรายชื่อ"
    assert rows[1]["error_th"] == "ไม่พบสมาชิกที่มีรหัสหรือหมายเลขบัตร '12345'"


@pytest.mark.parametrize(
    "lang, expected",
    [
        ("th", "สมาชิกภาพของสมาชิก %(id)s หมดอายุแล้วเมื่อ 31/5/2568"),  # Buddhist era, as the console shows dates
        ("en", "member %(id)s's membership expired on 2025-05-31"),
    ],
)
def test_dates_in_service_errors_read_as_the_console_shows_dates(app, member, lang, expected):
    from datetime import date

    app.extensions["privcard.service"].members.set(member.id, valid_until=date(2025, 5, 31))
    c = _client(app, lang)
    page = post_form(c, f"/members/{member.id}", f"/members/{member.id}/credit", {"activity": "borrow"})
    assert flashes(page.text) == [expected % {"id": member.id}]
    assert app.extensions["privcard.service"].ledger.balance(member.id) == 250
