"""``broker/`` is the bus and nothing else: no module in it imports a package above it.

Checked on the source (every ``import`` statement, also those inside functions), so a
lazy import that only runs on some code path is caught too.
"""

from __future__ import annotations

import ast
from pathlib import Path

BROKER = Path(__file__).resolve().parents[2] / "broker"
HIGHER = {"server", "gate", "kiosk", "hardware", "tests"}


def imported_packages(path: Path) -> set[str]:
    """Top-level package names a module imports (relative imports count as ``broker``)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            out.add("broker" if node.level else (node.module or "").split(".")[0])
    return out


def test_helper_sees_lazy_imports(tmp_path):
    mod = tmp_path / "m.py"
    mod.write_text("def f():\n    from server.cli import COMMON\n    import gate.main\n")
    assert imported_packages(mod) == {"server", "gate"}


def test_no_broker_module_imports_a_higher_package():
    modules = sorted(BROKER.rglob("*.py"))
    assert len(modules) > 5
    bad = {str(p.relative_to(BROKER.parent)): sorted(imported_packages(p) & HIGHER) for p in modules}
    assert {k: v for k, v in bad.items() if v} == {}
