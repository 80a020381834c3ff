"""server.domain.config: defaults are the programme's numbers; bad files fail with a precise message."""

from __future__ import annotations

from datetime import time

import pytest

from server.domain.config import ConfigError, build, default_raw, load

# --------------------------------------------------------------------------- defaults


def test_defaults_are_the_programmes_numbers():
    p = load()
    assert p.timezone == "Asia/Bangkok"
    assert all(h.open == time(8, 0) and h.close == time(22, 0) for h in p.hours.values())
    assert len(p.hours) == 7
    assert (p.max_tap_age_days, p.future_tolerance_s) == (30, 300)
    assert (p.signup_fee_baht, p.card_replacement_fee_baht) == (50, 50)
    assert set(p.tiers) == {"silver", "gold"} and p.tiers["silver"]["th"] == "บัตรเงิน"
    assert p.tiers["gold"]["th"] == "บัตรทอง"
    assert (p.fine_step_points, p.fine_step_baht, p.fine_max_points) == (25, 5, 2500)
    assert p.borrow_normal == {"books": 10, "loan_days": 10}
    assert [lvl.points for lvl in p.locker_levels] == [250, 500, 700, 1000, 1500, 2000]
    assert [lvl.values["days"] for lvl in p.locker_levels] == [3, 7, 14, 30, 60, 90]
    assert [(lvl.points, lvl.values["hours"]) for lvl in p.room_levels] == [(250, 3), (500, 4), (750, 5), (1000, 6)]
    assert (p.borrow_levels[0].points, p.borrow_levels[-1].points) == (250, 1100)
    assert len(p.partners) == 14
    assert p.activity("late_stay").window_before_close_min == 30
    assert p.activity("late_stay").direction == "out"
    assert [s.name for s in p.semesters] == ["1", "2", "summer"]


def test_library_file_is_merged_over_the_defaults(tmp_path):
    f = tmp_path / "lib.toml"
    f.write_text(
        '[hours]\nsun = "closed"\nsat = "09:00-16:00"\n\n'
        '[activities.visit]\npoints = 1\nlimit = "unlimited"\nth = "เยี่ยมชม"\nen = "Visit"\n\n'
        "[activities.entry]\npoints = 7\n"
    )
    p = load(f)
    assert p.hours[6].closed and p.hours[5].close == time(16, 0) and p.hours[0].close == time(22, 0)
    assert p.activity("visit").limit == "unlimited"
    assert p.activity("entry").points == 7 and p.activity("entry").limit == "per_day"  # other keys kept
    assert p.activity("borrow").points == 5


def test_unknown_activity_lookup_names_the_known_ones():
    with pytest.raises(ConfigError, match="unknown activity 'nap'; known: borrow, db_training"):
        load().activity("nap")


# --------------------------------------------------------------------------- files


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load(tmp_path / "nope.toml")


def test_bad_toml_names_the_file(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text("[hours\ndefault = 8\n")
    with pytest.raises(ConfigError, match=r"bad.toml: not valid TOML"):
        load(f)


# --------------------------------------------------------------------------- bad values and keys


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"hours": {"default": "8-22"}}, "hours.default must be 'HH:MM-HH:MM' or 'closed', got '8-22'"),
        ({"hours": {"mon": 8}}, "hours.mon must be 'HH:MM-HH:MM' or 'closed', got 8"),
        ({"hours": {"tue": "22:00-08:00"}}, "hours.tue: closing 08:00 is not after opening 22:00"),
        ({"hours": {"wed": "08:00-24:30"}}, "hours.wed: closing time after 24:00"),
        ({"hours": {"monday": "08:00-20:00"}}, "hours: unknown key(s) monday; use mon..sun or default"),
        ({"library": {"timezone": "Mars/Olympus"}}, "library.timezone: unknown time zone 'Mars/Olympus'"),
        ({"library": {"name_en": ""}}, "library.name_en must be a non-empty string"),
        ({"rules": {"max_tap_age_days": 0}}, "rules.max_tap_age_days must be an integer >= 1, got 0"),
        ({"rules": {"future_tolerance_s": "300"}}, "rules.future_tolerance_s must be an integer >= 0, got '300'"),
        ({"rules": {"signup_fee_baht": 50.0}}, "rules.signup_fee_baht must be an integer >= 0, got 50.0"),
        (
            {"rules": {"backdating": {"otherwise": "credit"}}},
            "rules.backdating.otherwise must be one of receive_time (counted at the time the server received it), "
            "refuse (the tap is refused), got 'credit'",
        ),
        (
            {"rules": {"backdating": {"gate": "forever"}}},
            "rules.backdating.gate must be one of offline (back to the device's last offline period), "
            "max_age (back as far as max_tap_age_days), none (only tolerance_s back), got 'forever'",
        ),
        ({"rules": {"backdating": {"tolerance_s": -1}}}, "rules.backdating.tolerance_s must be an integer >= 0"),
        ({"rules": {"backdating": {"tolerance_s": 90000}}}, "rules.backdating.tolerance_s must be at most 86400"),
        ({"rules": {"backdating": {"gates": "offline"}}}, "rules.backdating: unknown key(s) gates"),
        ({"rules": {"backdating": "refuse"}}, "rules.backdating must be a table, got 'refuse'"),
        ({"activities": {"entry": {"points": -5}}}, "activities.entry.points must be an integer >= 0, got -5"),
        ({"activities": {"entry": {"points": True}}}, "activities.entry.points must be an integer >= 0, got True"),
        (
            {"activities": {"entry": {"limit": "weekly"}}},
            "activities.entry.limit must be one of once (only once), per_day (once a day), "
            "per_item_per_day (once a day per item), unlimited (no limit), got 'weekly'",
        ),
        ({"activities": {"entry": {"pointz": 5}}}, "activities.entry: unknown key(s) pointz"),
        (
            {"activities": {"late_stay": {"window": "last:30"}}},
            "activities.late_stay.window must be 'before_close:MINUTES', got 'last:30'",
        ),
        ({"activities": {"late_stay": {"direction": "sideways"}}}, "activities.late_stay.direction must be in or out"),
        ({"activities": {"Bad-Code": {"points": 1}}}, "activities.Bad-Code: activity codes are lower-case"),
        ({"activities": {"quiz": {"th": "ควิซ"}}}, "activities.quiz.points must be an integer >= 0, got None"),
        ({"activities": {"quiz": 5}}, "activities.quiz must be a table"),
        ({"tiers": {"platinum": {"th": "แพลทินัม", "en": "Platinum"}}}, "tiers must define exactly silver and gold"),
        ({"tiers": {"gold": {"th": ""}}}, "tiers.gold.th must be a non-empty string"),
        (
            {"semesters": [{"name": "1", "start": "6-1", "end": "10-31"}]},
            "semesters[0].start must be 'MM-DD', got '6-1'",
        ),
        ({"semesters": [{"name": "1", "start": "06-01", "end": "13-01"}]}, "semesters[0].end must be 'MM-DD'"),
        ({"privileges": {"locker": {"levels": []}}}, "privileges.locker.levels must be a non-empty list"),
        (
            {"privileges": {"locker": {"levels": [{"points": 500, "days": 7}, {"points": 250, "days": 3}]}}},
            "privileges.locker.levels[1].points must increase (250 after 500)",
        ),
        (
            {"privileges": {"study_room": {"levels": [{"points": 250}]}}},
            "privileges.study_room.levels[0].hours must be an integer >= 0, got None",
        ),
        (
            {"privileges": {"fine_discount": {"step_points": 0}}},
            "privileges.fine_discount.step_points must be an integer >= 1, got 0",
        ),
        ({"partners": {"shops": ["More Coffee", ""]}}, "partners.shops must be a list of shop names"),
        ({"rewards": {"gift": {"th": "ของขวัญ", "en": "Gift"}}}, "rewards.gift needs points or step_points"),
    ],
)
def test_bad_values_are_refused_with_where_and_what(overrides, message):
    with pytest.raises(ConfigError) as info:
        load(overrides=overrides)
    assert message in str(info.value)


def test_required_activities():
    raw = default_raw()
    del raw["activities"]["entry"]
    with pytest.raises(ConfigError, match=r"activities\.entry is required"):
        build(raw)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"tiers": {"silver": "grey"}}, "tiers.silver must be a table"),
        ({"rules": 5}, "rules must be a table"),
        ({"privileges": {"borrow": 5}}, "privileges.borrow must be a table"),
        ({"hours": "08:00-22:00"}, "hours must be a table"),
        ({"rewards": {"gift": "free"}}, "rewards.gift"),
        ({"semesters": 5}, "semesters must be a list"),
        ({"privileges": {"borrow": {"normal": 10}}}, "privileges.borrow.normal must be a table"),
        ({"privileges": {"lockers": {}}}, "privileges: unknown key(s) lockers"),
    ],
)
def test_wrong_shapes_are_config_errors_not_crashes(overrides, message):
    with pytest.raises(ConfigError) as info:
        load(overrides=overrides)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "toml, message",
    [
        ("[rules]\nmax_tap_age_day = 7\n", "rules: unknown key(s) max_tap_age_day"),
        ('[librar]\nname_en = "X"\n', "unknown section(s) librar"),
        ('[library]\ntimezon = "Asia/Bangkok"\n', "library: unknown key(s) timezon"),
    ],
)
def test_misspelt_keys_are_refused_not_ignored(tmp_path, toml, message):
    f = tmp_path / "lib.toml"
    f.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load(f)
    assert message in str(info.value)


def test_backdating_defaults_and_a_librarys_choice():
    default = load().backdating
    assert (default.tolerance_s, default.otherwise) == (300, "receive_time")
    assert default.limit("gate") == default.limit("counter") == "offline" and default.limit("kiosk") == "none"
    mine = load(overrides={"rules": {"backdating": {"otherwise": "refuse", "counter": "none", "tolerance_s": 60}}})
    assert (mine.backdating.otherwise, mine.backdating.limit("counter"), mine.backdating.tolerance_s) == (
        "refuse",
        "none",
        60,
    )
    assert mine.backdating.limit("gate") == "offline"  # a kind not set keeps its default
