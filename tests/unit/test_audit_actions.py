"""Every audit action the server writes has a label in Thai and English (the Staff page's log
says "Entry voided", not ``points.void``): the codes are found by reading the source, so a new
``audit(actor, "x.y", ...)`` or ``Audit.create(action="x.y")`` without a label fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from server import catalogue
from server.web import labels

SERVER = Path(__file__).resolve().parents[2] / "server"


CODE = re.compile(r"^[a-z]+\.[a-z_]+$")


def _action_params(trees) -> dict[str, int]:
    """Functions taking an ``action`` parameter (``Ledger.audit``, ``accounts._failed``, ...): its position."""
    out = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                names = [a.arg for a in node.args.args]
                if "action" in names:
                    out[node.name] = names.index("action") - (names[:1] == ["self"])
    return out


def written_actions() -> dict[str, str]:
    """Each action code passed to a function taking ``action`` or to ``Audit.create``, with where."""
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in SERVER.rglob("*.py")}
    takes = _action_params(trees.values())
    found: dict[str, str] = {}
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            values = [k.value for k in node.keywords if k.arg == "action"] if name in (*takes, "create") else []
            if name in takes and len(node.args) > takes[name]:
                values.append(node.args[takes[name]])
            for v in values:
                if isinstance(v, ast.Constant) and isinstance(v.value, str) and CODE.match(v.value):
                    found.setdefault(v.value, f"{path.relative_to(SERVER.parent)}:{node.lineno}")
    return found


def test_the_scan_finds_the_actions_people_see_most():
    found = written_actions()
    for code in ("member.add", "points.void", "staff.login", "staff.login_failed", "card.not_genuine", "ils.fee_paid"):
        assert code in found, code
    assert len(found) >= 60, sorted(found)


def test_every_audit_action_the_server_writes_has_a_thai_and_an_english_label():
    missing = {code: where for code, where in written_actions().items() if code not in catalogue.AUDIT_ACTIONS}
    assert not missing, missing
    for code, pair in catalogue.AUDIT_ACTIONS.items():
        assert pair.get("th") and pair.get("en") and pair["th"] != pair["en"], code


def test_every_audit_action_the_server_writes_says_what_its_target_is():
    """The log's "Target" names a member, card, device, entry, ... by what it is (a member's
    name linked to the member page, the id beside it): each action says which, or ``text``
    for a target shown as it is (a username, a patron barcode)."""
    missing = {code: where for code, where in written_actions().items() if code not in labels.AUDIT_TARGETS}
    assert not missing, missing
    kinds = {"member", "card", "device", "entry", "version", "campaign", "draw", "event", "feedback", "batch", "day"}
    assert set(labels.AUDIT_TARGETS.values()) <= kinds | {"text"}, set(labels.AUDIT_TARGETS.values())
    for code in ("member.add", "points.award", "ils.fee_paid"):
        assert labels.AUDIT_TARGETS[code] == "member", code
    assert labels.AUDIT_TARGETS["points.void"] == "entry"
    assert labels.AUDIT_TARGETS["device.set"] == "device"
