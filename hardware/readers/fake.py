"""The ``fake`` reader: real code for other packages' tests (spec ``fake``).

Tests hand a :class:`FakeReader` to the code under test and tap cards from the
test thread, the way gpiozero tests drive ``MockPin``::

    >>> reader = FakeReader()
    >>> reader.present("04:a1:b2:c3")
    >>> reader.read(timeout=0.1)
    CardRead(uid='04A1B2C3', technology='iso14443a')
    >>> reader.read(timeout=0.01) is None
    True
    >>> reader.unplug(); reader.state
    'reopening'

It honours the same contract as the real readers: upper-case UIDs, read()
returns None on timeout and after close(), close() from another thread wakes a
blocked read().
"""

from __future__ import annotations

import queue

from hardware.readers import CardRead, CardReader, ReaderError, ReaderSpec, format_uid, uid_from_text

_CLOSE = object()  # queued by close() to wake a blocked read()


class FakeReader(CardReader):
    """A reader whose cards are presented by calling :meth:`present` (thread-safe)."""

    def __init__(self, spec: str = "fake") -> None:
        """Create an empty reader in state "ok"."""
        self.spec = spec
        self.state = "ok"
        self._queue: queue.Queue = queue.Queue()
        self.reads = 0  # how many cards read() has returned

    @classmethod
    def from_spec(cls, parsed: ReaderSpec) -> FakeReader:
        """Build from a parsed ``fake`` spec (no options)."""
        parsed.check_options(())
        if parsed.target:
            raise parsed.error("fake takes no device")
        return cls(parsed.spec)

    def present(self, uid: str, technology: str = "iso14443a") -> None:
        """Tap a card: the next read() returns it (the UID text decoded, reported as upper-case hex)."""
        try:
            card = CardRead(uid=format_uid(uid_from_text(uid)), technology=technology)
        except ValueError as error:
            raise ReaderError(str(error)) from None
        if self.state == "ok":  # a card tapped on an unplugged reader is never seen
            self._queue.put(card)

    def unplug(self) -> None:
        """Simulate the device disappearing: state "reopening", taps are lost."""
        if self.state != "closed":
            self.state = "reopening"

    def replug(self) -> None:
        """Simulate the device coming back: state "ok"."""
        if self.state != "closed":
            self.state = "ok"

    def read(self, timeout: float | None = None) -> CardRead | None:
        """Next presented card within *timeout* seconds; None on timeout or close."""
        if self.state == "closed":
            return None
        try:
            item = self._queue.get(timeout=None if timeout is None else max(0.0, timeout))
        except queue.Empty:
            return None
        if item is _CLOSE or self.state == "closed":
            return None
        self.reads += 1
        return item

    def close(self) -> None:
        """Close the reader and wake a blocked read()."""
        self.state = "closed"
        self._queue.put(_CLOSE)
