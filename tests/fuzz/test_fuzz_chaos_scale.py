"""The Hypothesis fuzz targets at ``make chaos`` scale (``pytest -m chaos``).

Runs tests/fuzz/test_fuzz_contract.py and test_fuzz_import.py again in a child pytest
with ``PRIVCARD_FUZZ_EXAMPLES`` = ``PRIVCARD_CHAOS_FUZZ_EXAMPLES`` (default 2,500 per
target: 8 contract targets × 2,500 + 1,250 CSV imports = 21,250 cases, a few minutes);
with the atheris run (test_fuzz_atheris.py, 200,000 cases) ``make chaos`` fuzzes well
over 100,000 inputs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.brokers import python_env

FULL = os.environ.get("PRIVCARD_CHAOS", "").lower() in ("full", "1", "yes")
EXAMPLES = os.environ.get("PRIVCARD_CHAOS_FUZZ_EXAMPLES", "2500")
HERE = Path(__file__).resolve().parent


@pytest.mark.chaos
@pytest.mark.skipif(not FULL, reason="the large fuzz run is part of make chaos (PRIVCARD_CHAOS=full)")
@pytest.mark.timeout(1200)
def test_hypothesis_fuzz_at_chaos_scale(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(HERE / "test_fuzz_contract.py"),
            str(HERE / "test_fuzz_import.py"),
            "--timeout",
            "1100",
        ],
        capture_output=True,
        text=True,
        env=python_env(PRIVCARD_FUZZ_EXAMPLES=EXAMPLES),
        cwd=tmp_path,
        timeout=1150,
    )
    tail = "\n".join(proc.stdout.splitlines()[-30:])
    assert proc.returncode == 0, f"fuzzing at {EXAMPLES} examples per target failed:\n{tail}"
    print(f"\nhypothesis fuzz at {EXAMPLES} examples per target: {proc.stdout.strip().splitlines()[-1]}")
