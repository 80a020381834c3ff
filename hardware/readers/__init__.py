"""Card readers behind one small interface, chosen by a spec string.

This module owns the reader port (:class:`CardReader`, :class:`CardRead`), the
spec grammar and :func:`open_reader`, and how a UID is reported (:func:`format_uid`). Each driver lives in
its own module and imports its library (nfcpy, pyserial, evdev) only when opened,
so ``import hardware.readers`` works without any of them::

    >>> from hardware.readers import open_reader
    >>> reader = open_reader("fake")
    >>> reader.present("04a1b2c3")
    >>> reader.read(timeout=1.0)
    CardRead(uid='04A1B2C3', technology='iso14443a')

Spec grammar: ``KIND[:TARGET][?OPTION=VALUE&...]``

=========================================  =======================================
``nfc:usb``, ``nfc:usb:072f:2200``         nfcpy over USB (ACR122U, RC-S380, ...)
``nfc:tty:AMA0:pn532``                     nfcpy, PN532 on a UART
``nfc:udp:localhost:54321``                nfcpy simulated reader (tests, demos)
``serial:/dev/ttyAMA0?format=rdm6300``     RDM6300 / EM4100 125 kHz frames
``serial:/dev/ttyUSB0?format=line``        readers that send ``UID\\r\\n``
``hid:/dev/input/event3?decimal=1``        USB keyboard-wedge readers (evdev)
``stdin``                                  one UID per line (development, tests)
``fake``                                   :class:`~hardware.readers.fake.FakeReader`
=========================================  =======================================

Every reader except ``stdin`` and ``fake`` survives its device going away: read()
reopens it with exponential backoff (0.5 s doubling to 10 s) and reports
``state == "reopening"`` meanwhile; it never raises for I/O errors. A device that
is missing when the reader is opened is not an error either: the reader starts in
state ``"reopening"``, so a gate boots and serves (e.g. the exit button) before
its reader is plugged in. Only a malformed spec, or a missing Python library,
raises :class:`ReaderError` from :func:`open_reader`.
"""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from hardware.errors import HardwareError

__all__ = [
    "STATES",
    "TECHNOLOGIES",
    "CardRead",
    "CardReader",
    "HardwareError",
    "ReaderError",
    "ReaderSpec",
    "decimal_to_hex",
    "format_uid",
    "open_reader",
    "parse_spec",
    "uid_from_text",
]

TECHNOLOGIES = ("iso14443a", "iso14443b", "felica", "em4100", "line", "hid", "stdin")
STATES = ("ok", "reopening", "closed")
KINDS = ("nfc", "serial", "hid", "stdin", "fake")

_UID_RE = re.compile(r"^(?:[0-9A-F]{2}){4,10}$")
# Separators people type or readers print between UID bytes: "04:A2:B3:C4".
_SEPARATORS_RE = re.compile(r"[\s:.-]")


class ReaderError(HardwareError):
    """A reader spec or option is invalid, or a reader library is missing."""


@dataclass(frozen=True)
class CardRead:
    """One card presentation: the UID as upper-case hex and how it was read."""

    uid: str
    technology: str
    #: the card's NDEF URI (an NTAG 424 DNA's Secure Unique NFC URL), when the reader read one
    ndef: str | None = None

    def __post_init__(self) -> None:
        """Refuse a UID that is not 4-10 bytes of upper-case hex."""
        if not isinstance(self.uid, str) or not _UID_RE.match(self.uid):
            raise ReaderError(f"card UID must be 4-10 bytes of upper-case hex, got {self.uid!r}")
        if self.technology not in TECHNOLOGIES:
            raise ReaderError(f"unknown technology {self.technology!r} (expected one of {', '.join(TECHNOLOGIES)})")


class CardReader(abc.ABC):
    """The reader port: read() one card presentation at a time, close() when done.

    ``state`` is ``"ok"``, ``"reopening"`` (device missing, being retried) or
    ``"closed"``; gates report it in their device status. ``read()`` may be called
    from one thread while ``close()`` is called from another; ``read()`` then
    returns None promptly.
    """

    spec: str
    state: str

    @abc.abstractmethod
    def read(self, timeout: float | None = None) -> CardRead | None:
        """Block up to *timeout* seconds (None: forever) for a card; None on timeout or close."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the device; later read() calls return None at once."""

    def __enter__(self) -> CardReader:
        """Use the reader as a context manager that closes it."""
        return self

    def __exit__(self, *exc_info) -> None:
        """Close the reader on leaving the with-block."""
        self.close()

    def __repr__(self) -> str:
        """Show the spec and state, e.g. ``<NfcReader 'nfc:usb' ok>``."""
        return f"<{type(self).__name__} {self.spec!r} {self.state}>"


@dataclass(frozen=True)
class ReaderSpec:
    """A parsed spec: ``kind`` (nfc, serial, ...), driver ``target`` and ``options``."""

    spec: str
    kind: str
    target: str
    options: dict[str, str]

    def error(self, message: str) -> ReaderError:
        """Build a ReaderError that quotes the spec."""
        return ReaderError(f"reader spec {self.spec!r}: {message}")

    def check_options(self, allowed: tuple[str, ...]) -> None:
        """Refuse options this driver does not know."""
        unknown = sorted(set(self.options) - set(allowed))
        if unknown:
            expected = ", ".join(allowed) if allowed else "none"
            raise self.error(f"unknown option {unknown[0]!r} (expected: {expected})")

    def bool_option(self, name: str, default: bool) -> bool:
        """Read an option given as 1/0/true/false/yes/no."""
        value = self.options.get(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise self.error(f"option {name} must be 1 or 0, got {value!r}")

    def int_option(self, name: str, default: int, *, low: int, high: int) -> int:
        """Read an integer option within [low, high]."""
        value = self.options.get(name)
        if value is None:
            return default
        try:
            number = int(value, 10)
        except ValueError:
            raise self.error(f"option {name} must be an integer, got {value!r}") from None
        if not low <= number <= high:
            raise self.error(f"option {name} must be between {low} and {high}, got {number}")
        return number

    def float_option(self, name: str, default: float, *, low: float, high: float) -> float:
        """Read a number of seconds within [low, high]."""
        value = self.options.get(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise self.error(f"option {name} must be a number, got {value!r}") from None
        if not low <= number <= high:
            raise self.error(f"option {name} must be between {low:g} and {high:g}, got {value}")
        return number


def parse_spec(spec: str) -> ReaderSpec:
    """Split ``KIND[:TARGET][?OPTIONS]`` into a ReaderSpec; ReaderError if malformed."""
    if not isinstance(spec, str) or not spec.strip():
        raise ReaderError(f"reader spec must be a non-empty string, got {spec!r}")
    spec = spec.strip()
    # Options follow the first "?"; pyserial URL parameters ("loop://?logging=")
    # are therefore not available through a spec.
    head, _, query = spec.partition("?")
    kind, _, target = head.partition(":")
    kind = kind.lower()
    if kind not in KINDS:
        raise ReaderError(
            f"reader spec {spec!r}: unknown reader kind {kind!r} (expected nfc:..., serial:..., hid:..., stdin or fake)"
        )
    options: dict[str, str] = {}
    if query:
        try:
            pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
        except ValueError:
            raise ReaderError(f"reader spec {spec!r}: options must look like a=1&b=2, got {query!r}") from None
        for key, value in pairs:
            if key in options:
                raise ReaderError(f"reader spec {spec!r}: option {key!r} given twice")
            options[key] = value
    return ReaderSpec(spec=spec, kind=kind, target=target, options=options)


def open_reader(spec: str) -> CardReader:
    """Open the reader a spec names; ReaderError for a bad spec or a missing library."""
    parsed = parse_spec(spec)
    if parsed.kind == "fake":
        from hardware.readers.fake import FakeReader

        return FakeReader.from_spec(parsed)
    if parsed.kind == "stdin":
        from hardware.readers.stdin import StdinReader

        return StdinReader.from_spec(parsed)
    if parsed.kind == "nfc":
        from hardware.readers.nfc import NfcReader

        return NfcReader.from_spec(parsed)
    if parsed.kind == "serial":
        from hardware.readers.serialport import SerialReader

        return SerialReader.from_spec(parsed)
    from hardware.readers.hid import HidReader

    return HidReader.from_spec(parsed)


def decimal_to_hex(text: str) -> str | None:
    """Hex of the 4-byte value a wedge reader printed in decimal, or None if it is not one.

    Many keyboard-wedge readers type the UID as a decimal number, typically ten
    digits ("2558070133" is 0x98790D75). A string of at most ten digits whose value
    fits in 32 bits is taken as such a number; anything longer or larger is not.
    """
    if not text.isdigit() or not text.isascii() or len(text) > 10:
        return None
    value = int(text, 10)
    if value > 0xFFFFFFFF:
        return None
    return f"{value:08X}"


def uid_from_text(text: str, *, decimal: bool = False, reverse: bool = False) -> bytes:
    """The UID bytes in what a text-speaking reader sent; ValueError if it holds none.

    This decodes the device's own output, it does not define what a UID is: byte
    separators the device prints (``:``, ``-``, ``.``, spaces) are dropped; with
    *decimal*, an all-digit string of at most ten digits that fits in 32 bits is a
    decimal number (see :func:`decimal_to_hex`); otherwise the text must be 4-10
    bytes of hex. *reverse* swaps the byte order, for wedge readers that print
    MIFARE UIDs least-significant byte first. Readers report the bytes with
    :func:`format_uid`, as the nfc reader does with the bytes it senses.

        >>> format_uid(uid_from_text("2558070133", decimal=True))
        '98790D75'
    """
    compact = _SEPARATORS_RE.sub("", text)
    hexed = decimal_to_hex(compact) if decimal else None
    try:
        data = bytes.fromhex(hexed or compact) if compact.isascii() else b""
    except ValueError:
        data = b""
    if not 4 <= len(data) <= 10:
        raise ValueError(f"not a card UID (4-10 bytes of hex): {text!r}")
    return data[::-1] if reverse else data


def format_uid(data: bytes) -> str:
    """UID bytes as every reader reports them in :attr:`CardRead.uid`: upper-case hex, no separators.

    Formatting, not normalising. The UID's canonical text is the bus contract's
    (``broker.contract.UID_RE``, upper-case hex of 4-10 bytes), and the gate and kiosk
    pass every read through ``broker.contract.normalise_uid``, the one normaliser. This
    package cannot import broker (both are bottom layers); ``CardRead`` refuses anything
    else, and tests/unit/test_hardware_readers.py checks that what a reader reports is
    exactly what the contract accepts unchanged.
    """
    return data.hex().upper()
