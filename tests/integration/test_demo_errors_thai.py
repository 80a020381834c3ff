"""``privcard demo`` stops with a clear error, English then Thai, exit code 1 — not a traceback, not a
demo that runs without its console or retries for ever — when its web port is taken, its ``--mqtt``
broker is not there, its database cannot be made, or a gate process stops at start. The real main
in this process, with the real failure made first (a port bound, a file where a directory goes).
"""

from __future__ import annotations

import contextlib
import io
import signal
import socket

import pytest

from server import demo


@pytest.fixture(autouse=True)
def _signals():
    """The demo sets SIGINT/SIGTERM handlers for Ctrl-C; give pytest its own back."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def _demo(*argv: str) -> tuple[int, list[str]]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = demo.main([*argv, "--kiosk", "no", "--duration", "1"])
    return code, err.getvalue().splitlines()


def test_a_web_port_another_program_holds_stops_the_demo_before_it_starts(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as held:
        addr = f"127.0.0.1:{held.getsockname()[1]}"
        code, lines = _demo("--db", f"sqlite:///{tmp_path}/x.db", "--http", addr)
    assert code == 1
    assert lines[-2:] == [
        f"privcard demo: the web console cannot listen on {addr}: Address already in use "
        "(give --http HOST:PORT with a free port, or --http '' for no console)",
        f"privcard demo: เว็บคอนโซลเปิดรับการเชื่อมต่อที่ {addr} ไม่ได้: Address already in use "
        "(ระบุ --http HOST:PORT ที่ว่าง หรือ --http '' เพื่อไม่เปิดคอนโซล)",
    ]
    assert not (tmp_path / "x.db").exists()  # refused before anything started


def test_an_mqtt_broker_that_is_not_there_stops_the_demo(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # free once closed: nothing listens there
    code, lines = _demo("--db", f"sqlite:///{tmp_path}/x.db", "--http", "", "--mqtt", f"mqtt://127.0.0.1:{port}")
    assert code == 1
    assert lines[-2:] == [
        f"privcard demo: cannot reach the MQTT broker at 127.0.0.1:{port} (--mqtt): Connection refused",
        f"privcard demo: ติดต่อโบรกเกอร์ MQTT ที่ 127.0.0.1:{port} (--mqtt) ไม่ได้: Connection refused",
    ]


def test_a_database_path_that_cannot_be_made_stops_the_demo(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    url = f"sqlite:///{tmp_path}/file/var/x.db"
    code, lines = _demo("--db", url, "--http", "")
    assert code == 1
    assert lines[-2:] == [
        f"privcard demo: cannot open database {url}: Not a directory",
        f"privcard demo: เปิดฐานข้อมูล {url} ไม่ได้: Not a directory",
    ]


def test_a_gate_that_stops_at_start_stops_the_demo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "gate-in-1").write_text("a file where the gate's state directory goes")
    code, lines = _demo("--db", f"sqlite:///{tmp_path}/x.db", "--http", "")
    assert code == 1
    assert lines[-2:] == [
        "privcard demo: gate gate-in-1 stopped at start (exit code 1): see var/gate-in-1.log",
        "privcard demo: เกต gate-in-1 หยุดทำงานตั้งแต่เริ่ม (รหัสออก 1): ดู var/gate-in-1.log",
    ]
    assert "File exists" in (tmp_path / "var" / "gate-in-1.log").read_text()
