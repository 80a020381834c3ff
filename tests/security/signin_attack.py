"""Staff sign-in under attack, against a real ``privcard server --http`` and Mosquitto.

Two measurements, used by ``tests/security/test_signin_attack.py`` and runnable alone
for docs/benchmarks.md::

    .venv/bin/python -m tests.security.signin_attack            # both, prints JSON

- :func:`parallel_guesses`: N threads post a wrong password for one account at once;
  how many were actually checked (Argon2-verified and audited as
  ``staff.login_failed``), and whether the account ended locked.
- :func:`simultaneous_signins`: N threads sign in (right password) at once while a gate
  taps every 200 ms; the server process's resident memory (peak, sampled from
  ``/proc``) and the gate's tap latency (p50/p95) during the burst.

Only the public surface is used (the sign-in form, the bus, the CLI-level account
functions), so the same harness measures the tree before and after a change.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

import requests

from tests.brokers import free_port, running_mosquitto, wait_port
from tests.helpers import Device, ServerProcess, close_store, new_uid, open_service

VICTIM = ("victim", "victim-password-1")
CLERK = ("clerk", "clerk-password-22")
GATE = "gate-bench"
CSRF_MARK = 'name="csrf_token" value="'


def prepare(db_url: str) -> str:
    """Accounts, a gate and a member in a fresh database; returns the member's card UID."""
    from server.web import accounts  # registers the console's migrations before the store connects

    svc = open_service(db_url)

    svc.devices.add(GATE, "gate", direction="in")
    uid = new_uid()
    svc.members.add("Bench Member", uid)
    accounts.add_staff(VICTIM[0], "admin", VICTIM[1])
    accounts.add_staff(CLERK[0], "staff", CLERK[1])
    close_store()
    return uid


class Console:
    """The server with MQTT and the console, as a child process, on a fresh database."""

    def __init__(self, broker_url: str, tmp: Path):
        self.db_url = f"sqlite:///{tmp / 'privcard.db'}"
        self.uid = prepare(self.db_url)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = ServerProcess(
            self.db_url, broker_url, log_dir=tmp, name="console", extra_args=("--http", f"127.0.0.1:{self.port}")
        )

    def __enter__(self) -> Console:
        self.proc.start()
        if not wait_port("127.0.0.1", self.port, 20):
            raise AssertionError(f"console did not listen on {self.port}:\n{self.proc.log_tail()}")
        return self

    def __exit__(self, *exc) -> None:
        self.proc.stop()

    def rss_kib(self, field: str = "VmRSS") -> int:
        """The server process's resident memory (``VmRSS``) or its peak (``VmHWM``), KiB."""
        for line in Path(f"/proc/{self.proc.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        return 0


def _signin_client(url: str) -> tuple[requests.Session, str]:
    """A browser-like client holding the sign-in page's cookie and CSRF token."""
    s = requests.Session()
    page = s.get(f"{url}/lang/en", timeout=30)
    page = s.get(f"{url}/login", timeout=30)
    i = page.text.index(CSRF_MARK) + len(CSRF_MARK)
    return s, page.text[i : page.text.index('"', i)]


def _burst(url: str, n: int, who: tuple[str, str]) -> list[tuple[int, float, str]]:
    """``n`` sign-ins posted at the same instant; (status, seconds, Retry-After) each."""
    clients = [_signin_client(url) for _ in range(n)]
    barrier = threading.Barrier(n)
    out: list = [None] * n

    def post(i: int) -> None:
        s, token = clients[i]
        barrier.wait()
        t0 = time.monotonic()
        try:
            r = s.post(
                f"{url}/login",
                data={"username": who[0], "password": who[1], "csrf_token": token},
                allow_redirects=False,
                timeout=120,
            )
            out[i] = (r.status_code, time.monotonic() - t0, r.headers.get("Retry-After", ""))
        except requests.RequestException as exc:
            out[i] = (0, time.monotonic() - t0, type(exc).__name__)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def _audit_count(db_url: str, action: str, target: str) -> int:
    from server import store
    from server.store import Audit

    close_store()
    store.connect(db_url)
    try:
        return Audit.select().where((Audit.action == action) & (Audit.target == target)).count()
    finally:
        close_store()


def _locked(db_url: str, username: str) -> bool:
    from server import store

    close_store()
    store.connect(db_url)
    try:
        row = store.db.execute_sql("SELECT locked_until FROM web_staff WHERE username = ?", (username,)).fetchone()
        return bool(row and row[0])
    finally:
        close_store()


def parallel_guesses(console: Console, n: int = 100) -> dict:
    """``n`` wrong passwords for one account at once: how many were checked, statuses."""
    results = _burst(console.url, n, (VICTIM[0], "wrong-password-x"))
    statuses: dict[str, int] = {}
    for code, _t, _ra in results:
        statuses[str(code)] = statuses.get(str(code), 0) + 1
    # then the right password: still refused while the account is locked
    s, token = _signin_client(console.url)
    right = s.post(
        f"{console.url}/login",
        data={"username": VICTIM[0], "password": VICTIM[1], "csrf_token": token},
        allow_redirects=False,
        timeout=60,
    ).status_code
    return {
        "guesses": n,
        "checked": _audit_count(console.db_url, "staff.login_failed", VICTIM[0]),
        "statuses": statuses,
        "locked": _locked(console.db_url, VICTIM[0]),
        "right_password_after": right,
    }


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def simultaneous_signins(console: Console, broker_url: str, n: int = 60, settle_s: float = 3.0) -> dict:
    """``n`` right-password sign-ins at once while a gate taps every 200 ms."""
    stop = threading.Event()
    lat: list[tuple[float, float]] = []  # (start, seconds)
    rss: list[int] = []
    failures: list[str] = []

    def tapper(dev: Device) -> None:
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                dev.tap(GATE, console.uid, timeout=20, resend_s=5)
                lat.append((t0, time.monotonic() - t0))
            except AssertionError as exc:
                failures.append(str(exc))
            stop.wait(max(0.0, 0.2 - (time.monotonic() - t0)))

    def sampler() -> None:
        while not stop.is_set():
            try:
                rss.append(console.rss_kib())
            except OSError:
                return
            stop.wait(0.02)

    with Device(broker_url) as dev:
        dev.wait_server()
        dev.tap(GATE, console.uid)  # warm
        rss_before = console.rss_kib()
        threads = [threading.Thread(target=tapper, args=(dev,)), threading.Thread(target=sampler)]
        for t in threads:
            t.start()
        time.sleep(settle_s)
        quiet = [x for _t, x in lat]
        t_burst = time.monotonic()
        results = _burst(console.url, n, CLERK)
        t_end = time.monotonic()
        time.sleep(1.0)
        stop.set()
        for t in threads:
            t.join()
    during = [x for t0, x in lat if t_burst <= t0 <= t_end]
    statuses: dict[str, int] = {}
    for code, _t, _ra in results:
        statuses[str(code)] = statuses.get(str(code), 0) + 1
    return {
        "signins": n,
        "statuses": statuses,
        "retry_after": sorted({ra for _c, _t, ra in results if ra}),
        "burst_s": round(t_end - t_burst, 2),
        "rss_before_mib": round(rss_before / 1024, 1),
        "rss_peak_mib": round(max(rss or [0]) / 1024, 1),
        "taps_quiet": len(quiet),
        "tap_quiet_p50_ms": round(statistics.median(quiet) * 1000, 1) if quiet else None,
        "taps_during": len(during),
        "tap_p50_ms": round(_percentile(during, 50) * 1000, 1) if during else None,
        "tap_p95_ms": round(_percentile(during, 95) * 1000, 1) if during else None,
        "tap_max_ms": round(max(during) * 1000, 1) if during else None,
        "tap_failures": failures,
    }


def main() -> int:
    """Run both measurements on fresh databases and print JSON."""
    out = {}
    with running_mosquitto() as broker, tempfile.TemporaryDirectory() as tmp:
        with Console(broker.url, Path(tmp) / "a") as c:
            out["parallel_guesses"] = parallel_guesses(c)
        with Console(broker.url, Path(tmp) / "b") as c:
            out["simultaneous_signins"] = simultaneous_signins(c, broker.url)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
