"""The kiosk's card-reader thread: blocking reads off the UI thread.

The thread only calls ``on_card(uid, technology, t_read, ndef)`` (``ndef``: the card's
SUN URL, or None); the app's handler hands the tap to Kivy's main thread with ``Clock.schedule_once``. ``t_read`` is
``time.perf_counter()`` at the read, for the tap-to-screen latency benchmark.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from hardware.readers import CardReader, open_reader

log = logging.getLogger("privcard.kiosk.reader")


class ReaderThread(threading.Thread):
    """Reads cards forever from ``reader`` and reports each presentation."""

    def __init__(self, reader: CardReader, on_card: Callable[..., None]):
        super().__init__(name="kiosk-reader", daemon=True)
        self.reader = reader
        self.on_card = on_card
        self._stop = threading.Event()

    @classmethod
    def from_spec(cls, spec: str, on_card) -> ReaderThread:
        """Open the reader named by ``spec`` (raises hardware.readers.ReaderError)."""
        return cls(open_reader(spec), on_card)

    @property
    def state(self) -> str:
        """The reader's state: ``ok``, ``reopening`` or ``closed``."""
        return getattr(self.reader, "state", "unknown")

    def run(self) -> None:
        while not self._stop.is_set():
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
            self.reader.close()
        except Exception:
            pass
