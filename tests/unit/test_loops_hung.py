"""A background job's round that never returns is in the health file and the server's log; ``privcard doctor`` warns, then fails it.

A round blocked on a socket without a timeout, or on a lock nobody releases, raises nothing:
before, the job looked "running" for ever while devices got no configs or mails stayed queued.
The health file is written here by the real :func:`server.loops.run_rounds` and
:class:`server.loops.Health`, with a round that blocks on an Event the test holds; doctor's
clock is the one thing moved (``now``), to stand for the ten minutes and more a hang takes to be
called one.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from datetime import datetime, timedelta

from broker import server_health
from install import doctor
from server import loops
from tests.helpers import job_health, until


def _halves(text: str) -> tuple[str, str]:
    english, _, thai = text.partition(" — ")
    return english, thai


def test_a_round_that_never_returns_fails_doctor_until_it_ends(tmp_path):
    path = tmp_path / "server-health.json"
    stop, entered, release = threading.Event(), threading.Event(), threading.Event()
    health = loops.Health(str(path), {})

    def round_():
        entered.set()
        release.wait(30)  # a socket read without a timeout, until the test lets go
        return 60.0

    t = threading.Thread(
        target=loops.run_rounds, args=("publisher", round_), kwargs={"stopping": stop, "health": health}
    )
    t.start()
    try:
        assert entered.wait(5)
        job = until(
            lambda: job_health(path, "publisher").get("round_started_at") and job_health(path, "publisher"), "the file"
        )
        assert job["state"] == "running" and job["round_finished_at"] is None
        started = datetime.fromisoformat(job["round_started_at"])

        assert doctor.check_server_jobs(str(path), now=started + timedelta(minutes=9)).ok  # long, not yet hung
        slow = doctor.check_server_jobs(str(path), now=started + timedelta(minutes=11))
        assert slow.ok and slow.warn and slow.name == "server jobs"  # a large term close may take this: warn
        english, thai = _halves(slow.detail)
        assert (
            f"publisher (device configs and allow-list) runs long: one round running since "
            f"{started:%Y-%m-%d %H:%M:%S} UTC, 11 min (more than the 10 min a round of it normally takes; "
            "taken for hung after 30 min); devices keep their last config and allow-list; taps are still credited"
        ) == english
        assert "งานเบื้องหลัง publisher (การส่งค่าตั้งและรายชื่อบัตรให้อุปกรณ์) ใช้เวลานานผิดปกติ" in thai
        assert "จะถือว่าค้างเมื่อเกิน 30 นาที" in thai
        fix_en, fix_th = _halves(slow.fix)
        for fix in (fix_en, fix_th):
            assert f"journalctl -u privcard-server --since '{started:%Y-%m-%d %H:%M:%S} UTC'" in fix
        assert doctor.check_server_jobs(str(path), now=started + timedelta(minutes=29)).warn
        check = doctor.check_server_jobs(str(path), now=started + timedelta(minutes=31))
        assert not check.ok and not check.warn  # three times the threshold: hung
        english, thai = _halves(check.detail)
        assert (
            f"publisher (device configs and allow-list) looks hung: one round running since "
            f"{started:%Y-%m-%d %H:%M:%S} UTC, 31 min (more than the 30 min a round of it may take); "
            "devices keep their last config and allow-list; taps are still credited"
        ) == english
        assert "งานเบื้องหลัง publisher (การส่งค่าตั้งและรายชื่อบัตรให้อุปกรณ์) น่าจะค้าง" in thai
        assert f"ค้างอยู่ตั้งแต่ {started.day}/{started.month}/{started.year + 543} {started:%H:%M:%S} UTC" in thai
        assert "อุปกรณ์ยังใช้ค่าตั้งและรายชื่อบัตรชุดเดิม" in thai
        fix_en, fix_th = _halves(check.fix)
        for fix in (fix_en, fix_th):
            assert f"journalctl -u privcard-server --since '{started:%Y-%m-%d %H:%M:%S} UTC'" in fix
            assert "systemctl restart privcard-server" in fix
        assert "publisher" in fix_en and "publisher" in fix_th

        time.sleep(0.05)  # the round has lasted at least this (the checks above can take under 1 ms)
        release.set()  # the long round ends: the file says so at once, not at the next refresh
        job = until(
            lambda: job_health(path, "publisher").get("round_finished_at") and job_health(path, "publisher"), "the end"
        )
        assert job["round_started_at"] is None and job["interval_s"] == 60.0 and job["longest_round_s"] >= 0.05
        ended = datetime.fromisoformat(job["round_finished_at"])
        assert ended >= started
        assert doctor.check_server_jobs(str(path), now=ended + timedelta(seconds=5)).ok
        # between rounds it is measured from its last round's end, against its own pace (60 s: 20 min)
        assert not doctor.check_server_jobs(str(path), now=ended + timedelta(minutes=19)).warn
        late = doctor.check_server_jobs(str(path), now=ended + timedelta(minutes=21))
        assert late.ok and late.warn
        assert "publisher (device configs and allow-list) runs long: no round ended since" in late.detail
        assert "(more than the 20 min a round of it normally takes; taken for hung after 60 min)" in late.detail
        frozen = doctor.check_server_jobs(str(path), now=ended + timedelta(minutes=61))
        assert not frozen.ok
        assert "publisher (device configs and allow-list) looks hung: no round ended since" in frozen.detail
        assert "(more than the 60 min a round of it may take)" in frozen.detail
    finally:
        release.set()
        stop.set()
        t.join(5)


def test_quick_rounds_keep_their_times_in_the_stats_and_rewrite_the_file_seldom(tmp_path):
    path = tmp_path / "server-health.json"
    stop, health = threading.Event(), loops.Health(str(path), {})
    seen = []

    def round_():
        seen.append(dict(health.jobs["sender"]))  # what the server's stats say during the round
        if len(seen) == 500:
            stop.set()
        return 0.0

    t = threading.Thread(target=loops.run_rounds, args=("sender", round_), kwargs={"stopping": stop, "health": health})
    t.start()
    t.join(10)
    assert len(seen) == 500
    assert all(s["round_started_at"] for s in seen)
    assert seen[-1]["round_finished_at"] >= seen[0]["round_started_at"]
    assert health.jobs["sender"]["round_started_at"] is None and health.jobs["sender"]["round_finished_at"]
    # the first round's start, and its end (the file showed it running); not one write a round
    assert health.writes <= 3, health.writes
    assert doctor.check_server_jobs(str(path)).ok


def test_the_threshold_follows_each_jobs_pace_and_a_file_without_round_times_is_not_hung(tmp_path):
    assert doctor.hung_after_s(1.0) == doctor.hung_after_s(None) == 600  # publisher, sender, messages
    assert doctor.hung_after_s(60.0) == 1200  # the ILS settlement's default retry_interval_s
    assert server_health.clearly_hung_after_s(1.0) == 1800 and server_health.clearly_hung_after_s(60.0) == 3600
    # one definition: the server's log and doctor call a round long at the same moment
    assert doctor.hung_after_s is server_health.hung_after_s and loops.HEALTH_FILE == doctor.SERVER_HEALTH_FILE
    old = tmp_path / "server-health.json"  # written by a server from before the round times
    old.write_text(
        json.dumps({"pid": 1, "started_at": "2020-01-01T00:00:00+00:00", "jobs": {"terms": {"state": "running"}}})
    )
    assert doctor.check_server_jobs(str(old)).ok


def test_the_server_logs_a_round_running_past_the_threshold_once_and_again_when_it_ends(monkeypatch, caplog):
    """Before, only doctor said a round hung; the server's own log showed nothing until the round ended, if ever.

    The threshold is doctor's own (broker.server_health), made 0.3 s here; a thread calling
    :meth:`server.loops.Health.watch` every 20 ms stands for the server's watchdog loop (every 10 s).
    """
    monkeypatch.setattr(server_health, "HUNG_MIN_S", 0.3)
    stop, watching, health = threading.Event(), threading.Event(), loops.Health(None, {})
    entered = {1: threading.Event(), 3: threading.Event()}
    release = {1: threading.Event(), 3: threading.Event()}
    rounds = []

    def round_():
        rounds.append(1)
        if len(rounds) in release:  # the first and the third round hang until the test lets go
            entered[len(rounds)].set()
            release[len(rounds)].wait(30)
        return 0.01

    def watchdog():
        while not watching.wait(0.02):
            health.watch()

    def said(text: str) -> list[logging.LogRecord]:
        return [r for r in caplog.records if text in r.getMessage()]

    caplog.set_level(logging.WARNING, logger="server.loops")
    job = threading.Thread(
        target=loops.run_rounds, args=("terms", round_), kwargs={"stopping": stop, "health": health}, name="job"
    )
    watcher = threading.Thread(target=watchdog, name="watchdog")
    job.start()
    watcher.start()
    try:
        assert entered[1].wait(5)
        time.sleep(0.15)
        assert not said("background job terms"), caplog.text  # not yet past the threshold
        (long,) = until(lambda: said("background job terms: one round running for"), "the warning")
        time.sleep(0.3)  # many more looks at the same round: one line
        assert len(said("one round running for")) == 1, caplog.text
        assert long.levelno == logging.WARNING and long.threadName == "watchdog"  # not the stuck thread
        message = long.getMessage()
        assert "past the 0.3 s a round of it normally takes; it may be hung" in message
        assert "(privcard doctor warns now, and fails it after 0.9 s)" in message
        assert health.jobs["terms"]["round_started_at"] in message
        assert not said("round finished after")

        release[1].set()  # the long round ends: its own thread, no longer stuck, says so
        (done,) = until(lambda: said("background job terms: round finished after"), "the end")
        assert done.threadName == "job" and re.search(r"finished after \d+\.\d s \(past the 0\.3 s", done.getMessage())
        assert entered[3].wait(5)  # the quick second one said nothing
        assert len(said("one round running for")) == 1
        until(lambda: len(said("one round running for")) == 2, "a later long round, logged too")
    finally:
        for event in release.values():
            event.set()
        stop.set()
        job.join(5)
        watching.set()
        watcher.join(5)
    assert len(said("round finished after")) == 2
