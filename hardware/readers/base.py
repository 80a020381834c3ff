"""Machinery shared by readers over a device that can disappear.

This module owns the reopen-with-backoff loop (:class:`ReopeningReader`), the
backoff schedule (:class:`Backoff`) and the "one report per card presentation"
filter (:class:`ArrivalFilter`). Drivers subclass :class:`ReopeningReader` and
implement three hooks: ``_open()``, ``_poll(wait)`` and ``_release()``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from hardware.readers import CardRead, CardReader, ReaderError

log = logging.getLogger(__name__)

# Longest a driver blocks in one _poll(): bounds how late close() from another
# thread takes effect, and how far read(timeout) can overrun for most drivers.
POLL_SLICE = 0.2


class Backoff:
    """Exponential reopen delays: 0.5 s, 1 s, 2 s, ... capped at 10 s."""

    def __init__(self, first: float = 0.5, maximum: float = 10.0) -> None:
        """Start the schedule at *first* seconds, never exceeding *maximum*."""
        self.first = first
        self.maximum = maximum
        self.failures = 0

    def next_delay(self) -> float:
        """Delay before the next attempt, growing with each consecutive failure."""
        delay = min(self.first * (2**self.failures), self.maximum)
        self.failures += 1
        return delay

    def reset(self) -> None:
        """Start over after a successful open."""
        self.failures = 0


class ArrivalFilter:
    """Report a card once per presentation, not once per sighting.

    NFC readers poll a card that stays on the reader several times a second and
    RDM6300 modules repeat the frame while the tag is in the field. A sighting of
    the same UID within *release* seconds of the previous sighting is the same
    presentation; after a gap of more than *release* seconds it is a new tap.
    ``release=0`` reports every sighting.
    """

    def __init__(self, release: float) -> None:
        """Treat a card as removed after *release* seconds unseen."""
        self.release = release
        self._uid: str | None = None
        self._last = float("-inf")

    def would_arrive(self, uid: str, now: float) -> bool:
        """Whether a sighting at *now* would be a new presentation (nothing recorded)."""
        return self.release <= 0 or uid != self._uid or now - self._last > self.release

    def arrived(self, uid: str, now: float) -> bool:
        """Record a sighting at *now* (monotonic); True if it is a new presentation."""
        new = self.release <= 0 or uid != self._uid or now - self._last > self.release
        self._uid, self._last = uid, now
        return new


class ReopeningReader(CardReader):
    """A reader whose device is (re)opened inside read(), never raising for I/O errors.

    Subclasses implement:

    - ``_open()``: open the device; raise OSError (or the library's error) if absent;
    - ``_poll(wait)``: wait at most about *wait* seconds, return the CardReads seen
      (maybe several, maybe none); raise on device loss;
    - ``_release()``: close the device quietly.
    """

    # The reopen schedule: first retry after 0.5 s, doubling, at most 10 s apart.
    BACKOFF_FIRST = 0.5
    BACKOFF_MAX = 10.0

    def __init__(self, spec: str, *, release: float = 0.0) -> None:
        """Try to open the device once; if it is absent start in state "reopening"."""
        self.spec = spec
        self.state = "reopening"
        self._closed = threading.Event()
        self._io_lock = threading.Lock()
        self._backoff = Backoff(self.BACKOFF_FIRST, self.BACKOFF_MAX)
        self._next_attempt = 0.0
        self._arrivals = ArrivalFilter(release)
        self._pending: deque[CardRead] = deque()
        self._attempt_open(first=True)

    # -- hooks -----------------------------------------------------------------
    def _open(self) -> None:  # pragma: no cover - abstract
        """Open the device; raise if it is not available."""
        raise NotImplementedError

    def _poll(self, wait: float) -> list[CardRead]:  # pragma: no cover - abstract
        """Wait up to *wait* seconds for cards; raise if the device is gone."""
        raise NotImplementedError

    def _release(self) -> None:  # pragma: no cover - abstract
        """Close the device, ignoring errors."""
        raise NotImplementedError

    # -- the loop ----------------------------------------------------------------
    def read(self, timeout: float | None = None) -> CardRead | None:
        """Block up to *timeout* seconds for a new card presentation; None on timeout/close."""
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        polled = False
        while not self._closed.is_set():
            if self._pending:
                return self._pending.popleft()
            now = time.monotonic()
            remaining = None if deadline is None else deadline - now
            if polled and remaining is not None and remaining <= 0:
                return None
            polled = True
            if self.state != "ok":
                wait = self._next_attempt - now
                if wait > 0:
                    self._closed.wait(wait if remaining is None else max(0.0, min(wait, remaining)))
                    continue
                self._attempt_open(first=False)
                continue
            slice_ = POLL_SLICE if remaining is None else max(0.0, min(POLL_SLICE, remaining))
            try:
                with self._io_lock:
                    if self._closed.is_set():
                        break
                    reads = self._poll(slice_)
            except Exception as error:  # any failure: USB unplugged, EIO, a driver bug...
                self._lost(error)
                continue
            seen = time.monotonic()
            for card in reads:
                if self._arrivals.arrived(card.uid, seen):
                    self._pending.append(card)
                else:
                    log.debug("%s: %s still present, not reported again", self.spec, card.uid)
        return None

    def close(self) -> None:
        """Stop reading and release the device; a blocked read() returns None."""
        self._closed.set()
        self.state = "closed"  # at once: a read() woken by close sees it
        with self._io_lock:  # wait for a poll in progress before releasing the device
            self.state = "closed"  # again, in case an open attempt raced past the check
            self._release_quietly()

    # -- internals ----------------------------------------------------------------
    def _attempt_open(self, *, first: bool) -> None:
        """Open the device now; on failure schedule the next attempt."""
        with self._io_lock:
            if self._closed.is_set():
                return
            try:
                self._open()
            except Exception as error:
                if first and isinstance(error, ReaderError):
                    raise  # a configuration error: report it from open_reader()
                self._release_quietly()
                delay = self._backoff.next_delay()
                self._next_attempt = time.monotonic() + delay
                self.state = "reopening"
                if first:
                    log.warning("%s: device not available (%s); will keep trying", self.spec, _describe(error))
                else:
                    log.debug("%s: reopen failed (%s); next try in %.1f s", self.spec, _describe(error), delay)
                return
            if not first or self._backoff.failures:
                log.info("%s: reader (re)opened", self.spec)
            self._backoff.reset()
            self.state = "ok"

    def _lost(self, error: BaseException) -> None:
        """Note the device went away; reopen after the first backoff delay."""
        with self._io_lock:
            if self._closed.is_set():
                return
            if isinstance(error, OSError):
                log.warning("%s: reader lost (%s); reopening", self.spec, _describe(error))
            else:  # not an I/O error we know: keep the traceback for the bug report
                log.exception("%s: reader failed unexpectedly; reopening", self.spec)
            self._release_quietly()
            self.state = "reopening"
            self._backoff.reset()
            self._next_attempt = time.monotonic() + self._backoff.next_delay()

    def _release_quietly(self) -> None:
        """Release the device, logging (not raising) any error."""
        try:
            self._release()
        except Exception as error:  # closing a vanished device often fails
            log.debug("%s: error while releasing device: %s", self.spec, error)


def _describe(error: BaseException) -> str:
    """A short one-line description of an exception."""
    text = str(error) or type(error).__name__
    return text if len(text) < 200 else text[:197] + "..."
