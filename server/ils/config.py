"""The ``[ils]`` section of the library's TOML (the ``--config`` file), ``--ils URL``, ``PRIVCARD_ILS``.

::

    [ils]
    url = "sip2://LOGIN:PASSWORD@ils.example.ac.th:6001?institution=WU&location=MAIN"
    encoding = "utf-8"           # or "cp850" (the SIP2 spec's code page)
    error_detection = true       # AY sequence numbers and AZ checksums
    connect_timeout_s = 3.0
    reply_timeout_s = 5.0
    kiosk_budget_ms = 150        # the kiosk answer never waits longer for the ILS
    retry_interval_s = 60        # the server retries pending payments this often
    recheck_after_s = 30         # a 37 whose answer was lost: its fines asked no sooner than this after it
    currency = "THB"
    payment_type = "00"          # SIP2 37 payment type (2 digits)
    fee_type = "01"              # SIP2 37 fee type (2 digits; 01 other/unknown)
    max_frame_bytes = 16384      # a longer reply from the ILS is refused
    tls_ca = ""                  # sip2s://: a CA file (default: the system's)

    [ils.categories]             # a member's tier -> the ILS patron category (export-privileges)
    silver = "PC-SILVER"
    gold = "PC-GOLD"
    default = "PC"

The URL given by ``--ils`` or ``PRIVCARD_ILS`` replaces ``url`` (the rest still comes
from the file). A bad value is refused with the key's name.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from server.domain.config import read_section
from server.domain.errors import TemplatedError

KEYS = (
    "url",
    "encoding",
    "error_detection",
    "connect_timeout_s",
    "reply_timeout_s",
    "kiosk_budget_ms",
    "retry_interval_s",
    "recheck_after_s",
    "currency",
    "payment_type",
    "fee_type",
    "max_frame_bytes",
    "tls_ca",
    "terminal_password",
    "categories",
)
QUERY_KEYS = ("institution", "location")


class IlsConfigError(TemplatedError, ValueError):
    """The ``[ils]`` configuration is wrong; the message names the key.

    ``template`` and ``values`` keep the English wording apart from its data, so the command
    lines can print its Thai too (``server.catalogue``); ``str(exc)`` is the English text.
    """


@dataclass(frozen=True)
class IlsConfig:
    """A validated ILS link configuration."""

    scheme: str
    host: str
    port: int
    login: str
    password: str = field(repr=False)
    institution: str
    location: str = ""
    encoding: str = "utf-8"
    error_detection: bool = True
    connect_timeout_s: float = 3.0
    reply_timeout_s: float = 5.0
    kiosk_budget_ms: int = 150
    retry_interval_s: float = 60.0
    #: a 37 whose answer was lost is checked (63: the fines) no sooner than this after it went:
    #: an ILS still working on it when privcard stopped waiting has finished by then
    recheck_after_s: float = 30.0
    currency: str = "THB"
    payment_type: str = "00"
    fee_type: str = "01"
    max_frame_bytes: int = 16384
    tls_ca: str = ""
    terminal_password: str = field(default="", repr=False)
    categories: dict = field(default_factory=dict)

    @property
    def tls(self) -> bool:
        return self.scheme == "sip2s"

    @property
    def safe_url(self) -> str:
        """The URL without the password (for logs and the audit)."""
        q = f"?institution={self.institution}" + (f"&location={self.location}" if self.location else "")
        return f"{self.scheme}://{self.login}@{self.host}:{self.port}{q}"

    def category(self, tier: str) -> str:
        """The ILS patron category for a member's tier ('' when not mapped)."""
        return str(self.categories.get(tier, self.categories.get("default", "")))


def _number(raw: dict, key: str, default, lo, hi, kind=float):
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and not isinstance(value, int)):
        template = (
            "ils.%(key)s must be a whole number, got %(value)r"
            if kind is int
            else "ils.%(key)s must be a number, got %(value)r"
        )
        raise IlsConfigError(template, key=key, value=value)
    if not lo <= value <= hi:
        raise IlsConfigError(
            "ils.%(key)s must be between %(lo)s and %(hi)s, got %(value)r", key=key, lo=lo, hi=hi, value=value
        )
    return kind(value)


def _digits2(raw: dict, key: str, default: str) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{2}", value):
        raise IlsConfigError(
            'ils.%(key)s must be two digits as a string (e.g. "%(default)s"), got %(value)r',
            key=key,
            default=default,
            value=value,
        )
    return value


def parse_url(url: str) -> dict:
    """The parts of ``sip2://LOGIN:PASSWORD@host:port?institution=..&location=..``."""
    if not isinstance(url, str) or not url:
        raise IlsConfigError("ils.url must be a sip2:// or sip2s:// URL")
    parts = urlsplit(url)
    if parts.scheme not in ("sip2", "sip2s"):
        raise IlsConfigError("ils.url: scheme must be sip2 or sip2s, got %(got)r", got=parts.scheme or url)
    try:
        port = parts.port or 6001
    except ValueError:
        raise IlsConfigError("ils.url: the port is not a number 1-65535") from None
    if not parts.hostname:
        raise IlsConfigError("ils.url: no host")
    if not parts.username or parts.password is None:
        raise IlsConfigError("ils.url: give the SIP login as LOGIN:PASSWORD@host")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - set(QUERY_KEYS)
    if unknown:
        raise IlsConfigError(
            "ils.url: unknown parameter(s) %(unknown)s; known: institution, location",
            unknown=", ".join(sorted(unknown)),
        )
    institution = (query.get("institution") or [""])[0]
    if not institution:
        raise IlsConfigError("ils.url: institution= is required (the SIP2 AO field, e.g. ?institution=WU)")
    return {
        "scheme": parts.scheme,
        "host": parts.hostname,
        "port": port,
        "login": unquote(parts.username),
        "password": unquote(parts.password),
        "institution": institution,
        "location": (query.get("location") or [""])[0],
    }


def build(raw: dict | None, url: str | None = None) -> IlsConfig | None:
    """Validate an ``[ils]`` table (``url`` overrides its url); None when no ILS is configured."""
    raw = dict(raw or {})
    if not isinstance(raw, dict):
        raise IlsConfigError("[ils] must be a table")
    unknown = set(raw) - set(KEYS)
    if unknown:
        raise IlsConfigError(
            "ils: unknown key(s) %(unknown)s; known: %(known)s",
            unknown=", ".join(sorted(unknown)),
            known=", ".join(KEYS),
        )
    if url:
        raw["url"] = url
    if not raw.get("url"):
        if set(raw) - {"categories"}:
            raise IlsConfigError("ils.url is required when [ils] is given (or pass --ils / PRIVCARD_ILS)")
        return None
    parts = parse_url(raw["url"])
    encoding = raw.get("encoding", "utf-8")
    try:
        if not isinstance(encoding, str):
            raise LookupError
        encoding = codecs.lookup(encoding).name
    except LookupError:
        raise IlsConfigError(
            'ils.encoding: unknown encoding %(encoding)r (use "utf-8" or "cp850")', encoding=encoding
        ) from None
    detect = raw.get("error_detection", True)
    if not isinstance(detect, bool):
        raise IlsConfigError("ils.error_detection must be true or false, got %(detect)r", detect=detect)
    currency = raw.get("currency", "THB")
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
        raise IlsConfigError('ils.currency must be a 3-letter code such as "THB", got %(currency)r', currency=currency)
    categories = raw.get("categories", {})
    if not isinstance(categories, dict) or not all(isinstance(v, str) for v in categories.values()):
        raise IlsConfigError("ils.categories must map tier names to category codes (strings)")
    for key in ("tls_ca", "terminal_password"):
        if not isinstance(raw.get(key, ""), str):
            raise IlsConfigError("ils.%(key)s must be a string", key=key)
    if raw.get("tls_ca") and not Path(raw["tls_ca"]).is_file():
        raise IlsConfigError("ils.tls_ca: no such file %(path)r", path=raw["tls_ca"])
    return IlsConfig(
        **parts,
        encoding=encoding,
        error_detection=detect,
        connect_timeout_s=_number(raw, "connect_timeout_s", 3.0, 0.05, 120),
        reply_timeout_s=_number(raw, "reply_timeout_s", 5.0, 0.05, 300),
        kiosk_budget_ms=_number(raw, "kiosk_budget_ms", 150, 10, 5000, int),
        retry_interval_s=_number(raw, "retry_interval_s", 60.0, 0.2, 86400),
        recheck_after_s=_number(raw, "recheck_after_s", 30.0, 0, 86400),
        currency=currency,
        payment_type=_digits2(raw, "payment_type", "00"),
        fee_type=_digits2(raw, "fee_type", "01"),
        max_frame_bytes=_number(raw, "max_frame_bytes", 16384, 512, 1 << 20, int),
        tls_ca=raw.get("tls_ca", ""),
        terminal_password=raw.get("terminal_password", ""),
        categories=dict(categories),
    )


def load_config(path: str | Path | None = None, url: str | None = None) -> IlsConfig | None:
    """The ILS configuration from the library TOML at ``path`` (its ``[ils]``) and/or a URL."""
    raw = {} if path is None else read_section(path, "ils", IlsConfigError)
    if not isinstance(raw, dict):
        raise IlsConfigError("ils must be a table ([ils])")
    return build(raw, url)
