"""The "level reached" and "prize won" mails end to end (issue 14): a real SMTP server receives them.

The SMTP server is aiosmtpd in its own process (tests/smtp_server.py). The level mail is
queued by the server's ``privcard-messages`` thread (``Messages.level_job``) after taps
decided by the running ``privcard server``; the prize mail by ``draw award`` (the CLI and
``Draws.award``). Nothing of privcard is mocked.
"""

from __future__ import annotations

import re
import threading
import time

import pytest

from server.messages.config import build
from server.services import ServiceError
from tests.helpers import Device, ServerProcess, close_store, new_uid, open_service, run_admin
from tests.smtp_server import drain_outbox, start_smtp, text_of

UNSUB_RE = re.compile(r"http://\S+/u/\S+")


@pytest.fixture
def smtp(tmp_path):
    server = start_smtp(tmp_path)
    yield server
    server.stop()


def _mail(svc, smtp, **extra):
    """Point the service's outbox at the test SMTP server (fast pace, short back-off)."""
    cfg = build({"rate_per_second": 500, "retry_first_s": 0.2, "retry_max_s": 1, "lease_s": 5, **extra}, smtp.url)
    svc.messages.config = cfg
    svc.messages.channels["email"].config = cfg
    return cfg


def _drain_but(svc, address, timeout=30.0):
    """Send until only ``address``'s messages are pending (they are refused with 451 each time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        svc.messages.send_due(limit=100)
        left = [r for r in svc.messages.list(status="pending", limit=1000) if r["address"] != address]
        if not left:
            return
        time.sleep(0.05)
    raise AssertionError(f"still pending: {left}")


def _unsubscribe_notices(svc, member_id):
    """Turn notices off the way a patron does: the token of a notice's unsubscribe link."""
    svc.messages.unsubscribe(svc.messages.unsubscribe_token(member_id, "notice"))


def _people(svc, prefix=""):
    """A Thai reader, an English reader, a member without an address, one who unsubscribed from notices."""
    th = svc.members.add(f"{prefix}ปลาย", new_uid(), email=f"{prefix}th@example.org")
    en = svc.members.add(f"{prefix}Ann", new_uid(), email=f"{prefix}en@example.org")
    svc.members.set(en.id, language="en")
    bare = svc.members.add(f"{prefix}Noaddr", new_uid())
    gone = svc.members.add(f"{prefix}Gone", new_uid(), email=f"{prefix}gone@example.org")
    _unsubscribe_notices(svc, gone.id)
    return th, en, bare, gone


def _to_295(svc, member_id):
    """Sign-up (250) + 4 volunteer days (40) + a partner purchase (5): 295 earned, no threshold crossed."""
    for k in range(4):
        assert svc.points.award(member_id, "volunteer", item=f"day{k}")[0] == "credited"
    assert svc.points.award(member_id, "partner_purchase", item="More Coffee")[0] == "credited"


def _level_round(db_url, member_id, k, timeout=20.0):
    """Credit ``member_id`` (no address: told of nothing) and wait until the running server's
    level job has read past that entry: one more round of it ran after this call."""
    from server import store

    svc = open_service(db_url)
    try:
        outcome, entry = svc.points.award(member_id, "volunteer", item=f"round{k}")
        assert outcome == "credited", outcome
        deadline = time.monotonic() + timeout
        while store.counter("messages:level_entry") < entry.id:
            assert time.monotonic() < deadline, f"the level job did not run within {timeout}s"
            time.sleep(0.1)
    finally:
        close_store()


def _levels(svc):
    return [r for r in svc.messages.list(limit=1000) if r["template"] == "level_reached"]


def _check_unsubscribe(msg):
    body = text_of(msg)
    link = UNSUB_RE.search(body)
    assert link, body
    assert msg["List-Unsubscribe"].strip() == f"<{link.group(0)}>"
    return link.group(0)


# --------------------------------------------------------------------------- level reached


def test_level_reached_mail_once_after_a_tap_passes_a_threshold_through_the_running_server(
    tmp_db_url, smtp, mosquitto, tmp_path
):
    svc = open_service(tmp_db_url)
    svc.devices.add("gate-in", "gate", direction="in")
    people = _people(svc)
    th, en, _bare, _gone = people
    for m in people:
        _to_295(svc, m.id)
    # the credits so far pass no threshold (250 came with the sign-up): nothing to tell
    assert svc.messages.level_job() == 0 and _levels(svc) == []
    uids = {m.id: _card_of(m.id) for m in people}
    close_store()
    cfg = tmp_path / "library.toml"
    cfg.write_text('[mail]\npublic_url = "http://127.0.0.1:9"\nrate_per_second = 50\nretry_first_s = 0.2\n')
    server = ServerProcess(tmp_db_url, mosquitto.url, log_dir=tmp_path, config=cfg, extra_args=("--smtp", smtp.url))
    with server, Device(mosquitto.url) as dev:
        welcomes = smtp.wait_for(2, timeout=30)  # th and en (gone's was skipped at send time)
        assert sorted(m["To"] for m in welcomes) == ["en@example.org", "th@example.org"]
        taps = {}
        for m in people:
            tap = dev.make_tap(uids[m.id], device_id="gate-in")
            taps[m.id] = tap
            r = dev.send("gate-in", tap)
            assert r.outcome == "credited" and r.points == 5, r
        got = smtp.wait_for(4, timeout=40)[2:]
        # the tap is delivered again (a gate that never saw the answer): the stored result, no new credit
        again = dev.send("gate-in", taps[th.id])
        assert again.outcome == "credited" and again.balance == 300
        # a second tap the same day earns nothing (entry: once a day)
        assert dev.tap("gate-in", uids[th.id]).outcome == "limit_reached"
        for k in range(2):  # two more rounds of the level job (every 5 s) ...
            _level_round(tmp_db_url, _bare.id, k)
        time.sleep(1.0)  # ... and of the sender after it (its pause is at most 1 s)
        assert len(smtp.files()) == 4, [m["Subject"] for m in smtp.messages()]
    by_to = {m["To"]: m for m in got}
    assert sorted(by_to) == ["en@example.org", "th@example.org"]
    mt, me = by_to["th@example.org"], by_to["en@example.org"]
    assert mt["Subject"] == "คุณได้รับสิทธิพิเศษระดับใหม่"
    assert "สวัสดีคุณปลาย" in text_of(mt) and "สะสมได้ 300 แต้ม" in text_of(mt) and "ระดับ 300" in text_of(mt)
    assert "ไม่ต้องการรับข้อความแบบนี้อีก" in text_of(mt)
    assert me["Subject"] == "You have reached a new privilege level"
    assert "earned 300 points this term and reached privilege level 300" in text_of(me)
    assert "Stop messages like this" in text_of(me)
    for msg in (mt, me):
        _check_unsubscribe(msg)
    # the job run again by hand: nothing more
    svc = open_service(tmp_db_url)
    assert svc.messages.level_job() == 0
    rows = _levels(svc)
    assert sorted(r["member"] for r in rows) == sorted([th.id, en.id]) and all(r["status"] == "sent" for r in rows)
    close_store()


def _card_of(member_id):
    from server.store import Card

    return Card.get(Card.member == member_id).uid


def test_level_reached_only_when_a_credit_passes_a_threshold_once_per_term_and_level(any_db_url):
    svc = open_service(any_db_url)
    m = svc.members.add("L", new_uid(), email="l@example.org")
    svc.members.set(m.id, language="en")
    # 250 from the sign-up; +10 passes no threshold: the welcome said it, no "level 250" now
    svc.points.award(m.id, "volunteer", item="a")
    assert svc.messages.level_job() == 0
    for k in range(4):
        svc.points.award(m.id, "volunteer", item=f"b{k}")  # 300: the borrow level 300
    assert svc.messages.level_job() == 1
    assert svc.messages.level_job() == 0
    # 300 -> 360 in one round: 350 passed (borrow); one mail, the highest level
    for k in range(6):
        svc.points.award(m.id, "learning_activity", item=f"c{k}")
    assert svc.messages.level_job() == 1
    rows = _levels(svc)
    bodies = sorted(svc.messages.show(r["id"])["body"] for r in rows)
    assert [re.search(r"level (\d+)", b).group(1) for b in bodies] == ["300", "350"], bodies
    # a void and the same points again: the level is reached again, but told once per term and level
    from server.store import LedgerEntry

    last = LedgerEntry.select().where(LedgerEntry.member == m.id).order_by(LedgerEntry.id.desc()).first()
    svc.points.void(last.id, "test", actor="t")
    svc.points.award(m.id, "learning_activity", item="again")
    assert svc.messages.level_job() == 0 and len(_levels(svc)) == 2
    close_store()


def test_level_job_does_not_miss_a_credit_committed_after_a_later_one(pg_url, pg_template):
    """PostgreSQL: ledger ids are taken at insert, so a transaction can commit id N after N+1 was committed."""
    from server.services.retry import unit_of_work
    from tests.helpers import fresh_pg_database

    with fresh_pg_database(pg_url, prefix="h18mail", template=pg_template) as url:
        svc = open_service(url)
        x = svc.members.add("X", new_uid(), email="x@example.org")
        y = svc.members.add("Y", new_uid(), email="y@example.org")
        for m in (x, y):
            for k in range(4):
                svc.points.award(m.id, "volunteer", item=f"d{k}")  # 290
        assert svc.messages.level_job() == 0
        inserted, release, done = threading.Event(), threading.Event(), threading.Event()
        errors = []

        def slow_credit():  # X's credit: its id is taken now, its commit comes later
            try:
                with unit_of_work():
                    svc.points.award(x.id, "volunteer", item="slow")
                    inserted.set()
                    release.wait(20)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                close_store()
                done.set()

        t = threading.Thread(target=slow_credit)
        t.start()
        assert inserted.wait(20)
        svc.points.award(y.id, "volunteer", item="fast")  # a later id, committed first
        svc.messages.level_job()  # X's credit is not visible yet
        release.set()
        assert done.wait(20) and not errors, errors
        t.join()
        svc.messages.level_job()
        assert sorted(r["member"] for r in _levels(svc)) == sorted([x.id, y.id])
        assert svc.messages.level_job() == 0
        close_store()


# --------------------------------------------------------------------------- prize won


def test_prize_won_mail_in_the_members_language_once_with_unsubscribe(any_db_url, smtp):
    svc = open_service(any_db_url)
    _mail(svc, smtp)
    th, en, bare, gone = _people(svc)
    drain_outbox(svc, 60)  # the welcomes
    skipped = dict(svc.messages.skipped)
    before = len(smtp.files())
    d = svc.draws.create("จับรางวัลปลายภาค", winners=4, prize_points=50, actor="t")
    svc.draws.run(d["id"], actor="t")
    svc.draws.award(d["id"], actor="t")
    r = svc.draws.create("Locker draw", winners=4, prize_reward="locker_day", actor="t")
    svc.draws.run(r["id"], actor="t")
    svc.draws.award(r["id"], actor="t")
    assert drain_outbox(svc, 60)["sent"] == 4
    got = smtp.messages()[before:]
    assert sorted(m["To"] for m in got) == ["en@example.org", "en@example.org", "th@example.org", "th@example.org"]
    thai = [text_of(m) for m in got if m["To"] == "th@example.org"]
    eng = [text_of(m) for m in got if m["To"] == "en@example.org"]
    assert all(m["Subject"] == "ยินดีด้วย คุณได้รับรางวัล" for m in got if m["To"] == "th@example.org")
    assert any("คุณได้รับรางวัลจาก จับรางวัลปลายภาค: 50 แต้ม" in t for t in thai), thai
    assert any("ตู้ฝากสัมภาระ (ต่อวัน)" in t for t in thai), thai
    assert not any("points" in t or "locker_day" in t for t in thai), thai
    assert any("You have won a prize in จับรางวัลปลายภาค: 50 points." in t for t in eng), eng
    assert any("You have won a prize in Locker draw: Locker (per day)." in t for t in eng), eng
    for msg in got:
        _check_unsubscribe(msg)
    # awarded once: a second award is refused, nothing more is queued or sent
    for draw_id in (d["id"], r["id"]):
        with pytest.raises(ServiceError, match="awarded already"):
            svc.draws.award(draw_id, actor="t")
    assert drain_outbox(svc, 60)["sent"] == 0 and len(smtp.files()) == before + 4
    prizes = [x for x in svc.messages.list(limit=1000) if x["template"] == "prize_won"]
    assert sorted(x["member"] for x in prizes) == sorted([th.id, th.id, en.id, en.id])
    # the winner without an address and the one who unsubscribed: none, counted (two draws each)
    assert bare.id not in {x["member"] for x in prizes} and gone.id not in {x["member"] for x in prizes}
    assert svc.messages.skipped["no_address"] - skipped["no_address"] == 2
    assert svc.messages.skipped["opted_out"] - skipped["opted_out"] == 2
    close_store()


def test_prize_won_through_the_draw_commands_and_the_running_server(tmp_db_url, smtp, mosquitto, tmp_path):
    svc = open_service(tmp_db_url)
    _people(svc)
    close_store()
    cfg = tmp_path / "library.toml"
    cfg.write_text('[mail]\npublic_url = "http://127.0.0.1:9"\nrate_per_second = 50\nretry_first_s = 0.2\n')
    server = ServerProcess(tmp_db_url, mosquitto.url, log_dir=tmp_path, config=cfg, extra_args=("--smtp", smtp.url))
    with server:
        smtp.wait_for(2, timeout=30)
        code, d = run_admin(tmp_db_url, "draw", "create", "Term prize", "--winners", "4", "--prize-points", "20")
        assert code == 0, d
        assert run_admin(tmp_db_url, "draw", "run", str(d["id"]))[0] == 0
        code, out = run_admin(tmp_db_url, "draw", "award", str(d["id"]))
        assert code == 0 and out["state"] == "awarded", out
        got = smtp.wait_for(4, timeout=30)[2:]
        code, out = run_admin(tmp_db_url, "draw", "award", str(d["id"]))
        assert code != 0
        time.sleep(2)
        assert len(smtp.files()) == 4
    by_to = {m["To"]: text_of(m) for m in got}
    assert "Term prize: 20 แต้ม" in by_to["th@example.org"]
    assert "Term prize: 20 points." in by_to["en@example.org"]


# --------------------------------------------------------------------------- a misbehaving SMTP server


def test_level_and_prize_mails_survive_a_refusing_and_a_dropping_smtp_server(tmp_db_url, tmp_path):
    svc = open_service(tmp_db_url)
    smtp = start_smtp(tmp_path, tempfail="busy")  # "busy" addresses get 451 (try later)
    try:
        _mail(svc, smtp, rate_per_second=40, max_attempts=1000)
        people = [svc.members.add(f"M{i}", new_uid(), email=f"m{i}@example.org") for i in range(6)]
        busy = svc.members.add("Busy", new_uid(), email="busy@example.org")
        _drain_but(svc, "busy@example.org")  # the welcomes (the busy one waits)
        smtp.kill()  # the SMTP server is down: connections refused
        for m in [*people[:3], busy]:
            for k in range(5):
                svc.points.award(m.id, "volunteer", item=f"v{k}")  # 300
        assert svc.messages.level_job() == 4
        d = svc.draws.create("Prize", winners=7, prize_points=10, actor="t")
        svc.draws.run(d["id"], actor="t")
        svc.draws.award(d["id"], actor="t")
        first = svc.messages.send_due(limit=100)
        assert first["sent"] == 0 and first["retry"] == 1, first  # refused: the round waits, nothing lost
        pending = svc.messages.list(status="pending", limit=1000)
        assert {r["template"] for r in pending} >= {"level_reached", "prize_won"}
        assert any("cannot reach SMTP server" in (r["reason"] or "") for r in pending), pending
        smtp.start()
        done = threading.Event()
        start = len(smtp.files())

        def killer():  # drop the connection mid-round: SIGKILL after two more mails
            while len(smtp.files()) < start + 2 and not done.is_set():
                time.sleep(0.002)
            smtp.kill()

        t = threading.Thread(target=killer)
        t.start()
        time.sleep(0.3)  # past the back-off of the refused round
        second = svc.messages.send_due(limit=100)
        done.set()
        t.join()
        assert second["retry"] >= 1 and second["sent"] < 10, second
        smtp.restart()
        _drain_but(svc, "busy@example.org")
        got = [m for m in smtp.messages() if m["Subject"] not in ("ยินดีต้อนรับสู่บัตรสิทธิพิเศษห้องสมุด",)]
        ids = [m["Message-ID"] for m in got]
        assert len(ids) == len(set(ids)), "a message was sent twice"
        want = sorted([f"m{i}@example.org" for i in range(3)] + [f"m{i}@example.org" for i in range(6)])
        assert sorted(m["To"] for m in got) == want
        # the refused address: still queued, retried with back-off, the 451 its reason
        deadline = time.monotonic() + 20
        while True:
            left = [r for r in svc.messages.list(status="pending", limit=1000) if r["address"] == "busy@example.org"]
            if all("451" in (r["reason"] or "") for r in left) or time.monotonic() > deadline:
                break
            svc.messages.send_due(limit=100)
            time.sleep(0.1)
        assert sorted(r["template"] for r in left) == ["level_reached", "prize_won", "welcome"], left
        assert all("451" in (r["reason"] or "") and r["attempts"] >= 1 for r in left), left
        sent = [r for r in svc.messages.list(status="sent", limit=1000) if r["template"] != "welcome"]
        assert len(sent) == 9
    finally:
        smtp.stop()
        close_store()


def test_level_job_passes_a_hole_left_by_a_rolled_back_credit_once_it_is_old(pg_url, pg_template):
    """PostgreSQL: a rolled-back insert leaves an id that never commits; the job waits LEVEL_HOLE_S, then goes on."""
    from datetime import timedelta

    from server.services.messages import LEVEL_HOLE_S
    from server.services.retry import unit_of_work
    from server.store import utcnow
    from tests.helpers import fresh_pg_database

    shift = [timedelta(0)]
    with fresh_pg_database(pg_url, prefix="h18mail", template=pg_template) as url:
        svc = open_service(url, clock=lambda: utcnow() + shift[0])
        m = svc.members.add("H", new_uid(), email="h@example.org")
        for k in range(4):
            svc.points.award(m.id, "volunteer", item=f"d{k}")  # 290
        assert svc.messages.level_job() == 0
        with pytest.raises(RuntimeError), unit_of_work():
            svc.points.award(m.id, "volunteer", item="rolled-back")
            raise RuntimeError("roll it back")
        svc.points.award(m.id, "volunteer", item="kept")  # 300, after the hole
        assert svc.messages.level_job() == 0  # the hole may still be a transaction to commit
        shift[0] = timedelta(seconds=LEVEL_HOLE_S + 1)
        assert svc.messages.level_job() == 1
        assert svc.messages.level_job() == 0
        close_store()
