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


@pytest.mark.parametrize(
    ("points", "multiplier", "earned"),
    [
        (5, 2.5, 13),  # 12.5: half up (Python's round() gave 12, to even)
        (1, 2.5, 3),  # 2.5 (round() gave 2)
        (10, 1.25, 13),  # 12.5 (round() gave 12)
        (50, 1.15, 58),  # 57.5 (the float 50 * 1.15 is 57.49999999999999: round() gave 57)
        (25, 1.14, 29),  # 28.5 (the float is 28.499999999999996: round() gave 28)
        (25, 0.58, 15),  # 14.5 (the float is 14.499999999999998: round() gave 14)
        (10, 1.15, 12),  # 11.5 (the float happens to be 11.5 and round() to even gave 12 too)
        (10, 1.1, 11),
        (7, 1.05, 7),  # 7.35
        (5, 1.5, 8),  # 7.5
        (3, 0.5, 2),  # 1.5
        (5, 2, 10),
    ],
)
def test_a_tier_multiplier_is_exact_decimal_arithmetic_rounded_half_up(points, multiplier, earned):
    """docs/rules.md: a tier's multiplier earns "that many times its points, rounded half up", exactly."""
    prog = load(overrides={"activities": {"borrow": {"points": points}}, "tiers": {"gold": {"multiplier": multiplier}}})
    assert rules.tier_points(prog.activities["borrow"], "gold", prog) == earned
    assert rules.tier_points(prog.activities["borrow"], "silver", prog) == points  # no multiplier
    assert rules.tier_points(prog.activities["signup"], "gold", prog) == 250  # never multiplied


@pytest.mark.parametrize(
    ("base", "multiplier", "k100", "earned"),
    [
        (10, "1.1", 110, 11),  # k is kept as k × 100, a whole number: no float enters
        (10, "1.15", 115, 11),  # 11.5 rounded down
        (7, "1.01", 101, 7),
        (100, "1.01", 101, 101),
        (9, "9.99", 999, 89),  # 89.91
        (3, "2.5", 250, 7),
        (5, 1.1, 110, 5),  # a number, not text (JSON): 5.5 rounded down
    ],
)
def test_a_campaign_multiplier_is_exact_and_rounded_down(base, multiplier, k100, earned):
    """``floor(base × k)`` on the exact k (two decimals): 10 × 1.1 is 11, never 10 from 10.999…"""
    c = _c(1, kind="multiplier", multiplier=multiplier)
    assert c.multiplier_100 == k100
    _, compiled = camp.compile_campaigns([c], PROG)
    when = datetime(2026, 12, 9, 12, tzinfo=PROG.tz)
    assert compiled.apply("borrow", when, None, None, base)[0] == earned


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
