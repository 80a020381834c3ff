"""The atheris (libFuzzer) run of the contract parsers, in ``make chaos``.

``PRIVCARD_ATHERIS_RUNS`` cases (default 200,000; a few seconds); with the
Hypothesis targets at ``PRIVCARD_FUZZ_EXAMPLES`` this is well over 100,000 cases.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.brokers import python_env

FULL = os.environ.get("PRIVCARD_CHAOS", "").lower() in ("full", "1", "yes")
RUNS = int(os.environ.get("PRIVCARD_ATHERIS_RUNS", "200000"))


@pytest.mark.chaos
@pytest.mark.skipif(not FULL, reason="the atheris run is part of make chaos (PRIVCARD_CHAOS=full)")
@pytest.mark.timeout(900)
def test_atheris_contract_parsers(tmp_path):
    try:
        import atheris  # noqa: F401
    except ImportError:
        pytest.fail("atheris is not installed: pip install atheris (make chaos needs it)", pytrace=False)
    script = Path(__file__).with_name("atheris_contract.py")
    proc = subprocess.run(
        [sys.executable, str(script), f"-runs={RUNS}", "-max_len=4096", f"-artifact_prefix={tmp_path}/"],
        capture_output=True,
        text=True,
        env=python_env(),
        cwd=tmp_path,
        timeout=880,
    )
    tail = "\n".join(proc.stderr.splitlines()[-25:])
    assert proc.returncode == 0, f"atheris found a crash:\n{tail}"
    done = [line for line in proc.stderr.splitlines() if "DONE" in line or line.startswith("Done")]
    print("\n".join(done[-2:]))
