"""A bug in one of the server's background jobs is retried, logged once a minute, shown to doctor — taps go on.

The publisher, the term close, the messages and the ILS settlement run in threads of their
own beside the tap worker (server/loops.py). Before, a round that raised was logged with
its traceback at every round (each second for the publisher), retried at the loop's own
pace without back-off, and shown nowhere else: the process looked healthy while devices
stopped getting their configs. Now the first failure is logged with its traceback, the
same failure again at most once a minute, the job backs off (1 s doubling to 60 s), its
health is in ``stats["jobs"]`` and in the file ``privcard doctor`` reads, and a good round
clears it.

Real Mosquitto, real SQLite file. The first test runs ``privcard server`` as a process and
breaks the publisher with a corrupt device row (a JSON list where the settings object
belongs); the second runs the server in this process and breaks one function the
publisher calls (as tests/integration/test_worker_failure.py does for the worker), with a
short log interval so "once a minute" can be seen in a second. The third breaks the message
triggers in an in-process server with a real SMTP server (tests/smtp_server.py): the mail
already queued is sent all the same, by the sender's own job. The fourth stops and starts
the broker under a failing publisher; the fifth runs ``privcard server``'s ``main`` with a
round that blocks, and reads what its log says about it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import threading
import time
from datetime import datetime

import pytest

from broker import server_health
from install import doctor
from server import loops, store
from server import main as server_main
from server.app import PointsServer
from server.domain.config import load
from server.messages.config import load_config as load_mail_config
from tests.helpers import Device, ServerProcess, close_store, open_service, until
from tests.smtp_server import start_smtp

pytestmark = pytest.mark.timeout(90)
THAI = re.compile(r"[\u0e00-\u0e7f]")


def _health(path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _publisher(path) -> dict:
    return _health(path).get("jobs", {}).get("publisher", {})


def _revisions(db_url: str, device_id: str) -> tuple[int, int]:
    open_service(db_url)
    try:
        d = store.Device.get_by_id(device_id)
        return d.revision, d.published_revision
    finally:
        close_store()


def _set_settings(db_url: str, device_id: str, settings) -> None:
    open_service(db_url)
    try:
        store.Device.update(settings=settings, revision=store.Device.revision + 1).where(
            store.Device.id == device_id
        ).execute()
    finally:
        close_store()


def test_a_corrupt_device_row_fails_the_publisher_loudly_once_taps_go_on_and_it_recovers_when_fixed(
    mosquitto, tmp_db_url, tmp_path, monkeypatch
):
    svc = open_service(tmp_db_url)
    svc.devices.add("gate-in", "gate", direction="in")
    svc.devices.add("kiosk-1", "kiosk")
    member = svc.members.add("Somsri Jobs", "04C0FFEE02")
    close_store()
    health = tmp_path / "server-health.json"
    monkeypatch.setenv("PRIVCARD_HEALTH_FILE", str(health))
    server = ServerProcess(tmp_db_url, mosquitto.url, log_dir=tmp_path)
    with server, Device(mosquitto.url) as gate:
        until(lambda: _publisher(health).get("state") == "running", what="the health file")
        until(lambda: len(set(_revisions(tmp_db_url, "kiosk-1"))) == 1, what="the kiosk's first config")

        _set_settings(tmp_db_url, "kiosk-1", [1, 2])  # a row the code cannot read: dict([1, 2]) raises
        failing = until(lambda: _publisher(health).get("failing_rounds", 0) >= 2 and _publisher(health))
        assert failing["state"] == "failing" and failing["last_error"].startswith("TypeError"), failing
        result = gate.tap("gate-in", "04C0FFEE02")
        assert result.outcome == "credited", result  # taps go on while the publisher fails
        log = server.log()
        assert log.count("background job publisher failed (TypeError") == 1, log  # once, not per round
        assert "Traceback" in log and "dict" in log, log  # the first time with where it failed
        assert "failed again" not in log  # the same failure is repeated at most once a minute

        check = doctor.check_server_jobs(str(health))  # what privcard doctor says on this machine
        assert not check.ok and check.name == "server jobs"
        english, _, thai = check.detail.partition(" — ")
        assert "publisher (device configs and allow-list) failing since" in english and "TypeError" in english
        assert "taps are still credited" in english and not THAI.search(english)
        since = datetime.fromisoformat(failing["failing_since"])
        assert f"{since.day}/{since.month}/{since.year + 543} " in thai  # a Buddhist-era date in the Thai half
        assert "ล้มเหลวตั้งแต่" in thai and THAI.search(check.fix.partition(" — ")[2])
        assert "journalctl -u privcard-server" in check.fix

        _set_settings(tmp_db_url, "kiosk-1", {})  # staff repair the row: the next round works
        recovered = until(lambda: _publisher(health).get("state") == "running" and _publisher(health))
        assert recovered["errors"] >= 2 and recovered["recovered_at"], recovered
        until(lambda: len(set(_revisions(tmp_db_url, "kiosk-1"))) == 1, what="the repaired kiosk's config")
        assert "background job publisher works again after" in server.log()
        check = doctor.check_server_jobs(str(health))
        assert check.ok and not check.warn and "works again since" in check.detail, check.detail
        assert server.stop() == 0  # never an exit for a background job: systemd has nothing to restart
    assert not health.exists()  # a clean stop takes the report away
    svc = open_service(tmp_db_url)
    assert svc.ledger.balance(member.id) == result.balance
    close_store()


def test_a_publisher_bug_every_round_is_logged_once_a_minute_and_its_thread_lives_on(
    mosquitto, tmp_db_url, monkeypatch, caplog
):
    svc = open_service(tmp_db_url)
    svc.devices.add("gate-in", "gate", direction="in")
    svc.members.add("Somchai Loop", "04C0FFEE03")
    close_store()
    monkeypatch.setattr(loops, "LOG_EVERY_S", 0.5)  # "once a minute", in half a second
    monkeypatch.setattr(loops, "BUG_FIRST_DELAY_S", 0.02)
    monkeypatch.setattr(loops, "BUG_MAX_DELAY_S", 0.05)
    srv = PointsServer(tmp_db_url, mosquitto.url, load(None), client_id="privcard-jobs-test").start()
    try:
        publisher = next(t for t in threading.enumerate() if t.name == "privcard-publisher")
        until(lambda: srv.bus.connected.is_set(), what="the server's connection")
        caplog.set_level(logging.ERROR, logger="server.loops")

        def bug(today=None):
            raise KeyError("a bug in one round of the publisher")

        started = time.monotonic()
        with monkeypatch.context() as patched:
            patched.setattr(srv.service.devices, "allowlist_version", bug)
            srv._republish.set()  # as on a reconnect: the round reaches the allow-list
            with Device(mosquitto.url) as gate:
                assert gate.tap("gate-in", "04C0FFEE03").outcome == "credited"
            until(lambda: srv.stats["jobs"]["publisher"]["errors"] >= 30, what="30 failed rounds")
            elapsed = time.monotonic() - started
        health = srv.stats["jobs"]["publisher"]
        assert health["state"] == "failing" and health["last_error"].startswith("KeyError")
        errors = [r for r in caplog.records if r.levelno == logging.ERROR and "publisher" in r.getMessage()]
        first, *again = errors
        assert first.exc_info is not None and "failed (KeyError" in first.getMessage()
        assert all(r.exc_info is None and "failed again" in r.getMessage() for r in again), again
        assert len(errors) <= 2 + elapsed / 0.5, (len(errors), elapsed)  # not one per round
        assert health["errors"] > 3 * len(errors)
        if again:
            assert re.search(r"\d+ more time\(s\) in the last", again[0].getMessage())

        until(lambda: srv.stats["jobs"]["publisher"]["state"] == "running", what="the recovery")
        assert publisher.is_alive()
        assert srv.stats["jobs"]["publisher"]["recovered_at"]
        assert {"terms", "messages"} <= set(srv.stats["jobs"])
        assert srv.failed is None and not srv.halt.is_set()  # the worker and the process were never touched
    finally:
        srv.stop()


def test_a_bug_in_the_message_triggers_does_not_hold_up_the_mail_already_queued(
    mosquitto, tmp_db_url, tmp_path, monkeypatch
):
    cfg = tmp_path / "library.toml"
    cfg.write_text('[mail]\npublic_url = "http://127.0.0.1:9"\nrate_per_second = 50\n', encoding="utf-8")
    svc = open_service(tmp_db_url, prog=load(cfg))
    svc.devices.add("gate-in", "gate", direction="in")
    svc.members.add("Ann Mail", "04C0FFEE04", email="ann@example.org")  # her welcome is queued
    close_store()
    monkeypatch.setattr(loops, "BUG_FIRST_DELAY_S", 0.05)
    smtp = start_smtp(tmp_path)
    srv = PointsServer(
        tmp_db_url,
        mosquitto.url,
        load(cfg),
        client_id="privcard-jobs-mail",
        mail=load_mail_config(str(cfg), smtp.url),
    )

    def bug():
        raise KeyError("a bug in the tier trigger")

    try:
        with monkeypatch.context() as patched:
            patched.setattr(srv.service.messages, "tier_job", bug)
            srv.start()
            (welcome,) = smtp.wait_for(1, timeout=20)  # sent while the triggers fail
            assert welcome["To"] == "ann@example.org"
            until(
                lambda: srv.stats["jobs"]["messages"]["failing_rounds"] >= 2,
                what="the triggers failing, round after round",
            )
            assert srv.stats["jobs"]["messages"]["state"] == "failing"
            assert srv.stats["jobs"]["sender"] == {**srv.stats["jobs"]["sender"], "state": "running", "errors": 0}
            with Device(mosquitto.url) as gate:
                assert gate.tap("gate-in", "04C0FFEE04").outcome == "credited"
        until(lambda: srv.stats["jobs"]["messages"]["state"] == "running", what="the triggers again")
    finally:
        srv.stop()
        smtp.stop()


def test_a_flapping_broker_leaves_a_failing_publisher_failing_and_logged_once_a_minute(
    mosquitto, tmp_db_url, tmp_path, monkeypatch, caplog
):
    """The broker stops and starts three times while a corrupt device row fails every publisher round.

    Before, a round without a broker connection returned at once, which counted as a good
    round: each outage logged "works again" and cleared the once-a-minute throttle, so each
    reconnect logged the same failure afresh, traceback and all. Now such a round tried
    nothing (``loops.Idle``): the job stays failing, and the failure is logged once.
    """
    svc = open_service(tmp_db_url)
    svc.devices.add("gate-in", "gate", direction="in")
    svc.devices.add("kiosk-1", "kiosk")
    close_store()
    monkeypatch.setattr(loops, "BUG_FIRST_DELAY_S", 0.02)
    monkeypatch.setattr(loops, "BUG_MAX_DELAY_S", 0.05)
    health = tmp_path / "server-health.json"
    srv = PointsServer(
        tmp_db_url, mosquitto.url, load(None), client_id="privcard-jobs-flap", poll_s=0.05, health_file=str(health)
    ).start()
    publisher = srv.stats["jobs"]
    caplog.set_level(logging.INFO, logger="server.loops")

    def settings(value) -> None:  # on this thread's own connection to the server's database (not rebound)
        store.Device.update(settings=value, revision=store.Device.revision + 1).where(
            store.Device.id == "kiosk-1"
        ).execute()

    def published() -> bool:
        kiosk = store.Device.get_by_id("kiosk-1")
        return kiosk.revision == kiosk.published_revision

    try:
        until(published, what="the kiosk's first config")
        settings([1, 2])  # a row the code cannot read: dict([1, 2]) raises
        until(lambda: publisher["publisher"]["failing_rounds"] >= 2, what="the publisher failing")
        for flap in range(3):
            errors = publisher["publisher"]["errors"]
            mosquitto.stop()
            until(lambda: not srv.bus.connected.is_set(), what="the server seeing the broker gone")
            time.sleep(0.5)  # rounds go on meanwhile (every 0.05 s), with nothing to publish to
            assert publisher["publisher"]["state"] == "failing", (flap, publisher["publisher"])
            mosquitto.start()
            until(lambda: srv.bus.connected.is_set(), what="the reconnection")
            until(lambda n=errors: publisher["publisher"]["errors"] > n, what="the same failure after the reconnect")
        said = [r for r in caplog.records if "background job publisher" in r.getMessage()]
        failed = [r for r in said if "failed (TypeError" in r.getMessage()]
        assert len(failed) == 1 and failed[0].exc_info is not None, [r.getMessage() for r in said]
        assert not [r for r in said if "works again" in r.getMessage()], [r.getMessage() for r in said]
        assert not [r for r in said if "failed again" in r.getMessage()]  # under a minute: not yet repeated
        check = doctor.check_server_jobs(str(health))  # the file never said "running" in between either
        assert not check.ok and "publisher (device configs and allow-list) failing since" in check.detail
        assert "works again" not in check.detail

        settings({})  # repaired: one recovery, logged once
        until(lambda: publisher["publisher"]["state"] == "running", what="the recovery", timeout=70)
        until(published, what="the repaired kiosk's config")
        said = [r.getMessage() for r in caplog.records if "background job publisher" in r.getMessage()]
        assert sum("works again after" in m for m in said) == 1, said
    finally:
        store.db.close()  # this thread's connection
        srv.stop()


def test_privcard_server_logs_a_round_running_long_from_its_watchdog_loop_and_when_it_ends(
    mosquitto, tmp_db_url, monkeypatch, caplog
):
    """``privcard server``'s own ``main`` in this process; its term close's first round blocks until let go.

    The threshold (broker.server_health, doctor's own) is 0.5 s here instead of 10 min; the main
    thread's watchdog loop looks every 10 s, so the warning comes within about that.
    """
    svc = open_service(tmp_db_url)
    svc.devices.add("gate-in", "gate", direction="in")
    close_store()
    monkeypatch.setattr(server_health, "HUNG_MIN_S", 0.5)
    release, outcome = threading.Event(), {}
    real_round = PointsServer._terms_round

    def blocked_once(self):
        if not release.is_set():
            release.wait(60)  # a term close stuck on a lock nobody releases, until the test lets go
        return real_round(self)

    def said(text: str) -> list[logging.LogRecord]:
        return [r for r in caplog.records if text in r.getMessage()]

    def operator():  # reads the log as IT would, then stops the server as systemd would
        try:
            outcome["long"] = until(lambda: said("background job terms: one round running for"), "the warning", 30)
            release.set()
            outcome["done"] = until(lambda: said("background job terms: round finished after"), "the end", 10)
        finally:
            release.set()
            os.kill(os.getpid(), signal.SIGTERM)

    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    caplog.set_level(logging.WARNING, logger="server.loops")
    watcher = threading.Thread(target=operator, name="operator")
    try:
        with monkeypatch.context() as patched:
            patched.setattr(PointsServer, "_terms_round", blocked_once)
            watcher.start()
            code = server_main.main(["--db", tmp_db_url, "--mqtt", mosquitto.url, "--client-id", "privcard-long"])
        watcher.join(15)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert code == 0
    assert "long" in outcome, f"the server's log never said the round ran long: {caplog.text}"
    (long,) = outcome["long"]
    assert long.threadName == "MainThread"  # the watchdog loop, not the stuck job's thread
    assert "past the 0.5 s a round of it normally takes; it may be hung" in long.getMessage()
    (done,) = outcome["done"]
    assert done.threadName == "privcard-terms"
    assert len(said("one round running for")) == 1  # once for the round, not at every look
