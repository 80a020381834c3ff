"""`privcard admin programme|campaign|draw|ranking` as a person runs them (real processes, --json)."""

from __future__ import annotations

import json
import subprocess

from tests.brokers import python_env
from tests.helpers import admin_argv, close_store, new_uid, open_service


def run(db_url: str, *args: str) -> tuple[int, object, str]:
    out = subprocess.run(admin_argv(db_url, *args), capture_output=True, text=True, env=python_env(), timeout=60)
    try:
        data = json.loads(out.stdout) if out.stdout.strip().startswith(("{", "[")) else out.stdout
    except json.JSONDecodeError:
        data = out.stdout
    return out.returncode, data, out.stderr


def test_programme_export_import_and_refusal(tmp_db_url, tmp_path):
    svc = open_service(tmp_db_url)
    svc.members.add("A", new_uid(), group="U1")
    close_store()
    f = tmp_path / "programme.toml"
    code, data, err = run(tmp_db_url, "programme", "export", str(f))
    assert code == 0 and data["version"] == 0, err
    text = f.read_text(encoding="utf-8")
    assert "[activities.entry]" in text and "Asia/Bangkok" in text
    f.write_text(text.replace("points = 5\n", "points = 6\n", 1), encoding="utf-8")
    code, data, err = run(tmp_db_url, "programme", "import", str(f), "--dry-run")
    assert (
        code == 0 and data["dry_run"] and data["changes"] == [{"path": "activities.entry.points", "old": 5, "new": 6}]
    )
    code, data, _ = run(tmp_db_url, "programme", "versions")
    assert data == []
    code, data, err = run(tmp_db_url, "programme", "import", str(f))
    assert code == 0 and data["version"] == 2
    bad = tmp_path / "bad.toml"
    bad.write_text('[rewards.pen]\nth = "ปากกา"\nen = "Pen"\npoints = -5\n', encoding="utf-8")
    code, data, err = run(tmp_db_url, "programme", "import", str(bad))
    assert code == 1 and "rewards.pen.points" in err
    code, data, _ = run(tmp_db_url, "programme", "versions")
    assert [v["version"] for v in data] == [2, 1]


def test_campaign_and_draw_commands(tmp_db_url):
    svc = open_service(tmp_db_url)
    for i in range(5):
        svc.members.add(f"M{i}", new_uid(), group="U1")
    close_store()
    code, data, err = run(
        tmp_db_url,
        *("campaign", "add", "exam_week", "--kind", "multiplier", "--multiplier", "2", "--activities", "entry"),
        *("--starts", "2026-12-07 00:00", "--ends", "2026-12-11 23:59", "--th", "สัปดาห์สอบ", "--en", "Exam week"),
    )
    assert code == 0 and data["gives"]["en"] == "points ×2" and data["ends"].startswith("2026-12-11T23:59"), err
    code, data, err = run(
        tmp_db_url,
        "campaign",
        "add",
        "x",
        "--kind",
        "bonus",
        "--starts",
        "2026-12-07 00:00",
        "--ends",
        "2026-12-01 00:00",
        "--bonus",
        "1",
    )
    assert code == 1 and "ends" in err
    code, data, _ = run(tmp_db_url, "campaign", "list")
    assert [c["code"] for c in data] == ["exam_week"]
    code, data, _ = run(tmp_db_url, "campaign", "end", "exam_week")
    assert code == 0 and data["ended_at"]
    code, data, err = run(
        tmp_db_url, "draw", "create", "Prize", "--winners", "2", "--group", "U1", "--prize-points", "10"
    )
    assert code == 0 and data["seed"] is None and len(data["commitment"]) == 64, err
    draw_id = str(data["id"])
    code, data, _ = run(tmp_db_url, "draw", "run", draw_id)
    assert code == 0 and len(data["winners"]) == 2 and len(data["seed"]) == 64
    code, shown, _ = run(tmp_db_url, "draw", "show", draw_id)
    assert shown["winners"] == data["winners"] and shown["algorithm"] == "privcard-draw-v1"
    code, data, _ = run(tmp_db_url, "draw", "verify", draw_id)
    assert code == 0 and data["ok"]
    code, data, _ = run(tmp_db_url, "draw", "award", draw_id)
    assert code == 0 and data["state"] == "awarded"
    from server.domain import rules
    from server.domain.config import load
    from tests.helpers import library_today

    term = rules.semester_of(library_today(), load())[0]
    code, data, err = run(tmp_db_url, "ranking", "show", "active", "--term", term, "--top", "3")
    assert code == 0 and len(data["top"]) == 3, err
