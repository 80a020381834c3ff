"""What privcard asks of a library system, whatever protocol carries it.

The service layer (:mod:`server.services.ils`) only knows this module: a SIP2 client
(:mod:`server.ils.sip2`) implements it today, a REST adapter could sit beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

#: SIP2 "patron status" (14 Y/space flags, spec order) decoded to names
PATRON_FLAGS = (
    "charge_privileges_denied",
    "renewal_privileges_denied",
    "recall_privileges_denied",
    "hold_privileges_denied",
    "card_reported_lost",
    "too_many_items_charged",
    "too_many_items_overdue",
    "too_many_renewals",
    "too_many_claims_of_items_returned",
    "too_many_items_lost",
    "excessive_outstanding_fines",
    "excessive_outstanding_fees",
    "recall_overdue",
    "too_many_items_billed",
)


def decode_flags(status: str) -> list[str]:
    """The names of the flags set (``Y``) in a 14-character SIP2 patron status."""
    return [name for name, ch in zip(PATRON_FLAGS, status.ljust(14), strict=False) if ch == "Y"]


class IlsError(Exception):
    """The ILS did not give a usable answer (down, refused the login, garbage, closed)."""


class IlsTimeout(IlsError):
    """The ILS did not answer in time."""


class IlsNotSent(IlsError):
    """Nothing reached the ILS (no connection, login refused): safe to say "not paid"."""


@dataclass(frozen=True)
class PatronInfo:
    """A patron as the ILS sees them."""

    patron_id: str
    valid: bool
    fines_baht: float
    charged: int
    overdue: int
    flags: list[str] = field(default_factory=list)
    message: str = ""
    name: str = ""
    currency: str = ""
    #: the ILS's "valid patron password" (CQ) when a PIN was sent: True/False, None when not asked or not said
    password_ok: bool | None = None

    @property
    def blocked(self) -> bool:
        """The ILS denies this patron charge privileges (cannot borrow)."""
        return "charge_privileges_denied" in self.flags


@dataclass(frozen=True)
class FeeResult:
    """The ILS's answer to a payment."""

    accepted: bool
    transaction_id: str
    message: str = ""


class IlsLink(Protocol):
    """One logged-in link to an ILS, safe to share between threads."""

    def patron_status(self, patron_id: str, pin: str | None = None, *, timeout: float | None = None) -> PatronInfo:
        """The patron's standing, fines and items; raises :class:`IlsError`."""
        ...

    def fee_paid(self, patron_id: str, baht: float, transaction_id: str) -> FeeResult:
        """Pay ``baht`` of the patron's fines, identified by ``transaction_id``; raises :class:`IlsError`.

        :class:`IlsNotSent` means the request never left; any other :class:`IlsError`
        means it may have reached the ILS (retry with the same ``transaction_id``).
        """
        ...

    def close(self) -> None:
        """Log out and close the connection."""
        ...
