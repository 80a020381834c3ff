"""Every device setting, declared once: key, type, default per device kind, range, help.

The server validates what staff set (``privcard admin device add/set``, the console's
device form, the API) with :func:`check` and publishes :func:`effective` as the device's
retained config; gates and kiosks read that config with :func:`parse`. Nothing else in
privcard writes a setting's default or range (see docs/architecture.md), in the way
ESPHome's ``CONFIG_SCHEMA`` or Home Assistant's ``mqtt/schemas.py`` keep one schema per
boundary.

Two sources of settings:

- ``staff`` settings are per device (``open_ms``, ``pins``, ``lang``, …): staff set them and
  :func:`check` refuses an unknown key or a bad value with the key's path, e.g.
  ``pins.relay must be a BCM pin number from 0 to 27 or null, got 40``.
- ``server`` settings come from the programme, the same for every device (``library``,
  ``hours``): staff cannot set them per device; the server adds them to every config.

    >>> check("gate", {"open_ms": 2500})
    {'open_ms': 2500}
    >>> effective("kiosk", {"lang": "en"})["lang"]
    'en'
    >>> check("gate", {"pins": {"relay": 40}})
    Traceback (most recent call last):
    ...
    broker.settings.SettingError: pins.relay must be a BCM pin number from 0 to 27 or null, got 40

A new kind is one more column in ``defaults`` below (``selfcheck``, the SIP2 proxy, has
only the heartbeat, the clock check and the programme's library and hours).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from broker.contract import OFFLINE_POLICIES, ContractError

#: kinds of device a setting can apply to (``broker.contract.DEVICE_KINDS``)
GATE, COUNTER, KIOSK, SELFCHECK = "gate", "counter", "kiosk", "selfcheck"
#: BCM numbers of the 40-pin header's GPIOs
MIN_PIN, MAX_PIN = 0, 27
PIN_NAMES = ("relay", "green", "red", "amber", "buzzer", "door_sensor", "exit_button")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$")


class SettingError(ContractError):
    """A setting that is unknown, of the wrong type or out of range; ``path`` names it.

    ``template`` and ``values`` keep the English message's wording apart from its data,
    so the console can show it in Thai; ``str(exc)`` is the English text.
    """

    def __init__(self, template: str, **values: Any):
        text = template % values if values else template
        super().__init__(text)
        self.template, self.values = template, values
        self.path = values.get("path")


@dataclass(frozen=True)
class Setting:
    """One device setting.

    ``defaults`` maps each device kind the setting applies to onto its default there
    (``None``: no default, the device uses its own, e.g. a reader spec from the command
    line). ``check`` validates a value and returns it normalised, raising SettingError.
    ``name_en``/``name_th`` name it in a few words where a sentence is too long (the
    console's audit log: "door open time: 2500 ms"); ``help_*`` says what it does.
    """

    key: str
    help_en: str
    help_th: str
    defaults: dict[str, Any]
    check: Callable[[str, Any], Any]
    source: str = "staff"  # or "server": set by the programme, not per device
    json_type: str = "string"  # the value's JSON Schema type, for the API's description
    unit: str = ""  # what a number counts, as the console shows it
    merge: Callable[[Any, Any], Any] = lambda default, value: value  # a set value over the default
    name_en: str = ""  # a few words: "door open time"
    name_th: str = ""

    def value(self, kind: str, value: Any, path: str | None = None) -> Any:
        """``value`` checked on its own and as it applies over the kind's default."""
        path = path or self.key
        checked = self.check(path, value)
        default = self.defaults.get(kind)
        return self.check(path, self.merge(default, checked)) if default is not None else checked

    def applies_to(self, kind: str) -> bool:
        """True if a device of ``kind`` has this setting."""
        return kind in self.defaults


# --------------------------------------------------------------------------- value checks


def _fail(template: str, **values: Any) -> SettingError:
    return SettingError(template, **values)


def integer(lo: int, hi: int) -> Callable[[str, Any], int]:
    """A whole number from ``lo`` to ``hi`` (a bool is not a number)."""

    def check(path: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise _fail(
                "%(path)s must be a whole number from %(lo)s to %(hi)s, got %(value)r",
                path=path,
                lo=lo,
                hi=hi,
                value=value,
            )
        return value

    check.bounds = (lo, hi)
    return check


def number(lo: float, hi: float) -> Callable[[str, Any], float]:
    """A number (whole or decimal) from ``lo`` to ``hi``."""

    def check(path: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
            raise _fail(
                "%(path)s must be a number from %(lo)s to %(hi)s, got %(value)r", path=path, lo=lo, hi=hi, value=value
            )
        return value

    check.bounds = (lo, hi)
    return check


def choice(*options: str) -> Callable[[str, Any], str]:
    """One of ``options``."""

    def check(path: str, value: Any) -> str:
        if value not in options or not isinstance(value, str):
            raise _fail(
                "%(path)s must be one of %(options)s, got %(value)r", path=path, options=", ".join(options), value=value
            )
        return value

    check.options = options
    return check


def text(max_len: int) -> Callable[[str, Any], str]:
    """A single line of 1 to ``max_len`` printable characters."""

    def check(path: str, value: Any) -> str:
        if not isinstance(value, str) or not 1 <= len(value) <= max_len or not value.isprintable():
            raise _fail(
                "%(path)s must be text of 1 to %(max)s printable characters, got %(value)r",
                path=path,
                max=max_len,
                value=value,
            )
        return value

    return check


def _pin(path: str, value: Any) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not MIN_PIN <= value <= MAX_PIN):
        raise _fail(
            "%(path)s must be a BCM pin number from %(lo)s to %(hi)s or null, got %(value)r",
            path=path,
            lo=MIN_PIN,
            hi=MAX_PIN,
            value=value,
        )
    return value


def pin_map(path: str, value: Any) -> dict:
    """The gate's wiring: BCM pins by name (``relay``, ``green``, …), ``rgb``, ``relay_active_high``.

    The same rules ``hardware.outputs.Pins`` applies, so a map the server accepts is one
    the gate can drive: pins 0-27 or null, an RGB LED as three pins instead of the
    separate LEDs, no GPIO used twice.
    """
    if not isinstance(value, dict):
        raise _fail("%(path)s must be an object of pin numbers, got %(value)r", path=path, value=value)
    known = (*PIN_NAMES, "rgb", "relay_active_high")
    out: dict[str, Any] = {}
    for name, pin in value.items():
        sub = f"{path}.{name}"
        if name not in known:
            raise _fail("%(path)s is not a pin setting; known: %(known)s", path=sub, known=", ".join(known))
        if name == "relay_active_high":
            if not isinstance(pin, bool):
                raise _fail("%(path)s must be true or false, got %(value)r", path=sub, value=pin)
            out[name] = pin
        elif name == "rgb":
            if pin is not None:
                if not isinstance(pin, (list, tuple)) or len(pin) != 3:
                    raise _fail("%(path)s must be three pins [red, green, blue], got %(value)r", path=sub, value=pin)
                for i, p in enumerate(pin):
                    if p is None:
                        raise _fail(
                            "%(path)s must be a BCM pin number from %(lo)s to %(hi)s, got %(value)r",
                            path=f"{sub}[{i}]",
                            lo=MIN_PIN,
                            hi=MAX_PIN,
                            value=p,
                        )
                    _pin(f"{sub}[{i}]", p)
                pin = list(pin)
            out[name] = pin
        else:
            out[name] = _pin(sub, pin)
    if out.get("rgb") is not None:
        clash = [n for n in ("green", "red", "amber") if out.get(n) is not None]
        if clash:
            raise _fail(
                "%(path)s: rgb replaces the green, red and amber LEDs; set %(name)s to null",
                path=f"{path}.{clash[0]}",
                name=clash[0],
            )
    used: dict[int, str] = {}
    wired = [(n, out.get(n)) for n in PIN_NAMES] + list(
        zip(("rgb[0]", "rgb[1]", "rgb[2]"), out.get("rgb") or (), strict=False)
    )
    for name, pin in wired:
        if pin is None:
            continue
        if pin in used:
            raise _fail(
                "%(path)s: GPIO%(pin)s is already used for %(other)s", path=f"{path}.{name}", pin=pin, other=used[pin]
            )
        used[pin] = name
    return out


def library(path: str, value: Any) -> dict:
    """The library's name in Thai and English and its time zone (from the programme)."""
    if not isinstance(value, dict) or set(value) - {"th", "en", "timezone"}:
        raise _fail("%(path)s must be an object with th, en and timezone, got %(value)r", path=path, value=value)
    return {k: text(200)(f"{path}.{k}", v) for k, v in value.items()}


def hours(path: str, value: Any) -> dict:
    """Opening hours per weekday: ``{"mon": "08:00-22:00", "sun": "closed", …}``."""
    if not isinstance(value, dict):
        raise _fail("%(path)s must be an object of weekdays, got %(value)r", path=path, value=value)
    out = {}
    for day, span in value.items():
        if day not in WEEKDAYS:
            raise _fail("%(path)s is not a weekday; known: %(known)s", path=f"{path}.{day}", known=", ".join(WEEKDAYS))
        if span != "closed" and not (isinstance(span, str) and _HOURS_RE.match(span)):
            raise _fail("%(path)s must be HH:MM-HH:MM or closed, got %(value)r", path=f"{path}.{day}", value=span)
        out[day] = span
    return out


def merge_pins(default: dict | None, value: dict) -> dict:
    """Pins set for one device over the kind's wiring; an ``rgb`` LED replaces the single LEDs."""
    out = dict(default or {})
    if value.get("rgb") is not None:
        for name in ("green", "red", "amber"):
            out[name] = None
    out.update(value)
    return out


# --------------------------------------------------------------------------- the settings

_ALL = (GATE, COUNTER, KIOSK, SELFCHECK)
#: the wiring of the reference build (docs/hardware.md); a counter has no door relay
_GATE_PINS = {"relay": 17, "green": 27, "red": 22, "amber": 23, "buzzer": 24}
_COUNTER_PINS = {**_GATE_PINS, "relay": None}

SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in (
        Setting(
            "open_ms",
            "door relay pulse, in milliseconds",
            "เวลาปลดล็อกประตู (มิลลิวินาที)",
            {GATE: 3000},
            integer(100, 60_000),
            json_type="integer",
            unit="ms",
            name_en="door open time",
            name_th="เวลาปลดล็อกประตู",
        ),
        Setting(
            "repeat_s",
            "the same card within this many seconds is one tap",
            "แตะบัตรใบเดิมซ้ำภายในกี่วินาทีนับเป็นครั้งเดียว",
            {GATE: 3, COUNTER: 3, KIOSK: 3},
            number(0, 600),
            json_type="number",
            unit="s",
            name_en="repeat window",
            name_th="ช่วงเวลานับการแตะซ้ำ",
        ),
        Setting(
            "decision_timeout_ms",
            "wait this long for the server before deciding offline",
            "รอคำตอบจากเซิร์ฟเวอร์นานเท่าใดก่อนตัดสินแบบออฟไลน์ (มิลลิวินาที)",
            {GATE: 800, COUNTER: 800},
            integer(100, 10_000),
            json_type="integer",
            unit="ms",
            name_en="wait for the server",
            name_th="เวลารอคำตอบจากเซิร์ฟเวอร์",
        ),
        Setting(
            "heartbeat_s",
            "status heartbeat period, in seconds",
            "ส่งสถานะอุปกรณ์ทุกกี่วินาที",
            {GATE: 30, COUNTER: 30, KIOSK: 30, SELFCHECK: 30},
            number(1, 3600),
            json_type="number",
            unit="s",
            name_en="heartbeat",
            name_th="รอบการส่งสถานะ",
        ),
        Setting(
            "offline_policy",
            "what to do with a card while the server is unreachable",
            "เมื่อติดต่อเซิร์ฟเวอร์ไม่ได้ ให้ตัดสินบัตรอย่างไร",
            {GATE: "allowlist", COUNTER: "allowlist"},
            choice(*OFFLINE_POLICIES),
            name_en="offline policy",
            name_th="การตัดสินเมื่อออฟไลน์",
        ),
        Setting(
            "clock_check",
            "is the device clock synchronised? auto asks systemd-timesyncd",
            "ตรวจว่านาฬิกาอุปกรณ์ตรงหรือไม่ (auto ถาม systemd-timesyncd)",
            {GATE: "auto", COUNTER: "auto", SELFCHECK: "auto"},
            choice("auto", "always-ok", "never-ok"),
            name_en="clock check",
            name_th="การตรวจนาฬิกา",
        ),
        Setting(
            "pins",
            "GPIO wiring (BCM numbers): relay, green, red, amber, buzzer, door_sensor, exit_button, rgb",
            "การต่อขา GPIO (หมายเลข BCM)",
            {GATE: _GATE_PINS, COUNTER: _COUNTER_PINS},
            pin_map,
            json_type="object",
            merge=merge_pins,
            name_en="GPIO pins",
            name_th="ขา GPIO",
        ),
        Setting(
            "reader",
            "card reader spec, e.g. nfc:usb or serial:/dev/ttyAMA0, switched to live"
            " (default: the device's own, its --reader)",
            "ชนิดเครื่องอ่านบัตร เช่น nfc:usb หรือ serial:/dev/ttyAMA0 อุปกรณ์เปลี่ยนไปใช้ทันที"
            " (ค่าเริ่มต้น: เครื่องอ่านของอุปกรณ์เอง ตามที่ระบุใน --reader)",
            {GATE: None, COUNTER: None, KIOSK: None},
            text(200),
            name_en="card reader",
            name_th="เครื่องอ่านบัตร",
        ),
        Setting(
            "lang",
            "the kiosk's default language",
            "ภาษาเริ่มต้นของตู้บริการ",
            {KIOSK: "th"},
            choice("th", "en"),
            name_en="kiosk language",
            name_th="ภาษาของตู้บริการ",
        ),
        Setting(
            "shop",
            "the partner shop a reader of activity partner_purchase credits (its name in the programme)",
            "ร้านค้าที่ร่วมรายการซึ่งเครื่องอ่านนี้ให้คะแนน (ชื่อตามโครงการ)",
            {GATE: None, COUNTER: None},
            text(120),
            name_en="partner shop",
            name_th="ร้านค้าที่ร่วมรายการ",
        ),
        Setting(
            "library",
            "the library's name and time zone (from the programme)",
            "ชื่อห้องสมุดและเขตเวลา (จากโครงการ)",
            {k: None for k in _ALL},
            library,
            source="server",
            json_type="object",
            name_en="library",
            name_th="ห้องสมุด",
        ),
        Setting(
            "hours",
            "opening hours per weekday (from the programme)",
            "เวลาเปิดทำการแต่ละวัน (จากโครงการ)",
            {k: None for k in _ALL},
            hours,
            source="server",
            json_type="object",
            name_en="opening hours",
            name_th="เวลาเปิดทำการ",
        ),
    )
}


# --------------------------------------------------------------------------- API


def for_kind(kind: str, source: str | None = None) -> list[Setting]:
    """The settings a device of ``kind`` has (optionally only ``staff`` or ``server`` ones)."""
    return [s for s in SETTINGS.values() if s.applies_to(kind) and (source is None or s.source == source)]


def defaults(kind: str) -> dict:
    """The default of every staff setting of ``kind`` that has one."""
    return {s.key: _copy(s.defaults[kind]) for s in for_kind(kind, "staff") if s.defaults[kind] is not None}


def check(kind: str, settings: Any) -> dict:
    """Validate settings staff set for a device of ``kind``; the normalised dict, or SettingError.

    Refuses a key the kind does not have, a ``server`` setting (set by the programme), the
    wrong type or a value out of range, naming the key's path. ``None`` removes a setting
    (the default applies again) and is dropped from the result.
    """
    if not isinstance(settings, dict):
        raise _fail("settings must be an object, got %(value)r", value=settings)
    out = {}
    for key, value in settings.items():
        spec = SETTINGS.get(key)
        if spec is None or not spec.applies_to(kind):
            raise _fail(
                "%(path)s is not a setting of a %(kind)s; known: %(known)s",
                path=key,
                kind=kind,
                known=", ".join(s.key for s in for_kind(kind, "staff")),
            )
        if spec.source != "staff":
            raise _fail("%(path)s is set by the programme for every device, not per device", path=key)
        if value is not None:
            spec.value(kind, value)  # refused if it does not fit over the default (a pin used twice)
            out[key] = spec.check(key, value)
    return out


def effective(kind: str, settings: dict | None = None, server: dict | None = None) -> dict:
    """The full config a device of ``kind`` runs with: defaults, then ``settings``, then ``server``'s."""
    out = defaults(kind)
    for key, value in check(kind, settings or {}).items():
        out[key] = SETTINGS[key].value(kind, value)
    for key, value in (server or {}).items():
        spec = SETTINGS.get(key)
        if spec is None or spec.source != "server":
            raise _fail("%(path)s is not a programme-wide setting", path=key)
        out[key] = spec.check(key, value)
    return out


def parse(kind: str, settings: Any) -> tuple[dict, list[str]]:
    """Read a retained config's settings on a device: (values with defaults filled in, ignored keys).

    Every known key is checked as the server checks it, so a bad value raises SettingError
    naming its path and the device keeps its previous config. Keys this version does not
    know (a newer server) are returned in the second item, for the device to log, not
    refused: a device is updated after its server.
    """
    if not isinstance(settings, dict):
        raise _fail("settings must be an object, got %(value)r", value=settings)
    out = defaults(kind)
    ignored = []
    for key, value in settings.items():
        spec = SETTINGS.get(key)
        if spec is None or not spec.applies_to(kind):
            ignored.append(key)
        elif value is not None:
            out[key] = spec.value(kind, value)
    return out, ignored


def describe(kind: str | None = None) -> list[dict]:
    """The staff settings (of one kind, or of any) as the console's device form shows them.

    Each row: ``key``, ``help`` ({th, en}), ``type`` (JSON Schema type), ``unit``, ``min``/
    ``max`` for numbers, ``options`` for choices, ``kinds`` it applies to and ``default``
    (for ``kind``, or per kind).
    """
    rows = []
    for s in SETTINGS.values():
        if s.source != "staff" or (kind is not None and not s.applies_to(kind)):
            continue
        low, high = getattr(s.check, "bounds", (None, None))
        rows.append(
            {
                "key": s.key,
                "help": {"en": s.help_en, "th": s.help_th},
                "type": s.json_type,
                "unit": s.unit,
                "min": low,
                "max": high,
                "options": getattr(s.check, "options", None),
                "kinds": tuple(s.defaults),
                "default": s.defaults[kind] if kind is not None else dict(s.defaults),
            }
        )
    return rows


def _copy(value: Any) -> Any:
    return dict(value) if isinstance(value, dict) else value


__all__ = ["SETTINGS", "Setting", "SettingError", "check", "defaults", "describe", "effective", "for_kind", "parse"]
