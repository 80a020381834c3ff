"""A machine with only ``privcard[gate]`` installed: ``privcard`` offers the gate's commands only.

A fresh virtual environment in a temporary directory, ``pip install '<repo>[gate]'``
(not editable: a wheel built from a copy of the source, the way a Pi gets it), then
the installed ``privcard`` is run from outside the source tree so nothing but the
installed wheel is importable. pip's cache makes the install fast once the gate's
dependencies (gpiozero, pyserial, nfcpy, evdev, amqtt) have been fetched; if pip can
reach no package index the test fails, with pip's own error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: what the wheel is built from (pyproject.toml's packages.find and readme)
SOURCES = ["pyproject.toml", "README.md", "broker", "hardware", "gate", "kiosk", "server"]

pytestmark = pytest.mark.slow


def _copy_source(dest: Path) -> Path:
    """The distribution's sources, without venvs, build leftovers or egg-info."""
    dest.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")
    for name in SOURCES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        else:
            shutil.copy2(src, dest / name)
    return dest


def _run(argv, cwd, timeout=60):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_gate_only_install_lists_and_runs_only_the_gate_role(tmp_path):
    src = _copy_source(tmp_path / "src")
    venv = tmp_path / "venv"
    t0 = time.monotonic()
    made = _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    py = venv / "bin" / "python"
    pip = _run(
        [str(py), "-m", "pip", "install", "--disable-pip-version-check", f"{src}[gate]"], cwd=tmp_path, timeout=600
    )
    assert pip.returncode == 0, f"pip install '{src}[gate]' failed:\n{pip.stderr[-3000:]}"
    print(f"fresh venv + pip install '.[gate]': {time.monotonic() - t0:.1f} s")
    privcard = str(venv / "bin" / "privcard")
    work = tmp_path / "elsewhere"  # not the source tree: only the installed wheel is importable
    work.mkdir()

    # the role's packages are what the wheel installed, not the repo's
    where = _run([str(py), "-c", "import broker, gate; print(gate.__file__)"], cwd=work)
    assert where.returncode == 0 and str(venv) in where.stdout, where.stdout + where.stderr
    # the server role's libraries really are absent here
    absent = _run([str(py), "-c", "import peewee"], cwd=work)
    assert absent.returncode != 0

    helped = _run([privcard, "--help"], cwd=work)
    assert helped.returncode == 0, helped.stderr
    listed = {line.split()[0] for line in helped.stdout.splitlines() if line.startswith("  ")}
    assert "gate" in listed and "sip2-proxy" in listed and "broker" in listed, helped.stdout
    assert not listed & {"server", "admin", "demo", "bench", "kiosk"}, helped.stdout

    refused = _run([privcard, "server", "--db", "sqlite:///x.db"], cwd=work)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "privcard server: the 'server' role is not installed on this machine; "
        "install it with: pip install 'privcard[server]'"
    )
    assert _run([privcard, "kiosk"], cwd=work).returncode == 2

    gate_help = _run([privcard, "gate", "--help"], cwd=work)
    assert gate_help.returncode == 0, gate_help.stderr
    assert "usage: privcard gate" in gate_help.stdout and "--device-id" in gate_help.stdout
    # the self-check SIP2 proxy is part of the gate role (it reuses the gate's outbox)
    proxy_help = _run([privcard, "sip2-proxy", "--help"], cwd=work)
    assert proxy_help.returncode == 0, proxy_help.stderr
    assert "usage: privcard sip2-proxy" in proxy_help.stdout and "--ils" in proxy_help.stdout
