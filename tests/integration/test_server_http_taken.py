"""``privcard server --http ADDR`` on a port another program holds stops at once: English then Thai, exit 1.

Before, the second server migrated its database, connected to the broker (with the default
client id, taking the running server's MQTT session over) and only then did werkzeug print an
English-only "Address already in use" and exit 1. Now the port is tried before anything
starts, as ``privcard demo`` does. The real command, as a process, on a real Mosquitto.
"""

from __future__ import annotations

import socket
import subprocess
import urllib.request

import pytest

from tests.brokers import PYTHON, python_env
from tests.helpers import ServerProcess

pytestmark = pytest.mark.timeout(60)


def _refusal(addr: str) -> list[str]:
    return [
        f"privcard server: the web console cannot listen on {addr}: Address already in use (ss -ltnp names "
        "the program that holds it: stop it, or give --http a free HOST:PORT; for the service, "
        "PRIVCARD_SERVER_ARGS in /etc/privcard/server.env)",
        f"privcard server: เว็บคอนโซลเปิดรับการเชื่อมต่อที่ {addr} ไม่ได้: Address already in use "
        "(ดูโปรแกรมที่ใช้พอร์ตนี้อยู่ด้วย ss -ltnp แล้วหยุดโปรแกรมนั้น หรือระบุ --http HOST:PORT ที่ว่าง "
        "สำหรับบริการ systemd แก้ค่า PRIVCARD_SERVER_ARGS ใน /etc/privcard/server.env)",
    ]


def _server(db_url: str, mqtt_url: str, addr: str) -> subprocess.CompletedProcess:
    argv = [PYTHON, "-m", "broker.dispatcher", "server", "--db", db_url, "--mqtt", mqtt_url, "--http", addr]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, env=python_env())


def test_a_port_another_program_holds_stops_the_server_before_anything_starts(tmp_path, mosquitto):
    with socket.create_server(("127.0.0.1", 0)) as held:
        addr = f"127.0.0.1:{held.getsockname()[1]}"
        done = _server(f"sqlite:///{tmp_path}/x.db", mosquitto.url, addr)
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == _refusal(addr)  # nothing else: no log of a start, no traceback
    assert not (tmp_path / "x.db").exists()  # refused before the database was made


def test_a_second_server_on_the_same_port_leaves_the_first_one_serving(tmp_path, mosquitto):
    with socket.create_server(("127.0.0.1", 0)) as probe:
        addr = f"127.0.0.1:{probe.getsockname()[1]}"
    db_url = f"sqlite:///{tmp_path}/x.db"
    with ServerProcess(db_url, mosquitto.url, extra_args=("--http", addr), log_dir=tmp_path) as first:
        before = first.log()
        # the same command line, as a second start by hand beside the service would be
        done = _server(db_url, mosquitto.url, addr)
        assert done.returncode == 1, done.stderr
        assert done.stderr.splitlines()[-2:] == _refusal(addr)
        assert "connected to" not in done.stderr  # it never took the first one's MQTT session
        assert first.running
        assert "disconnected" not in first.log(len(before.encode()))
        with urllib.request.urlopen(f"http://{addr}/login", timeout=10) as page:
            assert page.status == 200  # the first one's console still answers
