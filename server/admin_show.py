"""What ``privcard admin device show`` and ``site show`` print without ``--json``: one thing's summary,
each line a label in English/Thai then its value (:func:`server.cli_support.facts`).

The ``--json`` of both is the data as it was (:meth:`server.services.reads.Reads.device_dict` with the
retained ``config``, :meth:`~server.services.reads.Reads.site_dict`); this module only words it. Codes
keep their Thai beside them (``gate/ประตู``), a date or time shows ISO then the Buddhist era.
"""

from __future__ import annotations

from datetime import datetime

from broker.settings import SETTINGS, WEEKDAYS
from server import catalogue, store
from server.cli_support import both, code_word, facts, said, table, word
from server.domain import rules
from server.services import Services

#: what a device's status report may carry beyond its state (broker.contract.Status), and its label
STATUS_FACTS = {
    "at": "Reported at",
    "uptime_s": "Uptime (seconds)",
    "clock_ok": "Clock synchronised",
    "allowlist_version": "Allow-list version",
    "oldest_tap_at": "Oldest tap waiting",
    "error": "Device error",
}


def _when(value, tz) -> str | None:
    """A date-time in both calendars: ``2027-01-01 06:50 / 1/1/2570 06:50`` (local to ``tz``)."""
    if not value:
        return None
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return both(catalogue.fmt_minute(when, "en", tz), catalogue.fmt_minute(when, "th", tz))


def _hours(hours: dict, lang: str) -> str:
    """Opening hours in one line, weekdays with the same hours together: ``mon-fri 08:00-20:00, sat-sun closed``."""
    groups: list[list] = []
    for day in WEEKDAYS:
        if day not in hours:
            continue
        if groups and groups[-1][2] == hours[day] and WEEKDAYS.index(groups[-1][1]) == WEEKDAYS.index(day) - 1:
            groups[-1][1] = day
        else:
            groups.append([day, day, hours[day]])

    def name(day: str) -> str:
        return catalogue.translate(day, lang)

    return ", ".join(
        f"{name(a) if a == b else name(a) + '-' + name(b)} {catalogue.translate(h, lang) if h == 'closed' else h}"
        for a, b, h in groups
    )


def _setting(key: str, value) -> str | None:
    """A setting's value as staff read it: a choice with its Thai, a number with its unit, a map as ``k=v``."""
    spec = SETTINGS.get(key)
    if value is None:
        return None
    if key == "library":
        return f"{both(value.get('en', ''), value.get('th', ''))}, {value.get('timezone', '')}"
    if key == "hours":
        return both(_hours(value, "en"), _hours(value, "th"))
    if isinstance(value, dict):
        return ", ".join(f"{k}={'-' if v is None else v}" for k, v in value.items())
    if isinstance(value, bool):
        return code_word("yes" if value else "no")
    if spec is not None and getattr(spec.check, "options", None):
        return code_word(str(value))
    if spec is not None and spec.unit:
        return f"{value} {spec.unit}"
    return str(value)


def _source(key: str, own: dict) -> str:
    """Where a setting's value comes from: set on this device, the programme (every device), or the default."""
    if key in own:
        return word("set here")
    if getattr(SETTINGS.get(key), "source", "") == "server":
        return word("programme")
    return word("default")


def device_text(svc: Services, dev: store.Device, d: dict) -> str:
    """``device show``: who the device is, its state and last report, its config revision and settings."""
    config = d["config"]
    code = d["site"] or svc.prog.default_site
    view = rules.site_view(svc.prog, code)  # a site no longer in the programme: the default site's view
    site = svc.prog.sites.get(code)
    activity = config["activity"]
    if activity:
        act = view.activities.get(activity)
        activity = f"{activity}: {both(act.en, act.th)}" if act else activity
        if not d["activity"]:  # not set on the device: its kind and direction give it
            activity += f" ({word('default')})"
    status = d["status"] or {}
    published = dev.published_revision >= dev.revision
    rows = [
        (word("Device"), d["id"]),
        (word("Kind"), code_word(d["kind"])),
        (word("Site"), f"{code}: {both(site.label['en'], site.label['th'])}" if site else code),
        (word("Direction"), code_word(d["direction"])),
        (word("Activity"), activity),
        (word("Location"), d["location"]),
        (word("State"), code_word(d["state"] or "unknown")),
        (word("Last seen"), _when(dev.last_seen, view.tz) or word("never")),
        (word("Software"), status.get("version")),
        (word("Reader"), status.get("reader")),
        (word("Outbox"), status.get("outbox")),
    ]
    for key, label in STATUS_FACTS.items():
        if key in status:
            value = status[key]
            shown = _when(value, view.tz) if key in ("at", "oldest_tap_at") else _setting(key, value)
            rows.append((word(label), shown))
    if dev.retired_at:
        rows.append((word("Retired"), _when(dev.retired_at, view.tz)))
    state = word("published") if published else word("waiting to publish")
    rows.append((word("Config revision"), f"{d['revision']} ({state})"))
    own = d["settings"] or {}
    settings = [[key, _setting(key, value) or "-", _source(key, own)] for key, value in config["settings"].items()]
    settings += [
        [key, _setting(key, value) or "-", word("not published")]
        for key, value in own.items()
        if key not in config["settings"]
    ]
    text = facts(rows)
    if settings:
        text += "\n" + word("Settings") + "\n" + table(["Setting", "Value", "Source"], settings, indent="  ")
    return text


def site_text(svc: Services, r: dict) -> str:
    """``site show``: the site's names, time zone, hours per weekday, closures, own rules and devices."""
    tz = svc.prog.for_site(r["code"]).tz
    code = f"{r['code']} ({word('Default site')})" if r["default"] else r["code"]
    if r["partners"] is None:
        partners = both(*said("The programme's partner shops."))
    else:
        partners = ", ".join(r["partners"]) or word("none")
    rows = [
        (word("Site"), code),
        (word("Thai name"), r["name"]["th"]),
        (word("English name"), r["name"]["en"]),
        (word("Time zone"), r["timezone"]),
        (word("Activities changed at this site"), ", ".join(r["activities"]) or word("none")),
        (word("Partner shops"), partners),
    ]
    closures = [both(catalogue.fmt_date(day, "en"), catalogue.fmt_date(day, "th")) for day in r["closures"]]
    hours = [(code_word(day), code_word(h) if h == "closed" else h) for day, h in r["hours"].items()]
    lines = [
        facts(rows),
        word("Opening hours"),
        facts(hours, indent="  "),
        word("Closures"),
        *(f"  {c}" for c in closures or [word("none")]),
    ]
    devices = [store.Device.get_by_id(i) for i in r["devices"]]
    lines.append(f"{word('Devices')} ({len(devices)})")
    if devices:
        rows = [
            [
                x.id,
                code_word(x.kind),
                code_word(x.direction) or "-",
                code_word(x.state or "unknown"),
                _when(x.last_seen, tz) or word("never"),
            ]
            for x in devices
        ]
        lines.append(table(["Device", "Kind", "Direction", "State", "Last seen"], rows, indent="  "))
    return "\n".join(lines)
