"""The ``[mail]`` section of the library's TOML (``--config``), ``--smtp URL``, ``PRIVCARD_SMTP``.

::

    [mail]
    url = "smtp://USER:PASSWORD@smtp.example.ac.th:587?starttls=1"   # or smtps://host:465
    from = "Library privilege card <privcard@library.example.ac.th>"
    public_url = "https://privcard.library.example.ac.th"   # links in messages (unsubscribe)
    rate_per_second = 5          # at most this many messages a second
    busy_rate_per_second = 1     # … and this many while the server is deciding taps (taps first)
    retry_first_s = 60           # first back-off after a temporary failure, doubling
    retry_max_s = 3600           # the back-off never grows beyond this
    max_attempts = 12            # then the message is marked failed
    timeout_s = 30               # SMTP connect/reply timeout
    lease_s = 120                # a claimed message is sent again if not marked by then
    term_ending_days = 14        # "your rights end in N days" is sent this many days before

The URL given by ``--smtp`` or ``PRIVCARD_SMTP`` replaces ``url`` (the rest still comes
from the file). A bad value is refused with the key's name. Without a URL nothing is sent
(messages are still queued, and sent once a server with mail configured runs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from server.domain.config import read_section
from server.domain.errors import TemplatedError

KEYS = (
    "url",
    "from",
    "public_url",
    "rate_per_second",
    "busy_rate_per_second",
    "retry_first_s",
    "retry_max_s",
    "max_attempts",
    "timeout_s",
    "lease_s",
    "term_ending_days",
)


class MailConfigError(TemplatedError, ValueError):
    """The ``[mail]`` configuration is wrong; the message names the key.

    ``template`` and ``values`` keep the English wording apart from its data, so the command
    lines can print its Thai too (``server.catalogue``); ``str(exc)`` is the English text.
    """


@dataclass(frozen=True)
class MailConfig:
    """A validated mail configuration (``url`` may be empty: queue only, send nothing)."""

    scheme: str = ""
    host: str = ""
    port: int = 0
    user: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = False
    sender: str = "privcard@localhost"
    public_url: str = "http://127.0.0.1:8080"
    rate_per_second: float = 5.0
    busy_rate_per_second: float = 1.0
    retry_first_s: float = 60.0
    retry_max_s: float = 3600.0
    max_attempts: int = 12
    timeout_s: float = 30.0
    lease_s: float = 120.0
    term_ending_days: int = 14

    @property
    def configured(self) -> bool:
        """Whether an SMTP server is given (the server sends only then)."""
        return bool(self.host)

    @property
    def safe_url(self) -> str:
        """The URL without the password (logs, the console)."""
        if not self.host:
            return ""
        who = f"{self.user}@" if self.user else ""
        return f"{self.scheme}://{who}{self.host}:{self.port}" + ("?starttls=1" if self.starttls else "")

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed try (exponential, capped)."""
        return min(self.retry_first_s * 2 ** max(attempts - 1, 0), self.retry_max_s)


def _number(raw: dict, key: str, default, lo, hi, kind=float):
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and not isinstance(value, int)):
        template = (
            "mail.%(key)s must be a whole number, got %(value)r"
            if kind is int
            else "mail.%(key)s must be a number, got %(value)r"
        )
        raise MailConfigError(template, key=key, value=value)
    if not lo <= value <= hi:
        raise MailConfigError(
            "mail.%(key)s must be between %(lo)s and %(hi)s, got %(value)r", key=key, lo=lo, hi=hi, value=value
        )
    return kind(value)


def parse_url(url: str) -> dict:
    """The parts of ``smtp://USER:PASS@host:587?starttls=1`` or ``smtps://USER:PASS@host:465``."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise MailConfigError("mail.url: scheme must be smtp or smtps, got %(got)r", got=parts.scheme or url)
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
    except ValueError:
        raise MailConfigError("mail.url: the port is not a number 1-65535") from None
    if not parts.hostname:
        raise MailConfigError("mail.url: no host")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - {"starttls"}
    if unknown:
        raise MailConfigError(
            "mail.url: unknown parameter(s) %(unknown)s; known: starttls", unknown=", ".join(sorted(unknown))
        )
    starttls = (query.get("starttls") or ["0"])[-1]
    if starttls not in ("0", "1", "true", "false", "yes", "no"):
        raise MailConfigError("mail.url: starttls must be 1 or 0, got %(starttls)r", starttls=starttls)
    if parts.scheme == "smtps" and starttls in ("1", "true", "yes"):
        raise MailConfigError("mail.url: smtps:// is TLS from the start; starttls=1 is for smtp://")
    if parts.username and parts.password is None:
        raise MailConfigError("mail.url: give the login as USER:PASSWORD@host")
    return {
        "scheme": parts.scheme,
        "host": parts.hostname,
        "port": port,
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "starttls": starttls in ("1", "true", "yes"),
    }


def build(raw: dict | None, url: str | None = None) -> MailConfig:
    """Validate a ``[mail]`` table (``url`` overrides its url)."""
    if raw is not None and not isinstance(raw, dict):
        raise MailConfigError("mail must be a table ([mail])")
    raw = dict(raw or {})
    unknown = set(raw) - set(KEYS)
    if unknown:
        raise MailConfigError(
            "mail: unknown key(s) %(unknown)s; known: %(known)s",
            unknown=", ".join(sorted(unknown)),
            known=", ".join(KEYS),
        )
    if url:
        raw["url"] = url
    parts = parse_url(raw["url"]) if raw.get("url") else {}
    if "url" in raw and not isinstance(raw["url"], str):
        raise MailConfigError("mail.url must be an smtp:// or smtps:// URL")
    sender = raw.get("from", "privcard@localhost")
    if not isinstance(sender, str) or "@" not in parseaddr(sender)[1] or any(c in sender for c in "\r\n"):
        raise MailConfigError(
            'mail.from must be an address such as "Library <privcard@example.org>", got %(sender)r', sender=sender
        )
    public = raw.get("public_url", "http://127.0.0.1:8080")
    if not isinstance(public, str) or urlsplit(public).scheme not in ("http", "https") or not urlsplit(public).netloc:
        raise MailConfigError("mail.public_url must be an http(s):// URL, got %(public)r", public=public)
    first = _number(raw, "retry_first_s", 60.0, 0.01, 86400)
    return MailConfig(
        **parts,
        sender=sender,
        public_url=public.rstrip("/"),
        rate_per_second=_number(raw, "rate_per_second", 5.0, 0.01, 10000),
        busy_rate_per_second=_number(raw, "busy_rate_per_second", 1.0, 0.01, 10000),
        retry_first_s=first,
        retry_max_s=max(_number(raw, "retry_max_s", 3600.0, 0.01, 7 * 86400), first),
        max_attempts=_number(raw, "max_attempts", 12, 1, 1000, int),
        timeout_s=_number(raw, "timeout_s", 30.0, 0.1, 600),
        lease_s=_number(raw, "lease_s", 120.0, 1, 86400),
        term_ending_days=_number(raw, "term_ending_days", 14, 1, 365, int),
    )


def load_config(path: str | Path | None = None, url: str | None = None) -> MailConfig:
    """The mail configuration from the library TOML at ``path`` (its ``[mail]``) and/or a URL."""
    raw = {} if path is None else read_section(path, "mail", MailConfigError)
    return build(raw, url)
