"""Small TCP and process helpers for the processes that start a broker of their own.

``free_port``/``wait_port`` pick a port for a broker and wait until it listens;
``stop_process`` ends a child process (SIGTERM, then SIGKILL). Not test-only code, so
it is not under ``tests/``: the shipped ``privcard bench`` (server/bench.py) starts its
own broker with it, and it is about running a broker, so it sits with the embedded one
(docs/architecture.md). The test fixtures and the gate benchmark under tests/ reuse it
rather than keep copies.
"""

from __future__ import annotations

import socket
import subprocess
import time


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_port(host: str, port: int, timeout: float = 10.0) -> bool:
    """Wait until something accepts TCP connections on host:port; False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def stop_process(proc: subprocess.Popen | None, timeout: float = 5.0) -> int | None:
    """SIGTERM (a graceful exit), SIGKILL if it is still running after ``timeout`` s; the exit code."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode
