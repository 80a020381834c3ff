"""The console's start errors (``--http``, ``PRIVCARD_WEB_PUBLIC_URL``) and ``privcard admin staff``'s
own refusals (the two typed passwords differ; a command that needs the points service run on its
own) print a Thai line under the English one. Real entry points: ``privcard server``'s main in this
process (refused before anything starts), the staff command in a real terminal (a pty) for the
password prompt.
"""

from __future__ import annotations

import contextlib
import io
import os
import pty
import select
import sys
import time
from pathlib import Path

import pytest

from server import main as server_main
from server.web import staff_admin

ROOT = Path(__file__).resolve().parents[2]


def _server(tmp_path, *extra: str) -> tuple[int, list[str]]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = server_main.main(["--db", f"sqlite:///{tmp_path}/x.db", "--mqtt", "mqtt://127.0.0.1:1", *extra])
    return code, err.getvalue().splitlines()


@pytest.mark.parametrize("addr", ["localhost:web", "127.0.0.1:70000"])
def test_a_bad_http_address_is_refused_in_english_then_thai(tmp_path, addr):
    code, lines = _server(tmp_path, "--http", addr)
    assert code == 1
    assert lines[-2:] == [
        f"privcard server: --http must be HOST:PORT, got '{addr}'",
        f"privcard server: --http ต้องเป็น HOST:PORT (ได้รับ '{addr}')",
    ]
    assert not (tmp_path / "x.db").exists()  # refused before the server started


def test_a_bad_public_url_is_refused_in_english_then_thai(tmp_path, monkeypatch):
    monkeypatch.setenv("PRIVCARD_WEB_PUBLIC_URL", "points.library.example")
    code, lines = _server(tmp_path, "--http", "127.0.0.1:0")
    assert code == 1
    assert lines[-2:] == [
        "privcard server: PRIVCARD_WEB_PUBLIC_URL must be an http:// or https:// address, got 'points.library.example'",
        "privcard server: PRIVCARD_WEB_PUBLIC_URL ต้องเป็นที่อยู่แบบ http:// หรือ https:// (ได้รับ 'points.library.example')",
    ]
    assert not (tmp_path / "x.db").exists()


def test_the_demo_refuses_a_bad_http_address_before_it_starts_anything(tmp_path):
    from server import demo

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = demo.main(["--db", f"sqlite:///{tmp_path}/x.db", "--http", "localhost:web", "--kiosk", "no"])
    assert code == 1
    assert err.getvalue().splitlines()[-2:] == [
        "privcard demo: --http must be HOST:PORT, got 'localhost:web'",
        "privcard demo: --http ต้องเป็น HOST:PORT (ได้รับ 'localhost:web')",
    ]
    assert not (tmp_path / "x.db").exists()  # no broker, no database: refused first


@pytest.mark.parametrize("command", [["unlock-pin", "12"], ["pin-lockouts"]])
def test_a_command_that_needs_privcard_admin_says_so_in_thai_too(tmp_path, command):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = staff_admin.main(["--db", f"sqlite:///{tmp_path}/x.db", "staff", *command])
    assert code == 1
    assert err.getvalue().splitlines() == [
        f"privcard admin staff: {command[0]}: run it as privcard admin",
        f"privcard admin staff: {command[0]}: ต้องสั่งผ่าน privcard admin",
    ]


def _read_until(fd: int, want: bytes, seen: bytearray, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while want not in seen:
        assert time.monotonic() < end, bytes(seen)
        if select.select([fd], [], [], 0.5)[0]:
            try:
                chunk = os.read(fd, 1024)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk


def test_two_different_passwords_at_the_prompt_are_said_in_thai_too(tmp_path):
    db = f"sqlite:///{tmp_path}/x.db"
    pid, fd = pty.fork()
    if pid == 0:  # the child: privcard admin staff at a real terminal
        os.chdir(ROOT)
        os.execv(sys.executable, [sys.executable, "-m", "server.web.staff_admin", "--db", db, "staff", "add", "alice"])
    seen = bytearray()
    try:
        _read_until(fd, b"Password: ", seen)
        os.write(fd, b"first-secret-1\n")
        _read_until(fd, b"Again: ", seen)
        os.write(fd, b"first-secret-2\n")
        _read_until(fd, "ไม่ตรงกัน".encode(), seen)  # the Thai line's end
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    lines = [x.strip() for x in seen.decode("utf-8", "replace").splitlines()]
    assert os.waitstatus_to_exitcode(status) == 1, lines
    assert "privcard admin staff: passwords differ" in lines
    assert "privcard admin staff: รหัสผ่านที่พิมพ์สองครั้งไม่ตรงกัน" in lines
    assert "secret" not in seen.decode("utf-8", "replace")  # the prompt did not echo the passwords
