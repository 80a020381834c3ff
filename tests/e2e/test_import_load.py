"""Issue 11, item 2: a 100,000-row attendance list (and a 1,000,000-row file) started
from the console, the API and the CLI while a gate taps every 200 ms.

A real ``privcard server`` with its web console against a real Mosquitto and a SQLite
file; the console is driven over HTTP like a browser (sign-in form, CSRF), the API with
a bearer token, the CLI as its own process. What must hold: taps answered within 1 s
at p95; the server's MQTT connection never drops (its log and Mosquitto's); the
1,000,000-row file is refused at once with a clear message; the 100,000-row previews
finish, each with the result a small list gives; crediting it credits each member once.

``make test`` runs a short version (30,000-row lists, the 1,000,000-row refusal unchanged: a
10,000-row preview could finish before the console's redirect, and then the page shows no
progress and the staff role's second job is not refused — this test failed so on a quiet machine);
the 100,000-row lists run in ``make chaos`` (``PRIVCARD_CHAOS=full``): two minutes of CI.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from html import unescape

import pytest
import requests

from server.services.attendance import MAX_ROWS
from tests.brokers import free_port, running_mosquitto, wait_port
from tests.e2e.import_load import (
    TapProbe,
    TimedDevice,
    attendance_csv,
    latencies,
    mosquitto_connects,
    run_cli,
    server_connects,
    setup_db,
    summarise,
)
from tests.helpers import ServerProcess, close_store, library_today, open_service

ADMIN, STAFF = ("alice", "alice-password-1"), ("bob", "bob-password-22")
FULL = os.environ.get("PRIVCARD_CHAOS", "").lower() in ("full", "1", "yes")
ROWS = 100_000 if FULL else 30_000
#: taps the probe (one every 200 ms) must have answered while the lists ran
MIN_TAPS = 100 if FULL else 25
EVENT = "Load test"
TOO_MANY = f"more than {MAX_ROWS:,} rows"


#: the server's peak resident memory through all of it (one 1M-row file held while refused,
#: two 100k-row jobs; the issue measured 443 MB for one 1M-row import before)
PEAK_RSS_MIB = 250


def _peak_rss_mib(pid: int) -> float:
    """A process's peak resident set (VmHWM) in MiB."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _flashes(html: str) -> list[str]:
    return [
        unescape(re.sub(r"<[^>]+>", "", m)).strip()
        for m in re.findall(r'<p class="flash [^"]*"[^>]*>(.*?)</p>', html, re.S)
    ]


def _console(url: str, who) -> requests.Session:
    s = requests.Session()
    s.get(f"{url}/lang/en")
    page = s.get(f"{url}/login")
    r = s.post(f"{url}/login", data={"username": who[0], "password": who[1], "csrf_token": _csrf(page.text)})
    assert r.status_code == 200 and "Sign out" in r.text, r.text[:300]
    return s


def _upload(s: requests.Session, url: str, event_id: int, name: str, body: str) -> requests.Response:
    page = s.get(f"{url}/events/{event_id}")
    return s.post(
        f"{url}/events/{event_id}/upload",
        data={"csrf_token": _csrf(page.text)},
        files={"file": (name, body.encode(), "text/csv")},
    )


def _wait_page(s, page_url: str, timeout: float = 240) -> tuple[str, list[str]]:
    """The event page once its job is done; and the progress lines it showed meanwhile."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        html = s.get(page_url).text
        if 'id="import-progress"' not in html:
            return html, seen
        seen.append(re.search(r"([\d,]+) of ([\d,]+) rows", html).group(0))
        time.sleep(1.0)
    raise AssertionError(f"the job of {page_url} did not finish within {timeout}s")


def _wait_api(api, url: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = api.get(url)
        if r.status_code == 200:
            return r.json()
        assert r.status_code == 202, r.text
        time.sleep(0.2)
    raise AssertionError(f"{url} did not finish within {timeout}s")


def _expected(uids: list[str], rows: int) -> tuple[int, int]:
    """(would be credited, errors) of attendance_csv(uids, rows): first sight credits, the rest is refused."""
    return len(uids), rows - len(uids)


@pytest.mark.slow
@pytest.mark.chaos
def test_big_lists_from_the_console_api_and_cli_never_hold_the_taps(tmp_path):
    from server.web import accounts  # its tables come with the schema

    db_url = f"sqlite:///{tmp_path / 'privcard.db'}"
    uids = setup_db(db_url)
    tap_card, members = uids[0], uids[1:]
    svc = open_service(db_url)
    accounts.add_staff(ADMIN[0], "admin", ADMIN[1])
    accounts.add_staff(STAFF[0], "staff", STAFF[1])
    token = accounts.create_token(ADMIN[0], "load test")
    ev = svc.attendance.add_event(EVENT, "learning_activity", library_today().isoformat(), created_by="alice")
    close_store()
    big = attendance_csv(members, ROWS)  # UIDs, 1.5 MB
    huge = "member_id\n" + "".join(f"{i % 300 + 2}\n" for i in range(1_000_000))  # 1,000,000 ids, 3.9 MB
    assert len(huge) < 5_000_000
    (tmp_path / "big.csv").write_text(big)
    (tmp_path / "huge.csv").write_text(huge)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running_mosquitto() as broker:
        srv = ServerProcess(db_url, broker.url, log_dir=tmp_path, extra_args=("--http", f"127.0.0.1:{port}"))
        with srv, TimedDevice(broker.url) as dev:
            assert wait_port("127.0.0.1", port, 20)
            dev.wait_server()
            probe = TapProbe(dev, tap_card).start()
            bob = _console(url, STAFF)
            api = requests.Session()
            api.headers["Authorization"] = f"Bearer {token}"

            # the 1,000,000-row file: refused at once, with a clear message, from all three
            t0 = time.monotonic()
            r = _upload(bob, url, ev.id, "huge.csv", huge)
            assert any(TOO_MANY in f for f in _flashes(r.text)), _flashes(r.text)
            r = api.post(
                f"{url}/api/events/import",
                json={"activity": "learning_activity", "event": EVENT, "csv": huge, "dry_run": True},
            )
            assert r.status_code == 400 and TOO_MANY in r.json()["error"]
            cli = run_cli(db_url, tmp_path / "huge.csv", "--dry-run")
            assert cli.returncode == 1 and TOO_MANY in cli.stderr
            assert time.monotonic() - t0 < 30

            # the 100,000-row list previewed from the console, the API and the CLI at once
            r = _upload(bob, url, ev.id, "big.csv", big)
            page_url = r.url
            assert "upload=" in page_url and 'id="import-progress"' in r.text
            busy = _upload(bob, url, ev.id, "again.csv", big)  # the staff role's one job is running
            assert any("already running for the staff role" in f for f in _flashes(busy.text)), _flashes(busy.text)
            r = api.post(
                f"{url}/api/events/import",
                json={"activity": "learning_activity", "event": EVENT, "csv": big, "dry_run": True, "wait": 0},
            )
            assert r.status_code == 202, r.text
            job_url = url + r.json()["url"]
            cli_result = {}
            t = threading.Thread(target=lambda: cli_result.update(p=run_cli(db_url, tmp_path / "big.csv", "--dry-run")))
            t.start()
            html, progress = _wait_page(bob, page_url)
            done = _wait_api(api, job_url)
            t.join(300)

            # a small list's preview, here and now, for comparison (a preview only reads)
            svc = open_service(db_url)
            small = svc.attendance.import_csv(attendance_csv(members, 1000), "learning_activity", EVENT, dry_run=True)
            close_store()
            # crediting the previewed list from the console: each member once
            credit = bob.post(
                f"{url}/events/{ev.id}/uploads/{page_url.rsplit('=', 1)[1]}/credit", data={"csrf_token": _csrf(html)}
            )
            credited_html, _ = _wait_page(bob, credit.url)
            # and again through the API (a small list this time): nothing new
            again = api.post(
                f"{url}/api/events/import",
                json={
                    "activity": "learning_activity",
                    "event": EVENT,
                    "csv": attendance_csv(members, 2000),
                    "wait": 30,
                },
            )
            probe.stop()
            peak_mib = _peak_rss_mib(srv.proc.pid)
            time.sleep(3)
            stats = summarise(latencies(dev, probe, 5.0))
            print("taps during the imports:", stats, f"server peak RSS {peak_mib:.0f} MiB")
            assert peak_mib < PEAK_RSS_MIB, peak_mib
            assert stats["taps"] >= MIN_TAPS and stats["p95_ms"] is not None and stats["p95_ms"] <= 1000, stats
            assert server_connects(srv) == 1 and mosquitto_connects(broker) == 1, srv.log_tail()

    want_credit, want_errors = _expected(members, ROWS)
    # the console's preview: progress shown, then the counts and rows by line
    assert progress and re.fullmatch(rf"[\d,]+ of {ROWS:,} rows", progress[0]), progress
    text = re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))
    assert f"{want_credit} will be credited" in text and f"{want_errors} error" in text
    assert re.search(rf"Showing 1,300 of {ROWS:,} rows", text), text[:2000]  # the first 1,000 rows, errors to 1,000
    # the API's and the CLI's previews: the same counts
    assert done["status"] == "done" and done["counts"] == {
        "credited": want_credit,
        "already_credited": 0,
        "errors": want_errors,
    }
    proc = cli_result["p"]
    assert proc.returncode == 3, proc.stderr[-500:]
    cli_done = json.loads(proc.stdout)
    assert cli_done["counts"] == done["counts"]
    assert "rows" in proc.stderr  # its progress
    # the same rows, line by line, as a small list previewed (before the credit)
    assert [(e["line"], e["member"]) for e in done["credited"]] == [(ln, m) for ln, m, _e in small.credited]
    assert [(e["line"], e["error"]) for e in done["errors"]][: len(small.errors)] == [
        (ln, str(m)) for ln, m in small.errors
    ]
    # credited once: the console's credit, then the API's re-import of a part of it credits nothing
    credited_text = re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", credited_html)))
    assert f"{want_credit} credited" in credited_text
    assert again.status_code == 200 and again.json()["counts"]["credited"] == 0
    assert again.json()["counts"]["already_credited"] == want_credit


def test_a_job_of_a_server_killed_mid_import_finishes_after_the_restart(tmp_path):
    """kill -9 while the API's import runs: the restarted server resumes the job; each member is credited once."""
    from server.store import ImportJob, LedgerEntry
    from server.web import accounts

    db_url = f"sqlite:///{tmp_path / 'privcard.db'}"
    uids = setup_db(db_url, members=1500)
    open_service(db_url)
    accounts.add_staff(ADMIN[0], "admin", ADMIN[1])
    token = accounts.create_token(ADMIN[0], "t")
    close_store()
    members = uids[1:]
    body = {"activity": "learning_activity", "event": EVENT, "csv": attendance_csv(members, 6000), "wait": 0}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    with running_mosquitto() as broker:
        srv = ServerProcess(db_url, broker.url, log_dir=tmp_path, extra_args=("--http", f"127.0.0.1:{port}"))
        with srv:
            assert wait_port("127.0.0.1", port, 20)
            r = api.post(f"{url}/api/events/import", json=body)
            assert r.status_code == 202, r.text
            job_url = url + r.json()["url"]
            deadline = time.monotonic() + 60
            while api.get(job_url).json()["progress"]["rows_done"] < 400 and time.monotonic() < deadline:
                time.sleep(0.02)
            srv.kill()
            open_service(db_url)
            job = ImportJob.get()
            assert job.status == "running" and 0 < job.rows_done < 6000, (job.status, job.rows_done)
            close_store()
            srv.start()
            assert wait_port("127.0.0.1", port, 20)
            done = _wait_api(api, job_url, timeout=120)
            assert "resuming attendance import job" in srv.log()
    assert done["status"] == "done"
    assert done["counts"] == {"credited": 1500, "already_credited": 0, "errors": 4500}
    open_service(db_url)
    assert LedgerEntry.select().where(LedgerEntry.source == "import").count() == 1500
    close_store()
