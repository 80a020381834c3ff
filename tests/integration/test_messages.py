"""Messages that reach patrons (issue 14): a real SMTP server process receives them.

The SMTP server is aiosmtpd in its own process (tests/smtp_server.py); privcard sends
from the running ``privcard server`` (its sender thread) or, for the service-level
tests, from ``Messages.send_due`` in this process. Nothing of privcard is mocked.
"""

from __future__ import annotations

import re
import time
import urllib.request

import pytest

from server.messages.config import MailConfigError, build
from server.services import ServiceError
from tests.helpers import Device, ServerProcess, close_store, new_uid, open_service, run_admin
from tests.smtp_server import drain_outbox, html_of, start_smtp, text_of


def _mail(svc, smtp, **extra):
    """Point the service's outbox at the test SMTP server (fast pace, short back-off)."""
    cfg = build({"rate_per_second": 500, "retry_first_s": 0.2, "retry_max_s": 1, "lease_s": 5, **extra}, smtp.url)
    svc.messages.config = cfg
    svc.messages.channels["email"].config = cfg
    return cfg


@pytest.fixture
def smtp(tmp_path):
    server = start_smtp(tmp_path)
    yield server
    server.stop()


def test_welcome_on_sign_up_through_the_running_server(tmp_db_url, smtp, mosquitto, tmp_path):
    cfg = tmp_path / "library.toml"
    cfg.write_text('[mail]\nfrom = "Library <privcard@lib.example.org>"\nrate_per_second = 50\nretry_first_s = 0.2\n')
    server = ServerProcess(tmp_db_url, mosquitto.url, log_dir=tmp_path, config=cfg, extra_args=("--smtp", smtp.url))
    with server:
        code, m = run_admin(
            tmp_db_url,
            "member",
            "add",
            "--name",
            "Somchai <script>x</script>",
            "--card",
            new_uid(),
            "--email",
            "som@example.org",
        )
        assert code == 0, m
        got = smtp.wait_for(1, timeout=30)
    assert len(got) == 1
    msg = got[0]
    assert msg["To"] == "som@example.org" and "ยินดีต้อนรับ" in msg["Subject"]
    assert msg["From"] == "Library <privcard@lib.example.org>"
    assert re.fullmatch(r"<privcard\.\d+\.[0-9a-f]{12}@lib\.example\.org>", msg["Message-ID"])
    assert msg["List-Unsubscribe"].strip().startswith("<http")
    # the name as typed in the text; escaped in the HTML part (never a live tag)
    assert "Somchai <script>x</script>" in text_of(msg)
    assert "<script>" not in html_of(msg) and "&lt;script&gt;" in html_of(msg)
    code, rows = run_admin(tmp_db_url, "message", "list")
    assert code == 0 and rows[0]["status"] == "sent" and rows[0]["template"] == "welcome", rows


def test_a_segment_reaches_exactly_the_consenting_members_with_an_address(tmp_db_url, smtp):
    svc = open_service(tmp_db_url)
    _mail(svc, smtp)
    want = set()
    for i in range(12):
        group = "U1" if i % 2 == 0 else "U2"
        email = None if i % 3 == 0 else f"p{i}@example.org"
        m = svc.members.add(f"P{i}", new_uid(), group=group, email=email)
        if i % 4 != 1:
            svc.members.set(m.id, consent_marketing="true", language="en" if i % 5 == 0 else "th")
        if group == "U1" and email and i % 4 != 1:
            want.add(email)
    drain_outbox(svc)  # the welcomes
    before = len(smtp.files())
    preview = svc.messages.preview({"group": "U1"})
    assert preview["members"] == 6 and preview["recipients"] == len(want)
    assert preview["opted_out"] + preview["no_address"] == 6 - len(want)
    d = svc.messages.send_segment(
        {"th": "ข่าว {name}", "en": "News for {name}"},
        {"th": "ยอด {balance}", "en": "balance {balance}"},
        {"group": "U1"},
        actor="t",
    )
    assert d["counts"]["queued"] == len(want) and d["total"] == 6
    drain_outbox(svc)
    got = smtp.messages()[before:]
    assert sorted(m["To"] for m in got) == sorted(want)
    assert all(m["Subject"].startswith(("ข่าว P", "News for P")) for m in got)
    close_store()


def test_smtp_killed_mid_batch_then_restarted_sends_each_remaining_message_once(tmp_db_url, smtp):
    svc = open_service(tmp_db_url)
    _mail(svc, smtp, rate_per_second=40)
    for i in range(30):
        m = svc.members.add(f"Q{i}", new_uid(), email=f"q{i}@example.org")
        svc.members.set(m.id, consent_marketing="1")
    drain_outbox(svc)
    before = len(smtp.files())
    batch = svc.messages.send_segment({"th": "ก", "en": "a"}, {"th": "ข", "en": "b"}, {}, actor="t")["batch"]
    import threading

    done = threading.Event()

    def killer():
        while len(smtp.files()) < before + 8 and not done.is_set():
            time.sleep(0.005)
        smtp.kill()

    t = threading.Thread(target=killer)
    t.start()
    first = svc.messages.send_due(limit=100)
    t.join()
    assert first["sent"] < 30 and first["retry"] == 1, first
    pending = svc.messages.list(status="pending", batch=batch)
    assert pending and all(r["pending"] for r in pending)
    smtp.restart()
    drain_outbox(svc)
    done.set()
    got = smtp.messages()[before:]
    ids = [m["Message-ID"] for m in got]
    assert len(ids) == 30 and len(set(ids)) == 30, (len(ids), len(set(ids)))
    assert sorted(m["To"] for m in got) == sorted(f"q{i}@example.org" for i in range(30))
    assert svc.messages.batch(batch)["counts"]["sent"] == 30
    close_store()


def test_smtp_down_is_retried_with_back_off_and_shows_pending(tmp_db_url, smtp):
    svc = open_service(tmp_db_url)
    first = 0.25  # the first back-off (s): short, but far longer than the calls between two rounds
    _mail(svc, smtp, retry_first_s=first, retry_max_s=32 * first)
    smtp.kill()
    svc.members.add("R", new_uid(), email="r@example.org")
    tries = []
    for _ in range(3):
        svc.messages.send_due()
        r = svc.messages.list()[0]
        tries.append((r["attempts"], r["next_try_at"]))
        # not due again before its back-off
        assert svc.messages.send_due() == {"sent": 0, "failed": 0, "retry": 0, "skipped": 0}
        time.sleep(svc.messages.next_due_in() + 0.05)
    assert [a for a, _ in tries] == [1, 2, 3]
    assert r["status"] == "queued" and "Connection refused" in r["reason"]
    # the waits double: 1, 2, 4 times the first
    from datetime import datetime

    row = svc.messages.list()[0]
    assert row["attempts"] == 3
    gap = datetime.fromisoformat(row["next_try_at"]) - datetime.fromisoformat(row["created_at"])
    assert gap.total_seconds() > (1 + 2 + 4 - 0.5) * first
    smtp.restart()
    drain_outbox(svc)
    assert svc.messages.list()[0]["status"] == "sent"
    assert len(smtp.files()) == 1
    close_store()


def test_permanent_failure_is_marked_failed_with_the_reason(tmp_path, tmp_db_url):
    smtp = start_smtp(tmp_path, refuse="bounce")
    try:
        svc = open_service(tmp_db_url)
        _mail(svc, smtp)
        svc.members.add("B", new_uid(), email="bounce@example.org")
        svc.members.add("G", new_uid(), email="good@example.org")
        drain_outbox(svc)
        rows = {r["address"]: r for r in svc.messages.list()}
        assert rows["bounce@example.org"]["status"] == "failed" and "550" in rows["bounce@example.org"]["reason"]
        assert rows["good@example.org"]["status"] == "sent"
    finally:
        smtp.stop()
        close_store()


def test_unsubscribe_link_works_without_signing_in_and_stops_the_next_message(tmp_db_url, smtp, mosquitto, tmp_path):
    from broker.net import free_port

    port = free_port()
    cfg = tmp_path / "library.toml"
    cfg.write_text(f'[mail]\npublic_url = "http://127.0.0.1:{port}"\nrate_per_second = 50\nretry_first_s = 0.2\n')
    svc = open_service(tmp_db_url)
    m = svc.members.add("U", new_uid(), email="u@example.org")
    svc.members.set(m.id, consent_marketing="yes")
    close_store()
    server = ServerProcess(
        tmp_db_url,
        mosquitto.url,
        log_dir=tmp_path,
        config=cfg,
        extra_args=("--smtp", smtp.url, "--http", f"127.0.0.1:{port}"),
    )
    with server:
        code, d = run_admin(
            tmp_db_url, "message", "send", "--subject-th", "ก", "--subject-en", "a", "--body-th", "ข", "--body-en", "b"
        )
        assert code == 0, d
        got = smtp.wait_for(2)
        seg = next(g for g in got if g["Subject"] in ("ก", "a"))
        link = re.search(r"http://\S+/u/\S+", text_of(seg)).group(0)
        assert seg["List-Unsubscribe"].strip() == f"<{link}>"
        page = urllib.request.urlopen(link, timeout=10).read().decode()  # no session, no sign-in
        assert "ยกเลิก" in page and "unsubscribed" in page.lower()
        # a forged token is refused
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(link[:-3] + "000", timeout=10)
        assert err.value.code == 404
        code, d = run_admin(
            tmp_db_url, "message", "send", "--subject-th", "ค", "--subject-en", "c", "--body-th", "ง", "--body-en", "d"
        )
        assert code == 0 and d["counts"]["opted_out"] == 1 and d["counts"]["queued"] == 0, d
        time.sleep(1.5)
        assert len(smtp.files()) == 2


def test_unknown_placeholder_refused_and_nothing_queued(tmp_db_url):
    svc = open_service(tmp_db_url)
    m = svc.members.add("X", new_uid(), email="x@example.org")
    svc.members.set(m.id, consent_marketing=True)
    before = svc.messages.summary()
    for body in ("Hi {nmae}", "Hi {name.__class__}", "Hi {name", "{0}"):
        with pytest.raises(ServiceError) as exc:
            svc.messages.send_segment({"th": "ก", "en": "a"}, {"th": "ข", "en": body}, {}, actor="t")
        assert "placeholder" in str(exc.value)
    with pytest.raises(ServiceError, match="template prize_won has no placeholder"):
        svc.messages.queue(m, "prize_won", {"draw": "d", "prize": "p", "extra": 1})
    with pytest.raises(ServiceError, match="needs a value for"):
        svc.messages.queue(m, "prize_won", {"draw": "d"})
    assert svc.messages.summary() == before
    code, out = run_admin(
        tmp_db_url, "message", "send", "--subject-th", "x", "--subject-en", "x", "--body-th", "{bad}", "--body-en", "x"
    )
    assert code == 1 and "unknown placeholder" in out["error"]
    close_store()


def test_contact_data_and_consent(tmp_db_url):
    svc = open_service(tmp_db_url)
    m = svc.members.add("C", new_uid())
    assert (m.language, m.consent_marketing, m.consent_notices, m.consent_ranking) == ("th", False, True, True)
    code, d = run_admin(
        tmp_db_url,
        "member",
        "set",
        str(m.id),
        "phone=+66 81 234 5678",
        "language=en",
        "consent_ranking=false",
        "email=c@example.org",
    )
    assert code == 0 and d["phone"] == "+66 81 234 5678" and d["language"] == "en", d
    assert d["consent"] == {"marketing": False, "notices": True, "statement": False, "ranking": False}
    for bad, word in (
        ("email=not-an-address", "e-mail"),
        ("phone=abc", "phone"),
        ("language=fr", "language"),
        ("consent_marketing=maybe", "consent_marketing"),
    ):
        code, out = run_admin(tmp_db_url, "member", "set", str(m.id), bad)
        assert code == 1 and word in out["error"], (bad, out)
    # the patron page's call
    m = svc.messages.set_preferences(m.id, actor="patron", consent_statement=True, language="th")
    assert m.consent_statement and m.language == "th"
    with pytest.raises(ServiceError, match="unknown contact field"):
        svc.messages.set_preferences(m.id, name="x")
    close_store()


def test_rankings_leave_out_members_who_did_not_consent(tmp_db_url):
    svc = open_service(tmp_db_url)
    a = svc.members.add("A", new_uid())
    b = svc.members.add("B", new_uid())
    svc.members.set(b.id, consent_ranking=False)
    term = svc.draws.current_term()
    board = svc.draws.ranking("t", kind="active", term=term, top=10, actor="t", record=False)
    ids = [r["member"] for r in board["top"]]
    assert a.id in ids and b.id not in ids
    close_store()


def test_triggers_prize_forfeit_level_term_ending_statement(tmp_db_url):
    from datetime import timedelta

    svc = open_service(tmp_db_url)
    m = svc.members.add("T", new_uid(), email="t@example.org")
    svc.messages.set_preferences(m.id, consent_statement=True)
    # term ending within the window: queued once however often the daily job runs
    end = svc.today() + timedelta(days=5)
    svc.members.set(m.id, valid_until=end.isoformat())
    assert svc.messages.term_ending_job() == 1
    assert svc.messages.term_ending_job() == 0
    # the monthly statement on the 1st only
    first = svc.today().replace(day=1) + timedelta(days=32)
    first = first.replace(day=1)
    assert svc.messages.statement_job(first - timedelta(days=1)) == 0
    assert svc.messages.statement_job(first) == 1
    templates = [r["template"] for r in svc.messages.list()]
    assert {"welcome", "term_ending", "monthly_statement"} <= set(templates)
    close_store()


def test_bad_mail_config_names_the_key(tmp_path):
    for raw, url, key in (
        ({}, "http://x", "mail.url"),
        ({"rate_per_second": 0}, None, "mail.rate_per_second"),
        ({"from": "nobody"}, None, "mail.from"),
        ({"public_url": "ftp://x"}, None, "mail.public_url"),
        ({"colour": 1}, None, "unknown key"),
        ({}, "smtps://h:465?starttls=1", "smtps"),
    ):
        with pytest.raises(MailConfigError, match=key):
            build(raw, url)
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[mail]\nurl = "smtp://h:notaport"\n')
    code, out = run_admin(f"sqlite:///{tmp_path}/x.db", "--config", str(cfg), "message", "list")
    assert code == 1 and "mail.url" in out["error"], out
    c = build({}, "smtp://user:p%40ss@relay.example.org:587?starttls=1")
    assert (c.user, c.password, c.port, c.starttls) == ("user", "p@ss", 587, True)
    assert "p@ss" not in c.safe_url and "p@ss" not in repr(c)


def test_sender_slows_to_the_busy_rate_while_taps_are_decided(tmp_db_url, smtp):
    """Taps first: while ``busy()`` is true the sender paces at busy_rate_per_second, then resumes."""
    svc = open_service(tmp_db_url)
    _mail(svc, smtp, rate_per_second=500, busy_rate_per_second=10)
    for i in range(13):
        m = svc.members.add(f"B{i}", new_uid(), email=f"b{i}@example.org")
        svc.members.set(m.id, consent_marketing="1")
    drain_outbox(svc)  # the welcomes
    before = len(smtp.files())
    svc.messages.send_segment({"th": "ก", "en": "a"}, {"th": "ข", "en": "b"}, {}, actor="t")

    t0 = time.monotonic()
    busy = svc.messages.send_due(limit=6, busy=lambda: True)
    busy_s = time.monotonic() - t0
    t0 = time.monotonic()
    quiet = svc.messages.send_due(limit=6, busy=lambda: False)
    quiet_s = time.monotonic() - t0
    assert busy["sent"] == 6 and quiet["sent"] == 6, (busy, quiet)
    # 6 sends at 10/s: at least 5 gaps of 0.1 s; at 500/s far less (a loaded machine adds, never removes)
    assert busy_s >= 0.5, busy_s
    assert quiet_s < busy_s, (quiet_s, busy_s)
    # the busy flag is re-read while waiting: it clearing ends the wait at once
    flips = iter([True, True] + [False] * 1000)
    svc.messages.config = build(
        {"rate_per_second": 500, "busy_rate_per_second": 0.05, "lease_s": 600, "retry_first_s": 0.2}, smtp.url
    )
    t0 = time.monotonic()
    svc.messages.send_due(limit=1, busy=lambda: next(flips))
    assert time.monotonic() - t0 < 5, "the sender kept the 20 s busy gap after taps stopped"
    ids = [m["Message-ID"] for m in smtp.messages()[before:]]
    assert len(ids) == len(set(ids)) == 13, len(ids)
    close_store()


def test_busy_rate_is_validated():
    with pytest.raises(MailConfigError, match="busy_rate_per_second"):
        build({"busy_rate_per_second": 0})


def test_the_running_server_sends_slowly_while_taps_flow_and_at_full_rate_after(tmp_db_url, smtp, mosquitto, tmp_path):
    """End to end: the tap worker's in-process flag slows the sender thread of ``privcard server``."""
    svc = open_service(tmp_db_url)
    svc.devices.add("gate-in", "gate", direction="in")
    tapper = new_uid()
    svc.members.add("Tapper", tapper)
    for i in range(60):
        m = svc.members.add(f"S{i}", new_uid(), email=f"s{i}@example.org")
        svc.members.set(m.id, consent_marketing="1")
    svc.messages.send_segment({"th": "ก", "en": "a"}, {"th": "ข", "en": "b"}, {}, actor="t")
    close_store()  # 60 welcomes and 60 segment messages queued
    cfg = tmp_path / "library.toml"
    cfg.write_text("[mail]\nrate_per_second = 10\nbusy_rate_per_second = 0.5\nretry_first_s = 0.2\n")
    server = ServerProcess(tmp_db_url, mosquitto.url, log_dir=tmp_path, config=cfg, extra_args=("--smtp", smtp.url))
    with server, Device(mosquitto.url) as dev:
        dev.tap("gate-in", tapper)  # the worker has decided a tap: it is busy from here
        start, t0 = len(smtp.files()), time.monotonic()
        while time.monotonic() - t0 < 4.0:
            dev.tap("gate-in", tapper)
        during = len(smtp.files()) - start
        time.sleep(3.0)
        after = len(smtp.files()) - start - during
    # at 0.5 a second: about 2 in 4 s (one more may have been on its way); at 10 a second: 40
    assert during <= 5, f"{during} mails while taps flowed"
    # taps stopped: the full rate again (10/s; 3 s on a loaded machine gives at least a few)
    assert after >= 6, f"only {after} mails in the 3 s after the taps"
    # none twice
    ids = [m["Message-ID"] for m in smtp.messages()]
    assert len(ids) == len(set(ids))
