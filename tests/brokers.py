"""Brokers the tests start themselves: a Mosquitto process and the embedded amqtt one.

Both expose the same small interface — ``.url``, ``.host``, ``.port``, ``.start()``,
``.stop()``, ``.kill()`` — so a test can run against either (the ``bus`` fixture).
Tests never use a system broker on 1883: every broker here listens on a free port.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from broker.net import free_port, stop_process, wait_port

REPO = Path(__file__).resolve().parent.parent

MOSQUITTO_CANDIDATES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto")

MOSQUITTO_MISSING = (
    "Mosquitto is not installed, so the broker integration tests cannot run. "
    "Install it with `apt-get install mosquitto` (Debian/Ubuntu; the system service may "
    "stay disabled - the tests start their own broker on a free port), or set "
    "PRIVCARD_MOSQUITTO=/path/to/mosquitto."
)


def find_mosquitto() -> str | None:
    """Path of the mosquitto binary, or None."""
    env = os.environ.get("PRIVCARD_MOSQUITTO")
    if env:
        return env if os.access(env, os.X_OK) else None
    for path in MOSQUITTO_CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    return shutil.which("mosquitto")


class MosquittoBroker:
    """A Mosquitto process on a free loopback port with the dev settings (TCP_NODELAY etc.)."""

    kind = "mosquitto"

    def __init__(self, port: int | None = None, host: str = "127.0.0.1", binary: str | None = None):
        self.binary = binary or find_mosquitto()
        if not self.binary:
            raise RuntimeError(MOSQUITTO_MISSING)
        self.host = host
        self.port = port or free_port(host)
        self._dir = tempfile.mkdtemp(prefix="privcard-mosq-")
        self.conf = Path(self._dir) / "mosquitto.conf"
        self.log_path = Path(self._dir) / "mosquitto.log"
        self.conf.write_text(
            "per_listener_settings false\n"
            f"listener {self.port} {self.host}\n"
            "allow_anonymous true\n"
            "persistence false\n"
            "set_tcp_nodelay true\n"
            "max_queued_messages 100000\n"
            "max_inflight_messages 1000\n"
            "log_dest stderr\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
        )
        os.chmod(self._dir, 0o755)
        os.chmod(self.conf, 0o644)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """``mqtt://host:port``."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 10.0) -> MosquittoBroker:
        """Start (or restart, on the same port) and wait until it accepts connections."""
        if self.running:
            return self
        deadline = time.monotonic() + timeout
        while True:
            with open(self.log_path, "ab") as log:  # the child keeps its own copy of the descriptor
                self.proc = subprocess.Popen(
                    [self.binary, "-c", str(self.conf)], stdout=log, stderr=log, stdin=subprocess.DEVNULL
                )
            if wait_port(self.host, self.port, min(timeout, 5.0)) and self.running:
                return self
            # The port may still be in TIME_WAIT/held by the old process right after a restart.
            self.proc.kill()
            self.proc.wait()
            if time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not start on {self.host}:{self.port}; log:\n{self.log()}")
            time.sleep(0.2)

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate gracefully (SIGTERM)."""
        stop_process(self.proc, timeout)

    def kill(self) -> None:
        """SIGKILL: clients see the TCP connection reset, no goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def log(self) -> str:
        """What mosquitto wrote so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def close(self) -> None:
        """Stop and remove the temp directory."""
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __repr__(self) -> str:
        return f"<MosquittoBroker {self.url} {'running' if self.running else 'stopped'}>"


@contextmanager
def running_mosquitto():
    """A started :class:`MosquittoBroker`, closed afterwards; fails the test (never skips) without Mosquitto."""
    import pytest

    if not find_mosquitto():
        pytest.fail(MOSQUITTO_MISSING, pytrace=False)
    broker = MosquittoBroker()
    broker.start()
    try:
        yield broker
    finally:
        broker.close()


class EmbeddedTestBroker:
    """The embedded amqtt broker, in-process, with the MosquittoBroker interface.

    ``kill()`` is the same as ``stop()`` here (no process to SIGKILL); amqtt closes
    the client sockets either way, and clients' last wills are not special-cased.
    """

    kind = "embedded"

    def __init__(self, port: int | None = None, host: str = "127.0.0.1"):
        from broker.embedded import EmbeddedBroker

        self.host = host
        self.port = port or free_port(host)
        self._broker = EmbeddedBroker(host, self.port)

    @property
    def url(self) -> str:
        """``mqtt://host:port``."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the broker thread is alive."""
        return self._broker.running

    def start(self, timeout: float = 15.0) -> EmbeddedTestBroker:
        """Start (or restart on the same port)."""
        from broker.embedded import EmbeddedBroker

        if self.running:
            return self
        deadline = time.monotonic() + timeout
        while True:
            self._broker = EmbeddedBroker(self.host, self.port)
            try:
                self._broker.start()
                return self
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        """Shut the broker down."""
        self._broker.stop()

    kill = stop

    def close(self) -> None:
        """Stop."""
        self.stop()

    def __repr__(self) -> str:
        return f"<EmbeddedTestBroker {self.url} {'running' if self.running else 'stopped'}>"


def python_env(**extra: str) -> dict:
    """Environment for a child Python process that can import the repo's packages."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(extra)
    return env


PYTHON = sys.executable


class LoggedProcess:
    """A child process whose stdout and stderr lines are collected by threads.

    ``wait_line(pattern)`` waits for a line matching a regex; the pipes never fill up.
    """

    name = "process"

    def __init__(self, args: list[str], *, env: dict | None = None, stdin: bool = False):
        import threading

        self.args = args
        self.proc = subprocess.Popen(
            args,
            env=python_env(**(env or {})),
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.lines: list[str] = []
        self._cond = threading.Condition()
        for stream in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream) -> None:
        for line in stream:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def count(self, pattern: str) -> int:
        """How many collected lines match."""
        import re

        rx = re.compile(pattern)
        with self._cond:
            return sum(1 for line in self.lines if rx.search(line))

    def wait_line(self, pattern: str, timeout: float = 10.0, *, count: int = 1) -> list[str]:
        """Wait for ``count`` lines matching ``pattern``; AssertionError with the log otherwise."""
        import re

        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                hits = [line for line in self.lines if rx.search(line)]
                if len(hits) >= count:
                    return hits
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._cond.wait(0.2)):
                    tail = "\n".join(self.lines[-40:])
                    raise AssertionError(
                        f"{self.name}: {len(hits)}/{count} lines /{pattern}/ "
                        f"(exit code {self.proc.poll()}); last lines:\n{tail}"
                    )
                self._cond.wait(min(left, 0.2))

    def kill(self) -> None:
        """SIGKILL."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(timeout)


class GateProcess(LoggedProcess):
    """A real ``privcard gate`` process (``stdin`` reader by default), driven by a test.

    ``tap(uid)`` writes a line to its stdin; ``outbox_depth()`` reads its outbox file.
    """

    def __init__(
        self, device_id: str, mqtt_url: str, state_dir, *extra: str, env: dict | None = None, reader: str = "stdin"
    ):
        self.device_id = self.name = device_id
        self.state_dir = Path(state_dir)
        super().__init__(
            [
                PYTHON,
                "-m",
                "broker.dispatcher",
                "gate",
                "--device-id",
                device_id,
                "--mqtt",
                mqtt_url,
                "--reader",
                reader,
                "--no-gpio",
                "--state-dir",
                str(state_dir),
                *extra,
            ],
            env=env,
            stdin=True,
        )

    def tap(self, *uids: str) -> None:
        """Present cards (one line each)."""
        self.proc.stdin.write("".join(f"{u}\n" for u in uids))
        self.proc.stdin.flush()

    def outbox_depth(self) -> int:
        """Taps waiting in its outbox (read from the SQLite file, safe while it runs)."""
        from gate.outbox import Outbox

        box = Outbox(self.state_dir / "outbox.db")
        try:
            return box.depth()
        finally:
            box.close()
