"""A running device's reader changed to another spec, live (the ``reader`` device setting).

The gate's reader loop and the kiosk's reader thread each hold a :class:`ReaderSwitch`
and call :meth:`ReaderSwitch.apply` between two ``read()`` calls, on the one thread that
reads, so no read is ever in progress on a reader being replaced::

    >>> switch = ReaderSwitch(open_reader("fake"))
    >>> switch.apply("serial:/dev/ttyS9?format=nonsense")   # refused: the fake reader stays
    False
    >>> switch.spec, switch.failed[0]
    ('fake', 'serial:/dev/ttyS9?format=nonsense')
    >>> switch.apply(None)   # None: the device's own spec (its command line) again
    False
    >>> switch.failed is None
    True

The new reader is opened before the old one is closed: a spec that cannot be opened (a
malformed spec, a missing library: :class:`~hardware.readers.ReaderError`) leaves the old
reader reading and is reported (:attr:`ReaderSwitch.failed`, :meth:`status_error`). A
device that is absent or still held by the old reader is no error: the new reader starts
in state ``reopening`` and takes the device within its first backoff step (0.5 s) after
the old one has let it go.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from hardware.readers import CardReader, open_reader

log = logging.getLogger(__name__)

#: longest spec quoted in a status line (the status's texts are at most 200 characters)
_QUOTE = 32


def _short(spec: str) -> str:
    return spec if len(spec) <= _QUOTE else spec[: _QUOTE - 1] + "…"


class ReaderSwitch:
    """The reader in use, the device's own spec, and the last spec that failed to open."""

    def __init__(self, reader: CardReader, *, own_spec: str | None = None, opener: Callable = open_reader):
        self.reader = reader
        #: the spec the device was started with (``--reader``): what ``apply(None)`` goes back to
        self.own = own_spec or reader.spec
        #: the spec of the reader in use
        self.spec = reader.spec
        #: (spec, reason) of the last spec asked for that could not be opened, else None
        self.failed: tuple[str, str] | None = None
        self._opener = opener
        self._asked = self.spec

    def apply(self, wanted: str | None, *, retry: bool = False) -> bool:
        """Read from ``wanted`` (None: the device's own spec) from now on; True if the reader changed.

        A spec asked for before is not tried again (every retained config repeats it),
        unless ``retry`` (a new config revision: staff saved the device again) and it failed.
        Never raises: a failure is logged and kept in :attr:`failed`.
        """
        target = (wanted or self.own).strip()
        if target == self._asked and not (retry and self.failed is not None):
            return False
        self._asked = target
        if target == self.spec:
            self.failed = None
            return False
        try:
            new = self._opener(target)
        except Exception as exc:  # ReaderError (bad spec, missing library), or a driver's own
            self.failed = (target, str(exc) or type(exc).__name__)
            log.error("reader %r could not be opened (%s); still reading with %r", target, self.failed[1], self.spec)
            return False
        old, self.reader, self.spec, self.failed = self.reader, new, target, None
        try:
            old.close()
        except Exception as exc:  # a vanished device often fails to close; the new one reads anyway
            log.debug("closing reader %r: %s", old.spec, exc)
        log.info("reader changed from %r to %r (state %s)", old.spec, target, new.state)
        return True

    def status_error(self) -> str | None:
        """The failure as a device status's ``error`` (English and Thai, at most 200 characters), or None."""
        if self.failed is None:
            return None
        bad, using = _short(self.failed[0]), _short(self.spec)
        text = f"reader {bad} could not be opened, still using {using} / เปิดเครื่องอ่านบัตร {bad} ไม่ได้ ยังใช้ {using}"
        return text[:200]

    def close(self) -> None:
        """Close the reader in use."""
        self.reader.close()


__all__ = ["ReaderSwitch"]
