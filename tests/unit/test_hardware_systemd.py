"""sd_notify over a real unix datagram socket, as systemd receives it."""

from __future__ import annotations

import os
import socket
import tempfile

import pytest

from hardware import systemd


@pytest.fixture
def notify_socket(monkeypatch):
    """A datagram socket standing in for systemd's; NOTIFY_SOCKET points at it."""
    directory = tempfile.mkdtemp(prefix="sdn", dir="/tmp")  # AF_UNIX paths are short
    path = os.path.join(directory, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    yield sock
    sock.close()
    os.unlink(path)
    os.rmdir(directory)


def test_notify_sends_the_state_to_systemd(notify_socket):
    assert systemd.notify("READY=1") is True
    assert notify_socket.recv(256) == b"READY=1"
    assert systemd.notify("WATCHDOG=1") is True
    assert notify_socket.recv(256) == b"WATCHDOG=1"


def test_notify_supports_abstract_sockets(monkeypatch):
    name = f"privcard-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert systemd.notify("STATUS=offline, 3 taps buffered")
        assert sock.recv(256) == b"STATUS=offline, 3 taps buffered"


def test_notify_is_a_no_op_outside_systemd(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert systemd.notify("READY=1") is False


def test_notify_failure_is_logged_not_raised(monkeypatch, caplog):
    monkeypatch.setenv("NOTIFY_SOCKET", "/tmp/privcard-no-such-socket")
    assert systemd.notify("READY=1") is False
    assert "sd_notify('READY=1') failed" in caplog.text


def test_watchdog_interval_is_half_of_watchdog_sec(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert systemd.watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert systemd.watchdog_interval() is None  # meant for another process
    monkeypatch.delenv("WATCHDOG_USEC")
    assert systemd.watchdog_interval() is None
