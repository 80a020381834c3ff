"""The programme's configuration: typed, validated, loaded from TOML.

Defaults are ``programme.toml`` beside this module (the programme's numbers); a
library's file is merged over them. Standard library only.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import time
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import Message, TemplatedError

LIMITS = ("once", "per_day", "per_item_per_day", "unlimited")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CODE_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
HOURS_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
WINDOW_RE = re.compile(r"^before_close:(\d{1,3})$")
MMDD_RE = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
#: device kinds a back-dating rule may name (the bus contract's, and the self-check proxy)
DEVICE_KINDS = ("gate", "counter", "kiosk", "selfcheck")
#: how far back a kind of device may date a tap with a synchronised clock
BACKDATE_LIMITS = ("offline", "max_age", "none")
#: what happens to a tap dated further back than its device may date it
BACKDATE_OTHERWISE = ("receive_time", "refuse")


class ConfigError(TemplatedError, ValueError):
    """The programme configuration is wrong; the message says where."""


# --------------------------------------------------------------------------- codes a refusal names, in words
#
# A refusal names a weekday by its name ("Monday", not ``mon``) and lists a setting's choices
# each with what it means ("per_day (once a day)": the code is what the file takes). The words
# are English here and :class:`Message` values, so ``server.catalogue`` says them in the
# refusal's language (its Thai for each of these words).

#: the weekdays' names, in :data:`WEEKDAYS`' order
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
#: what each choice of a setting means, per kind of choice
CHOICE_WORDS = {
    "limit": {
        "once": "only once",
        "per_day": "once a day",
        "per_item_per_day": "once a day per item",
        "unlimited": "no limit",
    },
    "scope": {"programme": "the limit across every site", "site": "the limit at each site"},
    "backdating": {
        "offline": "back to the device's last offline period",
        "max_age": "back as far as max_tap_age_days",
        "none": "only tolerance_s back",
    },
    "otherwise": {"receive_time": "counted at the time the server received it", "refuse": "the tap is refused"},
    "basis": {"earned_in_term": "points earned in the term", "balance": "the balance"},
    "term": {
        "semester": "ends with the semester",
        "academic_year": "ends with the academic year",
        "date": "ends on a date staff type",
        "none": "never ends",
    },
    "on_expiry": {"keep": "the points are kept", "forfeit": "the balance goes to 0"},
    "campaign": {"multiplier": "points multiplied", "bonus": "bonus points", "activity": "a one-off activity"},
}


def weekday_name(day: int) -> Message:
    """A weekday (0 = Monday) as a refusal names it: ``Monday``, in Thai ``วันจันทร์``."""
    return Message(WEEKDAY_NAMES[day])


def choices(kind: str, codes: tuple[str, ...]) -> Message:
    """A setting's choices as a refusal lists them: ``once (only once), per_day (once a day), …``.

    Each code stays (it is what the file or form takes), followed by what it means in the
    refusal's language (:data:`CHOICE_WORDS`).
    """
    words = CHOICE_WORDS[kind]
    items = {f"c{i}": Message("%(code)s (%(words)s)", code=c, words=Message(words[c])) for i, c in enumerate(codes)}
    return Message(", ".join(f"%({k})s" for k in items), **items)


@dataclass(frozen=True)
class Activity:
    """One way to earn points (a row of Table 1)."""

    code: str
    points: int
    limit: str
    th: str
    en: str
    window_before_close_min: int | None = None
    direction: str | None = None
    #: retired from the console: no tap earns it any more; its ledger entries stay
    retired: bool = False
    #: where its once-a-day limit applies: across the whole ``programme`` (default) or per ``site``
    scope: str = "programme"

    @property
    def label(self) -> dict:
        """Thai and English labels."""
        return {"th": self.th, "en": self.en}


@dataclass(frozen=True)
class Hours:
    """Opening hours of one weekday; ``None`` times mean closed."""

    open: time | None
    close: time | None

    @property
    def closed(self) -> bool:
        """True when the library does not open that day."""
        return self.open is None


@dataclass(frozen=True)
class Semester:
    """A recurring semester: month-day bounds, possibly wrapping the new year."""

    name: str
    start: tuple[int, int]
    end: tuple[int, int]


@dataclass(frozen=True)
class Level:
    """A row of a privilege table: from ``points`` on, ``values`` apply."""

    points: int
    values: dict


@dataclass(frozen=True)
class Reward:
    """Something points can be redeemed for."""

    code: str
    th: str
    en: str
    points: int | None = None  # fixed cost per unit
    step_points: int | None = None  # fine discount: cost per step
    step_baht: int | None = None


@dataclass(frozen=True)
class Backdating:
    """How far back a device with a synchronised clock may date a tap (``[rules.backdating]``).

    Per device kind: ``offline`` — to when the server last saw the device go offline (its
    outbox buffers taps meanwhile); ``max_age`` — as far as ``max_tap_age_days`` (trusts the
    device's clock); ``none`` — only ``tolerance_s`` before the server received it. Every
    kind may date a tap ``tolerance_s`` back. A tap dated earlier is credited at the
    server's receive time (``otherwise = "receive_time"``) or refused (``"refuse"``).
    """

    tolerance_s: int = 300
    otherwise: str = "receive_time"
    kinds: dict = field(
        default_factory=lambda: {"gate": "offline", "counter": "offline", "kiosk": "none", "selfcheck": "offline"}
    )

    def limit(self, kind: str | None) -> str:
        """The rule for a kind of device (``none`` for a kind not named)."""
        return self.kinds.get(kind or "", "none")


# --------------------------------------------------------------------------- terms, tiers (issue 13)

#: how a group's membership term ends: the semester or academic year it was joined or
#: renewed in, a date staff type (employment end), or never
TERM_RULES = ("semester", "academic_year", "date", "none")
#: what happens to a member's points when their term lapses
ON_EXPIRY = ("keep", "forfeit")
#: what privilege levels are looked up from
PRIVILEGE_BASES = ("earned_in_term", "balance")
#: privilege tables a tier may override (``[tiers.gold.privileges.borrow]`` …)
PRIVILEGE_TABLES = ("borrow", "fine_discount", "locker", "study_room")


@dataclass(frozen=True)
class Group:
    """A member group (U1-U5 or library-defined) and how its membership term ends."""

    code: str
    th: str
    en: str
    term: str  # one of TERM_RULES


@dataclass(frozen=True)
class Terms:
    """``[terms]``: the groups' term rules, the renewal fee and what happens to points at expiry."""

    groups: dict = field(default_factory=dict)  # code -> Group
    default: str = "none"  # the rule of a member without a group
    renewal_fee_baht: int = 50
    on_expiry: str = "keep"

    def rule(self, group: str | None) -> str:
        """The term rule of a group (``default`` for none or an unknown one)."""
        g = self.groups.get(group or "")
        return g.term if g else self.default


@dataclass(frozen=True)
class TierRule:
    """One tier's own numbers and how members reach it.

    ``multiplier`` scales every earning activity but ``signup``; ``points`` overrides an
    activity's points outright; ``tables`` holds the privilege tables it overrides (as
    :class:`Programme` fields); ``groups`` are given this tier on joining or changing
    group; ``earned_at`` promotes a member whose points earned in the term reach it
    (0 = off). No demotion within a term.
    """

    code: str
    multiplier: float = 1
    points: dict = field(default_factory=dict)
    tables: dict = field(default_factory=dict)
    groups: tuple = ()
    earned_at: int = 0


# --------------------------------------------------------------------------- sites (issue 16)

#: a site's code: upper-case letters, digits and _, up to 16 (``MAIN``, ``BRANCH2``)
SITE_CODE_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,15}$")
#: the code of the one site a programme without ``[sites]`` has
DEFAULT_SITE = "MAIN"
#: the keys a ``[sites.CODE]`` table may have
SITE_KEYS = ("name_th", "name_en", "timezone", "hours", "closures", "activities", "partners")


@dataclass(frozen=True)
class Site:
    """A library building or a consortium member: its names, time zone, hours and overrides.

    ``hours`` is the site's own week (weekday index -> :class:`Hours`); ``closures`` are
    the site's own closed days plus the programme's (``hours.closures``); ``activities`` the
    raw overrides merged over the programme's activities; ``partners`` the site's own shops
    (None: the programme's).
    """

    code: str
    name_th: str
    name_en: str
    timezone: str
    hours: dict
    closures: frozenset = frozenset()
    activities: dict = field(default_factory=dict)  # code -> raw override table
    partners: tuple | None = None

    @property
    def label(self) -> dict:
        """Thai and English names."""
        return {"th": self.name_th, "en": self.name_en}


@dataclass(frozen=True)
class Programme:
    """The whole configuration the rules need."""

    name_th: str
    name_en: str
    timezone: str
    hours: dict  # weekday index 0..6 -> Hours
    max_tap_age_days: int
    future_tolerance_s: int
    signup_fee_baht: int
    card_replacement_fee_baht: int
    semesters: tuple
    tiers: dict  # code -> {"th","en"}
    activities: dict  # code -> Activity
    partners: tuple
    borrow_normal: dict
    borrow_levels: tuple
    fine_step_points: int
    fine_step_baht: int
    fine_max_points: int
    locker_normal_days: int
    locker_levels: tuple
    room_normal_hours: int
    room_levels: tuple
    rewards: dict = field(default_factory=dict)
    backdating: Backdating = field(default_factory=Backdating)
    #: how long a card is locked out on a kiosk after 5 wrong staff PINs there
    staff_pin_lockout_minutes: int = 15
    #: how long the CSV of a finished attendance import is kept (its counts and shown rows stay)
    import_files_keep_days: int = 30
    #: membership terms per group, renewal fee, points at expiry (``[terms]``, issue 13)
    terms: Terms = field(default_factory=Terms)
    #: silver and gold: earning, privilege tables and rules per tier (``[tiers.*]``, issue 13)
    tier_rules: dict = field(default_factory=dict)  # code -> TierRule
    #: which points privilege levels follow: ``earned_in_term`` or ``balance``
    privilege_basis: str = "earned_in_term"
    #: partner-shop aliases: normalised name -> the shop's name in ``partners``
    partner_aliases: dict = field(default_factory=dict)
    #: days the library is closed although the weekday is open (``hours.closures``: holidays)
    closures: frozenset = frozenset()
    #: points a book-purchase request pledges (``[feedback] book_request_points``; 0: no pledges)
    book_request_points: int = 100
    #: the validated document it was built from (export, the console's editors)
    raw: dict = field(default_factory=dict, compare=False, repr=False)
    #: the sites (``[sites.CODE]``; one ``MAIN`` site from ``[library]``/``[hours]`` when none)
    sites: dict = field(default_factory=dict)  # code -> Site
    #: the site of a device or member that names none (``library.default_site``, else the first)
    default_site: str = DEFAULT_SITE
    #: the site this is the view of (:meth:`for_site`); None for the whole programme
    site: str | None = None
    #: views per site, built once per programme version (not copied by ``replace``)
    _views: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    def site_code(self, code: str | None) -> str:
        """A site code as stored (None or "" = the default site), checked against the sites."""
        code = code or self.default_site
        if code not in self.sites:
            raise ConfigError("unknown site %(code)r; known: %(known)s", code=code, known=", ".join(self.sites))
        return code

    def for_site(self, code: str | None) -> Programme:
        """The programme as a site sees it: its names, time zone, hours, closures, activities, shops.

        ``None`` is the default site. Views are cached per programme (one per version) and
        share that cache, so a view's ``for_site`` of another site is that site's view; an
        unknown code raises :class:`ConfigError`.
        """
        code = code or self.default_site
        if self.site == code:
            return self
        views = self._views
        view = views.get(code)
        if view is None:
            whole = views.get("", self)
            view = _site_view(whole, whole.site_code(code))
            object.__setattr__(view, "_views", views)
            views.setdefault("", whole)
            views[code] = view
        return view

    @property
    def tz(self) -> ZoneInfo:
        """The library's time zone."""
        return ZoneInfo(self.timezone)

    def activity(self, code: str) -> Activity:
        """Look up an activity or raise ConfigError."""
        try:
            return self.activities[code]
        except KeyError:
            raise ConfigError(
                "unknown activity %(code)r; known: %(known)s", code=code, known=", ".join(sorted(self.activities))
            ) from None


def _merge(base: dict, over: dict) -> dict:
    """Deep-merge ``over`` into ``base`` (tables merge, everything else replaces)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _int(value: Any, where: str, minimum: int = 0) -> int:
    if type(value) is not int or value < minimum:
        raise ConfigError(
            "%(where)s must be an integer >= %(minimum)s, got %(value)r", where=where, minimum=minimum, value=value
        )
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("%(where)s must be a non-empty string, got %(value)r", where=where, value=value)
    return value


def _table(value: Any, where: str, known: tuple[str, ...] | None = None) -> dict:
    """A TOML table (dict), optionally refusing keys outside ``known`` (a typo must not be ignored)."""
    if not isinstance(value, dict):
        raise ConfigError("%(where)s must be a table, got %(value)r", where=where, value=value)
    if known is not None:
        unknown = set(value) - set(known)
        if unknown:
            raise ConfigError(
                "%(where)s: unknown key(s) %(unknown)s; known: %(known)s",
                where=where,
                unknown=", ".join(sorted(map(str, unknown))),
                known=", ".join(known),
            )
    return value


def _list(value: Any, where: str) -> list:
    if not isinstance(value, list):
        raise ConfigError("%(where)s must be a list (an array of tables), got %(value)r", where=where, value=value)
    return value


#: top-level sections of the configuration file
#: the longest staff PIN lock-out a library may configure (``rules.staff_pin_lockout_minutes``)
MAX_LOCKOUT_MINUTES = 1440
#: the longest a library may keep the CSV of a finished attendance import (``rules.import_files_keep_days``)
MAX_IMPORT_KEEP_DAYS = 3650
SECTIONS = (
    "library",
    "hours",
    "sites",
    "rules",
    "semesters",
    "terms",
    "tiers",
    "activities",
    "partners",
    "privileges",
    "rewards",
    "ils",  # the library system link: parsed by server/ils/config.py, not here
    "mail",  # messages to patrons: parsed by server/messages/config.py, not here
    "feedback",  # the feedback desk (issue 14): the points a book-purchase request pledges
)
#: the most points a book-purchase request may pledge (``feedback.book_request_points``)
MAX_BOOK_REQUEST_POINTS = 100_000


def _hours(text: Any, where: str) -> Hours:
    if text == "closed":
        return Hours(None, None)
    m = HOURS_RE.match(text) if isinstance(text, str) else None
    if not m:
        raise ConfigError("%(where)s must be 'HH:MM-HH:MM' or 'closed', got %(text)r", where=where, text=text)
    oh, om, ch, cm = map(int, m.groups())
    if ch == 24 and cm:
        raise ConfigError("%(where)s: closing time after 24:00", where=where)
    opening, closing = time(oh, om), (time(23, 59, 59) if ch == 24 else time(ch, cm))
    if closing <= opening:
        raise ConfigError(
            "%(where)s: closing %(closing)s is not after opening %(opening)s",
            where=where,
            closing=f"{closing:%H:%M}",
            opening=f"{opening:%H:%M}",
        )
    return Hours(opening, closing)


def _levels(rows: Any, where: str, keys: tuple[str, ...]) -> tuple:
    if not isinstance(rows, list) or not rows:
        raise ConfigError("%(where)s.levels must be a non-empty list", where=where)
    out, last = [], -1
    for i, row in enumerate(rows):
        w = f"{where}.levels[{i}]"
        if not isinstance(row, dict):
            raise ConfigError("%(w)s must be a table", w=w)
        pts = _int(row.get("points"), f"{w}.points")
        if pts <= last:
            raise ConfigError("%(w)s.points must increase (%(pts)s after %(last)s)", w=w, pts=pts, last=last)
        last = pts
        out.append(Level(pts, {k: _int(row.get(k), f"{w}.{k}") for k in keys}))
    return tuple(out)


#: the keys an ``[activities.CODE]`` table may have
ACTIVITY_KEYS = ("points", "limit", "th", "en", "window", "direction", "retired", "scope")
#: where an activity's limit applies (the accrual key of ``site`` includes the site)
SCOPES = ("programme", "site")


def _activity(code: str, raw: Any, where: str = "activities") -> Activity:
    w = f"{where}.{code}"
    if not CODE_RE.match(code):
        raise ConfigError("%(w)s: activity codes are lower-case letters, digits and _, up to 40", w=w)
    if not isinstance(raw, dict):
        raise ConfigError("%(w)s must be a table", w=w)
    limit = raw.get("limit", "per_day")
    if limit not in LIMITS:
        raise ConfigError(
            "%(w)s.limit must be one of %(options)s, got %(limit)r", w=w, options=choices("limit", LIMITS), limit=limit
        )
    window = raw.get("window")
    before = None
    if window is not None:
        m = WINDOW_RE.match(window) if isinstance(window, str) else None
        if not m:
            raise ConfigError("%(w)s.window must be 'before_close:MINUTES', got %(window)r", w=w, window=window)
        before = int(m.group(1))
    direction = raw.get("direction")
    if direction not in (None, "in", "out"):
        raise ConfigError("%(w)s.direction must be in or out, got %(direction)r", w=w, direction=direction)
    retired = raw.get("retired", False)
    if not isinstance(retired, bool):
        raise ConfigError("%(w)s.retired must be true or false, got %(retired)r", w=w, retired=retired)
    scope = raw.get("scope", "programme")
    if scope not in SCOPES:
        raise ConfigError(
            "%(w)s.scope must be one of %(options)s, got %(scope)r", w=w, options=choices("scope", SCOPES), scope=scope
        )
    unknown = set(raw) - set(ACTIVITY_KEYS)
    if unknown:
        raise ConfigError("%(w)s: unknown key(s) %(unknown)s", w=w, unknown=", ".join(sorted(unknown)))
    return Activity(
        code=code,
        points=_int(raw.get("points"), f"{w}.points"),
        limit=limit,
        th=_str(raw.get("th", code), f"{w}.th"),
        en=_str(raw.get("en", code), f"{w}.en"),
        window_before_close_min=before,
        direction=direction,
        retired=retired,
        scope=scope,
    )


def _semester(i: int, raw: Any) -> Semester:
    w = f"semesters[{i}]"
    if not isinstance(raw, dict):
        raise ConfigError("%(w)s must be a table", w=w)
    bounds = []
    for key in ("start", "end"):
        m = MMDD_RE.match(raw.get(key, "")) if isinstance(raw.get(key), str) else None
        if not m:
            raise ConfigError("%(w)s.%(key)s must be 'MM-DD', got %(value)r", w=w, key=key, value=raw.get(key))
        bounds.append((int(m.group(1)), int(m.group(2))))
    return Semester(_str(raw.get("name"), f"{w}.name"), bounds[0], bounds[1])


def _backdating(raw: Any) -> Backdating:
    """``[rules.backdating]``: every key checked, errors naming the key's path."""
    w = "rules.backdating"
    table = _table(raw, w, ("tolerance_s", "otherwise", *DEVICE_KINDS))
    default = Backdating()
    tolerance = _int(table.get("tolerance_s", default.tolerance_s), f"{w}.tolerance_s")
    if tolerance > 86400:
        raise ConfigError(
            "%(w)s.tolerance_s must be at most 86400 (one day), got %(tolerance)s", w=w, tolerance=tolerance
        )
    otherwise = table.get("otherwise", default.otherwise)
    if otherwise not in BACKDATE_OTHERWISE:
        raise ConfigError(
            "%(w)s.otherwise must be one of %(options)s, got %(otherwise)r",
            w=w,
            options=choices("otherwise", BACKDATE_OTHERWISE),
            otherwise=otherwise,
        )
    kinds = dict(default.kinds)
    for kind in DEVICE_KINDS:
        if kind in table:
            if table[kind] not in BACKDATE_LIMITS:
                raise ConfigError(
                    "%(w)s.%(kind)s must be one of %(options)s, got %(value)r",
                    w=w,
                    kind=kind,
                    options=choices("backdating", BACKDATE_LIMITS),
                    value=table[kind],
                )
            kinds[kind] = table[kind]
    return Backdating(tolerance_s=tolerance, otherwise=otherwise, kinds=kinds)


def build(raw: dict) -> Programme:
    """Validate a merged configuration dict into a Programme."""
    unknown_sections = set(raw) - set(SECTIONS)
    if unknown_sections:
        raise ConfigError(
            "unknown section(s) %(unknown)s; known: %(known)s",
            unknown=", ".join(sorted(map(str, unknown_sections))),
            known=", ".join(SECTIONS),
        )
    lib = _table(raw.get("library", {}), "library", ("name_th", "name_en", "timezone", "default_site"))
    tzname = _str(lib.get("timezone", "Asia/Bangkok"), "library.timezone")
    try:
        ZoneInfo(tzname)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError("library.timezone: unknown time zone %(tzname)r", tzname=tzname) from None
    hours_raw = _table(raw.get("hours", {}), "hours")
    unknown_days = set(hours_raw) - set(WEEKDAYS) - {"default", "closures"}
    if unknown_days:
        raise ConfigError(
            "hours: unknown key(s) %(unknown)s; use mon..sun or default", unknown=", ".join(sorted(unknown_days))
        )
    default = _hours(hours_raw.get("default", "08:00-22:00"), "hours.default")
    hours = {i: (_hours(hours_raw[d], f"hours.{d}") if d in hours_raw else default) for i, d in enumerate(WEEKDAYS)}
    rules = _table(
        raw.get("rules", {}),
        "rules",
        (
            "max_tap_age_days",
            "future_tolerance_s",
            "signup_fee_baht",
            "card_replacement_fee_baht",
            "backdating",
            "staff_pin_lockout_minutes",
            "import_files_keep_days",
        ),
    )
    keep_days = _int(rules.get("import_files_keep_days", 30), "rules.import_files_keep_days", 1)
    if keep_days > MAX_IMPORT_KEEP_DAYS:
        raise ConfigError(
            "rules.import_files_keep_days must be at most %(max)s (ten years), got %(value)r",
            max=MAX_IMPORT_KEEP_DAYS,
            value=keep_days,
        )
    lockout = _int(rules.get("staff_pin_lockout_minutes", 15), "rules.staff_pin_lockout_minutes", 1)
    if lockout > MAX_LOCKOUT_MINUTES:
        raise ConfigError(
            "rules.staff_pin_lockout_minutes must be at most %(max)s (a day), got %(value)r",
            max=MAX_LOCKOUT_MINUTES,
            value=lockout,
        )
    acts_raw = raw.get("activities", {})
    if not isinstance(acts_raw, dict):
        raise ConfigError("activities must be a table")
    activities = {code: _activity(code, a) for code, a in acts_raw.items()}
    for needed in ("signup", "entry", "borrow", "late_stay"):
        if needed not in activities:
            raise ConfigError("activities.%(needed)s is required", needed=needed)
    tiers_raw = _table(raw.get("tiers", {}), "tiers")
    tiers = {
        code: {
            "th": _str(_table(t, f"tiers.{code}", TIER_KEYS).get("th"), f"tiers.{code}.th"),
            "en": _str(t.get("en"), f"tiers.{code}.en"),
        }
        for code, t in tiers_raw.items()
    }
    if set(tiers) != {"silver", "gold"}:
        raise ConfigError("tiers must define exactly silver and gold")
    priv = _table(raw.get("privileges", {}), "privileges", ("basis", *PRIVILEGE_TABLES))
    basis = priv.get("basis", "earned_in_term")
    if basis not in PRIVILEGE_BASES:
        raise ConfigError(
            "privileges.basis must be one of %(options)s, got %(basis)r",
            options=choices("basis", PRIVILEGE_BASES),
            basis=basis,
        )
    tables = _privilege_tables(priv, "privileges")
    terms = _terms(raw.get("terms", {}))
    base_priv = {k: v for k, v in priv.items() if k in PRIVILEGE_TABLES}
    tier_rules = {code: _tier_rule(code, t, activities, terms, base_priv) for code, t in tiers_raw.items()}
    rewards = {}
    for code, r in _table(raw.get("rewards", {}), "rewards").items():
        w = f"rewards.{code}"
        if not CODE_RE.match(code) or not isinstance(r, dict):
            raise ConfigError("%(w)s: bad reward", w=w)
        rewards[code] = Reward(
            code=code,
            th=_str(r.get("th"), f"{w}.th"),
            en=_str(r.get("en"), f"{w}.en"),
            points=_int(r["points"], f"{w}.points", 1) if "points" in r else None,
            step_points=_int(r["step_points"], f"{w}.step_points", 1) if "step_points" in r else None,
            step_baht=_int(r["step_baht"], f"{w}.step_baht", 1) if "step_baht" in r else None,
        )
        if rewards[code].points is None and rewards[code].step_points is None:
            raise ConfigError("%(w)s needs points or step_points", w=w)
    shops, aliases = _partners(raw.get("partners", {}))
    fb = _table(raw.get("feedback", {}), "feedback", ("book_request_points",))
    book_points = _int(fb.get("book_request_points", 100), "feedback.book_request_points")
    if book_points > MAX_BOOK_REQUEST_POINTS:
        raise ConfigError(
            "feedback.book_request_points must be at most %(max)s, got %(value)r",
            max=MAX_BOOK_REQUEST_POINTS,
            value=book_points,
        )
    prog = Programme(
        name_th=_str(lib.get("name_th", "ห้องสมุด"), "library.name_th"),
        name_en=_str(lib.get("name_en", "Library"), "library.name_en"),
        timezone=tzname,
        hours=hours,
        max_tap_age_days=_int(rules.get("max_tap_age_days", 30), "rules.max_tap_age_days", 1),
        future_tolerance_s=_int(rules.get("future_tolerance_s", 300), "rules.future_tolerance_s"),
        signup_fee_baht=_int(rules.get("signup_fee_baht", 50), "rules.signup_fee_baht"),
        card_replacement_fee_baht=_int(rules.get("card_replacement_fee_baht", 50), "rules.card_replacement_fee_baht"),
        semesters=tuple(_semester(i, s) for i, s in enumerate(_list(raw.get("semesters", []), "semesters"))),
        tiers=tiers,
        activities=activities,
        partners=shops,
        **tables,
        rewards=rewards,
        backdating=_backdating(rules.get("backdating", {})),
        staff_pin_lockout_minutes=lockout,
        import_files_keep_days=keep_days,
        terms=terms,
        tier_rules=tier_rules,
        privilege_basis=basis,
        partner_aliases=aliases,
        book_request_points=book_points,
    )
    return _live_checks(prog, raw)


# --------------------------------------------------------------------------- terms, tiers, shops (issue 13)

#: keys a ``[tiers.CODE]`` table may have
TIER_KEYS = ("th", "en", "multiplier", "points", "privileges", "groups", "earned_at")
GROUP_KEYS = ("th", "en", "term")


def _privilege_tables(priv: dict, where: str) -> dict:
    """Tables 2-5 as :class:`Programme` fields."""
    out: dict = {}
    borrow = _table(priv.get("borrow", {}), f"{where}.borrow", ("normal", "levels"))
    normal = _table(borrow.get("normal", {}), f"{where}.borrow.normal", ("books", "loan_days"))
    out["borrow_normal"] = {
        "books": _int(normal.get("books", 10), f"{where}.borrow.normal.books"),
        "loan_days": _int(normal.get("loan_days", 10), f"{where}.borrow.normal.loan_days"),
    }
    out["borrow_levels"] = _levels(borrow.get("levels"), f"{where}.borrow", ("books", "loan_days"))
    fine = _table(priv.get("fine_discount", {}), f"{where}.fine_discount", ("step_points", "step_baht", "max_points"))
    out["fine_step_points"] = _int(fine.get("step_points", 25), f"{where}.fine_discount.step_points", 1)
    out["fine_step_baht"] = _int(fine.get("step_baht", 5), f"{where}.fine_discount.step_baht", 1)
    out["fine_max_points"] = _int(fine.get("max_points", 2500), f"{where}.fine_discount.max_points", 1)
    locker = _table(priv.get("locker", {}), f"{where}.locker", ("normal_days", "levels"))
    out["locker_normal_days"] = _int(locker.get("normal_days", 1), f"{where}.locker.normal_days")
    out["locker_levels"] = _levels(locker.get("levels"), f"{where}.locker", ("days",))
    room = _table(priv.get("study_room", {}), f"{where}.study_room", ("normal_hours", "levels"))
    out["room_normal_hours"] = _int(room.get("normal_hours", 3), f"{where}.study_room.normal_hours")
    out["room_levels"] = _levels(room.get("levels"), f"{where}.study_room", ("hours",))
    return out


def _terms(raw: Any) -> Terms:
    """``[terms]`` and ``[terms.groups.CODE]``: every key checked, errors naming the key's path."""
    table = _table(raw, "terms", ("default", "renewal_fee_baht", "on_expiry", "groups"))
    default = table.get("default", "none")
    if default not in TERM_RULES:
        raise ConfigError(
            "terms.default must be one of %(options)s, got %(default)r",
            options=choices("term", TERM_RULES),
            default=default,
        )
    on_expiry = table.get("on_expiry", "keep")
    if on_expiry not in ON_EXPIRY:
        raise ConfigError(
            "terms.on_expiry must be one of %(options)s, got %(on_expiry)r",
            options=choices("on_expiry", ON_EXPIRY),
            on_expiry=on_expiry,
        )
    groups = {}
    for code, g in _table(table.get("groups", {}), "terms.groups").items():
        w = f"terms.groups.{code}"
        if not re.fullmatch(r"[A-Za-z0-9_]{1,8}", str(code)):
            raise ConfigError("%(w)s: a group code is 1-8 letters, digits or _", w=w)
        g = _table(g, w, GROUP_KEYS)
        term = g.get("term", "none")
        if term not in TERM_RULES:
            raise ConfigError(
                "%(w)s.term must be one of %(options)s, got %(term)r",
                w=w,
                options=choices("term", TERM_RULES),
                term=term,
            )
        groups[code] = Group(code, _str(g.get("th", code), f"{w}.th"), _str(g.get("en", code), f"{w}.en"), term)
    return Terms(
        groups=groups,
        default=default,
        renewal_fee_baht=_int(table.get("renewal_fee_baht", 50), "terms.renewal_fee_baht"),
        on_expiry=on_expiry,
    )


def _tier_rule(code: str, raw: dict, activities: dict, terms: Terms, base_priv: dict) -> TierRule:
    """A tier's earning, privilege tables and rules (``[tiers.CODE]``)."""
    w = f"tiers.{code}"
    mult = raw.get("multiplier", 1)
    if isinstance(mult, bool) or not isinstance(mult, (int, float)) or not 0 < mult <= 10:
        raise ConfigError("%(w)s.multiplier must be a number above 0 and at most 10, got %(mult)r", w=w, mult=mult)
    points = {}
    for act, pts in _table(raw.get("points", {}), f"{w}.points").items():
        if act not in activities:
            raise ConfigError(
                "%(w)s.points.%(act)s: unknown activity; known: %(known)s",
                w=w,
                act=act,
                known=", ".join(sorted(activities)),
            )
        points[act] = _int(pts, f"{w}.points.{act}")
    priv = _table(raw.get("privileges", {}), f"{w}.privileges", PRIVILEGE_TABLES)
    groups = raw.get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise ConfigError("%(w)s.groups must be a list of group codes, got %(groups)r", w=w, groups=groups)
    for g in groups:
        if g not in terms.groups:
            raise ConfigError(
                "%(w)s.groups: unknown group %(g)r; known: %(known)s", w=w, g=g, known=", ".join(terms.groups)
            )
    return TierRule(
        code=code,
        multiplier=mult,
        points=points,
        # a tier's tables are the programme's with its own tables merged over them
        tables=_privilege_tables(_merge(base_priv, priv), f"{w}.privileges") if priv else {},
        groups=tuple(groups),
        earned_at=_int(raw.get("earned_at", 0), f"{w}.earned_at"),
    )


def shop_key(name: str) -> str:
    """A shop name as matched: NFC, runs of spaces as one, case-folded (Thai is unchanged by folding)."""
    return " ".join(unicodedata.normalize("NFC", name).split()).casefold()


def _partners(raw: Any, where: str = "partners") -> tuple[tuple, dict]:
    """``[partners]``: the shops' names and old names kept as aliases (normalised name -> shop)."""
    table = _table(raw, where, ("shops", "aliases"))
    shops = table.get("shops", [])
    if not isinstance(shops, list) or not all(isinstance(s, str) and s.strip() for s in shops):
        raise ConfigError("%(where)s.shops must be a list of shop names", where=where)
    shops = tuple(" ".join(unicodedata.normalize("NFC", s).split()) for s in shops)
    keys = {shop_key(s): s for s in shops}
    if len(keys) != len(shops):
        raise ConfigError("%(where)s.shops: a shop is listed twice", where=where)
    aliases = {}
    for old, new in _table(table.get("aliases", {}), f"{where}.aliases").items():
        if not isinstance(new, str) or new not in shops:
            raise ConfigError(
                "%(where)s.aliases.%(old)s must name a shop in %(where)s.shops, got %(new)r",
                where=where,
                old=old,
                new=new,
            )
        if shop_key(old) in keys and keys[shop_key(old)] != new:
            raise ConfigError("%(where)s.aliases.%(old)s is itself a shop's name", where=where, old=old)
        aliases[shop_key(old)] = new
    return shops, {**aliases, **keys}


def default_raw() -> dict:
    """The shipped defaults as a dict."""
    text = resources.files(__package__).joinpath("programme.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def read_section(path: str | Path, section: str, error: type[Exception]) -> Any:
    """One top-level section of the library's TOML file (``{}`` when absent), for the parts
    configured beside the programme (``[ils]``, ``[mail]``); a missing or broken file is ``error``."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh).get(section, {})
    except FileNotFoundError:
        raise error("config file not found: %(path)s", path=path) from None
    except tomllib.TOMLDecodeError as exc:
        raise error("%(path)s: not valid TOML: %(why)s", path=path, why=exc) from None


def load(path: str | Path | None = None, overrides: dict | None = None) -> Programme:
    """Load the defaults, merge a library's TOML file and/or a dict over them, validate."""
    raw = default_raw()
    if path is not None:
        try:
            with open(path, "rb") as fh:
                over = tomllib.load(fh)
            if _own_shops(over):
                raw["partners"].pop("aliases", None)
            raw = _merge(raw, over)
        except FileNotFoundError:
            raise ConfigError("config file not found: %(path)s", path=path) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("%(path)s: not valid TOML: %(why)s", path=path, why=exc) from None
    if overrides:
        if _own_shops(overrides):
            raw["partners"].pop("aliases", None)
        raw = _merge(raw, overrides)
    return build(raw)


def _own_shops(over: dict) -> bool:
    """True when a library's file lists its own shops but no aliases (the shipped aliases then go)."""
    partners = over.get("partners") if isinstance(over, dict) else None
    return isinstance(partners, dict) and "shops" in partners and "aliases" not in partners


# --------------------------------------------------------------------------- the programme edited live
#
# The programme is also kept in the database as versioned documents (issue 13, item 4:
# server.services.programme). These helpers are the pure half: the checks a whole
# programme must pass beyond each field's own (closures, windows inside opening hours),
# a TOML writer (export), a section's document (the console's section editor), and the
# list of changes between two versions (the audit's old -> new).

ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _closures(value: Any, where: str) -> frozenset:
    """A list of 'YYYY-MM-DD' closed days."""
    from datetime import date as _date

    if not isinstance(value, list):
        raise ConfigError("%(where)s must be a list of 'YYYY-MM-DD' dates, got %(value)r", where=where, value=value)
    days = set()
    for i, text in enumerate(value):
        try:
            if not (isinstance(text, str) and ISO_DATE_RE.match(text)):
                raise ValueError
            days.add(_date.fromisoformat(text))
        except ValueError:
            raise ConfigError(
                "%(where)s[%(i)s] must be a 'YYYY-MM-DD' date, got %(text)r", where=where, i=i, text=text
            ) from None
    return frozenset(days)


def _check_windows(activities: dict, hours: dict, where) -> None:
    """Every activity's window fits inside every open day; ``where(act, day)`` names the field."""
    for act in activities.values():
        if act.window_before_close_min is None:
            continue
        for i, day in enumerate(WEEKDAYS):
            h = hours[i]
            if h.closed:
                continue
            open_min = (h.close.hour * 60 + h.close.minute) - (h.open.hour * 60 + h.open.minute)
            if act.window_before_close_min > open_min:
                raise ConfigError(
                    "%(where)s: %(minutes)s minutes before closing is outside the opening hours of %(day)s (%(hours)s)",
                    where=where(act, day),
                    minutes=act.window_before_close_min,
                    day=weekday_name(i),
                    hours=f"{h.open:%H:%M}-{h.close:%H:%M}",
                )


def _sites(prog: Programme, raw: dict) -> tuple[dict, str]:
    """``[sites.CODE]``: every key checked, errors naming the key's path; (sites, default code).

    A programme without ``[sites]`` has one site, ``library.default_site`` (``MAIN``), made of
    ``[library]`` and ``[hours]``: nothing a single library had changes.
    """
    table = _table(raw.get("sites", {}), "sites")
    default = raw.get("library", {}).get("default_site")
    if default is not None and not (isinstance(default, str) and SITE_CODE_RE.match(default)):
        raise ConfigError(
            "library.default_site must be a site code (A-Z, 0-9, _; up to 16), got %(default)r", default=default
        )
    if not table:
        code = default or DEFAULT_SITE
        return {code: Site(code, prog.name_th, prog.name_en, prog.timezone, prog.hours, prog.closures)}, code
    acts_raw = raw.get("activities", {})
    sites = {}
    for code, t in table.items():
        w = f"sites.{code}"
        if not SITE_CODE_RE.match(str(code)):
            raise ConfigError(
                "%(w)s: a site code is upper-case letters, digits and _, up to 16, starting with a letter", w=w
            )
        t = _table(t, w, SITE_KEYS)
        tzname = _str(t.get("timezone", prog.timezone), f"{w}.timezone")
        try:
            ZoneInfo(tzname)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError("%(w)s.timezone: unknown time zone %(tzname)r", w=w, tzname=tzname) from None
        hours = prog.hours
        if "hours" in t:
            hours_raw = _table(t["hours"], f"{w}.hours", (*WEEKDAYS, "default"))
            week = _hours(hours_raw.get("default", "08:00-22:00"), f"{w}.hours.default")
            hours = {
                i: (_hours(hours_raw[d], f"{w}.hours.{d}") if d in hours_raw else week) for i, d in enumerate(WEEKDAYS)
            }
        closures = prog.closures | _closures(t.get("closures", []), f"{w}.closures")
        activities = {}
        for act, over in _table(t.get("activities", {}), f"{w}.activities").items():
            over = _table(over, f"{w}.activities.{act}", ACTIVITY_KEYS)
            base = acts_raw.get(act, {}) if isinstance(acts_raw.get(act), dict) else {}
            activities[act] = _own_window_names(
                _activity(act, _merge(base, over), f"{w}.activities"), prog.activities.get(act), over
            )
        partners = _partners(t["partners"], f"{w}.partners") if "partners" in t else None
        site = Site(
            code=code,
            name_th=_str(t.get("name_th"), f"{w}.name_th"),
            name_en=_str(t.get("name_en"), f"{w}.name_en"),
            timezone=tzname,
            hours=hours,
            closures=closures,
            activities=activities,
            partners=partners,
        )
        _check_windows(
            {**prog.activities, **activities},
            hours,
            lambda a, d, w=w, site=site: (
                f"{w}.activities.{a.code}.window" if a.code in site.activities else f"{w}.hours.{d}"
            ),
        )
        sites[code] = site
    default = default or next(iter(sites))
    if default not in sites:
        raise ConfigError(
            "library.default_site: no site %(default)r; known: %(known)s", default=default, known=", ".join(sites)
        )
    return sites, default


def _restate_minutes(name: str, old: int, new: int) -> str:
    """A name written for a window of ``old`` minutes said for ``new`` ("ก่อนปิด 30 นาที" → "ก่อนปิด 45 นาที"):
    the number replaced where the name states it once; a name that does not (or states it twice) as it is."""
    number = re.compile(rf"(?<!\d){old}(?!\d)")
    return number.sub(str(new), name) if len(number.findall(name)) == 1 else name


def _own_window_names(act: Activity, whole: Activity | None, over: dict) -> Activity:
    """A site's activity whose window is its own says that window in the names it keeps from the programme.

    ``late_stay`` is named "Reading in the last 30 minutes before closing" for the programme's
    ``before_close:30``; a site that sets ``before_close:45`` and no name of its own reads "…45
    minutes…" (the patron's tap result, the kiosk and the console say the site's own). A name
    the site sets (``th``, ``en``) is kept as written.
    """
    old, new = (whole.window_before_close_min if whole else None), act.window_before_close_min
    if old is None or new is None or old == new:
        return act
    return replace(
        act,
        th=act.th if "th" in over else _restate_minutes(act.th, old, new),
        en=act.en if "en" in over else _restate_minutes(act.en, old, new),
    )


def _site_view(whole: Programme, code: str) -> Programme:
    """The programme as one site sees it (see :meth:`Programme.for_site`)."""
    site = whole.sites[code]
    shops, aliases = site.partners if site.partners is not None else (whole.partners, whole.partner_aliases)
    return replace(
        whole,
        name_th=site.name_th,
        name_en=site.name_en,
        timezone=site.timezone,
        hours=site.hours,
        closures=site.closures,
        activities={**whole.activities, **site.activities},
        partners=shops,
        partner_aliases=aliases,
        site=code,
    )


def _live_checks(prog: Programme, raw: dict) -> Programme:
    """Checks across fields: closures are dates, every window fits inside every open day; the sites."""
    import copy

    days = _closures(raw.get("hours", {}).get("closures", []), "hours.closures")
    _check_windows(prog.activities, prog.hours, lambda a, d: f"activities.{a.code}.window")
    prog = replace(prog, closures=days)
    sites, default = _sites(prog, raw)
    return replace(prog, sites=sites, default_site=default, raw=copy.deepcopy(raw))


def _toml_key(key: str) -> str:
    return key if re.match(r"^[A-Za-z0-9_-]+$", key) else _toml_value(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        out = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
        # every other control character as \uXXXX (TOML forbids them raw)
        out = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", lambda m: f"\\u{ord(m.group()):04x}", out)
        return f'"{out}"'
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            return "[\n" + "".join(f"  {_toml_value(v)},\n" for v in value) + "]"
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise ConfigError("cannot write %(value)r as TOML", value=value)


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def to_toml(raw: dict, _path: tuple = ()) -> str:
    """A configuration dict as TOML text that :func:`tomllib.loads` reads back equal.

    Scalars and inline arrays first, then sub-tables (``[a.b]``); a top-level list of
    tables is written as ``[[name]]`` (e.g. ``semesters``), nested ones inline.
    """
    lines: list[str] = []
    tables: list[tuple[str, dict]] = []
    arrays: list[tuple[str, list]] = []
    for key, value in raw.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif _is_table_array(value) and not _path:
            arrays.append((key, value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    out = "\n".join(lines) + ("\n" if lines else "")
    for key, value in tables:
        path = (*_path, key)
        header = ".".join(_toml_key(p) for p in path)
        body = to_toml(value, path)
        has_scalars = any(not isinstance(v, dict) for v in value.values()) or not value
        out += (f"\n[{header}]\n" if has_scalars else "") + body
    for key, value in arrays:
        for item in value:
            out += f"\n[[{_toml_key(key)}]]\n" + to_toml(item, (key,))
    return out


def section_document(raw: dict, section: str) -> str:
    """The TOML text of one top-level section (what the console's section editor shows)."""
    if section not in SECTIONS:
        raise ConfigError("unknown section %(section)r; known: %(known)s", section=section, known=", ".join(SECTIONS))
    if section not in raw:
        return ""
    return to_toml({section: raw[section]}).lstrip("\n")


def replace_section(raw: dict, section: str, text: str) -> dict:
    """A copy of ``raw`` with one section replaced by the TOML ``text`` of that section.

    The text must hold that section and nothing else (``[activities.entry]`` …). The
    result is not yet validated: pass it to :func:`build`.
    """
    if section not in SECTIONS:
        raise ConfigError("unknown section %(section)r; known: %(known)s", section=section, known=", ".join(SECTIONS))
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("%(section)s: not valid TOML: %(why)s", section=section, why=exc) from None
    other = set(doc) - {section}
    if other:
        raise ConfigError(
            "%(section)s: the text may only hold [%(section)s], it also holds %(other)s",
            section=section,
            other=", ".join(sorted(other)),
        )
    out = dict(raw)
    if section in doc:
        out[section] = doc[section]
    else:
        out.pop(section, None)
    return out


def changes(old: Any, new: Any, path: str = "") -> list[dict]:
    """Every changed leaf between two configuration dicts: ``[{"path", "old", "new"}]`` (None = absent)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in list(old) + [k for k in new if k not in old]:
            sub = f"{path}.{key}" if path else str(key)
            out += changes(old.get(key), new.get(key), sub)
        return out
    return [] if old == new else [{"path": path, "old": old, "new": new}]
