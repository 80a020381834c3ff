"""The bus contract (v1): topic builders/parsers and payload dataclasses.

Everything that crosses MQTT is defined here, validated strictly at the boundary
into typed objects, and serialised back to compact UTF-8 JSON. See docs/protocol.md (the wire format) and
docs/architecture.md (where the contract sits among the packages).

Parsers raise :class:`ContractError` with a precise message; when the payload is
readable enough to carry a ``tap_id``/``query_id`` the error carries it too, so
the server can still answer ``invalid``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import zlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

VERSION = 1
DEFAULT_PREFIX = "privcard"
#: Anything a device sends is at most this many bytes.
MAX_DEVICE_PAYLOAD = 4096

#: The instants a payload may name: everything the server stores or converts lies
#: inside, so no timestamp can overflow a conversion deep in the server. The floor is
#: the Unix epoch, not a later year: a Raspberry Pi with no real-time clock and no
#: network boots at 1970, and its taps (``clock_ok: false``) are still credited at the
#: server's receive time. How old a *trusted* tap may be is the server's rule
#: (``[rules] max_tap_age_days``, the back-dating policy), not the contract's.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
#: the largest count or version a device may report (fits a signed 63-bit column)
MAX_COUNT = 2**63 - 1
#: the largest duration a device may report, in seconds (about 317 years)
MAX_SECONDS = 10**10

DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TAP_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
UID_RE = re.compile(r"^(?:[0-9A-F]{2}){4,10}$")

#: Topic kinds under ``{prefix}/dev/{device_id}/``.
DEVICE_TO_SERVER = ("tap", "query", "status", "feedback", "checkout")
SERVER_TO_DEVICE = ("result", "answer", "config")
TOPIC_KINDS = DEVICE_TO_SERVER + SERVER_TO_DEVICE

OUTCOMES = (
    "credited",
    "limit_reached",
    "no_activity",
    "unknown_card",
    "card_blocked",
    "expired",
    "card_not_genuine",
    "invalid",
)
ANSWER_OUTCOMES = ("member", "unknown_card", "card_blocked", "expired", "card_not_genuine", "invalid")
#: answers to a query that carries a staff ``pin`` (the server checks it; no hash leaves it)
PIN_OUTCOMES = ("staff_unlocked", "pin_wrong", "pin_locked")
PIN_RE = re.compile(r"[0-9]{4,8}")  # fullmatch: "$" would let a trailing newline through
TIERS = ("silver", "gold")
#: What each kind of device may send: the topic kinds under ``{prefix}/dev/{id}/`` it may
#: publish and the server will act on (:meth:`server.services.devices.Devices.authorise`).
#: The broker ACL lets every device write its own topics; this table is what makes a gate's
#: query or feedback a refusal. It lives in the contract, beside the topics it names,
#: because every side reads it (the server enforces it; devices and docs describe it).
#: A new kind of device is one line here (and a column of defaults in broker/settings.py).
CAPABILITIES: dict[str, frozenset[str]] = {
    "gate": frozenset({"tap", "status"}),
    "kiosk": frozenset({"tap", "query", "feedback", "status"}),
    "counter": frozenset({"tap", "status"}),
    # the SIP2 proxy beside the self-check machines (gate/sip2proxy.py): the ILS's
    # successful checkouts, answered on its own ``result`` topic like a tap
    "selfcheck": frozenset({"checkout", "status"}),
}
DEVICE_KINDS = tuple(CAPABILITIES)


def may(kind: str, action: str) -> bool:
    """Whether a device of ``kind`` may send ``action`` (a topic kind, e.g. ``query``)."""
    return action in CAPABILITIES.get(kind, ())


DIRECTIONS = ("in", "out")
OFFLINE_POLICIES = ("allowlist", "open", "closed")


class TemplatedError(Exception):
    """An error whose English message is ``template`` filled with ``values`` (the broker side's twin
    of ``server.domain.errors.TemplatedError``: the bottom layer imports nothing of the server's).

    Kept apart, so a caller can show it in another language without parsing the text (privcard
    admin and privcard setup print the Thai line; ``broker.mosquitto.thai`` holds the Thai of
    ``broker.mosquitto``'s errors); ``str(exc)`` is the English text.
    """

    def __init__(self, template: str, **values):
        super().__init__(template % values if values else template)
        self.template, self.values = template, values


class ContractError(ValueError):
    """A payload or topic that does not follow the bus contract.

    ``template`` is the English message with ``%(name)s`` placeholders and ``values`` what
    fills them, so a caller can show it in another language without parsing the text;
    ``str(exc)`` is the English text.
    """

    def __init__(self, template: str, *, ref: str | None = None, **values):
        super().__init__(template % values if values else template)
        self.template, self.values = template, values
        #: the tap_id / query_id / feedback_id when it could be read, else None
        self.ref = ref


# --------------------------------------------------------------------------- topics


@dataclass(frozen=True)
class Topic:
    """A parsed device topic: ``{prefix}/dev/{device_id}/{kind}``."""

    prefix: str
    device_id: str
    kind: str

    def __str__(self) -> str:
        return f"{self.prefix}/dev/{self.device_id}/{self.kind}"


def device_topic(device_id: str, kind: str, prefix: str = DEFAULT_PREFIX) -> str:
    """Build ``{prefix}/dev/{device_id}/{kind}`` after validating both parts."""
    check_device_id(device_id)
    if kind not in TOPIC_KINDS:
        raise ContractError(f"unknown topic kind {kind!r}; expected one of {', '.join(TOPIC_KINDS)}")
    return f"{prefix}/dev/{device_id}/{kind}"


def tap_topic(device_id: str, prefix: str = DEFAULT_PREFIX) -> str:
    """Topic a device publishes taps on."""
    return device_topic(device_id, "tap", prefix)


def result_topic(device_id: str, prefix: str = DEFAULT_PREFIX) -> str:
    """Topic the server publishes tap results on."""
    return device_topic(device_id, "result", prefix)


def query_topic(device_id: str, prefix: str = DEFAULT_PREFIX) -> str:
    """Topic a kiosk publishes balance queries on."""
    return device_topic(device_id, "query", prefix)


def answer_topic(device_id: str, prefix: str = DEFAULT_PREFIX) -> str:
    """Topic the server publishes query answers on."""
    return device_topic(device_id, "answer", prefix)


def config_topic(device_id: str, prefix: str = DEFAULT_PREFIX) -> str:
    """Retained topic with the device's settings."""
    return device_topic(device_id, "config", prefix)


def status_topic(device_id: str, prefix: str = DEFAULT_PREFIX) -> str:
    """Retained topic with the device's online/offline status (last will = offline)."""
    return device_topic(device_id, "status", prefix)


def checkout_topic(device_id: str, prefix: str = DEFAULT_PREFIX) -> str:
    """Topic a self-check proxy publishes the ILS's successful checkouts on."""
    return device_topic(device_id, "checkout", prefix)


def feedback_topic(device_id: str, prefix: str = DEFAULT_PREFIX) -> str:
    """Topic a kiosk publishes visit ratings on."""
    return device_topic(device_id, "feedback", prefix)


def allowlist_topic(prefix: str = DEFAULT_PREFIX) -> str:
    """Retained topic with the offline allow-list."""
    return f"{prefix}/allowlist"


def device_wildcard(kind: str, prefix: str = DEFAULT_PREFIX) -> str:
    """Subscription filter for one kind of topic from every device."""
    if kind not in TOPIC_KINDS:
        raise ContractError(f"unknown topic kind {kind!r}")
    return f"{prefix}/dev/+/{kind}"


def parse_topic(topic: str, prefix: str = DEFAULT_PREFIX) -> Topic:
    """Split a device topic into its parts, or raise ContractError."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != prefix or parts[1] != "dev":
        raise ContractError(f"not a device topic under {prefix!r}: {topic!r}")
    _, _, device_id, kind = parts
    check_device_id(device_id)
    if kind not in TOPIC_KINDS:
        raise ContractError(f"unknown topic kind {kind!r} in {topic!r}")
    return Topic(prefix, device_id, kind)


# --------------------------------------------------------------------------- field checks


def check_device_id(device_id: Any) -> str:
    """A device id is 1–64 chars of [A-Za-z0-9_-] (it is a topic segment)."""
    if not isinstance(device_id, str) or not DEVICE_ID_RE.match(device_id):
        raise ContractError(
            "device id must be 1-64 characters of A-Z a-z 0-9 _ -, got %(device_id)s", device_id=repr(device_id)
        )
    return device_id


def normalise_uid(uid: Any) -> str:
    """Return a card UID as upper-case hex of 4–10 bytes, or raise ContractError.

    Accepts lower case and ``:``/space/``-`` separators (what readers and staff type).
    """
    if not isinstance(uid, str):
        raise ContractError("uid must be a string, got %(type)s", type=type(uid).__name__)
    cleaned = re.sub(r"[\s:-]", "", uid).upper()
    if not UID_RE.match(cleaned):
        raise ContractError("uid must be 4-10 bytes of hex (8-20 hex digits), got %(uid)s", uid=repr(uid[:40]))
    return _not_all_zero(cleaned)


def _not_all_zero(uid: str) -> str:
    """An all-zero UID is what a reader reports for no card or a failed read, never a card."""
    if not uid.strip("0"):
        raise ContractError("uid %(uid)s is all zeros: a failed read, not a card", uid=uid)
    return uid


def _strict_uid(uid: Any) -> str:
    """On the wire the UID must already be canonical upper-case hex."""
    if not isinstance(uid, str):
        raise ContractError("uid must be a string, got %(type)s", type=type(uid).__name__)
    if not UID_RE.match(uid):
        raise ContractError(f"uid must be upper-case hex of 4-10 bytes, got {uid[:40]!r}")
    return _not_all_zero(uid)


def parse_time(value: Any, name: str = "at") -> datetime:
    """Parse ISO-8601 with an explicit UTC offset into an aware datetime."""
    if not isinstance(value, str):
        raise ContractError(f"{name} must be an ISO-8601 string, got {type(value).__name__}")
    if len(value) > 40:
        raise ContractError(f"{name} is too long to be a timestamp")
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ContractError(f"{name} is not ISO-8601: {value!r}") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ContractError(f"{name} must carry a UTC offset (e.g. +07:00 or Z): {value!r}")
    # compare in local wall time first: converting year 1 at +14:00 to UTC overflows
    utc_offset = parsed.utcoffset()
    if not (
        EARLIEST.replace(tzinfo=None) + utc_offset
        <= parsed.replace(tzinfo=None)
        < LATEST.replace(tzinfo=None) + utc_offset
    ):
        raise ContractError(f"{name} must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC), got {value!r}")
    return parsed


def format_time(when: datetime) -> str:
    """Format an aware datetime as ISO-8601 with offset, millisecond precision."""
    if when.tzinfo is None:
        raise ValueError("format_time needs an aware datetime")
    return when.isoformat(timespec="milliseconds")


def now_utc() -> datetime:
    """Current time, aware, UTC."""
    return datetime.now(UTC)


def _load(payload: bytes | str, *, limit: int | None = MAX_DEVICE_PAYLOAD) -> dict:
    """Decode a UTF-8 JSON object payload with size limit."""
    if isinstance(payload, str):
        try:
            payload = payload.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates, e.g. from a str decoded with surrogateescape
            raise ContractError("payload is not valid Unicode") from None
    if limit is not None and len(payload) > limit:
        raise ContractError(f"payload is {len(payload)} bytes; the limit is {limit}")
    try:
        data = json.loads(payload.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise ContractError("payload is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise ContractError(f"payload is not JSON: {exc.msg} at position {exc.pos}") from None
    except RecursionError:  # e.g. [[[[...]]]]: nested deeper than the decoder's recursion limit
        raise ContractError("payload is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer with more digits than int() accepts
        raise ContractError(f"payload is not acceptable JSON: {str(exc)[:100]}") from None
    if not isinstance(data, dict):
        raise ContractError(f"payload must be a JSON object, got {type(data).__name__}")
    # What a device sent (at most 4 KiB): every string, key or value. Valid UTF-8 cannot
    # encode a surrogate, so a lone one can only come from a JSON escape: without a "\u"
    # in the payload there is nothing to look for (the walk was 6 % of the tap worker's CPU).
    if limit is not None and b"\\u" in payload:
        _check_text(data, _ref(data, "tap_id") or _ref(data, "query_id") or _ref(data, "feedback_id"))
    return data


def _no_constant(name: str):
    """JSON's non-standard NaN/Infinity: no field of ours may hold one."""
    raise ValueError(f"{name} is not a number this contract accepts")


def _check_text(value: Any, ref: str | None, where: str = "payload") -> None:
    """Refuse a lone surrogate anywhere (``"\\ud800"`` decodes to a str that is not Unicode text).

    Such a string cannot be stored, logged as UTF-8 or sent back: refused here, it costs
    microseconds instead of an error deep in the server.
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ContractError(f"{where} holds a lone surrogate (not Unicode text)", ref=ref) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, ref, where)
            _check_text(item, ref, f"{key}"[:40] if isinstance(key, str) and key.isascii() else where)
    elif isinstance(value, list):
        for item in value:
            _check_text(item, ref, where)


def _number(value: Any, key: str, low: float, high: float, ref: str | None = None) -> int | float:
    """A finite number within ``[low, high]`` (what the server stores must fit its columns)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ContractError(f"{key} must be a finite number", ref=ref)
    if not low <= value <= high:
        shown = str(value) if len(str(value)) <= 24 else f"{str(value)[:20]}..."
        raise ContractError(f"{key} must be between {low} and {high}, got {shown}", ref=ref)
    return value


def _ref(data: dict, key: str) -> str | None:
    """Read an id for error replies, only if it is itself valid."""
    value = data.get(key)
    if isinstance(value, str) and TAP_ID_RE.match(value):
        return value
    return None


def _version(data: dict, ref: str | None) -> None:
    v = data.get("v")
    if type(v) is not int:
        raise ContractError(f"v must be the integer {VERSION}, got {v!r}", ref=ref)
    if v != VERSION:
        raise ContractError(f"unsupported contract version {v}; this server speaks v{VERSION}", ref=ref)


def _require(data: dict, key: str, kind: type | tuple, ref: str | None, *, nullable: bool = False) -> Any:
    if key not in data:
        raise ContractError(f"missing field {key!r}", ref=ref)
    value = data[key]
    if value is None and nullable:
        return None
    # bool is a subclass of int: refuse it where an int is wanted
    if kind is int and isinstance(value, bool):
        raise ContractError(f"{key} must be an integer, got boolean", ref=ref)
    if not isinstance(value, kind):
        want = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise ContractError(f"{key} must be {want}, got {type(value).__name__}", ref=ref)
    return value


def _with_ref(check, ref: str | None, value: Any) -> Any:
    """Run a field check, attaching the payload's id to its error."""
    try:
        return check(value)
    except ContractError as exc:
        exc.ref = exc.ref or ref
        raise


def _no_extra(data: dict, allowed: set[str], ref: str | None) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise ContractError(f"unexpected field(s): {', '.join(map(str, extra))[:200]}", ref=ref)


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON (Thai text kept readable, not \\u-escaped)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --------------------------------------------------------------------------- payloads


@dataclass(frozen=True)
class Tap:
    """A card read at a device: ``privcard/dev/{id}/tap``."""

    tap_id: str
    uid: str
    at: datetime
    clock_ok: bool
    #: the NDEF URI the reader read from the card (a Secure Unique NFC URL), if any
    ndef: str | None = None
    v: int = VERSION

    @classmethod
    def parse(cls, payload: bytes | str) -> Tap:
        """Validate a tap payload; raises ContractError (with .ref = tap_id if readable)."""
        data = _load(payload)
        ref = _ref(data, "tap_id")
        _version(data, ref)
        tap_id = _require(data, "tap_id", str, ref)
        if not TAP_ID_RE.match(tap_id):
            raise ContractError("tap_id must be 1-64 characters of A-Z a-z 0-9 . _ : -", ref=None)
        uid = _with_ref(_strict_uid, ref, _require(data, "uid", str, ref))
        at = _with_ref(parse_time, ref, _require(data, "at", str, ref))
        clock_ok = _require(data, "clock_ok", bool, ref)
        ndef = _ndef(data, ref)
        _no_extra(data, {"v", "tap_id", "uid", "at", "clock_ok", "ndef"}, ref)
        return cls(tap_id=tap_id, uid=uid, at=at, clock_ok=clock_ok, ndef=ndef)

    def to_dict(self) -> dict:
        """The wire form."""
        return {
            "v": self.v,
            "tap_id": self.tap_id,
            "uid": self.uid,
            "at": format_time(self.at),
            "clock_ok": self.clock_ok,
            **({"ndef": self.ndef} if self.ndef is not None else {}),
        }

    def encode(self) -> bytes:
        """UTF-8 JSON bytes."""
        return dumps(self.to_dict())


#: a patron or item identifier as a self-check proxy forwards it: the SIP2 ``AA``/``AB``
#: field, printable ASCII without spaces (barcodes, student numbers), at most 64 characters
SIP2_ID_RE = re.compile(r"^[\x21-\x7e]{1,64}$")
#: a SIP2 transaction date: ``YYYYMMDDZZZZHHMMSS`` (the zone is four spaces or e.g. ``   Z``)
SIP2_DATE_RE = re.compile(r"^[0-9]{8}[ A-Z0-9]{4}[0-9]{6}$")


def checkout_id(device_id: str, patron: str, item: str, ils_at: str) -> str:
    """The idempotent id of a checkout: ``co:`` and 40 hex digits of SHA-256 over its parts.

    The same checkout (the same proxy, patron, item and ILS transaction date) always gets
    the same id, so an event the proxy stores or sends twice, or the broker redelivers,
    is decided once (the server's tap inbox is keyed on ``(device, tap_id)``); a new
    checkout of the same item by the same patron has a new ILS transaction date.
    """
    text = "\x1f".join((check_device_id(device_id), patron, item, ils_at))
    return "co:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


@dataclass(frozen=True)
class Checkout:
    """A checkout the ILS accepted, seen by a self-check proxy: ``privcard/dev/{id}/checkout``.

    ``{"v":1,"tap_id":str,"patron":str,"item":str,"at":ISO-8601,"clock_ok":bool,"ils_at":str|null}``

    ``tap_id`` is :func:`checkout_id` (answered on the device's ``result`` topic like a
    tap); ``patron`` and ``item`` are the 12 response's ``AA`` and ``AB``; ``at`` is the
    proxy's clock when the 12 passed; ``ils_at`` the ILS's own transaction date, as sent.
    """

    tap_id: str
    patron: str
    item: str
    at: datetime
    clock_ok: bool
    ils_at: str | None = None
    v: int = VERSION

    def __post_init__(self):
        for name in ("patron", "item"):
            if not isinstance(getattr(self, name), str) or not SIP2_ID_RE.match(getattr(self, name)):
                raise ContractError(
                    f"{name} must be 1-64 printable ASCII characters without spaces", ref=_ok_id(self.tap_id)
                )
        if not isinstance(self.tap_id, str) or not TAP_ID_RE.match(self.tap_id):
            raise ContractError("tap_id must be 1-64 characters of A-Z a-z 0-9 . _ : -")
        if self.ils_at is not None and (not isinstance(self.ils_at, str) or not SIP2_DATE_RE.match(self.ils_at)):
            raise ContractError("ils_at must be a SIP2 date (YYYYMMDDZZZZHHMMSS)", ref=self.tap_id)

    @classmethod
    def parse(cls, payload: bytes | str) -> Checkout:
        """Validate a checkout payload; raises ContractError (with .ref = tap_id if readable)."""
        data = _load(payload)
        ref = _ref(data, "tap_id")
        _version(data, ref)
        tap_id = _require(data, "tap_id", str, ref)
        patron = _require(data, "patron", str, ref)
        item = _require(data, "item", str, ref)
        at = _with_ref(parse_time, ref, _require(data, "at", str, ref))
        clock_ok = _require(data, "clock_ok", bool, ref)
        ils_at = _require(data, "ils_at", str, ref, nullable=True) if "ils_at" in data else None
        _no_extra(data, {"v", "tap_id", "patron", "item", "at", "clock_ok", "ils_at"}, ref)
        return cls(tap_id=tap_id, patron=patron, item=item, at=at, clock_ok=clock_ok, ils_at=ils_at)

    def to_dict(self) -> dict:
        """The wire form."""
        return {
            "v": self.v,
            "tap_id": self.tap_id,
            "patron": self.patron,
            "item": self.item,
            "at": format_time(self.at),
            "clock_ok": self.clock_ok,
            "ils_at": self.ils_at,
        }

    def encode(self) -> bytes:
        """UTF-8 JSON bytes."""
        return dumps(self.to_dict())


def _ok_id(value: Any) -> str | None:
    """``value`` if it is a valid tap_id (for an error's ref), else None."""
    return value if isinstance(value, str) and TAP_ID_RE.match(value) else None


#: the longest NDEF URI a device may forward (a SUN URL is about 100-200 characters)
MAX_NDEF = 512
_NDEF_RE = re.compile(rf"^[\x21-\x7e]{{1,{MAX_NDEF}}}$")


def _ndef(data: dict, ref: str | None) -> str | None:
    """The optional ``ndef`` field: a URI of 1-512 printable ASCII characters, or absent/null."""
    value = data.get("ndef")
    if value is None:
        return None
    if not isinstance(value, str) or not _NDEF_RE.match(value):
        raise ContractError(
            "ndef must be a URI of 1-%(max)s printable ASCII characters without spaces", ref=ref, max=MAX_NDEF
        )
    return value


def _message(value: Any, ref: str | None) -> dict:
    if not isinstance(value, dict) or not isinstance(value.get("th"), str) or not isinstance(value.get("en"), str):
        raise ContractError("message must be an object with string fields th and en", ref=ref)
    return {"th": value["th"], "en": value["en"]}


@dataclass(frozen=True)
class TapResult:
    """The server's decision on a tap: ``privcard/dev/{id}/result``."""

    tap_id: str
    outcome: str
    open: bool
    points: int = 0
    balance: int | None = None
    activity: str | None = None
    name: str | None = None
    tier: str | None = None
    message: dict = field(default_factory=lambda: {"th": "", "en": ""})
    v: int = VERSION

    def __post_init__(self):
        if self.outcome not in OUTCOMES:
            raise ContractError(f"unknown outcome {self.outcome!r}")

    @classmethod
    def parse(cls, payload: bytes | str) -> TapResult:
        """Validate a result payload (devices call this)."""
        data = _load(payload, limit=None)
        ref = _ref(data, "tap_id")
        _version(data, ref)
        outcome = _require(data, "outcome", str, ref)
        if outcome not in OUTCOMES:
            raise ContractError(f"unknown outcome {outcome!r}", ref=ref)
        return cls(
            tap_id=_require(data, "tap_id", str, ref),
            outcome=outcome,
            open=_require(data, "open", bool, ref),
            points=_require(data, "points", int, ref),
            balance=_require(data, "balance", int, ref, nullable=True),
            activity=_require(data, "activity", str, ref, nullable=True),
            name=_require(data, "name", str, ref, nullable=True),
            tier=_require(data, "tier", str, ref, nullable=True),
            message=_message(data.get("message"), ref),
        )

    def to_dict(self) -> dict:
        """The wire form."""
        return {
            "v": self.v,
            "tap_id": self.tap_id,
            "outcome": self.outcome,
            "open": self.open,
            "points": self.points,
            "balance": self.balance,
            "activity": self.activity,
            "name": self.name,
            "tier": self.tier,
            "message": dict(self.message),
        }

    def encode(self) -> bytes:
        """UTF-8 JSON bytes, made once: the server stores in its tap inbox the bytes it sends."""
        wire = self.__dict__.get("_wire")
        if wire is None:
            wire = dumps(self.to_dict())
            object.__setattr__(self, "_wire", wire)  # frozen: a cache, not a field
        return wire


@dataclass(frozen=True)
class Query:
    """A kiosk asking for a card's balance and privileges: ``privcard/dev/{id}/query``."""

    query_id: str
    uid: str
    #: the NDEF URI the reader read from the card (a Secure Unique NFC URL), if any
    ndef: str | None = None
    #: a staff PIN typed at the kiosk (4-8 digits): the server checks it and answers
    #: ``staff_unlocked``/``pin_wrong``/``pin_locked`` (never in a repr or a log line)
    pin: str | None = field(default=None, repr=False)
    v: int = VERSION

    @classmethod
    def parse(cls, payload: bytes | str) -> Query:
        """Validate a query payload."""
        data = _load(payload)
        ref = _ref(data, "query_id")
        _version(data, ref)
        query_id = _require(data, "query_id", str, ref)
        if not TAP_ID_RE.match(query_id):
            raise ContractError("query_id must be 1-64 characters of A-Z a-z 0-9 . _ : -")
        uid = _with_ref(_strict_uid, ref, _require(data, "uid", str, ref))
        ndef = _ndef(data, ref)
        pin = data.get("pin")
        if pin is not None and not (isinstance(pin, str) and PIN_RE.fullmatch(pin)):
            raise ContractError("pin must be 4-8 digits", ref=ref)  # the value itself is never echoed
        _no_extra(data, {"v", "query_id", "uid", "ndef", "pin"}, ref)
        return cls(query_id=query_id, uid=uid, ndef=ndef, pin=pin)

    def to_dict(self) -> dict:
        """The wire form."""
        out = {"v": self.v, "query_id": self.query_id, "uid": self.uid}
        if self.ndef is not None:
            out["ndef"] = self.ndef
        if self.pin is not None:
            out["pin"] = self.pin
        return out

    def encode(self) -> bytes:
        """UTF-8 JSON bytes."""
        return dumps(self.to_dict())


def ils_answer(value) -> dict | None:
    """The ``ils`` part of an answer if it has a valid shape (see :class:`Answer`), else None."""
    if not isinstance(value, dict):
        return None
    if value.get("state") == "unreachable":
        return {"state": "unreachable"}
    fines, points = value.get("fines_baht"), value.get("points_to_clear")
    if (
        value.get("state") == "ok"
        and type(fines) in (int, float)
        and math.isfinite(fines)
        and 0 <= fines <= 10_000_000
        and type(points) is int
        and points >= 0
    ):
        return {"state": "ok", "fines_baht": float(fines), "points_to_clear": points}
    return None


@dataclass(frozen=True)
class Answer:
    """The server's answer to a query: ``privcard/dev/{id}/answer``.

    ``outcome`` is ``member`` when the card belongs to an active member; then
    ``member``, ``balance``, ``privileges`` and ``history`` are filled. Shapes::

        member     = {"id": int, "name": str, "tier": "silver"|"gold", "group": str|null,
                      "valid_until": "YYYY-MM-DD"|null, "staff": bool, "card": UID}
        privileges = {"borrow": {"books": int, "loan_days": int|null, "loan": {"th","en"}},
                      "locker_days": int, "study_room_hours": int,
                      "fine_discount_baht": int, "fine_discount_points": int,
                      "next": {"points": int, "needed": int, "from": int, "unlocks": {"th","en"}} | null}
        history    = [{"id": int, "at": ISO-8601, "activity": code, "label": {"th","en"},
                       "item": str|null, "points": int, "voided": bool, "void_of": int|null}]  # newest first, <= 20
        stats      = {"earned_today": int, "earned_semester": int, "semester": str}

    Kiosks must tolerate missing or extra fields (show a sensible screen).

    ``ils`` (only when the library system is linked and the member has a patron id)::

        ils = {"state": "ok", "fines_baht": float, "points_to_clear": int}
            | {"state": "unreachable"}     # the ILS did not answer within the kiosk budget

    ``parse`` keeps it only when it has one of these shapes (else it is dropped).

    A query with a staff ``pin`` is answered ``staff_unlocked``, ``pin_wrong`` (with
    ``attempts_left``) or ``pin_locked`` (with ``locked_until`` and ``retry_after_s``), or
    a card outcome; these three fields appear on the wire only when set.
    """

    query_id: str
    outcome: str
    member: dict | None = None
    balance: int | None = None
    privileges: dict | None = None
    history: list = field(default_factory=list)
    stats: dict | None = None
    message: dict = field(default_factory=lambda: {"th": "", "en": ""})
    attempts_left: int | None = None
    locked_until: str | None = None
    retry_after_s: int | None = None
    ils: dict | None = None
    v: int = VERSION

    @classmethod
    def parse(cls, payload: bytes | str) -> Answer:
        """Lenient on the optional parts, strict on query_id/outcome."""
        data = _load(payload, limit=None)
        ref = _ref(data, "query_id")
        _version(data, ref)
        outcome = _require(data, "outcome", str, ref)
        if outcome not in ANSWER_OUTCOMES + PIN_OUTCOMES:
            raise ContractError(f"unknown answer outcome {outcome!r}", ref=ref)
        history = data.get("history") or []

        def count(key):
            value = data.get(key)
            return value if type(value) is int and value >= 0 else None

        return cls(
            query_id=_require(data, "query_id", str, ref),
            outcome=outcome,
            member=data.get("member") if isinstance(data.get("member"), dict) else None,
            balance=data.get("balance") if type(data.get("balance")) is int else None,
            privileges=data.get("privileges") if isinstance(data.get("privileges"), dict) else None,
            history=[h for h in history if isinstance(h, dict)] if isinstance(history, list) else [],
            stats=data.get("stats") if isinstance(data.get("stats"), dict) else None,
            message=_message(data["message"], ref) if "message" in data else {"th": "", "en": ""},
            attempts_left=count("attempts_left"),
            locked_until=data.get("locked_until") if isinstance(data.get("locked_until"), str) else None,
            retry_after_s=count("retry_after_s"),
            ils=ils_answer(data.get("ils")),
        )

    def to_dict(self) -> dict:
        """The wire form."""
        out = {
            "v": self.v,
            "query_id": self.query_id,
            "outcome": self.outcome,
            "member": self.member,
            "balance": self.balance,
            "privileges": self.privileges,
            "history": list(self.history),
            "stats": self.stats,
            "message": dict(self.message),
        }
        for key in ("attempts_left", "locked_until", "retry_after_s", "ils"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

    def encode(self) -> bytes:
        """UTF-8 JSON bytes."""
        return dumps(self.to_dict())


@dataclass(frozen=True)
class Feedback:
    """A visit rating and/or a written message from a kiosk: ``privcard/dev/{id}/feedback``.

    ``{"v":1,"feedback_id":str,"rating":1..5|null,"at":ISO-8601,"uid":UID|null,
    "category":CATEGORY,"text":str}``. ``category`` and ``text`` come together (a patron's
    written complaint, suggestion, compliment, question or book-purchase request, at most
    :data:`MAX_FEEDBACK_TEXT` characters, no control characters); with them ``rating``
    may be null. Without them it is the rating alone, as kiosks before issue 14 send it
    (still accepted).
    """

    feedback_id: str
    rating: int | None
    at: datetime
    uid: str | None = None
    category: str | None = None
    text: str | None = None
    v: int = VERSION

    @classmethod
    def parse(cls, payload: bytes | str) -> Feedback:
        """Validate a feedback payload."""
        data = _load(payload)
        ref = _ref(data, "feedback_id")
        _version(data, ref)
        fid = _require(data, "feedback_id", str, ref)
        if not TAP_ID_RE.match(fid):
            raise ContractError("feedback_id must be 1-64 characters of A-Z a-z 0-9 . _ : -")
        written = "text" in data or "category" in data
        rating = _require(data, "rating", int, ref, nullable=written) if (not written or "rating" in data) else None
        if rating is not None and not 1 <= rating <= 5:
            raise ContractError(f"rating must be 1-5, got {rating}", ref=ref)
        at = _with_ref(parse_time, ref, _require(data, "at", str, ref))
        uid = data.get("uid")
        if uid is not None:
            uid = _with_ref(_strict_uid, ref, uid)
        category = text = None
        if written:
            category = _with_ref(check_feedback_category, ref, _require(data, "category", str, ref))
            text = _with_ref(check_feedback_text, ref, _require(data, "text", str, ref))
        _no_extra(data, {"v", "feedback_id", "rating", "at", "uid", "category", "text"}, ref)
        return cls(feedback_id=fid, rating=rating, at=at, uid=uid, category=category, text=text)

    def to_dict(self) -> dict:
        """The wire form (an old kiosk's shape when nothing was written)."""
        out = {
            "v": self.v,
            "feedback_id": self.feedback_id,
            "rating": self.rating,
            "at": format_time(self.at),
            "uid": self.uid,
        }
        if self.text is not None or self.category is not None:
            out.update(category=self.category, text=self.text)
        return out

    def encode(self) -> bytes:
        """UTF-8 JSON bytes."""
        return dumps(self.to_dict())


#: what a patron's written feedback is about (kiosk, patron page, counter)
FEEDBACK_CATEGORIES = ("complaint", "suggestion", "compliment", "question", "book_request")
#: the longest written feedback, in characters (1,000 Thai characters are ~3 KB of UTF-8,
#: inside a device payload's 4 KiB)
MAX_FEEDBACK_TEXT = 1000


def check_feedback_category(category: Any) -> str:
    """One of :data:`FEEDBACK_CATEGORIES`, else a ContractError naming them."""
    if category not in FEEDBACK_CATEGORIES:
        raise ContractError(
            "category must be one of %(known)s, got %(category)r",
            known=", ".join(FEEDBACK_CATEGORIES),
            category=str(category)[:40],
        )
    return category


def check_feedback_text(text: Any) -> str:
    """Written feedback: 1-1000 characters after trimming, no control characters (a line break excepted).

    Returned trimmed and NFC-normalised (Thai typed on different keyboards compares equal).
    It is stored as text and shown escaped everywhere; HTML in it is just characters.
    """
    import unicodedata

    if not isinstance(text, str):
        raise ContractError("text must be a string, got %(type)s", type=type(text).__name__)
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n")).strip()
    if not text:
        raise ContractError("the feedback text is empty")
    if len(text) > MAX_FEEDBACK_TEXT:
        raise ContractError(
            "the feedback text is %(length)s characters; the limit is %(max)s", length=len(text), max=MAX_FEEDBACK_TEXT
        )
    for ch in text:
        if ch != "\n" and unicodedata.category(ch) == "Cc":
            raise ContractError("the feedback text holds a control character (U+%(code)s)", code=f"{ord(ch):04X}")
    return text


@dataclass(frozen=True)
class Status:
    """A device's retained status: ``{"v":1,"state":"online"|"offline", ...}``.

    Optional extras a device may add: ``at``, ``version``, ``uptime_s``,
    ``outbox`` (depth), ``reader`` (state), ``kind``, ``clock_ok``, ``allowlist_version``.
    """

    state: str
    extra: dict = field(default_factory=dict)
    v: int = VERSION

    ALLOWED = {
        "at": str,
        "version": str,
        "uptime_s": (int, float),
        "outbox": int,
        "reader": str,
        "kind": str,
        "clock_ok": bool,
        "allowlist_version": int,
        "oldest_tap_at": str,
        "error": str,
    }
    #: extras that are timestamps (checked like a tap's ``at``) and numbers with their range
    TIMES = ("at", "oldest_tap_at")
    RANGES = {"uptime_s": (0, MAX_SECONDS), "outbox": (0, MAX_COUNT), "allowlist_version": (0, MAX_COUNT)}

    @classmethod
    def parse(cls, payload: bytes | str) -> Status:
        """Validate a status payload; unknown extras are refused."""
        data = _load(payload)
        _version(data, None)
        state = _require(data, "state", str, None)
        if state not in ("online", "offline"):
            raise ContractError(f"state must be online or offline, got {state!r}")
        extra = {}
        for key, value in data.items():
            if key in ("v", "state"):
                continue
            kind = cls.ALLOWED.get(key)
            if kind is None:
                raise ContractError(f"unexpected status field {key!r}")
            if value is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
                raise ContractError(f"status field {key} has the wrong type {type(value).__name__}")
            if isinstance(value, str) and len(value) > 200:
                raise ContractError(f"status field {key} is longer than 200 characters")
            if value is not None and key in cls.TIMES:
                parse_time(value, key)
            if value is not None and key in cls.RANGES:
                _number(value, key, *cls.RANGES[key])
            extra[key] = value
        return cls(state=state, extra=extra)

    def to_dict(self) -> dict:
        """The wire form."""
        return {"v": self.v, "state": self.state, **self.extra}

    def encode(self) -> bytes:
        """UTF-8 JSON bytes."""
        return dumps(self.to_dict())


@dataclass(frozen=True)
class DeviceConfig:
    """A device's settings, retained on ``privcard/dev/{id}/config``.

    ``settings`` carries the rest (pins, reader, timings) as a flat JSON object;
    well-known keys: ``open_ms`` (int), ``repeat_s`` (number), ``decision_timeout_ms``
    (int), ``offline_policy`` (allowlist|open|closed), ``pins`` (object), ``reader`` (str),
    ``clock_check`` (str).
    """

    device_id: str
    kind: str
    direction: str | None = None
    activity: str | None = None
    location: str | None = None
    settings: dict = field(default_factory=dict)
    revision: int = 0
    v: int = VERSION

    @classmethod
    def parse(cls, payload: bytes | str) -> DeviceConfig:
        """Validate a config payload (devices call this)."""
        data = _load(payload, limit=None)
        _version(data, None)
        kind = _require(data, "kind", str, None)
        if kind not in DEVICE_KINDS:
            raise ContractError(f"kind must be one of {', '.join(DEVICE_KINDS)}, got {kind!r}")
        direction = _require(data, "direction", str, None, nullable=True) if "direction" in data else None
        if direction is not None and direction not in DIRECTIONS:
            raise ContractError(f"direction must be in or out, got {direction!r}")
        settings = data.get("settings") or {}
        if not isinstance(settings, dict):
            raise ContractError("settings must be an object")
        policy = settings.get("offline_policy")
        if policy is not None and policy not in OFFLINE_POLICIES:
            raise ContractError(f"offline_policy must be one of {', '.join(OFFLINE_POLICIES)}, got {policy!r}")
        return cls(
            device_id=check_device_id(_require(data, "device_id", str, None)),
            kind=kind,
            direction=direction,
            activity=data.get("activity") if isinstance(data.get("activity"), str) else None,
            location=data.get("location") if isinstance(data.get("location"), str) else None,
            settings=settings,
            revision=data.get("revision") if type(data.get("revision")) is int else 0,
        )

    def to_dict(self) -> dict:
        """The wire form."""
        return {
            "v": self.v,
            "device_id": self.device_id,
            "kind": self.kind,
            "direction": self.direction,
            "activity": self.activity,
            "location": self.location,
            "settings": dict(self.settings),
            "revision": self.revision,
        }

    def encode(self) -> bytes:
        """UTF-8 JSON bytes."""
        return dumps(self.to_dict())


@dataclass(frozen=True)
class Allowlist:
    """The offline allow-list: valid card UIDs, compressed and versioned.

    Wire form: ``{"v":1,"version":int,"generated_at":ISO,"count":int,
    "encoding":"zlib+base64","uids":"<base64 of zlib of UIDs joined by \\n>"}``.
    ``version`` increases with every change so a device can tell a stale copy.
    """

    version: int
    uids: frozenset
    generated_at: datetime | None = None
    v: int = VERSION

    @classmethod
    def parse(cls, payload: bytes | str) -> Allowlist:
        """Validate and decompress an allow-list."""
        data = _load(payload, limit=None)
        _version(data, None)
        version = _require(data, "version", int, None)
        if data.get("encoding") != "zlib+base64":
            raise ContractError(f"unsupported allow-list encoding {data.get('encoding')!r}")
        try:
            raw = zlib.decompress(base64.b64decode(_require(data, "uids", str, None), validate=True))
            text = raw.decode("ascii")  # UnicodeDecodeError is a ValueError
        except (ValueError, zlib.error) as exc:
            raise ContractError(f"allow-list uids do not decode: {exc}") from None
        uids = frozenset(u for u in text.split("\n") if u)
        count = data.get("count")
        if type(count) is int and count != len(uids):
            raise ContractError(f"allow-list count {count} does not match its {len(uids)} UIDs")
        generated = parse_time(data["generated_at"], "generated_at") if data.get("generated_at") else None
        return cls(version=version, uids=uids, generated_at=generated)

    def to_dict(self) -> dict:
        """The wire form (sorted UIDs compress well)."""
        blob = base64.b64encode(zlib.compress("\n".join(sorted(self.uids)).encode("ascii"), 9)).decode("ascii")
        return {
            "v": self.v,
            "version": self.version,
            "generated_at": format_time(self.generated_at or now_utc()),
            "count": len(self.uids),
            "encoding": "zlib+base64",
            "uids": blob,
        }

    def encode(self) -> bytes:
        """UTF-8 JSON bytes."""
        return dumps(self.to_dict())


def invalid_result(tap_id: str, reason: str) -> TapResult:
    """The reply to a tap that failed validation."""
    return TapResult(
        tap_id=tap_id,
        outcome="invalid",
        open=False,
        message={"th": "ข้อมูลไม่ถูกต้อง", "en": f"Invalid tap: {reason}"[:200]},
    )


__all__ = [name for name in dir() if not name.startswith("_")] + ["asdict"]
