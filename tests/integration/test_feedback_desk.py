"""The feedback desk's service (issue 14): submit from each channel, the queue, transitions,
answers, book-purchase pledges and their refunds, reports; and the feedback table of a
database made before issue 14 migrated in place with its ratings kept.

Real SQLite files (and PostgreSQL through ``any_db_url``), the real service layer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import peewee as pw
import pytest

from broker import contract
from server import store
from server.services import ServiceError
from server.store import Feedback, LedgerEntry, Member
from tests.helpers import close_store, ledger_problems, open_service

CARD = "04A1B2C3D4"
OTHER = "04A1B2C3D5"


class Clock:
    """A clock the test moves."""

    def __init__(self):
        self.now = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def svc(any_db_url, clock):
    s = open_service(any_db_url, clock=clock)
    yield s
    close_store()


def test_counter_feedback_reaches_the_queue_escaped_nowhere_but_stored_as_typed(svc):
    m = svc.members.add("สมชาย <b>ใจดี</b>", CARD)
    text = "<script>alert('x')</script> แอร์เย็นเกินไป"
    f = svc.feedback.submit(channel="phone", category="complaint", text=text, member=CARD, actor="web:somsri")
    assert f["status"] == "new" and f["channel"] == "phone" and f["member"] == m.id
    assert f["text"] == text and f["recorded_by"] == "web:somsri"
    assert [x["id"] for x in svc.feedback.list()] == [f["id"]]
    assert svc.feedback.list(channel="kiosk") == [] and svc.feedback.list(category="complaint")[0]["id"] == f["id"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"text": "ก" * 1001}, "the feedback text is 1001 characters; the limit is 1000"),
        ({"text": "   "}, "the feedback text is empty"),
        ({"text": "bell \x07"}, "control character (U+0007)"),
        ({"category": "rant"}, "category must be one of complaint, suggestion, compliment, question, book_request"),
        ({"channel": "fax"}, "channel must be one of"),
        ({"rating": 6}, "rating must be 1-5"),
        ({"member": "99999"}, "no member with id or card"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(svc, kwargs, message):
    svc.members.add("Somchai", CARD)
    args = {"channel": "counter", "category": "question", "text": "เปิดกี่โมง", **kwargs}
    with pytest.raises(ServiceError) as exc:
        svc.feedback.submit(**args)
    assert message in str(exc.value)
    assert Feedback.select().count() == 0


def test_statuses_move_only_the_allowed_way(svc):
    f = svc.feedback.submit(channel="counter", category="suggestion", text="more chairs")
    with pytest.raises(ServiceError, match="is answered by writing the answer"):
        svc.feedback.set_status(f["id"], "answered")
    with pytest.raises(ServiceError, match="status must be one of"):
        svc.feedback.set_status(f["id"], "done")
    assert svc.feedback.set_status(f["id"], "in_progress")["status"] == "in_progress"
    with pytest.raises(ServiceError, match="cannot go from in_progress to new"):
        svc.feedback.set_status(f["id"], "new")
    assert svc.feedback.set_status(f["id"], "closed")["status"] == "closed"
    with pytest.raises(ServiceError, match="cannot go from closed to in_progress"):
        svc.feedback.set_status(f["id"], "in_progress")
    with pytest.raises(ServiceError, match="cannot go from closed to answered"):
        svc.feedback.answer(f["id"], "thanks")
    assert Feedback.get_by_id(f["id"]).answer is None


def test_assign_needs_an_active_staff_account(svc):
    from server.web import accounts  # the console's accounts table

    store.upgrade()
    accounts.add_staff("somsri", "staff", "correct-horse-battery-9")
    f = svc.feedback.submit(channel="counter", category="question", text="where are the theses?")
    assert svc.feedback.assign(f["id"], "somsri", actor="web:admin")["assignee"] == "somsri"
    assert svc.feedback.list(assignee="somsri")[0]["id"] == f["id"]
    with pytest.raises(ServiceError, match="no active staff account 'nobody'"):
        svc.feedback.assign(f["id"], "nobody")
    assert svc.feedback.get(f["id"])["assignee"] == "somsri"
    assert svc.feedback.assign(f["id"], "")["assignee"] is None


def test_answer_time_to_first_answer_and_the_report(svc, clock):
    m = svc.members.add("Somchai", CARD)
    a = svc.feedback.submit(channel="counter", category="complaint", text="noisy", member=m.id)
    b = svc.feedback.submit(channel="patron_page", category="question", text="hours?", member=m.id)
    svc.feedback.submit(channel="phone", category="complaint", text="cold")
    clock.now += timedelta(hours=2)
    d = svc.feedback.answer(a["id"], "We asked the group to keep quiet.", "signs put up", actor="web:admin")
    assert d["status"] == "answered" and d["action_taken"] == "signs put up" and d["delivery"] == "page"
    clock.now += timedelta(hours=4)
    svc.feedback.answer(b["id"], "8:00-22:00")
    clock.now += timedelta(hours=1)
    svc.feedback.answer(a["id"], "And the signs are up.")  # a second answer: the first answer's time stays
    assert svc.feedback.get(a["id"])["first_answered_at"] == contract.format_time(clock.now - timedelta(hours=5))
    day = clock.now.date()
    r = svc.feedback.report(day - timedelta(days=1), day)
    assert r["total"] == 3
    assert r["by_category"]["complaint"] == 2 and r["by_category"]["question"] == 1
    assert r["by_channel"] == {"kiosk": 0, "patron_page": 1, "counter": 1, "email": 0, "phone": 1}
    assert r["first_answer_hours"] == {"answered": 2, "median": 4.0, "p90": 6.0}
    assert r["by_status"]["answered"] == 2 and r["by_status"]["new"] == 1


def test_an_answer_that_is_too_long_changes_nothing(svc):
    f = svc.feedback.submit(channel="counter", category="question", text="?")
    with pytest.raises(ServiceError, match="limit is 1000"):
        svc.feedback.answer(f["id"], "x" * 1001)
    row = Feedback.get_by_id(f["id"])
    assert row.status == "new" and row.answer is None


def test_book_request_pledge_refund_and_keep(svc):
    m = svc.members.add("Somchai", CARD)  # 250 points for signing up
    other = svc.members.add("Somsri", OTHER)
    a = svc.feedback.submit(channel="patron_page", category="book_request", text="Dune", member=m.id, pledge=True)
    assert a["pledge_points"] == 100 and svc.ledger.balance(m.id) == 150
    entry = LedgerEntry.get_by_id(a["pledge_entry"])
    assert entry.points == -100 and entry.activity == "book_request" and entry.item == f"feedback:{a['id']}"
    b = svc.feedback.submit(channel="kiosk", category="book_request", text="Foundation", member=m.id, pledge=True)
    assert svc.ledger.balance(m.id) == 50
    with pytest.raises(ServiceError, match="balance 50 is less than 100 points"):
        svc.feedback.submit(channel="patron_page", category="book_request", text="Hyperion", member=m.id, pledge=True)
    assert Feedback.select().count() == 2  # the refused request left nothing
    with pytest.raises(ServiceError, match="only a book-purchase request can pledge points"):
        svc.feedback.submit(channel="counter", category="question", text="?", member=other.id, pledge=True)
    # declined: the points come back as a void entry; bought: kept
    d = svc.feedback.answer(a["id"], "Sorry, out of print.", decision="declined")
    assert d["decision"] == "declined" and svc.ledger.balance(m.id) == 150
    refund = LedgerEntry.get_by_id(d["refund_entry"])
    assert refund.void_of_id == entry.id and refund.points == 100 and refund.source == "void"
    with pytest.raises(ServiceError, match="was declined already"):
        svc.feedback.decide(a["id"], "bought")
    assert svc.feedback.decide(b["id"], "bought")["refund_entry"] is None and svc.ledger.balance(m.id) == 150
    assert ledger_problems() == []
    r = svc.feedback.report(svc.today() - timedelta(days=1), svc.today())
    assert r["book_requests"] == {"pledged": 2, "points_pledged": 200, "bought": 1, "declined": 1, "open": 0}


def test_a_request_declined_after_its_pledge_was_voided_gives_nothing_back_twice(svc):
    """Staff voided a request's pledge from the member page (the points came back), then the library
    declined the request. Before: the decline tried to give the points back again — a second void of the
    pledge, refused by the database (UNIQUE void_of) — and the console showed an error page (a 500; the
    CLI a traceback), so the request could never be decided. Now the decline is recorded and its refund
    is the void that gave the points back already; nothing comes back twice.
    """
    m = svc.members.add("Somchai", CARD)
    a = svc.feedback.submit(channel="counter", category="book_request", text="Dune", member=m.id, pledge=True)
    assert svc.ledger.balance(m.id) == 150
    [void] = svc.points.void(a["pledge_entry"], "pledged by mistake", actor="web:bob")
    assert svc.ledger.balance(m.id) == 250
    d = svc.feedback.answer(a["id"], "Sorry, out of print.", decision="declined", actor="web:bob")
    assert (d["decision"], d["status"], d["refund_entry"]) == ("declined", "answered", void.id)
    assert svc.ledger.balance(m.id) == 250  # given back once
    voids = LedgerEntry.select().where(LedgerEntry.void_of == a["pledge_entry"])
    assert [e.id for e in voids] == [void.id]
    from server.store import Audit

    audit = Audit.select().where(Audit.action == "feedback.decide").order_by(Audit.id.desc()).first()
    assert audit.detail == {"decision": "declined", "refund": void.id, "given_back_by_void": void.id}
    # the other way round is refused as before: a declined request's pledge is voided already
    b = svc.feedback.submit(channel="counter", category="book_request", text="Emma", member=m.id, pledge=True)
    refund = svc.feedback.decide(b["id"], "declined")["refund_entry"]
    with pytest.raises(ServiceError, match=f"entry {b['pledge_entry']} is already voided"):
        svc.points.void(b["pledge_entry"], "again", actor="web:bob")
    assert svc.ledger.balance(m.id) == 250 and refund is not None
    assert ledger_problems() == []


def test_pledges_follow_the_programme_price(svc):
    m = svc.members.add("Somchai", CARD)
    svc.programme.set_section("feedback", "[feedback]\nbook_request_points = 30\n", actor="test")
    f = svc.feedback.submit(channel="counter", category="book_request", text="SICP", member=m.id, pledge=True)
    assert f["pledge_points"] == 30 and Member.get_by_id(m.id).balance == 220
    with pytest.raises(ServiceError, match=r"feedback\.book_request_points must be an integer >= 0"):
        svc.programme.set_section("feedback", "[feedback]\nbook_request_points = -5\n", actor="test")
    svc.programme.set_section("feedback", "[feedback]\nbook_request_points = 0\n", actor="test")
    with pytest.raises(ServiceError, match="pledge no points in this programme"):
        svc.feedback.submit(channel="counter", category="book_request", text="TAOCP", member=m.id, pledge=True)


def test_kiosk_payloads_old_and_new(svc):
    svc.devices.add("kiosk-1", "kiosk", location="Lobby")
    m = svc.members.add("Somchai", CARD)
    at = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)
    old = contract.Feedback.parse(contract.Feedback("f1", 4, at, CARD).encode())
    assert svc.devices.record_feedback("kiosk-1", old)
    written = contract.Feedback.parse(
        contract.dumps(
            {
                "v": 1,
                "feedback_id": "f2",
                "rating": None,
                "at": contract.format_time(at),
                "uid": CARD,
                "category": "suggestion",
                "text": "  อยากให้เปิดถึงเที่ยงคืน  ",
            }
        )
    )
    assert svc.devices.record_feedback("kiosk-1", written) and not svc.devices.record_feedback("kiosk-1", written)
    q = svc.feedback.list()
    assert len(q) == 1 and q[0]["text"] == "อยากให้เปิดถึงเที่ยงคืน" and q[0]["channel"] == "kiosk"
    assert q[0]["member"] == m.id and q[0]["device"] == "kiosk-1"
    assert Feedback.get(Feedback.feedback_id == "f1").status is None  # a rating alone is not in the queue


def test_the_feedback_table_of_an_old_database_is_migrated_in_place(any_empty_db_url):
    close_store()
    old = store.make_database(any_empty_db_url)
    old.connect()
    sqlite = isinstance(old, pw.SqliteDatabase)
    # the table as issue 11's schema made it, with two ratings
    old.execute_sql(
        "CREATE TABLE feedback (id "
        + ("INTEGER NOT NULL PRIMARY KEY" if sqlite else "SERIAL PRIMARY KEY")
        + ", device VARCHAR(64) NOT NULL, feedback_id VARCHAR(64) NOT NULL, rating SMALLINT NOT NULL, "
        + (
            "at DATETIME NOT NULL, member INTEGER, received_at DATETIME NOT NULL)"
            if sqlite
            else "at TIMESTAMP NOT NULL, member INTEGER, received_at TIMESTAMP NOT NULL)"
        )
    )
    old.execute_sql("CREATE UNIQUE INDEX feedback_device_feedback_id ON feedback (device, feedback_id)")
    old.execute_sql(
        "INSERT INTO feedback (device, feedback_id, rating, at, member, received_at) VALUES "
        "('kiosk-1', 'f1', 5, '2026-01-05 03:00:00.000000', NULL, '2026-01-05 03:00:01.000000'), "
        "('kiosk-1', 'f2', 2, '2026-02-05 03:00:00.000000', 7, '2026-02-05 03:00:01.000000')"
    )
    old.close()
    svc = open_service(any_empty_db_url)  # creates the other tables, then runs the feedback migration
    try:
        assert store.counter("schema:feedback") == 1
        rows = list(Feedback.select().order_by(Feedback.id))
        assert [(r.rating, r.member, r.channel, r.status) for r in rows] == [
            (5, None, "kiosk", None),
            (2, 7, "kiosk", None),
        ]
        svc.devices.add("kiosk-1", "kiosk")
        at = datetime(2026, 3, 1, tzinfo=UTC)
        fb = contract.Feedback("f3", None, at, None, category="compliment", text="ดีมาก")
        assert svc.devices.record_feedback("kiosk-1", fb)
        assert not svc.devices.record_feedback("kiosk-1", contract.Feedback("f1", 3, at))  # the unique key survived
        r = svc.feedback.report(datetime(2026, 1, 1).date(), svc.today())  # written: by when it arrived
        assert [s["month"] for s in r["satisfaction"]][:2] == ["2026-01", "2026-02"]
        assert r["by_channel"]["kiosk"] == 1
    finally:
        close_store()
