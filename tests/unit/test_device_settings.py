"""broker.settings: the one typed definition of every device setting."""

import doctest

import pytest

from broker import settings as S
from broker.settings import SettingError

PROGRAMME = {
    "library": {"th": "หอสมุด", "en": "Main Library", "timezone": "Asia/Bangkok"},
    "hours": {"mon": "08:00-22:00", "sun": "closed"},
}


def test_docstring_examples_hold():
    assert doctest.testmod(S).failed == 0


@pytest.mark.parametrize("kind", ["gate", "counter", "kiosk"])
def test_effective_config_has_every_staff_default_and_the_programme(kind):
    cfg = S.effective(kind, {}, PROGRAMME)
    for spec in S.for_kind(kind, "staff"):
        if spec.defaults[kind] is not None:
            assert cfg[spec.key] == spec.defaults[kind]
    assert cfg["library"]["en"] == "Main Library"
    assert cfg["hours"]["sun"] == "closed"


def test_kind_specific_settings():
    assert "open_ms" in S.defaults("gate") and "open_ms" not in S.defaults("counter")
    assert S.defaults("kiosk")["lang"] == "th"
    assert S.defaults("counter")["pins"]["relay"] is None


@pytest.mark.parametrize(
    "kind, settings, path, words",
    [
        ("gate", {"open_ms": 99}, "open_ms", "from 100 to 60000"),
        ("gate", {"open_ms": 3000.5}, "open_ms", "whole number"),
        ("gate", {"open_ms": True}, "open_ms", "whole number"),
        ("gate", {"repeat_s": "3"}, "repeat_s", "number"),
        ("gate", {"decision_timeout_ms": 10_001}, "decision_timeout_ms", "to 10000"),
        ("gate", {"heartbeat_s": 0.5}, "heartbeat_s", "from 1 to 3600"),
        ("gate", {"offline_policy": "maybe"}, "offline_policy", "allowlist, open, closed"),
        ("gate", {"lang": "en"}, "lang", "not a setting of a gate"),
        ("kiosk", {"open_ms": 3000}, "open_ms", "not a setting of a kiosk"),
        ("gate", {"staff_pin_required": True}, "staff_pin_required", "not a setting"),
        ("kiosk", {"library": {"th": "x"}}, "library", "set by the programme"),
        ("gate", {"pins": {"relay": 40}}, "pins.relay", "from 0 to 27"),
        ("gate", {"pins": {"relay": "17"}}, "pins.relay", "BCM pin"),
        ("gate", {"pins": {"door": 5}}, "pins.door", "not a pin setting"),
        ("gate", {"pins": {"green": 17}}, "pins.green", "GPIO17 is already used for relay"),
        ("gate", {"pins": {"rgb": [5, 6]}}, "pins.rgb", "three pins"),
        ("gate", {"pins": {"rgb": [5, 6, 99]}}, "pins.rgb[2]", "from 0 to 27"),
        ("gate", {"pins": {"rgb": [5, 6, 13], "green": 4}}, "pins.green", "rgb replaces"),
        ("gate", {"pins": {"relay_active_high": "yes"}}, "pins.relay_active_high", "true or false"),
        ("gate", {"pins": [17]}, "pins", "object"),
        ("kiosk", {"reader": "x" * 201}, "reader", "1 to 200"),
    ],
)
def test_bad_settings_are_refused_with_the_key_path(kind, settings, path, words):
    with pytest.raises(SettingError) as err:
        S.check(kind, settings)
    assert err.value.path == path
    assert str(err.value).startswith(path)
    assert words in str(err.value)
    # the template keeps wording apart from data, for the console's Thai
    assert err.value.template % err.value.values == str(err.value)


def test_pins_apply_over_the_kinds_wiring():
    cfg = S.effective("gate", {"pins": {"relay": 5}})
    assert cfg["pins"] == {"relay": 5, "green": 27, "red": 22, "amber": 23, "buzzer": 24}
    rgb = S.effective("gate", {"pins": {"rgb": [5, 6, 13]}})["pins"]
    assert rgb["rgb"] == [5, 6, 13] and rgb["green"] is rgb["red"] is rgb["amber"] is None


def test_none_removes_a_setting():
    assert S.check("gate", {"open_ms": None}) == {}
    assert S.effective("gate", {"open_ms": None})["open_ms"] == 3000


def test_programme_settings_are_checked_too():
    with pytest.raises(SettingError) as err:
        S.effective("kiosk", {}, {"hours": {"mon": "8-22"}})
    assert err.value.path == "hours.mon"
    with pytest.raises(SettingError):
        S.effective("kiosk", {}, {"open_ms": 5})


def test_device_parse_fills_defaults_ignores_unknown_and_refuses_bad_values():
    values, ignored = S.parse("kiosk", {"lang": "en", "from_a_newer_server": 1, **PROGRAMME})
    assert values["lang"] == "en" and values["heartbeat_s"] == 30 and values["library"]["th"] == "หอสมุด"
    assert ignored == ["from_a_newer_server"]
    with pytest.raises(SettingError) as err:
        S.parse("gate", {"pins": {"relay": 99}})
    assert err.value.path == "pins.relay"


def test_every_setting_has_help_in_both_languages():
    for spec in S.SETTINGS.values():
        assert spec.help_en and spec.help_th and spec.defaults
        assert spec.name_en and spec.name_th and spec.name_en != spec.name_th, spec.key  # the audit log's words
    rows = S.describe("gate")
    assert {r["key"] for r in rows} == {s.key for s in S.for_kind("gate", "staff")}
