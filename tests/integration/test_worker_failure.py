"""A bug that kills the tap worker ends ``privcard server`` (exit 1), not the worker thread alone.

Before, the worker thread died and the process lived on: the main thread kept pinging
systemd's watchdog, so nothing restarted a server that answered nothing. Now the process
exits, systemd (``Restart=always``) starts it again, and the tap that was in hand — never
acked — is delivered again by the broker from the persistent session and credited once.

Real Mosquitto, real SQLite file, ``privcard server``'s own ``main`` in this process. The bug
is injected into the worker's batch handling (``PointsServer._handle`` raising a
``TypeError``, as a bug outside the per-tap handling would); the server that takes over is
the real, unpatched one.
"""

from __future__ import annotations

import logging
import threading

import pytest

from server import main as server_main
from server.app import PointsServer
from server.domain.config import load
from tests.helpers import Device, close_store, open_service

pytestmark = pytest.mark.timeout(90)


def test_a_worker_killed_by_a_bug_ends_the_server_and_its_tap_is_credited_once_after_the_restart(
    mosquitto, tmp_db_url, monkeypatch, caplog, capsys
):
    svc = open_service(tmp_db_url)
    svc.devices.add("gate-in", "gate", direction="in")
    member = svc.members.add("Somsri Crash", "04C0FFEE01")
    close_store()

    def bug(self, batch):
        raise TypeError("a bug outside the per-tap handling")

    argv = ["--db", tmp_db_url, "--mqtt", mosquitto.url, "--client-id", "privcard-server"]
    with Device(mosquitto.url) as gate:
        tap = gate.make_tap("04C0FFEE01", device_id="gate-in")
        with monkeypatch.context() as patched:
            patched.setattr(PointsServer, "_handle", bug)
            publisher = threading.Timer(1.0, gate.publish_tap, args=("gate-in", tap))
            publisher.start()
            with caplog.at_level(logging.CRITICAL):
                code = server_main.main(argv)  # returns only when the worker has stopped
            publisher.cancel()
        assert code == 1
        err = capsys.readouterr().err
        assert "the tap worker stopped on a bug (TypeError); exiting" in err, err
        assert "ตัวประมวลผลการแตะบัตรหยุดทำงาน" in err, err
        assert any("the tap worker stopped on a bug" in r.getMessage() for r in caplog.records)
        assert gate.results_for("gate-in", tap.tap_id) == []  # nothing was answered

        # the server started afresh (what systemd does) gets the unacked tap from its session
        prog = load(None)
        srv = PointsServer(tmp_db_url, mosquitto.url, prog, client_id="privcard-server").start()
        try:
            result = gate.wait_result("gate-in", tap.tap_id, timeout=20)
            assert result is not None, "the tap in hand when the worker died was never answered"
            assert result.outcome == "credited", result
            again = gate.send("gate-in", tap)  # the gate's resend: answered from the inbox, not credited again
            assert (again.outcome, again.balance) == ("credited", result.balance)
        finally:
            srv.stop()
    close_store()
    svc = open_service(tmp_db_url)
    assert result.points > 0
    assert svc.ledger.balance(member.id) == result.balance  # credited once (the joining points + one entry)
    close_store()
