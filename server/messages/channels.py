"""Delivery channels: the interface the outbox sends through, and e-mail over SMTP.

A channel takes one rendered message (:class:`Outgoing`) and either delivers it or
raises :class:`TemporaryFailure` (try again later: the server is down, busy, said 4xx)
or :class:`PermanentFailure` (never: 5xx, a refused address). The outbox
(:mod:`server.services.messages`) does the rest: claims, rate limit, back-off, marks.

Adding a channel (LINE Official Account, SMS): a class with ``name``, ``open()``,
``send(msg)`` and ``close()`` raising these two exceptions, an address column for it on
the member (e.g. ``line_user_id``), and ``channel="line"`` in the calls that queue. See
``docs/messages.md``.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from server.messages.config import MailConfig
from server.messages.templates import to_html


class TemporaryFailure(Exception):
    """The message could not be delivered now; try again later."""


class PermanentFailure(Exception):
    """The message can never be delivered as it is (a refused address, a 5xx answer)."""


class ConnectionLost(TemporaryFailure):
    """The channel itself is down (refused, dropped): the rest of the round waits too."""


@dataclass
class Outgoing:
    """One rendered message ready to go."""

    id: int
    address: str
    subject: str
    body: str
    message_id: str
    language: str = "th"
    unsubscribe_url: str | None = None


class Channel:
    """What the outbox needs from a channel."""

    name = "?"

    def open(self) -> None:  # pragma: no cover - interface
        """Prepare to send a round (connect); may raise TemporaryFailure."""

    def send(self, msg: Outgoing) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - interface
        """End the round (disconnect)."""


class EmailChannel(Channel):
    """E-mail through the configured SMTP server (one connection per round, reused)."""

    name = "email"

    def __init__(self, config: MailConfig):
        self.config = config
        self.smtp: smtplib.SMTP | None = None

    def open(self) -> None:
        if self.smtp is not None:
            return
        c = self.config
        try:
            if c.scheme == "smtps":
                smtp = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout_s, context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout_s)
                if c.starttls:
                    smtp.starttls(context=ssl.create_default_context())
            if c.user:
                smtp.login(c.user, c.password)
        except smtplib.SMTPAuthenticationError as exc:
            raise ConnectionLost(f"SMTP login refused: {exc.smtp_code} {_text(exc.smtp_error)}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise ConnectionLost(f"cannot reach SMTP server {c.host}:{c.port}: {exc}") from None
        self.smtp = smtp

    def build(self, msg: Outgoing) -> EmailMessage:
        """The e-mail: text/plain plus an HTML part that escapes it; List-Unsubscribe; a stable Message-ID."""
        em = EmailMessage()
        em["From"] = self.config.sender
        em["To"] = msg.address
        em["Subject"] = msg.subject
        em["Date"] = formatdate(localtime=False)
        em["Message-ID"] = msg.message_id
        if msg.unsubscribe_url:
            em["List-Unsubscribe"] = f"<{msg.unsubscribe_url}>"
            em["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        em.set_content(msg.body)
        em.add_alternative(to_html(msg.body), subtype="html")
        return em

    def send(self, msg: Outgoing) -> None:
        self.open()
        try:
            refused = self.smtp.send_message(self.build(msg), to_addrs=[msg.address])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            self._raise(code, text)
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421:
                self.close()
            self._raise(exc.smtp_code, exc.smtp_error)
        except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as exc:
            self.close()
            raise ConnectionLost(f"SMTP connection lost: {exc or type(exc).__name__}") from None
        except smtplib.SMTPException as exc:  # a bad address the library refuses before sending
            raise PermanentFailure(str(exc)[:300]) from None
        if refused:
            code, text = next(iter(refused.values()))
            self._raise(code, text)

    @staticmethod
    def _raise(code: int, text) -> None:
        reason = f"{code} {_text(text)}"[:300]
        if 500 <= code < 600:
            raise PermanentFailure(reason)
        raise TemporaryFailure(reason)

    def close(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
