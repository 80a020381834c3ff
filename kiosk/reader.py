"""The kiosk's card-reader thread: blocking reads off the UI thread.

The thread only calls ``on_card(uid, technology, t_read, ndef)`` (``ndef``: the card's
SUN URL, or None); the app's handler hands the tap to Kivy's main thread with ``Clock.schedule_once``. ``t_read`` is
``time.perf_counter()`` at the read, for the tap-to-screen latency benchmark.

The ``reader`` setting is followed here, on the thread that reads: :meth:`ReaderThread.want`
(from the app's main thread) names the spec, and the thread switches between two reads
through :class:`hardware.readers.switch.ReaderSwitch` (the new reader opened before the
old one is closed; a spec that cannot be opened is logged, kept in :attr:`ReaderThread.failed`
and the old reader reads on), then calls ``on_change()``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from hardware.readers import CardReader, open_reader
from hardware.readers.switch import ReaderSwitch

log = logging.getLogger("privcard.kiosk.reader")


class ReaderThread(threading.Thread):
    """Reads cards forever from ``reader`` and reports each presentation."""

    def __init__(
        self,
        reader: CardReader,
        on_card: Callable[..., None],
        *,
        on_change: Callable[[], None] = lambda: None,
        opener: Callable[[str], CardReader] = open_reader,
    ):
        super().__init__(name="kiosk-reader", daemon=True)
        self.switch = ReaderSwitch(reader, opener=opener)
        self.on_card = on_card
        self.on_change = on_change
        self._stop = threading.Event()
        self._wanted: tuple[str | None, bool] | None = None

    @classmethod
    def from_spec(cls, spec: str, on_card, **kwargs) -> ReaderThread:
        """Open the reader named by ``spec`` (raises hardware.readers.ReaderError)."""
        return cls(open_reader(spec), on_card, **kwargs)

    @property
    def reader(self) -> CardReader:
        """The reader in use."""
        return self.switch.reader

    @property
    def spec(self) -> str:
        """The spec of the reader in use."""
        return self.switch.spec

    @property
    def failed(self) -> tuple[str, str] | None:
        """(spec, reason) of a ``reader`` setting that could not be opened, else None."""
        return self.switch.failed

    @property
    def state(self) -> str:
        """The reader's state: ``ok``, ``reopening`` or ``closed``."""
        return getattr(self.reader, "state", "unknown")

    def want(self, spec: str | None, *, retry: bool = False) -> None:
        """Read from ``spec`` (None: the kiosk's own ``--reader``) from the next read on; any thread.

        ``retry``: try again a spec that failed before (a new config revision).
        """
        self._wanted = (spec, retry)

    def _follow(self) -> None:
        wanted, self._wanted = self._wanted, None
        if wanted is None:
            return
        failed = self.switch.failed
        changed = self.switch.apply(wanted[0], retry=wanted[1])
        if self._stop.is_set():  # stop() closed the old reader while the new one was opened
            self.switch.close()
        if changed or self.switch.failed != failed:
            self.on_change()

    def run(self) -> None:
        while not self._stop.is_set():
            self._follow()
            try:
                card = self.reader.read(timeout=0.5)
            except Exception:  # a driver bug must not kill the kiosk's reader for good
                log.exception("reader failed; retrying in 1 s")
                self._stop.wait(1.0)
                continue
            if card is None:
                if self.state == "closed" and not self._stop.is_set():
                    self._stop.wait(0.5)  # e.g. stdin at EOF: keep the kiosk up, stop spinning
                continue
            self.on_card(card.uid, card.technology, time.perf_counter(), card.ndef)

    def stop(self) -> None:
        """Stop reading and close the reader."""
        self._stop.set()
        try:
            self.switch.close()
        except Exception:
            pass
