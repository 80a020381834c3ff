"""The layering of docs/architecture.md, kept by import-linter (``[tool.importlinter]``).

``make test`` runs ``lint-imports`` on the tree; these tests show the contracts hold and
that they would catch an upward import: a copy of the packages with one bad import
added must fail, naming the broken contract.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("broker", "hardware", "gate", "kiosk", "server", "tests")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess:
    """Run import-linter on ``tree`` (its own pyproject.toml, its own packages)."""
    if not LINT_IMPORTS.exists():
        pytest.fail(f"{LINT_IMPORTS} is missing: install the dev extra (pip install -e '.[dev]')", pytrace=False)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the Python packages and pyproject.toml, to break on purpose."""
    skip = shutil.ignore_patterns("*.pyc", "__pycache__", "*.png", "*.ttf", "screenshots")
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=skip)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_every_contract(tree):
    out = lint_imports(tree)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


@pytest.mark.parametrize(
    "module, line, contract",
    [
        ("broker/contract.py", "from server.store import Member", "broker and hardware are the bottom layer"),
        ("hardware/outputs.py", "import broker.contract", "broker and hardware are independent"),
        ("gate/controller.py", "import server.services", "the roles never import each other"),
        ("kiosk/core.py", "from gate import outbox", "the roles never import each other"),
        ("server/domain/rules.py", "import peewee", "server.domain is pure"),
        ("server/domain/rules.py", "from server import store", "server.domain is pure"),
        ("server/services/taps.py", "import hardware.outputs", "the server does not import hardware"),
        ("gate/main.py", "import tests.helpers", "product code never imports the tests"),
        ("server/services/ledger.py", "import server.services.taps", "no cycles"),
    ],
)
def test_an_upward_import_breaks_a_contract(tree, module, line, contract):
    path = tree / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n\ndef _upward():\n    {line}\n", encoding="utf-8")
    out = lint_imports(tree)
    assert out.returncode != 0
    assert contract in out.stdout and "BROKEN" in out.stdout, out.stdout[-2000:]
