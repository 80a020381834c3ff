"""How :func:`server.loops.run_rounds` treats what a round raises: an outage, a bug, something worse.

The rounds here are small functions of the test (the server's own rounds, with a real
broker and database, are in tests/integration/test_background_jobs.py); what is under test
is the runner: its logging, its back-off, the health it reports and the file doctor reads.
"""

from __future__ import annotations

import json
import logging
import threading

import peewee as pw

from install import doctor
from server import loops
from server.services import retry


def _fast(monkeypatch) -> None:
    monkeypatch.setattr(loops, "BUG_FIRST_DELAY_S", 0.001)
    monkeypatch.setattr(loops, "BUG_MAX_DELAY_S", 0.002)
    monkeypatch.setattr(retry, "FIRST_DELAY_S", 0.001)
    monkeypatch.setattr(retry, "MAX_DELAY_S", 0.002)


def _run(round_, health, stop) -> threading.Thread:
    t = threading.Thread(target=loops.run_rounds, args=("terms", round_), kwargs={"stopping": stop, "health": health})
    t.start()
    return t


def test_a_database_outage_is_waited_out_with_two_warnings_and_is_not_a_failing_job(monkeypatch, caplog):
    _fast(monkeypatch)
    stop, health = threading.Event(), loops.Health(None, {})
    calls = []

    def round_():
        calls.append(1)
        if len(calls) <= 5:
            raise pw.OperationalError("database is locked")
        stop.set()
        return 0.0

    with caplog.at_level(logging.DEBUG, logger="server.loops"):
        _run(round_, health, stop).join(5)
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(said) == 2, said  # not one per attempt
    assert said[0] == "background job terms: database unavailable (database is locked); retrying until it answers"
    assert said[1].startswith("background job terms: database available again after 5 attempt(s)")
    assert health.jobs["terms"]["state"] == "running" and health.jobs["terms"]["errors"] == 0


def test_what_escapes_a_round_marks_the_job_stopped_loudly_and_doctor_fails_it(monkeypatch, caplog, tmp_path):
    path = tmp_path / "server-health.json"
    stop, health = threading.Event(), loops.Health(str(path), {})

    def round_():
        raise SystemExit(3)  # a library calling sys.exit() in our thread: ends it, silently unless caught

    with caplog.at_level(logging.CRITICAL, logger="server.loops"):
        _run(round_, health, stop).join(5)
    assert health.jobs["terms"]["state"] == "stopped"
    assert any("background job terms stopped (SystemExit: 3)" in r.getMessage() for r in caplog.records)
    check = doctor.check_server_jobs(str(path))
    assert not check.ok
    assert "terms (daily term close) stopped at" in check.detail and "หยุดทำงานเมื่อ" in check.detail
    assert "systemctl restart privcard-server" in check.fix.partition(" — ")[0]
    assert "systemctl restart privcard-server" in check.fix.partition(" — ")[2]


def test_doctor_warns_when_no_running_server_wrote_the_report(tmp_path):
    missing = doctor.check_server_jobs(str(tmp_path / "server-health.json"))
    assert missing.ok and missing.warn and "no report from a running server" in missing.detail
    stale = tmp_path / "stale.json"
    dead = 2**22 + 12345  # above pid_max's default: no such process
    stale.write_text(json.dumps({"pid": dead, "jobs": {"publisher": {"state": "failing"}}}))
    check = doctor.check_server_jobs(str(stale))
    assert check.ok and check.warn, check  # a killed server's last words are not today's state
    assert "ไม่มีรายงานจากเซิร์ฟเวอร์ที่ทำงานอยู่" in check.detail


def test_the_health_file_is_found_in_systemds_state_directory():
    assert (
        loops.health_path_from_env({"STATE_DIRECTORY": "/var/lib/privcard"}) == "/var/lib/privcard/server-health.json"
    )
    assert loops.health_path_from_env({"PRIVCARD_HEALTH_FILE": "/run/h.json", "STATE_DIRECTORY": "/x"}) == "/run/h.json"
    assert loops.health_path_from_env({}) is None
    assert doctor.SERVER_HEALTH_FILE == loops.HEALTH_FILE  # doctor cannot import the server: the same name twice


def test_doctor_reads_the_health_file_where_the_servers_environment_puts_it(tmp_path):
    """``PRIVCARD_HEALTH_FILE`` in ``/etc/privcard/server.env`` moves the file (the server follows it):
    doctor reads it there too, and from the state directory otherwise — as the server writes it."""
    from install.doctor import server_health_path
    from server.loops import health_path_from_env

    moved = {"PRIVCARD_HEALTH_FILE": "/srv/privcard/health.json"}
    assert server_health_path(str(tmp_path), moved) == str(tmp_path / "srv/privcard/health.json")
    assert health_path_from_env(moved) == "/srv/privcard/health.json"
    assert server_health_path("/", {}) == health_path_from_env({"STATE_DIRECTORY": "/var/lib/privcard"})
