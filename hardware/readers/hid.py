"""evdev reader driver for USB keyboard-wedge readers: ``hid:/dev/input/eventN``.

A wedge reader is a USB keyboard that "types" the UID followed by Enter. Reading
it through evdev rather than stdin means the gate gets the keystrokes whether or
not it has a terminal, the key *codes* do not depend on the console keyboard
layout (a Thai or AZERTY layout would garble typed digits), and the device is
grabbed (``EVIOCGRAB``) so the digits do not also leak into a login prompt or
the kiosk's text field. Use the stable symlink from the udev rules
(``hid:/dev/privcard-reader``) or ``/dev/input/by-id/...-event-kbd``.

UID format. Many wedge readers type the UID as a *decimal* number, typically
ten digits: ``2558070133`` is 0x98790D75. With ``decimal=1`` (the default) an
all-digit string of at most ten digits whose value fits in 32 bits is converted
to 8 hex characters; anything else must already be 4-10 bytes of hex. Set
``decimal=0`` for readers that type hex UIDs made only of digits. ``reverse=1``
swaps the byte order, for readers that print MIFARE UIDs least-significant byte
first (compare with an NFC reader on the same card to find out). Note that a
125 kHz wedge reader usually types only the 4-byte tag number of an EM4100 card,
while an RDM6300 (``serial:``) also reports the version byte: the same card then
has two different UIDs, so do not mix the two reader kinds for one card stock.

Options: ``decimal`` (default 1), ``reverse`` (default 0), ``release`` (default
0), ``grab`` (default 1; 0 leaves keystrokes visible, for debugging).
"""

from __future__ import annotations

import logging
import select
import time

from hardware.readers import CardRead, ReaderError, ReaderSpec, format_uid, uid_from_text
from hardware.readers.base import ReopeningReader

log = logging.getLogger(__name__)

_DIGIT_KEYS = {f"KEY_{d}": str(d) for d in range(10)} | {f"KEY_KP{d}": str(d) for d in range(10)}
_LETTER_KEYS = {f"KEY_{c}": c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
_ENTER_KEYS = frozenset({"KEY_ENTER", "KEY_KPENTER"})
# A reader types a whole UID within a few tens of milliseconds; half-typed input
# older than this is a stray key press, not the start of a UID.
KEY_GAP = 1.0
MAX_KEYS = 40


class KeyAccumulator:
    """Collect key-down events into lines: digits and letters until Enter."""

    def __init__(self, gap: float = KEY_GAP) -> None:
        """Forget a partial line after *gap* seconds without a key."""
        self.gap = gap
        self._chars: list[str] = []
        self._last = float("-inf")

    def feed(self, key_name: str, now: float | None = None) -> str | None:
        """Feed one key-down by evdev name (``KEY_7``); the line when it is Enter."""
        now = time.monotonic() if now is None else now
        if now - self._last > self.gap:
            self._chars.clear()
        self._last = now
        if key_name in _ENTER_KEYS:
            line, self._chars = "".join(self._chars), []
            return line or None
        char = _DIGIT_KEYS.get(key_name) or _LETTER_KEYS.get(key_name)
        if char is not None and len(self._chars) < MAX_KEYS:
            self._chars.append(char)
        return None  # shift, separators and other keys are ignored


def key_name(ecodes, code: int) -> str:
    """The evdev name of a key code (first alias when a code has several)."""
    name = ecodes.KEY.get(code) or ecodes.BTN.get(code) or f"KEY_{code}"
    return name[0] if isinstance(name, (list, tuple)) else name


class HidReader(ReopeningReader):
    """A keyboard-wedge reader read through evdev, grabbed for exclusive use."""

    OPTIONS = ("decimal", "reverse", "release", "grab")

    def __init__(
        self,
        spec: str,
        path: str,
        *,
        decimal: bool = True,
        reverse: bool = False,
        release: float = 0.0,
        grab: bool = True,
    ) -> None:
        """Open the input device *path*."""
        try:
            import evdev
        except ImportError as error:
            raise ReaderError(f"{spec}: evdev is not installed (pip install 'privcard[gate]'): {error}") from None
        self._evdev = evdev
        self.path = path
        self.decimal = decimal
        self.reverse = reverse
        self.grab = grab
        self._device = None
        self._keys = KeyAccumulator()
        super().__init__(spec, release=release)

    @classmethod
    def from_spec(cls, parsed: ReaderSpec) -> HidReader:
        """Build from a parsed ``hid:`` spec."""
        parsed.check_options(cls.OPTIONS)
        if not parsed.target.startswith("/"):
            raise parsed.error(f"hid reader needs an input device path like /dev/input/event3, got {parsed.target!r}")
        return cls(
            parsed.spec,
            parsed.target,
            decimal=parsed.bool_option("decimal", True),
            reverse=parsed.bool_option("reverse", False),
            release=parsed.float_option("release", 0.0, low=0.0, high=60.0),
            grab=parsed.bool_option("grab", True),
        )

    def _open(self) -> None:
        """Open and grab the input device; OSError if absent or not permitted."""
        device = self._evdev.InputDevice(self.path)
        try:
            if self.grab:
                device.grab()  # EVIOCGRAB: keystrokes stop reaching the console
        except OSError:
            device.close()
            raise
        self._device = device
        self._keys = KeyAccumulator()
        log.info("%s: opened %r (%s)", self.spec, device.name, "grabbed" if self.grab else "not grabbed")

    def line_to_card(self, line: str) -> CardRead | None:
        """Turn one typed line into a CardRead, or None (logged) if it is not a UID."""
        try:
            return CardRead(
                uid=format_uid(uid_from_text(line, decimal=self.decimal, reverse=self.reverse)), technology="hid"
            )
        except ValueError as error:
            log.warning("%s: ignored input: %s", self.spec, error)
            return None

    def _poll(self, wait: float) -> list[CardRead]:
        """Wait up to *wait* seconds for key events; return completed UIDs."""
        device = self._device
        ready, _, _ = select.select([device.fd], [], [], wait)
        if not ready:
            return []
        ecodes = self._evdev.ecodes
        cards = []
        try:
            events = list(device.read())
        except BlockingIOError:  # woken but nothing queued (EAGAIN): not a failure
            return []
        for event in events:
            # value 1 = key down; 0 = up and 2 = autorepeat are ignored.
            if event.type != ecodes.EV_KEY or event.value != 1:
                continue
            line = self._keys.feed(key_name(ecodes, event.code))
            if line is not None:
                card = self.line_to_card(line)
                if card is not None:
                    cards.append(card)
        return cards

    def _release(self) -> None:
        """Ungrab and close the input device."""
        device, self._device = self._device, None
        if device is None:
            return
        try:
            if self.grab:
                device.ungrab()
        except OSError:
            pass  # unplugged: nothing left to ungrab
        device.close()
