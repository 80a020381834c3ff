"""`python -m tests.e2e.gate_bench --json` runs end to end and reports the promised figures.

A smoke test of the benchmark's behaviour (real Mosquitto, server and gate process,
a handful of taps), not of its timings: the figures depend on the machine's load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.brokers import find_mosquitto

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def test_gate_bench_reports_offline_online_and_memory_figures():
    if not find_mosquitto():
        pytest.fail("the gate benchmark needs Mosquitto (apt-get install mosquitto)", pytrace=False)
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.e2e.gate_bench",
            "--taps",
            "8",
            "--silent-taps",
            "1",
            "--pace-ms",
            "20",
            "--json",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])

    assert r["taps"] == 8 and r["cpus"] >= 1
    assert len(r["loadavg_start"]) == 3 and len(r["loadavg_end"]) == 3
    off, on, silent, mem = r["offline"], r["online"], r["server_silent"], r["rss_mib"]

    # offline: the gate's logged feedback next to the in-process outbox.create() baseline
    for block in (off["gate_ms"], off["outside_ms"], off["outbox_create_ms"]):
        assert block["n"] == 8
        for key in ("p50_ms", "p95_ms", "p99_ms", "max_ms"):
            assert isinstance(block[key], (int, float)) and block[key] >= 0, key
        assert block["p50_ms"] <= block["p95_ms"] <= block["p99_ms"] <= block["max_ms"]
    # the gate logs whole milliseconds (a fast fsync can log "0 ms"); the others are exact
    assert _positive(off["gate_ms"]["max_ms"])
    assert _positive(off["outside_ms"]["p50_ms"]) and _positive(off["outbox_create_ms"]["p50_ms"])
    assert _positive(off["p50_ratio"]) and _positive(off["p99_ratio"])
    assert off["target_p99_ms"] == 50 and isinstance(off["met"], bool)
    # every offline tap was decided from the cached allow-list and opened the door
    assert off["outcomes"] == {"offline_granted door=open": 8}

    # server stopped, broker up: the gate waited its decision timeout, then decided offline
    assert silent["gate_ms"]["n"] == 1 and silent["decision_timeout_ms"] == 800
    assert silent["gate_ms"]["p50_ms"] >= 800 and silent["outcomes"] == {"offline_granted": 1}

    # online: the gate against the server's own tap -> result time, same run
    for block in (on["gate_ms"], on["outside_ms"], on["server_ms"], on["outbox_create_ms"]):
        assert block["n"] == 8
        for key in ("p50_ms", "p95_ms", "p99_ms", "max_ms"):
            assert _positive(block[key]), key
    assert on["outcomes"] == {"granted": 8}
    assert on["p99_diff_ms"] == pytest.approx(on["gate_ms"]["p99_ms"] - on["server_ms"]["p99_ms"], abs=0.02)
    assert on["target_margin_ms"] == 10 and isinstance(on["met"], bool)
    assert set(on["gate_split_ms"]) == {"to_bus", "server", "from_bus"}

    # resident memory of the gate process after 10 taps and after all of them
    assert _positive(mem["after_10"]) and _positive(mem["after_online"]) and _positive(mem["after_all"])
    assert mem["taps_all"] == 10 + 8 + 1 + 8
