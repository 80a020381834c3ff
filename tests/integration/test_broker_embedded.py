"""`privcard broker`: the embedded broker as a command."""

import subprocess
import time

from broker.client import BusClient
from tests.brokers import PYTHON, python_env


def test_privcard_broker_command_on_a_free_port():
    proc = subprocess.Popen(
        [PYTHON, "-m", "broker.dispatcher", "broker", "--host", "127.0.0.1", "--port", "0"],
        env=python_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("listening on 127.0.0.1:"), (
            line + proc.stderr.read() if proc.poll() is not None else line
        )
        port = int(line.rsplit(":", 1)[1])
        assert port > 0
        got = []
        c = BusClient(f"mqtt://127.0.0.1:{port}", "probe")
        c.subscribe("echo", lambda t, p, m: got.append(p))
        c.start()
        assert c.wait_connected(10)
        time.sleep(0.2)
        c.publish("echo", b"hi")
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            time.sleep(0.05)
        assert got == [b"hi"]
        c.stop()
        proc.terminate()  # SIGTERM: clean exit
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_privcard_broker_reports_a_busy_port():
    first = subprocess.Popen(
        [PYTHON, "-m", "broker.dispatcher", "broker", "--port", "0"],
        env=python_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(first.stdout.readline().strip().rsplit(":", 1)[1])
        second = subprocess.run(
            [PYTHON, "-m", "broker.dispatcher", "broker", "--port", str(port)],
            env=python_env(),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode == 1
        assert f"127.0.0.1:{port}" in second.stderr
    finally:
        first.terminate()
        first.wait(10)
