"""A message whose building or sending raises a bug fails alone; the rest of the round is sent.

A real SMTP server process (tests/smtp_server.py) receives the mail; the bugs come from
rows corrupted with SQL, as a bad import or a hand edit would leave them: a member's
``valid_until`` that is not a date (a segment message fills ``{valid_until}`` from it
when it is sent) and a queued welcome whose subject has a line break (the e-mail library
refuses the header). Nothing of privcard is mocked.
"""

from __future__ import annotations

import logging
import time

import pytest

from server import store
from server.domain import config
from server.messages.config import build
from server.services.messages import BUG_REASON, OutMessage
from server.store import Member
from tests.browser.web_support import ADMIN
from tests.helpers import admin_here, close_store, new_uid, open_service
from tests.site_support import client
from tests.smtp_server import start_smtp


def test_a_message_raising_a_bug_fails_alone_with_its_reason_and_the_round_goes_on(tmp_path, tmp_db_url, caplog):
    from server.web import accounts, create_app

    smtp = start_smtp(tmp_path)
    try:
        app = create_app(tmp_db_url, config.load(), testing=True)
        accounts.add_staff(ADMIN[0], "admin", ADMIN[1])
        svc = app.extensions["privcard.service"]
        cfg = build({"rate_per_second": 500, "retry_first_s": 0.2, "retry_max_s": 1, "lease_s": 5}, smtp.url)
        svc.messages.config = svc.messages.channels["email"].config = cfg
        people = [svc.members.add(f"P{i}", new_uid(), email=f"p{i}@example.org") for i in range(5)]
        for m in people:
            svc.members.set(m.id, consent_marketing="true")
        welcomes = {r.member: r.id for r in OutMessage.select().where(OutMessage.template == "welcome")}
        assert len(welcomes) == 5
        svc.messages.send_segment(
            {"th": "ข่าว {name}", "en": "News {name}"},
            {"th": "ใช้ได้ถึง {valid_until}", "en": "valid until {valid_until}"},
            {},
            actor="t",
        )
        bad_member, bad_welcome_of = people[2], people[4]
        Member.update(valid_until="not a date").where(Member.id == bad_member.id).execute()
        OutMessage.update(subject="Welcome\nBcc: everyone@example.org").where(
            OutMessage.id == welcomes[bad_welcome_of.id]
        ).execute()

        with caplog.at_level(logging.DEBUG, logger="server.services.messages"):
            counts = svc.messages.send_due(limit=100)

        # one round: the 8 good messages (4 welcomes, 4 segment messages) are delivered
        assert counts == {"sent": 8, "failed": 2, "retry": 0, "skipped": 0}
        got = smtp.messages()
        assert len(got) == 8 and not any("everyone" in (m["Bcc"] or "") for m in got)
        rows = list(OutMessage.select())
        assert all(r.claimed_by is None and r.lease_until is None for r in rows)
        failed = {(r.member, r.template): r for r in rows if r.status == "failed"}
        assert set(failed) == {(bad_member.id, "segment"), (bad_welcome_of.id, "welcome")}
        assert {r.status for r in rows if r.status != "failed"} == {"sent"}
        for r in failed.values():
            assert r.attempts == 1
        # a code, then the error's type and text (the console labels the code in the staff's language)
        assert failed[bad_member.id, "segment"].reason.startswith(f"{BUG_REASON}: AttributeError: ")
        assert failed[bad_welcome_of.id, "welcome"].reason.startswith(f"{BUG_REASON}: ValueError: ")

        # one ERROR line per bad message naming it and its member, not the patron's data; the traceback at debug
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 2
        for rec, row in zip(errors, sorted(failed.values(), key=lambda r: r.id), strict=True):
            line = rec.getMessage()
            assert f"message {row.id} to member {row.member}" in line and "@" not in line and "not a date" not in line
        assert sum(1 for r in caplog.records if r.levelno == logging.DEBUG and r.exc_info) == 2

        # the next rounds leave them failed: nothing is due
        assert svc.messages.send_due(limit=100) == {"sent": 0, "failed": 0, "retry": 0, "skipped": 0}
        assert svc.messages.next_due_in() is None and len(smtp.files()) == 8

        # staff see them where failed messages show, the reason in the page's language: the console's
        # outbox counts and its "Failed" list (the welcome is in no segment message), the segment
        # message's delivery log; the CLI's list gives the code with the error
        staff = client(app, ADMIN)
        staff.get("/lang/en")
        outbox = staff.get("/messages").get_data(as_text=True)
        assert "failed 2 ·" in " ".join(outbox.split('id="outbox-summary"')[1].split("</p>")[0].split())
        failed_list = outbox.split('id="failed-messages"')[1].split("</table>")[0]
        for r in failed.values():
            assert f'data-message="{r.id}" data-status="failed"' in failed_list
        assert failed_list.count("program error: this message could not be made or sent") == 2
        bad = failed[bad_member.id, "segment"]
        log_page = staff.get(f"/messages/{bad.batch}?status=failed").get_data(as_text=True)
        assert f'data-message="{bad.id}" data-status="failed"' in log_page
        assert "program error: this message could not be made or sent <small>(AttributeError: " in log_page
        staff.get("/lang/th")
        th_list = staff.get("/messages").get_data(as_text=True).split('id="failed-messages"')[1]
        assert th_list.count("ข้อผิดพลาดของโปรแกรม สร้างหรือส่งข้อความนี้ไม่ได้") == 2 and "program error" not in th_list
        code, listed, _lines = admin_here("--db", tmp_db_url, "--json", "message", "list", "--status", "failed")
        assert code == 0 and sorted(r["id"] for r in listed) == sorted(r.id for r in failed.values())
        assert {r["reason"].split(": ")[1] for r in listed} == {"AttributeError", "ValueError"}
        assert all(r["reason"].startswith("bug: ") for r in listed)
    finally:
        smtp.stop()
        store.db.close()
        close_store()


def test_a_database_error_while_building_is_retried_not_marked_failed(tmp_path, tmp_db_url):
    """The database answering an error (here: the signing key's table gone) is an outage, not a bug of the message."""
    smtp = start_smtp(tmp_path)
    try:
        svc = open_service(tmp_db_url)
        cfg = build({"rate_per_second": 500, "lease_s": 1}, smtp.url)
        svc.messages.config = svc.messages.channels["email"].config = cfg
        for i in range(2):
            svc.members.add(f"P{i}", new_uid(), email=f"p{i}@example.org")
        store.db.execute_sql("ALTER TABLE web_setting RENAME TO setting_away")  # the unsubscribe links' key
        with pytest.raises(Exception) as raised:
            svc.messages.send_due(limit=100)
        assert type(raised.value).__name__ == "OperationalError"
        assert {(r.status, r.reason) for r in OutMessage.select()} == {("queued", None)}
        store.db.execute_sql("ALTER TABLE setting_away RENAME TO web_setting")
        time.sleep(cfg.lease_s + 0.1)  # the round's claim ends with its lease, as after a crash
        assert svc.messages.send_due(limit=100)["sent"] == 2 and len(smtp.files()) == 2
    finally:
        smtp.stop()
        close_store()
