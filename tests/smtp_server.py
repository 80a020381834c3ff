"""A real SMTP server process for the tests (aiosmtpd from PyPI), and a helper to drive it.

Run as a process::

    python -m tests.smtp_server --port 2525 --dir /tmp/mail [--refuse bounce] [--tempfail busy]

Each message it accepts is written to ``DIR`` as one ``.eml`` file (written to a temporary
name, fsynced, then renamed, *before* the server answers 250), so what is in the
directory is exactly what the server accepted. ``--refuse WORD``: recipients containing
WORD get ``550`` (a permanent failure); ``--tempfail WORD``: ``451`` (temporary).

In a test::

    smtp = start_smtp(tmp_path)          # a free port, a process, a directory
    smtp.url                             # "smtp://127.0.0.1:PORT"
    smtp.messages()                      # list[email.message.EmailMessage], in arrival order
    smtp.kill(); smtp.restart()          # SIGKILL; start again on the same port
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from broker.net import free_port, stop_process, wait_port


class _Handler:
    def __init__(self, directory: Path, refuse: str | None, tempfail: str | None):
        self.dir = directory
        self.refuse = refuse
        self.tempfail = tempfail

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse and self.refuse in address:
            return "550 5.1.1 no such user here"
        if self.tempfail and self.tempfail in address:
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        tmp = self.dir / f".{name}.tmp"
        data = envelope.original_content or envelope.content
        with open(tmp, "wb") as fh:
            fh.write(b"X-Envelope-To: " + ",".join(envelope.rcpt_tos).encode() + b"\r\n")
            fh.write(data if isinstance(data, bytes) else data.encode())
            fh.flush()
            os.fsync(fh.fileno())
        os.rename(tmp, self.dir / f"{name}.eml")
        return "250 Message accepted for delivery"


def serve(host: str, port: int, directory: Path, refuse: str | None, tempfail: str | None) -> None:
    from aiosmtpd.smtp import SMTP

    directory.mkdir(parents=True, exist_ok=True)
    loop = asyncio.new_event_loop()
    handler = _Handler(directory, refuse, tempfail)
    server = loop.run_until_complete(
        loop.create_server(lambda: SMTP(handler, enable_SMTPUTF8=True, decode_data=False), host, port)
    )
    print(f"smtp server listening on {host}:{port}", flush=True)
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    try:
        loop.run_forever()
    finally:
        server.close()


class SmtpServer:
    """The SMTP server as a child process: ``url``, ``messages()``, ``kill()``, ``restart()``, ``stop()``."""

    def __init__(
        self, directory: Path, *, host: str = "127.0.0.1", port: int | None = None, refuse=None, tempfail=None
    ):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = port or free_port(host)
        self.refuse, self.tempfail = refuse, tempfail
        self.proc: subprocess.Popen | None = None
        self.log_path = self.dir.parent / f"smtp-{self.port}.log"

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> SmtpServer:
        argv = [sys.executable, "-m", "tests.smtp_server", "--host", self.host, "--port", str(self.port)]
        argv += ["--dir", str(self.dir)]
        if self.refuse:
            argv += ["--refuse", self.refuse]
        if self.tempfail:
            argv += ["--tempfail", self.tempfail]
        root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        if not wait_port(self.host, self.port, timeout):
            self.kill()
            raise AssertionError(f"SMTP server did not start on {self.port}: {self.log_path.read_text()[-2000:]}")
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL (no goodbye to connected clients) and reap."""
        if self.running:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()

    def restart(self, timeout: float = 15.0) -> SmtpServer:
        self.kill()
        return self.start(timeout)

    def stop(self) -> None:
        stop_process(self.proc, 5.0)

    def files(self) -> list[Path]:
        return sorted(self.dir.glob("*.eml"))

    def messages(self) -> list[email.message.EmailMessage]:
        """Every accepted message, in arrival order (``X-Envelope-To`` holds the envelope recipients)."""
        return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in self.files()]

    def wait_for(self, count: int, timeout: float = 30.0) -> list[email.message.EmailMessage]:
        """Wait until at least ``count`` messages arrived; returns them (raises with what came otherwise)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.files()) >= count:
                return self.messages()
            time.sleep(0.05)
        got = [m["To"] for m in self.messages()]
        raise AssertionError(f"expected {count} message(s), got {len(got)}: {got}")

    def __enter__(self) -> SmtpServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_smtp(tmp_path, **kw) -> SmtpServer:
    """A started SMTP server storing into ``tmp_path/mail`` (stop it when done, or use ``with``)."""
    return SmtpServer(Path(tmp_path) / "mail", **kw).start()


def text_of(msg: email.message.EmailMessage) -> str:
    """The text/plain part of a received message."""
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def html_of(msg: email.message.EmailMessage) -> str:
    part = msg.get_body(preferencelist=("html",))
    return part.get_content() if part is not None else ""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="a test SMTP server storing each message as a .eml file")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--refuse", default=None, help="recipients containing this get 550")
    p.add_argument("--tempfail", default=None, help="recipients containing this get 451")
    a = p.parse_args(argv)
    serve(a.host, a.port, Path(a.dir), a.refuse, a.tempfail)
    return 0


if __name__ == "__main__":
    sys.exit(main())


def drain_outbox(svc, rounds: int = 50) -> dict:
    """Send what the messages outbox has due, round after round, until nothing is due; the counts."""
    total = {"sent": 0, "failed": 0, "retry": 0, "skipped": 0}
    for _ in range(rounds):
        c = svc.messages.send_due(limit=100)
        for k in total:
            total[k] += c[k]
        if not any(c.values()):
            due = svc.messages.next_due_in()
            if due is None:
                break
            time.sleep(min(due, 0.5) + 0.01)
    return total
