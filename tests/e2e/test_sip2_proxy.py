"""Borrow points from real checkouts: ``privcard sip2-proxy`` between a self-check and the ILS.

Real processes throughout: a Mosquitto broker, ``privcard server``, the test ILS
(``tests/sip2_ils.py``, pysip2's SIP2 server), the proxy, and a self-check machine that
is the PyPI ``Sip2`` client. A :class:`WireRecorder` between the proxy and the ILS
records what the ILS received and sent, to compare with what the self-check sent and
received.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from tests.e2e.sip2_proxy_kit import ProxyProcess, SelfCheck, WireRecorder, wait_until
from tests.helpers import ServerProcess, close_store, open_service
from tests.sip2_ils import default_state, free_port, start_ils

DEV = "selfcheck-1"
#: a member whose library barcode is their card number (the lookup by card UID)
MEMBER = "04A1B2C3D4"
#: a patron the ILS knows who is not a member of the programme
STRANGER = "P200"

#: the kill test counts every credit: an unlimited activity for its proxy, so a checkout
#: credited twice would show (``borrow`` earns once a day and would hide it)
UNLIMITED_TOML = """
[activities.selfcheck_visit]
points = 1
limit = "unlimited"
th = "ยืมที่เครื่องยืมด้วยตนเอง"
en = "Self-check borrowing"
"""


def ils_state() -> dict:
    """The test ILS with the member as a patron too, and more items to borrow."""
    state = default_state()
    state["patrons"][MEMBER] = dict(state["patrons"][STRANGER], name="Member Reader")
    for n in range(4, 12):
        state["items"][f"B{n}"] = {"title": f"Book {n}", "available": True, "refuse": False}
    return state


def setup_db(db_url: str, config=None, activity: str | None = None) -> None:
    from server.domain.config import load

    svc = open_service(db_url, prog=load(config) if config else None)
    svc.devices.add(DEV, "selfcheck", activity=activity)
    svc.members.add("Member Reader", MEMBER)
    close_store()


def entries(db_url: str, source: str = "checkout") -> list[tuple]:
    """The ledger entries a checkout made: (activity, points, item, ref)."""
    path = db_url.removeprefix("sqlite:///")
    with closing(sqlite3.connect(path, timeout=10)) as db:
        return db.execute(
            "SELECT activity, points, item, ref FROM ledger_entry WHERE source = ? ORDER BY id", (source,)
        ).fetchall()


def inbox(db_url: str) -> list[tuple]:
    """What the server decided for the proxy: (tap_id, outcome, points)."""
    path = db_url.removeprefix("sqlite:///")
    with closing(sqlite3.connect(path, timeout=10)) as db:
        return db.execute(
            "SELECT tap_id, outcome, points FROM tap_inbox WHERE device = ? ORDER BY id", (DEV,)
        ).fetchall()


@pytest.fixture
def rig(mosquitto, tmp_path, tmp_db_url):
    """ILS, recorder, server and proxy running; the test adds the self-check."""
    ils = start_ils(tmp_path, **ils_state())
    recorder = WireRecorder(("127.0.0.1", ils.port))
    setup_db(tmp_db_url)
    server = ServerProcess(tmp_db_url, mosquitto.url, log_dir=tmp_path).start()
    proxy = ProxyProcess(DEV, free_port(), f"sip2://127.0.0.1:{recorder.port}", mosquitto.url, tmp_path / "proxy")
    rig = type("Rig", (), {})()
    rig.ils, rig.recorder, rig.server, rig.proxy, rig.db = ils, recorder, server, proxy, tmp_db_url
    rig.selfcheck = SelfCheck(proxy.port, tmp_path)
    yield rig
    rig.selfcheck.close()
    rig.proxy.kill()
    server.kill()
    recorder.close()
    ils.close()


def test_two_checkouts_both_succeed_and_credit_one_borrow_with_bytes_relayed_unchanged(rig):
    sc = rig.selfcheck.connect()
    first = sc.checkout(MEMBER, "B2")
    second = sc.checkout(MEMBER, "B3")
    assert first["fixed"]["Ok"] == "1" and second["fixed"]["Ok"] == "1"
    assert {c["item"] for c in rig.ils.state()["checkouts"]} == {"B2", "B3"}

    assert wait_until(lambda: len(inbox(rig.db)) == 2, 20), rig.server.log_tail()
    outcomes = sorted(outcome for _, outcome, _ in inbox(rig.db))
    assert outcomes == ["credited", "limit_reached"]  # borrow earns once a day, as at the counter
    assert [(a, p) for a, p, _, _ in entries(rig.db)] == [("borrow", 5)]
    assert entries(rig.db)[0][2] in ("B2", "B3")  # the entry names the book
    assert wait_until(lambda: rig.proxy.outbox_depth() == 0, 10)

    # byte for byte: what the self-check sent is what the ILS received, and back
    sc.close()
    assert wait_until(lambda: bytes(rig.recorder.from_ils) == bytes(sc.received), 5)
    assert bytes(rig.recorder.to_ils) == bytes(sc.sent)
    assert sc.sent.startswith(b"9300CN") and b"AY" in sc.sent and b"AZ" in sc.sent  # its own login and checksums


def test_a_refused_checkout_and_a_stranger_credit_nothing_and_the_selfcheck_sees_the_ils_answer(rig):
    sc = rig.selfcheck.connect()
    refused = sc.checkout(MEMBER, "B1")  # checked out to someone else
    assert refused["fixed"]["Ok"] == "0"
    stranger = sc.checkout(STRANGER, "B4")  # the ILS lends it; the patron is no member
    assert stranger["fixed"]["Ok"] == "1"
    assert "Checked out" in sc.received.decode()

    assert wait_until(lambda: len(inbox(rig.db)) == 1, 20), rig.server.log_tail()
    assert [o for _, o, _ in inbox(rig.db)] == ["unknown_card"]
    assert entries(rig.db) == []
    assert wait_until(lambda: rig.proxy.outbox_depth() == 0, 10)
    assert rig.proxy.count("refused by the ILS") == 1
    path = rig.db.removeprefix("sqlite:///")
    with closing(sqlite3.connect(path)) as db:
        audit = db.execute("SELECT target FROM audit WHERE action = 'checkout.unknown_patron'").fetchall()
    assert audit == [(STRANGER,)]
    # the self-check got exactly the ILS's answers
    sc.close()
    assert wait_until(lambda: bytes(rig.recorder.from_ils) == bytes(sc.received), 5)


def test_server_down_during_checkouts_credits_after_it_returns(rig):
    rig.server.kill()
    sc = rig.selfcheck.connect()
    assert sc.checkout(MEMBER, "B2")["fixed"]["Ok"] == "1"  # the relay does not need the server
    assert wait_until(lambda: rig.proxy.outbox_depth() == 1, 10)
    assert entries(rig.db) == []
    rig.server.start()
    assert wait_until(lambda: rig.proxy.outbox_depth() == 0, 30), rig.proxy.lines[-20:]
    assert [(a, p) for a, p, _, _ in entries(rig.db)] == [("borrow", 5)]


def test_proxy_killed_mid_session_client_reconnects_and_nothing_is_credited_twice(mosquitto, tmp_path, tmp_db_url):
    config = tmp_path / "library.toml"
    config.write_text(UNLIMITED_TOML)
    ils = start_ils(tmp_path, **ils_state())
    setup_db(tmp_db_url, config, activity="selfcheck_visit")
    server = ServerProcess(tmp_db_url, mosquitto.url, config=config, log_dir=tmp_path)
    server.start().kill()  # its persistent session now queues every copy the proxy sends meanwhile
    proxy = ProxyProcess(DEV, free_port(), f"sip2://127.0.0.1:{ils.port}", mosquitto.url, tmp_path / "proxy")
    sc = SelfCheck(proxy.port, tmp_path)
    try:
        # the server is down: the first checkout waits in the proxy's outbox (published, unanswered)
        sc.connect()
        assert sc.checkout(MEMBER, "B2")["fixed"]["Ok"] == "1"
        assert wait_until(lambda: proxy.count(r"checkout co:\S+ \(item B2\) stored") == 1, 10)
        b2 = proxy.wait_line(r"checkout co:\S+ \(item B2\) stored")[0].split()[5]
        proxy.wait_line(rf"checkout {b2} sent again", 10)  # queued twice for the dead server (--resend-s 1)

        proxy.kill()  # mid-session: the self-check's connection breaks
        proxy = proxy.restart()  # it publishes its outbox again: the same event, the same id
        proxy.wait_line(rf"checkout {b2} sent again", 10)
        assert sc.checkout_reconnecting(MEMBER, "B3")["fixed"]["Ok"] == "1"
        assert sc.connects == 2
        assert sc.checkout(MEMBER, "B4")["fixed"]["Ok"] == "1"

        server.start()
        assert wait_until(lambda: proxy.outbox_depth() == 0, 30), proxy.lines[-20:]
        # three checkouts, an unlimited activity: three credits, however often B2's event went out
        assert wait_until(lambda: len(entries(tmp_db_url)) == 3, 10)
        assert sorted(item for _, _, item, _ in entries(tmp_db_url)) == ["B2", "B3", "B4"]
        assert len({ref for _, _, _, ref in entries(tmp_db_url)}) == 3
        assert sorted(o for _, o, _ in inbox(tmp_db_url)) == ["credited"] * 3
        assert {c["item"] for c in ils.state()["checkouts"]} == {"B2", "B3", "B4"}
    finally:
        sc.close()
        proxy.kill()
        server.kill()
        ils.close()


def test_the_ils_unreachable_closes_the_selfcheck_connection_and_the_proxy_keeps_running(mosquitto, tmp_path):
    ils = start_ils(tmp_path, **ils_state())
    proxy = ProxyProcess(DEV, free_port(), f"sip2://127.0.0.1:{ils.port}", mosquitto.url, tmp_path / "proxy")
    sc = SelfCheck(proxy.port, tmp_path)
    try:
        ils.kill()
        with pytest.raises((ConnectionError, OSError, AssertionError)):
            sc.connect(timeout=2)
        proxy.wait_line("unreachable", 10)
        ils.restart()  # the same port
        sc.close()
        sc.connect()
        assert sc.checkout(MEMBER, "B5")["fixed"]["Ok"] == "1"
        assert proxy.proc.poll() is None
    finally:
        sc.close()
        proxy.kill()
        ils.close()


def test_a_member_found_by_patron_id_is_credited_though_the_barcode_is_not_their_card(mosquitto, tmp_path, tmp_db_url):
    """The ILS's patron (``AA``) is the student number the member was enrolled with
    (``patron_id``), not their card's UID: the server finds them by it and credits them."""
    student = "S6401234"
    state = ils_state()
    state["patrons"][student] = dict(state["patrons"][STRANGER], name="Student Reader")
    ils = start_ils(tmp_path, **state)
    setup_db(tmp_db_url)
    svc = open_service(tmp_db_url)
    svc.members.add("Student Reader", "04F0F1F2F3", patron_id=student)
    close_store()
    server = ServerProcess(tmp_db_url, mosquitto.url, log_dir=tmp_path).start()
    proxy = ProxyProcess(DEV, free_port(), f"sip2://127.0.0.1:{ils.port}", mosquitto.url, tmp_path / "proxy")
    selfcheck = SelfCheck(proxy.port, tmp_path)
    try:
        sc = selfcheck.connect()
        assert sc.checkout(student, "B5")["fixed"]["Ok"] == "1"
        assert wait_until(lambda: len(inbox(tmp_db_url)) == 1, 20), server.log_tail()
        assert [o for _, o, _ in inbox(tmp_db_url)] == ["credited"]
        path = tmp_db_url.removeprefix("sqlite:///")
        with closing(sqlite3.connect(path)) as db:
            credited = db.execute(
                "SELECT m.name, e.activity, e.points, e.item FROM ledger_entry e JOIN member m ON m.id = e.member_id "
                "WHERE e.source = 'checkout'"
            ).fetchall()
        assert credited == [("Student Reader", "borrow", 5, "B5")]
    finally:
        selfcheck.close()
        proxy.kill()
        server.kill()
        ils.close()
