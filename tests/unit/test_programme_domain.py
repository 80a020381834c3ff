"""The pure half of issue 13: the TOML writer, section editing, changes, closures and
windows, campaign validation and the overlap rule, the draw algorithm."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.domain import campaigns as camp
from server.domain import draws as dr
from server.domain import rules
from server.domain.config import (
    ConfigError,
    build,
    changes,
    default_raw,
    load,
    replace_section,
    section_document,
    to_toml,
)

PROG = load()


def test_the_shipped_programme_round_trips_through_the_toml_writer():
    raw = default_raw()
    assert tomllib.loads(to_toml(raw)) == raw
    assert build(tomllib.loads(to_toml(raw))) == build(raw)


@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
        st.one_of(
            st.integers(-(2**40), 2**40), st.text(max_size=20), st.booleans(), st.lists(st.integers(), max_size=3)
        ),
        max_size=5,
    )
)
def test_any_table_of_scalars_round_trips(table):
    doc = {"rules": table}
    assert tomllib.loads(to_toml(doc)) == doc


def test_a_section_is_edited_as_its_own_toml_and_a_bad_field_is_named():
    raw = default_raw()
    text = section_document(raw, "rewards")
    assert text.startswith("[rewards.fine_discount]")
    new = replace_section(raw, "rewards", text.replace("points = 50", "points = 60"))
    assert changes(raw, new) == [{"path": "rewards.souvenir_bookmark.points", "old": 50, "new": 60}]
    with pytest.raises(ConfigError, match=r"may only hold \[rewards\]"):
        replace_section(raw, "rewards", "[hours]\ndefault = '08:00-20:00'\n")
    with pytest.raises(ConfigError, match=r"rewards\.souvenir_bookmark\.points must be an integer >= 1"):
        build(replace_section(raw, "rewards", text.replace("points = 50", "points = -1")))
    with pytest.raises(ConfigError, match="unknown section"):
        section_document(raw, "nope")


def test_closures_and_windows():
    prog = load(overrides={"hours": {"closures": ["2026-12-31"], "sun": "closed"}})
    late = prog.activities["late_stay"]
    at = datetime(2026, 12, 31, 21, 45, tzinfo=prog.tz)
    assert not rules.in_window(late, at, prog)
    assert rules.in_window(late, at - timedelta(days=1), prog)
    with pytest.raises(ConfigError, match=r"activities\.late_stay\.window: 30 minutes before closing is outside"):
        load(overrides={"hours": {"sat": "10:00-10:15"}})
    with pytest.raises(ConfigError, match=r"hours\.closures\[0\]"):
        load(overrides={"hours": {"closures": ["31/12/2026"]}})


def test_a_retired_activity_earns_nothing():
    prog = load(overrides={"activities": {"entry": {"points": 5, "retired": True}}})
    d = rules.decide_tap(
        prog=prog,
        device_kind="gate",
        device_direction="in",
        device_activity_code=None,
        card_status="active",
        member_status="active",
        valid_until=None,
        at=datetime.now(UTC),
        clock_ok=True,
        received=datetime.now(UTC),
    )
    assert d.outcome == "no_activity"


def _c(i, **spec):
    base = {"code": f"c{i}", "starts": "2026-12-07 00:00", "ends": "2026-12-11 23:59"}
    return camp.validate({**base, **spec}, PROG, groups={"U1", "U2"}, campaign_id=i)


def test_campaign_validation_names_the_field():
    for spec, field in (
        ({"kind": "multiplier", "multiplier": "0.5"}, "multiplier"),
        ({"kind": "multiplier", "multiplier": "11"}, "multiplier"),
        ({"kind": "bonus", "bonus": "x"}, "bonus"),
        ({"kind": "bonus", "bonus": 1, "activities": ["nope"]}, "activities: unknown 'nope'"),
        ({"kind": "bonus", "bonus": 1, "groups": ["U9"]}, "groups: unknown 'U9'"),
        ({"kind": "bonus", "bonus": 1, "tiers": ["platinum"]}, "tiers: unknown 'platinum'"),
        ({"kind": "bonus", "bonus": 1, "ends": "2026-12-01 00:00"}, "ends"),
        ({"kind": "bonus", "bonus": 1, "starts": "next monday"}, "starts"),
        ({"kind": "activity", "points": 5, "code": "entry"}, "already an activity"),
        ({"kind": "sometimes"}, "kind"),
    ):
        with pytest.raises(ConfigError, match=field):
            _c(1, **spec)


def test_overlap_rule_is_best_multiplier_plus_every_bonus():
    cs = [
        _c(1, kind="multiplier", multiplier="2"),
        _c(2, kind="multiplier", multiplier="1.5", activities=["entry"]),
        _c(3, kind="bonus", bonus=2, groups=["U1"]),
        _c(4, kind="bonus", bonus=3),
        _c(5, kind="multiplier", multiplier="3", tiers=["gold"]),
    ]
    _, compiled = camp.compile_campaigns(cs, PROG)
    when = datetime(2026, 12, 9, 12, tzinfo=PROG.tz)
    assert compiled.apply("entry", when, "U1", "silver", 5) == (15, "c1:+5;c3:+2;c4:+3")
    assert compiled.apply("entry", when, "U2", "gold", 5) == (18, "c5:+10;c4:+3")
    assert compiled.apply("borrow", when, None, "silver", 5) == (13, "c1:+5;c4:+3")
    assert compiled.apply("entry", when + timedelta(days=3), "U1", "silver", 5) == (5, None)
    # 1.5 of an odd number rounds down
    _, only = camp.compile_campaigns([_c(2, kind="multiplier", multiplier="1.5")], PROG)
    assert only.apply("late_stay", when, None, None, 5) == (7, "c2:+2")


def test_draw_is_deterministic_canonical_and_one_prize_per_member():
    seed = "0f" * 32
    eligible = [(7, 3), (2, 1), (9, 0), (4, 2)]
    won = dr.draw(seed, eligible, 10)
    assert sorted(won) == [2, 4, 7]  # 9 has no ticket; nobody twice
    assert dr.draw(seed, list(reversed(eligible)), 10) == won
    assert dr.draw(seed, eligible, 1) == won[:1]
    assert dr.seed_commitment(seed) == __import__("hashlib").sha256(bytes.fromhex(seed)).hexdigest()
    assert dr.tickets_for(250, "per_points:100") == 2 and dr.tickets_for(99, "per_points:100") == 0
    for bad in ("x", "AB" * 32, "0f" * 31):
        with pytest.raises(dr.DrawError):
            dr.draw(bad, eligible, 1)
    with pytest.raises(dr.DrawError, match="twice"):
        dr.canonical([(1, 1), (1, 2)])


def test_semester_labels_used_by_draw_terms():
    assert rules.semester_of(date(2026, 12, 2), PROG)[0] == "2/2569"
