"""What the console shows for codes: an activity's window, a site's, activity's or member group's
name, a device by its location, a card reader's state, why a programme version was made, a
ledger entry's tier change and campaigns, who a prize draw counts and why each member is on its
list, and an audit row's action, actor, target and detail (as ``key: value`` text).

Codes stay what the database, the API and the command lines hold; people read these.
Each takes the request's language (``g.lang``) and the programme in force; a code with no
label (a site or activity since removed) is shown as it is rather than hidden.
"""

from __future__ import annotations

import ast
import json
import re
from datetime import date, datetime

from flask import current_app, g, url_for

from broker import settings as device_settings
from server import catalogue
from server.domain import campaigns as camp
from server.domain import rules
from server.domain.config import WINDOW_RE


def _lang() -> str:
    return g.get("lang", catalogue.DEFAULT_LANG)


def _(text: str, **values) -> str:
    return catalogue.translate(text, _lang(), **values)


def _name(pair: dict | None, fallback: str = "") -> str:
    """A ``{"th", "en"}`` pair in the request's language (English when the Thai is empty)."""
    if not pair:
        return fallback
    return pair.get(_lang()) or pair.get("en") or fallback


def _prog():
    return current_app.extensions["privcard.service"].prog


def window_text(window: str | None, direction: str | None) -> str:
    """An activity's window and gate direction in words: "the last 30 minutes before closing · exit"."""
    m = WINDOW_RE.match(window or "")
    if m:
        when = _("the last %(minutes)s minutes before closing", minutes=int(m.group(1)))
    else:
        when = window or (_("any time") if direction else "")
    parts = [p for p in (when, _name(catalogue.DIRECTION_WORDS.get(direction or ""), direction or "")) if p]
    return " · ".join(parts) or "—"


def activity_name(code: str) -> str:
    """An activity's name (its code when the programme no longer has it)."""
    act = _prog().activities.get(code)
    return _name(act.label, code) if act else code


def site_activity_name(code: str, site: str | None) -> str:
    """An activity's name as a site names it (None: the default site): a site with its own late-stay
    window says it ("…the last 45 minutes before closing"); a site no longer in the programme: the
    programme's name."""
    prog = _prog()
    if (site or prog.default_site) not in prog.sites:
        return activity_name(code)
    act = prog.for_site(site).activities.get(code)
    return _name(act.label, code) if act else code


def activity_at_sites(code: str) -> list[dict]:
    """The sites whose own ``code`` differs from the programme's in its window, gate or name, in the
    programme's order: ``[{"site", "window", "name", "own_name"}]`` in words ("Medical Library",
    "the last 45 minutes before closing · exit", "Reading in the last 45 minutes before closing";
    ``own_name``, ``own_window`` say which differ). What the programme page shows under each activity."""
    prog = _prog()
    whole = prog.activities.get(code)
    out = []
    for site_code, site in prog.sites.items():
        here = prog.for_site(site_code).activities.get(code) if code in site.activities else None
        if here is None or whole is None:
            continue
        mine = (here.window_before_close_min, here.direction, here.label)
        if mine == (whole.window_before_close_min, whole.direction, whole.label):
            continue
        window = f"before_close:{here.window_before_close_min}" if here.window_before_close_min else None
        out.append(
            {
                "site": site_code,
                "site_name": site_name(site_code),
                "window": window_text(window, here.direction),
                "name": _name(here.label, code),
                "own_name": here.label != whole.label,
                "own_window": mine[:2] != (whole.window_before_close_min, whole.direction),
            }
        )
    return out


def site_name(code: str | None) -> str:
    """A site's name (the default site's when ``code`` is empty; the code when the programme has no such site)."""
    prog = _prog()
    code = code or prog.default_site
    site = prog.sites.get(code)
    return _name(site.label, code) if site else code


def site_list(codes: str | None) -> str:
    """A staff account's sites (``"MAIN,BRANCH2"``; empty or ``all``: every site) by their names."""
    text = (codes or "").strip()
    if not text or text == "all":
        return _("every site")
    return ", ".join(site_name(c.strip()) for c in text.split(",") if c.strip())


def device_name(device) -> str:
    """What staff call a device: its location as typed ("Main entrance"), else its kind and
    direction in words ("gate · in"). ``device`` is a ``Device`` row or a dict of one."""
    if device is None:
        return ""
    get = device.get if isinstance(device, dict) else lambda key: getattr(device, key, None)
    if get("location"):
        return get("location")
    return " · ".join(_(part) for part in (get("kind"), get("direction")) if part)


def tier_name(code: str | None) -> str:
    """A card type's name (its code when unknown)."""
    return _name(_prog().tiers.get(code or ""), code or "")


def group_name(code: str | None) -> str:
    """A member group's name ("Undergraduate" for ``U1``; ``[terms.groups.CODE]``), its code when unknown."""
    group = _prog().terms.groups.get(code or "")
    return _name({"th": group.th, "en": group.en}, code or "") if group else (code or "")


def reward_name(code: str | None) -> str:
    """A reward's name (its code when unknown)."""
    r = _prog().rewards.get(code or "")
    return _name({"th": r.th, "en": r.en}, code or "") if r else (code or "")


def reader_state(state: str | None) -> str:
    """A device's card-reader state (``ok``, ``reopening``, ``closed``) in words."""
    return _name(catalogue.READER_STATES.get(state or ""), state or "—")


def version_reason(section: str | None) -> str:
    """What a programme version changed: a section's name, an upload, or the start-up file."""
    return _name(catalogue.VERSION_REASONS.get(section or ""), section or "—")


def section_title(section: str) -> str:
    """A programme section's title ("Opening hours and closures" for ``hours``; the name when it has none)."""
    return _name(catalogue.VERSION_REASONS.get(section), section)


def tier_change(item: str | None) -> str:
    """A tier entry's ``silver→gold`` as "Silver card → Gold card"."""
    old, sep, new = (item or "").partition("→")
    return f"{tier_name(old)} → {tier_name(new)}" if sep else (item or "")


def campaign_badges(tag: str | None, names: dict) -> list[str]:
    """What each campaign gave an entry (``code:+N;code:+M``): "Double points week +5", ..."""
    return [f"{_name(names.get(code), code)} {n:+d}" for code, n in camp.split_tag(tag)]


# --------------------------------------------------------------------------- prize draws and rankings


def tickets_rule(rule: str | None) -> str:
    """A draw's ``tickets`` rule in words: "one per member", "one per 50 points earned"."""
    m = re.match(r"^per_points:(\d+)$", rule or "")
    if m:
        return _("one per %(n)s points earned", n=int(m.group(1)))
    return _("one per member") if rule in (None, "", "one") else rule


def draw_criteria(kind: str, filters: dict | None) -> list[tuple[str, str]]:
    """Who a draw or ranking counts, as ``[(what, value)]`` in words (its page's "Filters")."""
    f = filters or {}
    if kind == "ranking":
        ranking = {"active": _("Most active users"), "borrowers": _("Top borrowers")}
        return [
            (_("Ranking"), ranking.get(f.get("ranking"), f.get("ranking") or "—")),
            (_("Semester"), f.get("term") or "—"),
            (_("Top"), str(f.get("top", "—"))),
        ]
    return [
        (_("Group"), group_name(f["group"]) if f.get("group") else _("all")),
        (_("Card type"), tier_name(f["tier"]) if f.get("tier") else _("all")),
        (_("Semester"), f.get("term") or _("the current semester")),
        (_("Minimum points"), str(f.get("min_points", 0))),
        (_("Tickets"), tickets_rule(f.get("tickets"))),
        (_("Winners"), str(f.get("winners", "—"))),
    ]


def eligibility(kind: str, filters: dict | None, value: int) -> str:
    """Why a member is on a draw's or ranking's eligible list, with its weight: "2 tickets", "40 points earned"."""
    if kind == "ranking":
        if (filters or {}).get("ranking") == "borrowers":
            return _("%(n)s days with a loan", n=value)
        return _("%(n)s points earned", n=value)
    return _("1 ticket") if value == 1 else _("%(n)s tickets", n=value)


# --------------------------------------------------------------------------- the audit log

_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
#: what a value's key says it is, so its code is shown by its label
_BY_KEY = {
    "tier": tier_name,
    "tiers": tier_name,
    "activity": activity_name,
    "activities": activity_name,
    "site": site_name,
    "home_site": site_name,
    "reward": reward_name,
}


def _value(key: str, value, action: str) -> str:
    """One value of an audit detail as text, labelled when its key says what it is."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        if value and all(isinstance(v, dict) and "path" in v for v in value):  # a programme change's diff
            return "; ".join(
                f"{programme_path(v['path'])}: {_programme_value(v['path'], v.get('old'))}"
                f" → {_programme_value(v['path'], v.get('new'))}"
                for v in value
            )
        return ", ".join(_value(key, v, action) for v in value) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{key_name(k)}: {_value(k, v, action)}" for k, v in value.items())
    text = str(value)
    if key in ("old", "new") and action == "member.tier":
        return tier_name(text)
    if key == "sites":  # a staff account's sites: "all", or codes "A,B"
        return site_list(text)
    if key in _BY_KEY and isinstance(value, str):
        return _BY_KEY[key](text)
    if key == "section" and action == "programme.change":
        return section_title(text)
    if key in ("outcome", "role"):
        return _(text)  # a tap's outcome (its English words in EN), a staff role
    if _ISO_DAY.match(text):
        return catalogue.fmt_date(date.fromisoformat(text), _lang())
    if _ISO_TIME.match(text):
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            return text
        return catalogue.fmt_minute(when, _lang(), _prog().tz)
    return text


# --------------------------------------------------------------------------- a programme change's paths


#: a programme table whose keys are codes, and what names each code
_NAMED_BY = {
    "activities": activity_name,
    "tiers": tier_name,
    "rewards": reward_name,
    "sites": site_name,
    "groups": group_name,
}
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _programme_key(key: str, depth: int) -> str:
    """One key of programme.toml in words: a section by its title, a known key by its label, else as it is."""
    if depth == 0 or (key in catalogue.VERSION_REASONS and key not in ("hours", "library")):
        return section_title(key)  # "activities" under a site or "privileges" under a tier too
    if key in _WEEKDAYS:
        return _(key)
    return _name(catalogue.PROGRAMME_KEYS.get(key), key)


def _named_by(parts: list[str]):
    """What names the key after ``parts`` (a code of the table they lead to), or None."""
    if not parts:
        return None
    if parts[0] == "tiers" and len(parts) == 3 and parts[2] == "points":  # a tier's own points per activity
        return activity_name
    if parts[0] == "sites" and len(parts) == 3 and parts[2] == "activities":  # as that site names them
        return lambda code: site_activity_name(code, parts[1])
    return _NAMED_BY.get(parts[-1])


def programme_path(path: str) -> str:
    """A programme change's path in words, its parts joined by " › ": ``activities.late_stay.points``
    is "Activities › Reading in the last 30 minutes before closing › points", ``sites.BRANCH2.hours.sun``
    "Sites › Medical Library › opening hours › sun"; a part with no label (a key this table does
    not know, a code since removed) as it is in the file."""
    parts = str(path or "").split(".")
    out = []
    for depth, part in enumerate(parts):
        named = _named_by(parts[:depth])
        out.append(named(part) if named else _programme_key(part, depth))
    return " › ".join(out)


def _programme_value(path: str, value) -> str:
    """An old or new value of a programme change in words: a limit, gate or window as the programme
    page says it; a table (a new activity, site, tier) as its keys' labels and values, a code
    named ("Medical Library (English name: Medical Library, …)")."""
    parts = str(path or "").split(".")
    key = parts[-1]
    if value is None or value == "":
        return "—"
    if isinstance(value, dict):
        named = _named_by(parts)
        items = []
        for k, v in value.items():
            name = named(k) if named else _programme_key(k, 1)
            text = _programme_value(f"{path}.{k}", v)
            items.append(f"{name} ({text})" if isinstance(v, dict) else f"{name}: {text}")
        return ", ".join(items) or "—"
    if isinstance(value, list) and not all(isinstance(v, dict) for v in value):
        return ", ".join(_programme_value(path, v) for v in value) or "—"
    if key == "limit" and isinstance(value, str):
        return _(value)
    if key == "direction" and isinstance(value, str):
        return _name(catalogue.DIRECTION_WORDS.get(value), value)
    if key == "window" and isinstance(value, str):
        return window_text(value, None)
    if key in ("term", "on_expiry", "basis") or parts[:2] == ["terms", "default"]:
        return _name(catalogue.TERM_WORDS.get(str(value)), str(value))
    if value == "closed" and "hours" in parts:
        return _("closed")
    return _value("", value, "programme.change")


def audit_action(code: str | None) -> str:
    """What an audit row records in words: ``points.void`` is "Entry voided" (an unknown code as it is)."""
    return _name(catalogue.AUDIT_ACTIONS.get(code or ""), code or "—")


def actor_name(actor: str | None) -> str:
    """Who made an audit row or a programme version, readably.

    ``web:alice`` (the console and its API) is "alice", ``staff:alice`` (the command line acting
    as alice) "alice (command line)", ``cli:root`` "command line (root)", ``device:gate-1``
    "device gate-1", ``patron:42`` "member 42", ``system`` "system"; anything else as it is.
    """
    actor = actor or "system"
    if actor in catalogue.ACTOR_WORDS:
        return _name(catalogue.ACTOR_WORDS[actor], actor)
    kind, sep, who = actor.partition(":")
    if not sep or not who:
        return actor
    if kind == "web":
        return who
    if kind == "staff":
        return _("%(name)s (command line)", name=who)
    if kind == "cli":
        return _("command line (%(login)s)", login=who)
    if kind == "device":
        return _("device %(id)s", id=who)
    if kind == "patron":  # the member signed in, or the address a sign-in link was asked from
        return _("member %(id)s", id=who) if who.isdigit() else _("member's page (%(source)s)", source=who)
    return actor


def key_name(key: str) -> str:
    """An audit detail's key in words (the key, underscores as spaces, when there is no label)."""
    return _name(catalogue.AUDIT_KEYS.get(key), str(key).replace("_", " "))


# --------------------------------------------------------------------------- a device's audit detail

#: what a device's changes hold when a field or setting was cleared or never set: the console
#: and the service wrote ``str(None)``; JSON null and an empty value mean the same
_UNSET = (None, "", "None", "none")
#: a device setting's unit, as a number's value is shown
_UNITS = {"ms": "%(n)s ms", "s": "%(n)s s"}


def setting_name(key: str) -> str:
    """A device setting's name in a few words ("door open time" for ``open_ms``; ``pins.relay``:
    "GPIO pins › relay"), from ``broker.settings``; a key it does not know as it is."""
    head, dot, sub = key.partition(".")
    spec = device_settings.SETTINGS.get(head)
    if spec is None:
        return key
    name = _name({"th": spec.name_th, "en": spec.name_en}, _name({"th": spec.help_th, "en": spec.help_en}, head))
    return f"{name} › {sub}" if dot else name


def _pins_text(value) -> str:
    """A pins setting (a dict, or the text of one the audit kept) as the device form writes it: relay=17, green=22."""
    if isinstance(value, str) and value.startswith("{"):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
    if isinstance(value, dict):
        return ", ".join(f"{k}={'—' if v is None else v}" for k, v in value.items()) or "—"
    return str(value)


def _setting_value(key: str, value, kind: str | None) -> str:
    """A device setting's value in words: a number with its unit, a choice in the page's
    language, or, cleared, "default" and the default ``broker.settings`` gives the device's kind
    (or every kind, when they share it)."""
    head, dot, _sub = key.partition(".")
    spec = device_settings.SETTINGS[head]
    if value in _UNSET:
        if dot:
            return _("default")
        defaults = [spec.defaults[kind]] if kind in spec.defaults else list(spec.defaults.values())
        default = defaults[0] if defaults and all(d == defaults[0] for d in defaults) else None
        if default is None:
            return _("default")
        return f"{_('default')} ({_setting_value(key, default, kind)})"
    if head == "pins" and not dot:
        return _pins_text(value)
    if spec.unit in _UNITS:
        return _(_UNITS[spec.unit], n=value)
    if getattr(spec.check, "options", None):
        return _(str(value))
    return str(value)


def _device_pairs(action: str, detail: dict, device=None) -> list[tuple[str, str]]:
    """A device's audit detail (``device.add``, ``device.set``) in words: settings by their names,
    a field or setting cleared or not set said as such — "activity: default (Using the library's
    areas)", "location: none", "site: Central Library", "door open time: default (3000 ms)" —
    never "None". A ``device.set`` lists only what changed: the kind, gate and site a default is
    read for are the row's when it names them, else the ``device``'s (as it is now)."""

    def field(key: str):
        if key in detail:
            return None if detail[key] in _UNSET else str(detail[key])
        return getattr(device, key, None) or None

    kind, direction, site = field("kind"), field("direction"), field("site")  # activities as its site names them
    out = []
    for key, value in detail.items():
        unset = value in _UNSET
        if key.partition(".")[0] in device_settings.SETTINGS:
            out.append((setting_name(key), _setting_value(key, value, kind)))
        elif key == "activity":
            default = rules.device_activity(kind, direction, None) if kind else None
            text = f"{_('default')} ({site_activity_name(default, site)})" if default else _("default")
            out.append((key_name(key), text if unset else site_activity_name(str(value), site)))
        elif key == "site":  # no site: the default site's
            out.append((key_name(key), site_name(None if unset else str(value))))
        elif key in ("kind", "direction"):
            out.append((key_name(key), _("none") if unset else _(str(value))))
        elif unset:
            out.append((key_name(key), _("none")))
        else:
            out.append((key_name(key), _value(key, value, action)))
    return out


#: an audit detail's keys that hold ids of ours, and what each names: ``points.transfer``'s
#: ``to``, the staff PIN's and feedback's ``member``, a draw's ``winners`` are members; an
#: award's ``entry``, a void's ``reversals``, a refund's ``given_back_by_void`` ledger entries;
#: an import's ``event`` an event; an API token's ``token``. Each is shown by name, the id beside.
DETAIL_IDS = {
    "to": "member",
    "member": "member",
    "winners": "member",
    "entry": "entry",
    "reversals": "entry",
    "given_back_by_void": "entry",
    "event": "event",
    "token": "token",
}
#: at most this many of a list of ids (a draw's winners) are named; the rest are counted
_NAMED_AT_MOST = 10


def _detail(detail):
    """An audit row's detail as a dict (older rows hold JSON *text*), or what it is otherwise."""
    if isinstance(detail, str) and detail.lstrip().startswith(("{", "[")):
        try:  # a detail saved as JSON *text* (a string holding an object) reads as the others
            return json.loads(detail)
        except ValueError:
            pass
    return detail


def _ids(value) -> list[str]:
    """The ids a detail value holds (one, or a list), as text."""
    values = value if isinstance(value, list) else [value]
    return [str(v).strip() for v in values if isinstance(v, int | str) and not isinstance(v, bool) and str(v).strip()]


def audit_detail_refs(action: str | None, detail) -> list[tuple[str, str]]:
    """The ids an audit row's detail holds, as ``[(kind, id)]`` for :func:`server.web.queries.audit_targets`."""
    detail = _detail(detail)
    if not isinstance(detail, dict) or action in ("device.add", "device.set"):
        return []
    return [(DETAIL_IDS[k], i) for k, v in detail.items() if k in DETAIL_IDS for i in _ids(v)]


def _named_id(kind: str, raw: str, found: dict) -> dict:
    """One id of a detail by name (``{"text", "url", "code"}``): a member linked to their page, an
    entry as its holder and activity (linked to the holder), an event, an API token by its label;
    one not found (since deleted, not an id) as it is."""
    number = int(raw) if raw.isdigit() and len(raw) < 19 else None
    seen = found.get(kind, {})
    if number not in seen:
        return _target(raw)
    if kind == "member":
        return _target(seen[number], url_for("views.member", mid=number), f"#{number}")
    if kind == "entry":
        e = seen[number]
        text = f"{e['name']} · {_name(e['label'])}" if e.get("label") else e["name"]
        return _target(text, url_for("views.member", mid=e["member"]), _("entry %(id)s", id=number))
    if kind == "event":
        return _target(seen[number], url_for("views.event", event_id=number), f"#{number}")
    if kind == "token":
        label, owner = seen[number]
        return _target(f"{label or _('API token')} ({owner})", None, _("token %(id)s", id=number))
    return _target(raw)


def audit_pairs(action: str, detail, found: dict | None = None, target: str | None = None) -> list[tuple[str, object]]:
    """An audit row's detail (a dict, or older rows' JSON text) as ``[(key, value)]`` in words.

    A value is text, or, for a key that holds ids of ours (:data:`DETAIL_IDS`), a list of
    ``{"text", "url", "code"}`` naming each (from ``found``, what
    :func:`server.web.queries.audit_targets` read; the id kept as ``code``). ``target`` is the
    row's target: a device's details read its kind and site from the device when the row does
    not name them.
    """
    detail = _detail(detail)
    if not detail:
        return []
    if not isinstance(detail, dict):
        return [("", str(detail))]
    found = found or {}
    if action in ("device.add", "device.set"):
        return _device_pairs(action, detail, found.get("device", {}).get((target or "").strip()))
    out: list[tuple[str, object]] = []
    for k, v in detail.items():
        ids = _ids(v) if k in DETAIL_IDS else []
        if not ids or (not isinstance(v, list) and isinstance(v, str) and not v.strip().isdigit()):
            out.append((key_name(k), _value(k, v, action)))
            continue
        named = [_named_id(DETAIL_IDS[k], i, found) for i in ids[:_NAMED_AT_MOST]]
        if len(ids) > _NAMED_AT_MOST:
            named.append(_target(_("and %(n)s more", n=len(ids) - _NAMED_AT_MOST)))
        out.append((key_name(k), named))
    return out


# --------------------------------------------------------------------------- the audit log's target

#: what an audit row's target names, by action (the third argument of ``Ledger.audit``); "text"
#: is shown as it is (a staff account's username, a patron barcode the ILS gave, an import job's
#: number). Every action the server writes is here (tests/unit/test_audit_actions.py).
AUDIT_TARGETS = {
    **dict.fromkeys(
        (
            "member.add",
            "member.set",
            "member.contact",
            "member.tier",
            "member.renew",
            "card.replace",
            "points.award",
            "points.transfer",
            "points.redeem",
            "messages.unsubscribe",
            "patron.pin",
            "patron.signin",
            "patron.signin_failed",
            "patron.signin_refused",
            "patron.link_sent",
            "patron.link_refused",
            "ils.patron",
            "ils.pin_check",
            "ils.fee_paid",
            "staff.pin_cleared",
        ),
        "member",
    ),
    **dict.fromkeys(
        (
            "card.block",
            "card.secure",
            "card.keys_shown",
            "card.not_genuine",
            "staff.unlock",
            "staff.pin_wrong",
            "staff.pin_locked",
            "staff.pin_refused",
        ),
        "card",
    ),
    **dict.fromkeys(
        ("device.add", "device.set", "device.retire", "device.reactivate", "device.refused", "device.credentials"),
        "device",
    ),
    "points.void": "entry",
    "programme.change": "version",
    **dict.fromkeys(("campaign.add", "campaign.end"), "campaign"),
    **dict.fromkeys(("draw.create", "draw.run", "draw.award", "ranking.record"), "draw"),
    **dict.fromkeys(("event.add", "points.import"), "event"),
    **dict.fromkeys(
        ("feedback.submit", "feedback.assign", "feedback.status", "feedback.answer", "feedback.decide"), "feedback"
    ),
    "messages.segment": "batch",
    "term.close": "day",
    **dict.fromkeys(
        (
            "staff.add",
            "staff.set",
            "staff.sites",
            "staff.login",
            "staff.login_failed",
            "staff.password",
            "staff.password_failed",
            "staff.token",
            "staff.token_revoked",
            "checkout.unknown_patron",
            "import.start",
        ),
        "text",
    ),
}


def audit_target_kind(action: str | None) -> str:
    """What an audit row's target is (``member``, ``device``, ...; ``text`` for an unknown action)."""
    return AUDIT_TARGETS.get(action or "", "text")


def _target(text: str, url: str | None = None, code: str | None = None) -> dict:
    return {"text": text, "url": url, "code": code}


def audit_target(action: str | None, target: str | None, found: dict) -> dict:
    """An audit row's target in words: ``{"text", "url", "code"}``.

    ``text`` names it in the page's language (a member's or card holder's name, a device by its
    location, a draw's or event's name, a programme version), ``url`` is its page when it has
    one, ``code`` the id staff search by, kept beside the name. ``found`` is what
    :func:`server.web.queries.audit_targets` read for the page's rows; a target it did not find
    (a device since deleted, an id that is not one) is shown as it is.
    """
    raw = (target or "").strip()
    if not raw:
        return _target("")
    kind = audit_target_kind(action)
    number = int(raw) if raw.isdigit() and len(raw) < 19 else None
    seen = found.get(kind, {})
    if kind == "member" and number in seen:
        return _target(seen[number], url_for("views.member", mid=number), f"#{number}")
    if kind == "card" and raw in seen:  # a card by its holder
        mid, name = seen[raw]
        return _target(name, url_for("views.member", mid=mid), raw)
    if kind == "entry" and number in seen:  # a ledger entry by its member
        return _target(
            seen[number]["name"], url_for("views.member", mid=seen[number]["member"]), _("entry %(id)s", id=number)
        )
    if kind == "device" and raw in seen:
        return _target(device_name(seen[raw]) or raw, url_for("views.device", device_id=raw), raw)
    if kind == "version" and raw.removeprefix("version ").isdigit():
        return _target(
            _("Programme version %(version)s", version=int(raw.removeprefix("version "))),
            url_for("programme.programme"),
        )
    if kind == "campaign" and raw in seen:
        return _target(_name(seen[raw], raw), url_for("programme.campaigns"), raw)
    if kind == "draw" and number in seen:
        return _target(seen[number], url_for("programme.draw", draw_id=number), f"#{number}")
    if kind == "event" and number in seen:
        return _target(seen[number], url_for("views.event", event_id=number), f"#{number}")
    if kind == "feedback" and number is not None:
        return _target(_("Feedback %(id)s", id=number), url_for("feedback.item", fid=number))
    if kind == "batch" and number is not None:
        return _target(_("Message %(id)s", id=number), url_for("messages.batch", batch_id=number))
    if kind == "day" and _ISO_DAY.match(raw):
        return _target(catalogue.fmt_date(date.fromisoformat(raw), _lang()))
    return _target(raw)
