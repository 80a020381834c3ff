"""nfcpy reader driver: ``nfc:usb``, ``nfc:usb:VID:PID``, ``nfc:tty:AMA0:pn532``, ``nfc:udp:HOST:PORT``.

The text after ``nfc:`` is an nfcpy device path, passed to
``nfc.ContactlessFrontend.open``: ACR122U / SCL3711 / RC-S380 on USB, a PN532 on
a UART (``tty:AMA0:pn532``, ``tty:S0:pn532``, ``tty:USB0:pn532``), or nfcpy's
simulated ``udp`` driver, where the card is emulated by another
ContactlessFrontend (see :mod:`hardware.readers.nfc_emulator`).

Options: ``targets=106A,106B,212F`` (what to poll for), ``interval=0.2``
(seconds between polls), ``release=1.0`` (seconds a card must be gone before it
counts as a new tap), ``ndef=1`` (read the NDEF URI of ISO-DEP cards, 0 to skip).

The NDEF URI. An NTAG 424 DNA card proves it is genuine with the Secure Unique NFC
URL in its NDEF file (a fresh one per read: encrypted UID and read counter, and a MAC;
the server verifies it, docs/cards.md). So for an ISO 14443-4 (ISO-DEP, Type 4A)
card the reader activates the tag and reads its NDEF message (nfcpy's Type 4 Tag NDEF
read: SELECT the NDEF application, the capability container, the NDEF file, READ
BINARY; no key is needed), once per presentation, and reports the first URI record in
``CardRead.ndef``. Only a new presentation is read: each read raises the card's
counter, and a card resting on the reader must not be read over and over. A card
with no NDEF, or one that leaves mid-read, is reported with its UID alone (the
server decides whether that card needs more). On a real reader this costs about
7 APDU round trips (tens of milliseconds).

How a card becomes a UID. The reader only *senses* (anticollision/SENSF), it does
not activate the tag: for access control the UID is all we need, and skipping
activation (RATS, GET_VERSION, memory reads) makes a tap faster and lets cards
through that nfcpy could not activate. The UID is what nfcpy's
``Tag.identifier`` would return after activation:

- ISO 14443-A (MIFARE Classic, Ultralight/NTAG, DESFire; Type 2 and Type 4A):
  NFCID1, 4, 7 or 10 bytes, from ``sdd_res`` (cascade tags already removed);
  a Type 1 (Topaz) tag: UID0-3 from ``rid_res[2:6]``;
- ISO 14443-B (Type 4B): the PUPI, ``sensb_res[1:5]``;
- FeliCa (Type 3): the IDm, ``sensf_res[1:9]``.

Peer-to-peer devices (a phone in NFC-DEP mode, SEL_RES bit 6 or NFCID2 01FE)
are ignored, as nfcpy's own ``connect()`` does: their NFCID is random per tap.

Quirks:

- nfcpy's USB transport needs the C library ``libusb-1.0`` (Debian:
  ``apt install libusb-1.0-0``); without it every open fails with
  "cannot find a suitable libusb-1.0", which the reader logs and retries.
- The kernel's ``pn533_usb`` / ``port100`` drivers grab ACR122U/SCL3711/RC-S380
  first; blacklist them (``hardware/deploy/blacklist-privcard-nfc.conf``).
- The ``udp`` driver waits a fixed 1.0 s for a SENS_RES/SENSF_RES, so with no
  card in the (simulated) field one poll per target takes a second and read()
  may overrun a shorter timeout by that much. That is why ``udp`` polls only
  106A by default; real readers answer in milliseconds.
"""

from __future__ import annotations

import logging
import re
import time

from hardware.readers import CardRead, ReaderError, ReaderSpec, format_uid
from hardware.readers.base import ReopeningReader

log = logging.getLogger(__name__)

# nfcpy bitrate/type strings we can sense, and the technology each yields.
TARGET_TECHNOLOGY = {
    "106A": "iso14443a",
    "212A": "iso14443a",
    "424A": "iso14443a",
    "106B": "iso14443b",
    "212B": "iso14443b",
    "424B": "iso14443b",
    "212F": "felica",
    "424F": "felica",
}
DEFAULT_TARGETS = ("106A", "106B", "212F")
UDP_DEFAULT_TARGETS = ("106A",)

# nfcpy path forms (nfc/clf/transport.py and nfc/clf/device.py accept these).
_USB_RE = re.compile(r"^usb(?::[0-9a-fA-F]{4}(?::[0-9a-fA-F]{4})?|:\d{1,3}(?::\d{1,3})?)?$")
_TTY_RE = re.compile(r"^tty:(?P<port>[A-Za-z0-9_.-]+)(?::(?P<driver>[a-z0-9]+))?$")
_UDP_RE = re.compile(r"^udp(?::(?P<host>[^:]*)(?::(?P<port>\d+))?)?$")
TTY_DRIVERS = ("pn532", "arygon")


def nfcpy_path(parsed: ReaderSpec) -> str:
    """Validate the nfcpy device path after ``nfc:``; ReaderError if nfcpy would not accept it."""
    path = parsed.target
    if _USB_RE.match(path):
        return path
    match = _TTY_RE.match(path)
    if match:
        driver = match.group("driver")
        if driver is not None and driver not in TTY_DRIVERS:
            raise parsed.error(f"unknown serial NFC driver {driver!r} (expected {' or '.join(TTY_DRIVERS)})")
        return path
    match = _UDP_RE.match(path)
    if match:
        port = match.group("port")
        if port is not None and not 1 <= int(port) <= 65535:
            raise parsed.error(f"udp port must be 1-65535, got {port}")
        return path
    raise parsed.error(
        "nfc reader path must be usb, usb:VID:PID, usb:BUS:DEV, tty:PORT:DRIVER "
        f"(e.g. tty:AMA0:pn532) or udp:HOST:PORT, got {path!r}"
    )


# what a tap may carry as ``ndef`` (broker.contract's rule, restated: hardware imports none of ours)
_URI_RE = re.compile(r"^[\x21-\x7e]{1,512}$")


def _iso_dep(target) -> bool:
    """Whether a sensed ISO 14443-A target speaks ISO-DEP (SEL_RES bit 6: a Type 4A tag)."""
    return target.brty in ("106A", "212A", "424A") and bool(target.sel_res) and bool(target.sel_res[0] & 0x20)


def uid_from_target(target) -> CardRead | None:
    """The card UID in an nfcpy RemoteTarget from ``sense()``, or None for a P2P device."""
    brty = target.brty
    technology = TARGET_TECHNOLOGY.get(brty)
    if technology == "iso14443a":
        if target.sel_res and target.sel_res[0] & 0x40:
            return None  # NFC-DEP (phone in P2P mode): random NFCID1
        if target.sdd_res:
            uid = bytes(target.sdd_res)
        elif target.rid_res:  # Type 1 Tag: UID0-3 follow HR0 HR1 in RID_RES
            uid = bytes(target.rid_res[2:6])
        else:
            return None
    elif technology == "iso14443b":
        if not target.sensb_res or len(target.sensb_res) < 5:
            return None
        uid = bytes(target.sensb_res[1:5])
    elif technology == "felica":
        if not target.sensf_res or len(target.sensf_res) < 9:
            return None
        if target.sensf_res[1:3] == b"\x01\xfe":
            return None  # NFC-DEP target announced by its NFCID2 prefix
        uid = bytes(target.sensf_res[1:9])
    else:
        return None
    if not 4 <= len(uid) <= 10:
        log.debug("ignoring %s target with %d-byte identifier", brty, len(uid))
        return None
    return CardRead(uid=format_uid(uid), technology=technology)


class NfcReader(ReopeningReader):
    """A contactless reader driven by nfcpy, polling with ``ContactlessFrontend.sense``."""

    OPTIONS = ("targets", "interval", "release", "ndef")

    def __init__(
        self,
        spec: str,
        path: str,
        *,
        targets: tuple[str, ...] = DEFAULT_TARGETS,
        interval: float = 0.2,
        release: float = 1.0,
        ndef: bool = True,
    ) -> None:
        """Open nfcpy path *path*; poll *targets* every *interval* seconds; read NDEF URIs if *ndef*."""
        try:
            import nfc
            import nfc.clf
        except ImportError as error:
            raise ReaderError(f"{spec}: nfcpy is not installed (pip install 'privcard[gate]'): {error}") from None
        self._nfc = nfc
        self.path = path
        self.interval = interval
        self.targets = targets
        self._clf = None
        self._last_sense = float("-inf")
        self._unsupported_logged = False
        self.ndef = ndef
        super().__init__(spec, release=release)

    @classmethod
    def from_spec(cls, parsed: ReaderSpec) -> NfcReader:
        """Build from a parsed ``nfc:`` spec, validating path and options."""
        parsed.check_options(cls.OPTIONS)
        path = nfcpy_path(parsed)
        default = UDP_DEFAULT_TARGETS if path.startswith("udp") else DEFAULT_TARGETS
        raw = parsed.options.get("targets")
        if raw is None:
            targets = default
        else:
            targets = tuple(t.strip().upper() for t in raw.split(",") if t.strip())
            bad = [t for t in targets if t not in TARGET_TECHNOLOGY]
            if not targets or bad:
                raise parsed.error(f"targets must be a comma list of {', '.join(TARGET_TECHNOLOGY)}, got {raw!r}")
        interval = parsed.float_option("interval", 0.2, low=0.02, high=5.0)
        release = parsed.float_option("release", 1.0, low=0.0, high=60.0)
        ndef = parsed.bool_option("ndef", True)
        return cls(parsed.spec, path, targets=targets, interval=interval, release=release, ndef=ndef)

    def _open(self) -> None:
        """Open the ContactlessFrontend; OSError if no reader is on the path."""
        clf = self._nfc.ContactlessFrontend()
        try:
            found = clf.open(self.path)
        except OSError as error:
            if "libusb" in str(error):
                raise OSError(error.errno, f"{error} (install it: apt install libusb-1.0-0)") from None
            raise
        if not found:
            raise OSError(f"no contactless reader found on nfcpy path {self.path!r}")
        self._clf = clf
        log.info("%s: using %s", self.spec, clf)

    def _poll(self, wait: float) -> list[CardRead]:
        """Sense once for the configured targets, at most once per *interval*."""
        # Pace the polls: a card resting on the reader would otherwise be
        # sensed as fast as the USB round trip allows, heating the RF front end.
        due = self._last_sense + self.interval - time.monotonic()
        if due > 0:
            if due > wait:
                self._closed.wait(wait)
                return []
            self._closed.wait(due)
        nfc = self._nfc
        remote_targets = [nfc.clf.RemoteTarget(brty) for brty in self.targets]
        try:
            target = self._clf.sense(*remote_targets, iterations=1)
        except nfc.clf.UnsupportedTargetError as error:
            # Only raised when a single target is polled and the chip lacks it
            # (e.g. 106B on an ACR122U firmware without Type B): a setup error,
            # logged once, not a reason to stop the gate.
            if not self._unsupported_logged:
                log.error("%s: reader cannot poll %s: %s", self.spec, ",".join(self.targets), error)
                self._unsupported_logged = True
            target = None
        except nfc.clf.CommunicationError as error:  # RF noise, collision, card pulled away
            log.debug("%s: %r while sensing", self.spec, error)
            target = None
        finally:
            self._last_sense = time.monotonic()
        if target is None:
            return []
        card = uid_from_target(target)
        if card is None:
            return []
        if self.ndef and _iso_dep(target) and self._arrivals.would_arrive(card.uid, time.monotonic()):
            uri = self._read_ndef_uri(target)
            if uri is not None:
                card = CardRead(uid=card.uid, technology=card.technology, ndef=uri)
        return [card]

    def _read_ndef_uri(self, target) -> str | None:
        """The first URI record of an ISO-DEP card's NDEF message, or None (no NDEF, card gone, not a URI)."""
        nfc = self._nfc
        t0 = time.monotonic()
        try:
            import nfc.tag

            tag = nfc.tag.activate(self._clf, target)
            ndef = tag.ndef if tag is not None else None
            records = ndef.records if ndef is not None else []
        except (nfc.clf.CommunicationError, nfc.tag.TagCommandError) as error:
            log.debug("%s: NDEF read failed: %r", self.spec, error)
            return None
        except Exception as error:  # a malformed NDEF message from a card must not stop the reader
            log.warning("%s: unreadable NDEF message: %s: %s", self.spec, type(error).__name__, str(error)[:200])
            return None
        uri = next(
            (getattr(r, "iri", None) or getattr(r, "uri", None) for r in records if r.type == "urn:nfc:wkt:U"), None
        )
        if uri is not None and not _URI_RE.match(uri):
            log.warning("%s: NDEF URI ignored (not 1-512 printable ASCII characters)", self.spec)
            uri = None
        log.debug("%s: NDEF read in %.1f ms: %s", self.spec, (time.monotonic() - t0) * 1000, uri)
        return uri

    def _release(self) -> None:
        """Close the ContactlessFrontend (turns the RF field off)."""
        clf, self._clf = self._clf, None
        if clf is not None:
            clf.close()
