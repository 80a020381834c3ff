"""A background job's round that never returns is in the health file, and ``privcard doctor`` fails it.

A round blocked on a socket without a timeout, or on a lock nobody releases, raises nothing:
before, the job looked "running" for ever while devices got no configs or mails stayed queued.
The health file is written here by the real :func:`server.loops.run_rounds` and
:class:`server.loops.Health`, with a round that blocks on an Event the test holds; doctor's
clock is the one thing moved (``now``), to stand for the ten minutes and more a hang takes to be
called one.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta

from install import doctor
from server import loops


def _job(path, name: str) -> dict:
    try:
        return json.loads(path.read_text())["jobs"][name]
    except (OSError, ValueError, KeyError):
        return {}


def _until(condition, what: str, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


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
        job = _until(lambda: _job(path, "publisher").get("round_started_at") and _job(path, "publisher"), "the file")
        assert job["state"] == "running" and job["round_finished_at"] is None
        started = datetime.fromisoformat(job["round_started_at"])

        assert doctor.check_server_jobs(str(path), now=started + timedelta(minutes=9)).ok  # long, not yet hung
        check = doctor.check_server_jobs(str(path), now=started + timedelta(minutes=11))
        assert not check.ok
        english, thai = _halves(check.detail)
        assert (
            f"publisher (device configs and allow-list) looks hung: one round running since "
            f"{started:%Y-%m-%d %H:%M:%S} UTC, 11 min (more than the 10 min a round of it may take); "
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
        job = _until(lambda: _job(path, "publisher").get("round_finished_at") and _job(path, "publisher"), "the end")
        assert job["round_started_at"] is None and job["interval_s"] == 60.0 and job["longest_round_s"] >= 0.05
        ended = datetime.fromisoformat(job["round_finished_at"])
        assert ended >= started
        assert doctor.check_server_jobs(str(path), now=ended + timedelta(seconds=5)).ok
        # between rounds it is measured from its last round's end, against its own pace (60 s: 20 min)
        assert doctor.check_server_jobs(str(path), now=ended + timedelta(minutes=19)).ok
        frozen = doctor.check_server_jobs(str(path), now=ended + timedelta(minutes=21))
        assert not frozen.ok
        assert "publisher (device configs and allow-list) looks hung: no round ended since" in frozen.detail
        assert "(more than the 20 min a round of it may take)" in frozen.detail
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
    old = tmp_path / "server-health.json"  # written by a server from before the round times
    old.write_text(
        json.dumps({"pid": 1, "started_at": "2020-01-01T00:00:00+00:00", "jobs": {"terms": {"state": "running"}}})
    )
    assert doctor.check_server_jobs(str(old)).ok
