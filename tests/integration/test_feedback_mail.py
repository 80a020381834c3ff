"""An answer to feedback reaches the patron by e-mail, through a real SMTP server process.

Whole processes: a kiosk's written feedback (HTML and Thai in it) published on a real
Mosquitto reaches the real ``privcard server`` (``--smtp`` to the test SMTP server of
:mod:`tests.smtp_server`), ``privcard admin feedback answer`` answers it, the running server
sends the ``feedback_answer`` message: the text as typed in the plain part, escaped in the
HTML part. Also: a too-long answer queues nothing; a member without an address is answered
on their page only.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from broker import contract
from server.store import Feedback
from tests.helpers import Device, ServerProcess, close_store, open_service, run_admin
from tests.smtp_server import html_of, start_smtp, text_of

KIOSK = "kiosk-mail"
CARD = "04D1D2D3D4D5D6"
EVIL = "<script>alert('x')</script> ห้องอ่านหนังสือเย็นเกินไป"
ANSWER = "<b>ปรับอุณหภูมิเป็น 26 องศาแล้ว</b> ขอบคุณค่ะ"


@pytest.fixture
def smtp(tmp_path):
    server = start_smtp(tmp_path)
    yield server
    server.stop()


def _queue(db_url: str, timeout: float = 15.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code, rows = run_admin(db_url, "feedback", "list")
        assert code == 0, rows
        if rows:
            return rows
        time.sleep(0.3)
    return []


def test_kiosk_feedback_answered_by_email_through_the_running_server(tmp_db_url, smtp, mosquitto, tmp_path):
    svc = open_service(tmp_db_url)
    svc.devices.add(KIOSK, "kiosk", location="Lobby")
    m = svc.members.add("สมหญิง <i>รักอ่าน</i>", CARD, email="somying@example.org")
    close_store()
    cfg = tmp_path / "library.toml"
    cfg.write_text('[mail]\nfrom = "Library <privcard@lib.example.org>"\nrate_per_second = 50\nretry_first_s = 0.2\n')
    server = ServerProcess(tmp_db_url, mosquitto.url, log_dir=tmp_path, config=cfg, extra_args=("--smtp", smtp.url))
    with server, Device(mosquitto.url).start() as kiosk:
        fb = contract.Feedback("w-1", None, datetime.now(UTC), CARD, category="complaint", text=EVIL)
        kiosk.send_raw(KIOSK, fb.encode(), kind="feedback")
        rows = _queue(tmp_db_url)
        assert [(r["channel"], r["category"], r["text"], r["member"]) for r in rows] == [
            ("kiosk", "complaint", EVIL, m.id)
        ]
        code, d = run_admin(
            tmp_db_url, "feedback", "answer", str(rows[0]["id"]), "--text", ANSWER, "--action", "แจ้งอาคาร"
        )
        assert code == 0, d
        assert d["status"] == "answered" and d["delivery"] == "email"
        deadline = time.monotonic() + 30
        answer = None
        while answer is None and time.monotonic() < deadline:  # the welcome mail comes too
            answer = next((x for x in smtp.messages() if "คำตอบจากห้องสมุด" in x["Subject"]), None)
            time.sleep(0.2)
    assert answer is not None, [x["Subject"] for x in smtp.messages()]
    assert answer["To"] == "somying@example.org"
    assert "ห้องอ่านหนังสือเย็นเกินไป" in answer["Subject"]  # the patron's own words name it
    assert ANSWER in text_of(answer)
    html = html_of(answer)
    assert "<b>" not in html and "<script>" not in html and "&lt;b&gt;ปรับอุณหภูมิ" in html
    assert "แจ้งอาคาร" not in text_of(answer)  # the action taken stays with staff


def test_answers_without_an_address_stay_on_the_page_and_bad_answers_queue_nothing(tmp_db_url, smtp):
    from server.services import ServiceError
    from tests.integration.test_messages import _mail
    from tests.smtp_server import drain_outbox as _drain

    svc = open_service(tmp_db_url)
    _mail(svc, smtp)
    try:
        with_mail = svc.members.add("Somchai", CARD, email="somchai@example.org")
        without = svc.members.add("Somsak", "04D1D2D3D4")
        _drain(svc)  # the welcome mail
        before = len(smtp.messages())
        a = svc.feedback.submit(channel="patron_page", category="question", text="hours?", member=with_mail.id)
        b = svc.feedback.submit(channel="counter", category="question", text="wifi?", member=without.id)
        with pytest.raises(ServiceError, match="limit is 1000"):
            svc.feedback.answer(a["id"], "x" * 1001)
        assert Feedback.get_by_id(a["id"]).status == "new"
        assert svc.feedback.answer(b["id"], "eduroam")["delivery"] == "page"
        assert svc.feedback.answer(a["id"], "8:00-22:00")["delivery"] == "email"
        assert _drain(svc)["sent"] == 1
        got = smtp.messages()[before:]
        assert [x["To"] for x in got] == ["somchai@example.org"] and "8:00-22:00" in text_of(got[0])
    finally:
        close_store()
