"""A test skipped because a library is missing is listed loudly, and under ``make test``
(``PRIVCARD_TEST_STRICT=1``) fails the run: the test command installs every library the
tests import, so such a skip is a missing install step (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("where", ["in a test", "at a module's top"])
def test_a_skip_for_a_missing_library_is_loud_and_fails_make_test(tmp_path, where):
    body = 'pytest.importorskip("privcard_no_such_module")'
    text = (
        f"import pytest\n\ndef test_needs_it():\n    {body}\n\ndef test_fine():\n    pass\n"
        if where == "in a test"
        else f"import pytest\n{body}\n\ndef test_needs_it():\n    pass\n"
    )
    (tmp_path / "test_missing.py").write_text(text)

    def run(strict: str) -> subprocess.CompletedProcess:
        env = dict(os.environ, PYTHONPATH=str(REPO), PRIVCARD_TEST_STRICT=strict)
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest"]
        return subprocess.run(
            [*argv, "test_missing.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )

    loose, strict = run("0"), run("1")
    for done in (loose, strict):
        assert "1 test(s) SKIPPED for a library that is not installed" in done.stdout, done.stdout
        assert "privcard_no_such_module" in done.stdout
    assert loose.returncode in (0, 5), loose.stdout  # a developer's run: loud, not failed
    assert strict.returncode == 1, strict.stdout
    assert "the run FAILS" in strict.stdout
