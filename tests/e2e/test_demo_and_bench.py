"""`privcard demo` and `privcard bench` run end to end as a user would start them."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")


def _privcard(*args: str, cwd: Path = REPO, timeout: float = 120) -> subprocess.CompletedProcess:
    """``privcard ARGS`` (through the dispatcher, as the installed command runs it); it must exit 0."""
    proc = subprocess.run(
        [sys.executable, "-m", "broker.dispatcher", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


@pytest.mark.slow
def test_demo_runs_gates_and_credits_taps(tmp_path):
    """The demo starts broker, server and real gate processes; taps end as credits in ./var."""
    proc = _privcard(
        "demo",
        "--duration",
        "6",
        "--pace",
        "0.3",
        "--http",
        "",
        "--kiosk",
        "no",
        "--no-colour",
        cwd=tmp_path,
    )
    out = proc.stdout
    assert "embedded MQTT broker" in out
    assert "privcard kiosk --device-id kiosk-1" in out  # no display: it says how to open the kiosk
    assert " credited " in out, out[-2000:]
    db = sqlite3.connect(tmp_path / "var" / "privcard.db")
    taps = db.execute("SELECT count(*) FROM tap_inbox WHERE outcome = 'credited'").fetchone()[0]
    members = db.execute("SELECT count(*) FROM member").fetchone()[0]
    # every member's cached balance equals their ledger sum
    drift = db.execute(
        "SELECT count(*) FROM member m WHERE balance != "
        "(SELECT coalesce(sum(points), 0) FROM ledger_entry e WHERE e.member_id = m.id)"
    ).fetchone()[0]
    assert taps >= 1 and members >= 8 and drift == 0
    # the gates' outboxes drained: every tap the demo fed was answered
    for gate in ("gate-in-1", "gate-out-1", "counter-1"):
        outbox = tmp_path / "var" / gate / "outbox.db"
        assert outbox.exists()


@pytest.fixture(scope="module")
def bench_figures() -> dict:
    """One ``privcard bench --sun --json`` run (about 10 s), read by the tests of its figures."""
    proc = _privcard(
        "bench",
        "--taps",
        "300",
        "--devices",
        "3",
        "--members",
        "100",
        "--rounds",
        "2",
        "--sun",
        "--disk-probe",
        "0.5",
        "--json",
        timeout=240,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_bench_prints_the_promised_figures(bench_figures):
    """`privcard bench --json` measures the server and the echo in one run and reports ratios."""
    figures = bench_figures
    for key in (
        "throughput_tps",
        "echo_throughput_tps",
        "throughput_ratio",
        "p50_ms",
        "p99_ms",
        "echo_p99_ms",
        "p99_ratio",
    ):
        assert isinstance(figures[key], (int, float)) and figures[key] > 0, key
    # --sun: the same server on cards that all require SUN, side by side (every tap genuine, or it fails)
    sun = figures["sun"]
    for key in ("throughput_tps", "cpu_ms_per_tap", "uid_only_cpu_ms_per_tap", "p99_ms", "verify_us"):
        assert isinstance(sun[key], (int, float)) and sun[key] > 0, key
    assert figures["throughput_ratio"] == pytest.approx(
        figures["throughput_tps"] / figures["echo_throughput_tps"], rel=0.01
    )


def test_bench_with_campaigns_reports_both_servers_side_by_side():
    """`privcard bench --campaigns N --activities M`: the server with running campaigns beside the plain one."""
    proc = _privcard(
        *("bench", "--taps", "200", "--devices", "2"),
        *("--members", "50", "--rounds", "1", "--campaigns", "6", "--activities", "15"),
        *("--campaign-rounds", "2", "--disk-probe", "0", "--json"),
        timeout=240,
    )
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert figures["disk_probe"] is None  # --disk-probe 0: not measured
    c = figures["campaigns"]
    assert (c["campaigns"], c["activities"]) == (6, 15)
    assert len(c["rounds"]["server"]) == len(c["rounds"]["server-campaigns"]) == 2
    for key in ("throughput_tps", "plain_throughput_tps", "ratio", "cpu_ms_per_tap", "plain_cpu_ms_per_tap"):
        assert isinstance(c[key], (int, float)) and c[key] > 0, key
    assert c["ratio"] == pytest.approx(c["throughput_tps"] / c["plain_throughput_tps"], rel=0.01)


def test_bench_reports_each_half_load_round_and_the_workers_own_figures(bench_figures):
    """Per round: the p99 ratio against that round's echo, CPU per tap, and the worker's batch-time p99."""
    figures = bench_figures
    r = figures["half_load_rounds"]
    assert len(r["server_p99_ms"]) == len(r["echo_p99_ms"]) == len(r["p99_ratio"]) == 2
    for server, echo, ratio in zip(r["server_p99_ms"], r["echo_p99_ms"], r["p99_ratio"], strict=True):
        assert ratio == pytest.approx(server / echo, rel=0.02, abs=0.01)
    for key in ("server_cpu_ms_per_tap", "worker_batch_ms_p99", "worker_cpu_ms_per_message"):
        assert len(r[key]) == 2 and all(isinstance(x, (int, float)) and x > 0 for x in r[key]), key
    assert len(r["echo_cpu_ms_per_tap"]) == 2  # /proc's clock ticks: a short echo round may show 0
    assert figures["worker_batch_ms_p99"] > 0 and figures["half_load_cpu_ms_per_tap"] > 0
    # each round's longest commit: SQLite's COMMIT writes and syncs the WAL, never free
    assert len(r["worker_commit_ms_max"]) == 2 and all(x > 0 for x in r["worker_commit_ms_max"]), r


def test_bench_times_the_disk_alone_first(bench_figures):
    """`--disk-probe 0.5`: fdatasync timed where the database lies, before any server runs."""
    d = bench_figures["disk_probe"]
    assert d["seconds"] == 0.5 and d["syncs"] >= 20, d  # a sync every 2 ms at most, for half a second
    assert 0 < d["p50_ms"] <= d["p99_ms"] <= d["max_ms"], d
    assert 0 <= d["over_50ms"] <= d["over_20ms"] <= d["syncs"], d


def test_disk_probe_counts_slow_syncs(tmp_path, monkeypatch):
    """The probe's figures come from the syncs it timed: a sync made slow is counted over 20 and 50 ms."""
    from server import bench

    real = os.fdatasync
    calls = []

    def slow_every_third(fd):
        calls.append(fd)
        if len(calls) % 3 == 0:
            time.sleep(0.06)
        return real(fd)

    monkeypatch.setattr(bench.os, "fdatasync", slow_every_third)
    d = bench._disk_probe(str(tmp_path), 0.4, pause=0.0)
    assert d["syncs"] == len(calls) >= 6, d
    assert d["over_50ms"] == d["over_20ms"] == len(calls) // 3, d
    assert d["max_ms"] >= 60 and d["p50_ms"] < 20, d
    assert list(tmp_path.iterdir()) == []  # its file is gone


def test_bench_names_each_database_it_ran_on():
    """A ``--db`` is named by where it is: host and port, or a Unix socket's path (a socket URL was named
    ``postgresql://localhost:5432``, like a TCP one)."""
    from server.bench import _db_label

    assert _db_label("sqlite") == _db_label("sqlite:////tmp/x.db") == "sqlite"
    assert _db_label("postgresql://postgres@127.0.0.1:5432/test") == "postgresql://127.0.0.1:5432"
    assert _db_label("postgresql://u@dbhost/x") == "postgresql://dbhost:5432"
    assert _db_label("postgresql://u@/x?host=/var/run/postgresql") == "postgresql:/var/run/postgresql/.s.PGSQL.5432"


def test_bench_splits_the_slowest_taps_into_their_legs(bench_figures):
    """Per round, the slowest 1 % of the server's taps split into legs (the server's trace joined with the load's)."""
    from server.bench import LEGS

    slowest = bench_figures["half_load_rounds"]["slowest_1pct"]
    assert len(slowest) == 2
    for b in slowest:
        # the round's timed taps only: its warm-up burst (50 taps decided as one batch) once
        # made the whole "slowest 1 %" and sent a session looking for a tail that was not there
        assert b["taps"] == bench_figures["half_load_taps"] >= 100, b
        assert 1 <= b["slowest"] <= b["taps"]
        legs = [b[key + "_ms"] for key, _ in LEGS]
        # one machine, one clock: the legs add up to what the device saw. (A leg's mean may
        # dip below zero by a little: "written" is read just after the flush returns, and a
        # device can have the answer first if the worker loses its core in between.)
        assert sum(legs) == pytest.approx(b["total_ms"], abs=0.05 * len(legs))
        assert b["total_ms"] > 0 and all(leg > -5.0 for leg in legs), b
        assert all(b[key + "_p50_ms"] >= 0 for key in ("queued", "decide", "answer")), b  # within the server
        # the batch's COMMIT apart from its deciding: SQLite syncs the WAL in it, never free
        assert b["commit_p50_ms"] > 0 and b["commit_ms"] > 0, b


@pytest.mark.slow
def test_demo_prints_a_console_login_that_signs_in(tmp_path):
    """`make demo` prints the console's address and a demo admin login; the login works."""
    import re

    from tests.brokers import free_port

    port = free_port()
    proc = _privcard(
        "demo",
        "--duration",
        "4",
        "--http",
        f"127.0.0.1:{port}",
        "--kiosk",
        "no",
        "--no-colour",
        cwd=tmp_path,
    )
    m = re.search(r"web console at http://127\.0\.0\.1:(\d+)/  sign in as (\S+) / (\S+) ", proc.stdout)
    assert m, proc.stdout[:2000]
    assert int(m.group(1)) == port
    user, password = m.group(2), m.group(3)
    check = (
        "import sys; from server import store; from server.web import accounts; "
        f"store.connect('sqlite:///{tmp_path}/var/privcard.db'); "
        "s = accounts.authenticate(sys.argv[1], sys.argv[2]); print(s.username, s.role)"
    )
    done = subprocess.run(
        [sys.executable, "-c", check, user, password], env=_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [user, "admin"]


@pytest.mark.postgres
def test_bench_on_postgresql_with_warm_cards_decides_batches_in_one_round_trip(pg_url):
    """``--warm-cards`` taps every card once on each fresh server before it is timed; on PostgreSQL the
    timed batches are then decided from memory (one round trip), which the bench counts per round."""
    proc = _privcard(
        *("bench", "--taps", "300", "--devices", "2", "--members", "40", "--rounds", "1"),
        *("--saturation-rounds", "1", "--disk-probe", "0", "--warm-cards", "--json"),
        *("--db", "sqlite", "--db", pg_url),
        timeout=300,
    )
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert figures["warm_cards"] is True
    sqlite, pg = figures["databases"]
    assert sqlite["one_trip"] == [0]  # SQLite has no round trips to save
    [batches], [one_trip] = pg["batches"], pg["one_trip"]
    # the server's count since it started covers the warm-up's batches too (some of them read)
    assert batches > 0 and one_trip > batches // 2, (one_trip, batches)
    assert pg["fallbacks"] == {}
