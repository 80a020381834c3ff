"""The gate's reader loop: read a card, hand it to the controller, follow the ``reader`` setting.

``gate.main`` runs :meth:`ReaderLoop.run` on the main thread. Each iteration reads for
at most half a second (the readers poll with a timeout), so the loop comes round
regularly whatever happens at the reader; it:

- switches the reader when the retained config's ``reader`` setting changes (None: the
  device's own ``--reader``), through :class:`hardware.readers.switch.ReaderSwitch`:
  the new reader is opened before the old one is closed, and a spec that cannot be
  opened is logged, kept in the status's ``error`` and the old reader reads on;
- records its progress, which the controller's heartbeat requires before it pings the
  systemd watchdog (:meth:`gate.controller.Controller.watchdog`): a loop stuck for
  :data:`STALL_S` (a driver blocked in ``read()`` or in opening its device, a tap wedged
  on GPIO) stops the pings, and systemd restarts the gate ``WatchdogSec`` (30 s) later.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from hardware.readers import CardReader, open_reader
from hardware.readers.switch import ReaderSwitch

log = logging.getLogger("privcard.gate")

#: one read waits this long for a card before the loop comes round again
READ_TIMEOUT_S = 0.5
#: the loop counts as stuck after this long without coming round. The longest honest
#: iteration is a read (0.5 s, up to about 1 s more for nfc:udp), a tap waiting for the
#: server (decision_timeout_ms, at most 10 s) and a reader being opened: 20 s is well above
#: it, and 20 s plus the unit's WatchdogSec=30 restarts a wedged gate within a minute.
STALL_S = 20.0


class ReaderLoop:
    """Reads cards for one controller; ``run(done)`` until ``done`` is set."""

    def __init__(
        self,
        controller,
        reader: CardReader,
        *,
        own_spec: str | None = None,
        opener: Callable[[str], CardReader] = open_reader,
        stall_s: float = STALL_S,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.ctl = controller
        self.switch = ReaderSwitch(reader, own_spec=own_spec, opener=opener)
        self.stall_s = stall_s
        self.monotonic = monotonic
        #: monotonic time the loop last came round
        self.progress = monotonic()
        self._revision = controller.settings.revision
        self._reported_closed = False

    @property
    def reader(self) -> CardReader:
        """The reader in use."""
        return self.switch.reader

    def state(self) -> str:
        """The reader's state for the status: ok, reopening or closed."""
        return self.switch.reader.state

    def error(self) -> str | None:
        """The status's ``error`` while a ``reader`` setting could not be opened."""
        return self.switch.status_error()

    def alive(self) -> bool:
        """Whether the loop came round within the last ``stall_s`` seconds (the watchdog's question)."""
        return self.monotonic() - self.progress < self.stall_s

    def follow_settings(self) -> None:
        """Switch to the reader the current settings name, if that changed (a new config revision retries a failure)."""
        s = self.ctl.settings
        retry, self._revision = s.revision != self._revision, s.revision
        failed = self.switch.failed
        changed = self.switch.apply(s.reader, retry=retry)
        if changed or self.switch.failed != failed:
            self._reported_closed = False
            self.ctl.status_changed()

    def step(self, done: threading.Event) -> None:
        """One iteration: follow the settings, read up to :data:`READ_TIMEOUT_S`, hand a card over."""
        self.progress = self.monotonic()
        self.follow_settings()
        reader = self.switch.reader
        try:
            card = reader.read(timeout=READ_TIMEOUT_S)
        except Exception as exc:  # a reader must never take the gate down
            log.error("reader %s failed: %s", self.switch.spec, exc)
            done.wait(1.0)
            return
        if card is not None:
            self.ctl.handle_read(card.uid, card.ndef)
        elif reader.state == "closed":
            if not self._reported_closed:
                log.info("reader %s closed (end of input); still forwarding the outbox", self.switch.spec)
                self._reported_closed = True
            done.wait(READ_TIMEOUT_S)
        self.progress = self.monotonic()

    def run(self, done: threading.Event) -> None:
        """Read until ``done`` is set."""
        while not done.is_set():
            self.step(done)

    def close(self) -> None:
        """Close the reader in use."""
        self.switch.close()
