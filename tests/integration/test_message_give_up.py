"""A message whose temporary failures use up its tries is failed with a reason in Thai and English and the
time it failed; messages failed before that time was recorded keep working (a dash, the migration).

A real SMTP server process (tests/smtp_server.py, ``--tempfail``: a ``451`` to every try for one address)
and real SQLite / PostgreSQL databases; the console through Flask's test client, the CLI in this process.
Nothing of privcard is mocked; the sender's clock is set (the service takes one) so the time it failed is
known to the minute and far from the time it was queued.
"""

from __future__ import annotations

import contextlib
import io
from datetime import UTC, datetime, timedelta

import pytest

from server import catalogue, store
from server.domain import config
from server.messages.config import build
from server.services.messages import GAVE_UP_REASON, OutMessage
from tests.browser.web_support import ADMIN
from tests.helpers import admin_here, close_store, fresh_pg_database, new_uid, open_service
from tests.site_support import client
from tests.smtp_server import start_smtp

#: when the sender's rounds run: 23:50 UTC on 31 December is 06:50 on 1 January in Bangkok (the year changes)
ROUND_AT = datetime(2026, 12, 31, 23, 50, tzinfo=UTC)


class SteppedClock:
    """The sender's clock: ``ROUND_AT``, moved on by hand (each round past the last back-off)."""

    def __init__(self, at: datetime):
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def _cell(page: str, table: str, message_id: int, cls: str) -> str:
    """The text of a ``<td class=cls>`` in the row of ``message_id`` of the table ``table`` of a page."""
    rows = page.split(f'id="{table}"')[1].split("</table>")[0]
    row = rows.split(f'data-message="{message_id}"')[1].split("</tr>")[0]
    return row.split(f'<td class="{cls}">')[1].split("</td>")[0]


def _list_text(db_url: str) -> list[str]:
    """``privcard admin message list --status failed``'s lines (the text, not ``--json``), in this process."""
    from server import admin

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert admin.main(["--db", db_url, "message", "list", "--status", "failed"]) == 0
    return out.getvalue().splitlines()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_db_url):
    """A fresh database: a SQLite file, or a PostgreSQL database of its own (named ``h22msg_…``), a copy of the
    session's migrated template."""
    if request.param == "sqlite":
        yield tmp_db_url
        return
    pg = request.getfixturevalue("pg_url")
    with fresh_pg_database(pg, prefix="h22msg_test", template=request.getfixturevalue("pg_template")) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request, tmp_db_url):
    """An empty database: a SQLite file, or a PostgreSQL database of its own (named ``h22msg_…``)."""
    if request.param == "sqlite":
        yield tmp_db_url
        return
    with fresh_pg_database(request.getfixturevalue("pg_url"), prefix="h22msg_test") as url:
        yield url


def test_a_message_that_uses_up_its_tries_is_failed_in_thai_and_english_with_when(tmp_path, db_url):
    from server.web import accounts, create_app

    smtp = start_smtp(tmp_path, tempfail="busy")
    try:
        app = create_app(db_url, config.load(), testing=True)
        accounts.add_staff(ADMIN[0], "admin", ADMIN[1])
        svc = app.extensions["privcard.service"]
        cfg = build({"rate_per_second": 500, "retry_first_s": 1, "retry_max_s": 4, "max_attempts": 3}, smtp.url)
        svc.messages.config = svc.messages.channels["email"].config = cfg
        busy = svc.members.add("Busy Box", new_uid(), email="busy@example.org")
        good = svc.members.add("Good Box", new_uid(), email="good@example.org")
        clock = svc.messages.clock = SteppedClock(ROUND_AT)

        rounds = []
        for _ in range(3):
            rounds.append(svc.messages.send_due(limit=100))
            clock.at += timedelta(seconds=10)  # past the back-off (at most 4 s)
        # the first round sends the good welcome; the busy one is tried three times, then failed (not a retry)
        assert rounds == [
            {"sent": 1, "failed": 0, "retry": 1, "skipped": 0},
            {"sent": 0, "failed": 0, "retry": 1, "skipped": 0},
            {"sent": 0, "failed": 1, "retry": 0, "skipped": 0},
        ]
        assert svc.messages.send_due(limit=100) == {"sent": 0, "failed": 0, "retry": 0, "skipped": 0}
        assert len(smtp.files()) == 1 and svc.messages.next_due_in() is None
        rows = {r.member: r for r in OutMessage.select()}
        failed = rows[busy.id]
        # as many tries as max_attempts, the reason a code with them and the last error, the time of the last try
        assert (failed.status, failed.attempts) == ("failed", 3)
        assert failed.reason == f"{GAVE_UP_REASON}: 3: 451 4.3.0 try again later"
        assert failed.failed_at == ROUND_AT + timedelta(seconds=20)
        assert failed.claimed_by is None and failed.lease_until is None
        assert rows[good.id].status == "sent" and rows[good.id].failed_at is None

        # the console's Failed list: the reason and when it failed in the page's language (Buddhist era in Thai)
        staff = client(app, ADMIN)
        for lang, label, when in (
            ("en", "gave up after 3 tries", "2027-01-01 06:50"),
            ("th", "เลิกส่งหลังจากลองส่ง 3 ครั้ง", "1/1/2570 06:50"),
        ):
            staff.get(f"/lang/{lang}")
            page = staff.get("/messages").get_data(as_text=True)
            assert when == catalogue.fmt_minute(failed.failed_at, lang, svc.prog.tz)
            assert _cell(page, "failed-messages", failed.id, "failed-at") == when
            reason = _cell(page, "failed-messages", failed.id, "reason")
            assert reason == f"{label} <small>(451 4.3.0 try again later)</small>", reason
            assert "gave_up" not in page and ("gave up" not in page if lang == "th" else "เลิกส่ง" not in page)
            assert f"<th>{catalogue.translate('Failed at', lang)}</th>" in page

        # the CLI: --json has failed_at (ISO, UTC) and the code; the text line says when it failed
        code, listed, _err = admin_here("--db", db_url, "--json", "message", "list", "--status", "failed")
        assert code == 0 and [(r["id"], r["reason"]) for r in listed] == [(failed.id, failed.reason)]
        assert listed[0]["failed_at"] == "2026-12-31T23:50:20+00:00"
        # the code stays the machine's; beside it the reason in words, as the console's English labels it
        assert listed[0]["reason_text"] == "gave up after 3 tries (451 4.3.0 try again later)", listed[0]
        (header, line) = _list_text(db_url)  # one row under the header naming the columns in English/Thai
        assert "Failed at/เวลาที่ส่งไม่สำเร็จ" in header and "Reason/เหตุผล" in header, header
        assert line.split()[4:7] == ["failed", "2026-12-31T23:50:20", "3"], line
        assert (
            line.endswith(
                "  gave up after 3 tries (451 4.3.0 try again later) / เลิกส่งหลังจากลองส่ง 3 ครั้ง (451 4.3.0 try again later)"
            )
            and "gave_up" not in line
        ), line
    finally:
        smtp.stop()
        store.db.close()
        close_store()


def test_the_failed_at_migration_keeps_every_message(empty_db_url):
    """A database from before ``failed_at``: the column is added, every row kept as it was (failed ones with
    NULL, shown as a dash), an English give-up reason of earlier versions turned into the code."""
    from server.web import accounts, create_app

    svc = open_service(empty_db_url)
    try:
        m = svc.members.add("Old Reader", new_uid(), email="old@example.org")
        made = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
        old = [
            dict(status="failed", attempts=11, reason="gave up after 12 tries: 451 4.3.0 try again later"),
            dict(status="failed", attempts=1, reason="bug: ValueError: Header values may not contain linefeed"),
            dict(status="failed", attempts=1, reason="550 5.1.1 no such user here"),
            dict(status="sent", attempts=1, reason=None),
            dict(status="queued", attempts=2, reason="451 4.3.0 try again later"),
            dict(status="skipped", attempts=0, reason="opted_out"),
            dict(status="failed", attempts=1, reason="gave up after 2 tries: SMTP connection lost: timed out"),
        ]
        ids = [
            OutMessage.insert(
                member=m.id, address=m.email, template="welcome", kind="notice", subject="s", body="b",
                created_at=made, **row,
            ).execute()
            for row in old
        ]  # fmt: skip
        before = {r["id"]: r for r in OutMessage.select().dicts()}  # the welcome the member was queued too
    finally:
        close_store()
    assert len(before) == len(old) + 1 and set(ids) < set(before)
    # back to the schema before: no failed_at column, its migration not run
    raw = store.make_database(empty_db_url)
    raw.connect()
    raw.execute_sql("ALTER TABLE message_out DROP COLUMN failed_at")
    raw.execute_sql("DELETE FROM meta WHERE key = 'schema:h22msg1'")
    raw.close()

    try:
        app = create_app(empty_db_url, config.load(), testing=True)  # migrates
        assert store.counter("schema:h22msg1") == 1
        assert "failed_at" in {c.name for c in store.db.get_columns("message_out")}
        after = {r["id"]: r for r in OutMessage.select().dicts()}
        assert set(after) == set(before) and {r["failed_at"] for r in after.values()} == {None}
        # every row as it was, but the old English give-up reason: the code, with the tries the row made
        code = f"{GAVE_UP_REASON}: 11: 451 4.3.0 try again later"
        assert after[ids[0]] == before[ids[0]] | {"reason": code, "failed_at": None}
        code = f"{GAVE_UP_REASON}: 1: SMTP connection lost: timed out"
        assert after[ids[-1]] == before[ids[-1]] | {"reason": code, "failed_at": None}
        for row_id in set(before) - {ids[0], ids[-1]}:
            assert after[row_id] == before[row_id] | {"failed_at": None}
        assert after[ids[3]]["created_at"] == made and after[ids[2]]["reason"] == "550 5.1.1 no such user here"
        assert store.upgrade() == len(store.MIGRATIONS) and store.counter("schema:h22msg1") == 1  # again: nothing

        accounts.add_staff(ADMIN[0], "admin", ADMIN[1])
        staff = client(app, ADMIN)
        for lang, label, once in (
            ("en", "gave up after 11 tries", "gave up after its only try"),
            ("th", "เลิกส่งหลังจากลองส่ง 11 ครั้ง", "เลิกส่งหลังจากลองส่งครั้งเดียว"),
        ):
            staff.get(f"/lang/{lang}")
            page = staff.get("/messages").get_data(as_text=True)
            for row_id in (*ids[:3], ids[-1]):
                assert _cell(page, "failed-messages", row_id, "failed-at") == "—"
            assert _cell(page, "failed-messages", ids[0], "reason").startswith(f"{label} <small>(451 ")
            assert (
                _cell(page, "failed-messages", ids[-1], "reason")
                == f"{once} <small>(SMTP connection lost: timed out)</small>"
            )
        lines = {int(x.split()[0]): x for x in _list_text(empty_db_url)[1:]}  # under the header line
        assert lines[ids[0]].split()[4:7] == ["failed", "-", "11"], lines[ids[0]]
        # each kind of reason in words, the same labels as the console's (English)
        worded = {
            ids[0]: "gave up after 11 tries (451 4.3.0 try again later)",
            ids[1]: "program error: this message could not be made or sent (ValueError: Header values may not "
            "contain linefeed)",
            ids[2]: "the mail server refused it (550 5.1.1 no such user here)",
            ids[-1]: "gave up after its only try (SMTP connection lost: timed out)",
        }
        for row_id, words in worded.items():
            assert f"  {words} / " in lines[row_id], lines[row_id]  # then the same in Thai
        assert lines[ids[-1]].endswith(" / เลิกส่งหลังจากลองส่งครั้งเดียว (SMTP connection lost: timed out)")
    finally:
        store.db.close()
        close_store()
