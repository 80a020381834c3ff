"""Tap emulated cards on nfcpy's simulated ``udp`` reader (tests and demos).

This module owns card emulation for ``nfc:udp:HOST:PORT`` readers: a second
nfcpy ``ContactlessFrontend('udp:HOST:PORT')`` in *listen* mode answers the
reader's polls as an ISO 14443-A target (NFCID1 of 4, 7 or 10 bytes, Type 2
Tag SEL_RES) or a FeliCa target (IDm of 8 bytes), so the reader's whole nfcpy
stack runs exactly as with a real card::

    >>> import threading
    >>> from hardware.readers import open_reader
    >>> from hardware.readers.nfc_emulator import EmulatedCard
    >>> reader = open_reader("nfc:udp:localhost:54321")
    >>> with EmulatedCard("04A1B2C3D4E5F6", port=54321):
    ...     reader.read(timeout=5)
    CardRead(uid='04A1B2C3D4E5F6', technology='iso14443a')

From a shell (the card stays "on the reader" for --seconds)::

    python -m hardware.readers.nfc_emulator 04A1B2C3 --port 54321 --seconds 2

How the udp driver works: the reader sends SENS_REQ/SDD_REQ/SEL_REQ as text
datagrams ("106A 26") to HOST:PORT; the emulator binds PORT on all interfaces and
answers. Only one emulated card can hold a port at a time (the bind fails with
EADDRINUSE and the second emulator waits, which is also what "one card in the
field" means).

A card with an NDEF message (``EmulatedCard(uid, ndef=...)``) is a Type 4A tag instead
(SEL_RES 20h, ISO-DEP): it answers the reader's RATS with an ATS and then the ISO-DEP
I-blocks of an NFC Forum Type 4 Tag (mapping version 2.0): SELECT of the NDEF
application D2760000850101, of the capability container E103 and of the NDEF file
E104, and READ BINARY. *ndef* is a callable returning the NDEF message bytes, called
each time the reader selects the NDEF file, so a test's card model can answer every
read with a fresh message (an NTAG 424 DNA's SUN URL with its read counter raised).

Two nfcpy 1.0.4 ``nfc/clf/udp.py`` quirks are worked around here, in a subclass
of its udp ``Device`` used only by the emulator:

- ``ContactlessFrontend.listen()`` mutes the device first, and the udp ``mute()``
  closes the socket that the next ``listen_tta()`` binds again. Datagrams queued
  on the old socket are dropped; the reader's SENS_REQ follows its RFOFF within
  microseconds, so roughly every other listen slice the reader lost a poll (a
  fixed 1 s timeout) and a card held still seemed to leave and come back. The
  emulator keeps one bound socket for its whole life.
- ``_listen_tta`` compares a cascade-level-3 SEL_REQ with ``95 70`` instead of
  ``97 70``, so a 10-byte UID never completes selection. For 10-byte UIDs the
  emulator rewrites an incoming ``97 70`` to ``95 70`` before nfcpy sees it (the
  CL2 comparison cannot match it: it checks the CL2 bytes of the UID).
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time

from hardware.readers import ReaderError, format_uid, uid_from_text

log = logging.getLogger(__name__)

# SENS_RES (ATQA, LSB first): bits 7-6 of the first byte give the UID size,
# single (4 bytes), double (7) or triple (10).
_SENS_RES = {4: "0400", 7: "4400", 10: "8400"}
# SEL_RES (SAK) 00: a Type 2 Tag (MIFARE Ultralight/NTAG), no ISO-DEP, no NFC-DEP.
_SEL_RES_TYPE2 = "00"
# SEL_RES 20: ISO 14443-4 compliant (ISO-DEP), a Type 4A tag such as an NTAG 424 DNA.
_SEL_RES_TYPE4 = "20"
# ATS: TL=05, T0=78 (TA, TB, TC present; FSCI 8 = 256-byte frames), TA=80, TB=80 (FWI 8,
# about 77 ms: generous for a datagram round trip on a loaded test machine), TC=02.
_ATS = bytes.fromhex("0578808002")
_NDEF_AID = bytes.fromhex("D2760000850101")
# Capability container (NFC Forum T4T 2.0): CCLEN 15, version 2.0, MLe 59, MLc 52, NDEF
# file control TLV: file E104, 256 bytes, read access free, write access denied.
_CC = bytes.fromhex("000F20003B00340406E1040100" + "00FF")
_OK = b"\x90\x00"
# FeliCa PMm and system code of an ordinary FeliCa Lite-S style card.
_FELICA_PMM = "00F1000000014300"
_FELICA_SYS = "88B4"

# How long one nfcpy listen() call lasts before stop_event is checked again.
_LISTEN_SLICE = 0.1


def _local_target(uid: str, technology: str, *, type4: bool = False):
    """The nfcpy LocalTarget answering polls for *uid* (a Type 4A tag if *type4*)."""
    import nfc.clf

    data = bytes.fromhex(uid)
    if technology == "iso14443a":
        if len(data) not in _SENS_RES:
            raise ReaderError(f"an ISO 14443-A UID is 4, 7 or 10 bytes, got {len(data)}: {uid}")
        target = nfc.clf.LocalTarget("106A")
        target.sens_res = bytearray.fromhex(_SENS_RES[len(data)])
        target.sdd_res = bytearray(data)
        target.sel_res = bytearray.fromhex(_SEL_RES_TYPE4 if type4 else _SEL_RES_TYPE2)
        return target
    if technology == "felica":
        if len(data) != 8:
            raise ReaderError(f"a FeliCa IDm is 8 bytes, got {len(data)}: {uid}")
        target = nfc.clf.LocalTarget("212F")
        target.sensf_res = bytearray.fromhex("01" + uid + _FELICA_PMM + _FELICA_SYS)
        return target
    raise ReaderError(f"emulation supports iso14443a and felica, not {technology!r}")


def _emulator_device(host: str, port: int, *, fix_cl3: bool):
    """An nfcpy udp Device that keeps its bound socket across listen() calls."""
    import platform

    import nfc.clf.udp

    class EmulatorDevice(nfc.clf.udp.Device):
        """nfcpy's udp Device, with the two listen-side quirks worked around."""

        running = True
        #: a frame the ISO-DEP session received but listen() must answer (the reader's next poll)
        pushback = None

        def mute(self):
            """Keep the socket while emulating; ContactlessFrontend.listen() mutes first."""
            # Stock mute() closes the socket, and the next listen() binds a new
            # one: datagrams already queued on the old socket are lost. A
            # reader's SENS_REQ arrives right behind its RFOFF, so that loss
            # shows up as a 1 s sense timeout and a card "leaving" the field.
            if not self.running:
                super().mute()

        def close(self):
            """Really close the socket when the frontend is closed."""
            self.running = False
            super().close()

        def _bind_socket(self, time_to_return):
            """Bind once; later listen() calls reuse the bound socket."""
            if self.socket.getsockname()[1] == self.addr[1]:
                return True
            return super()._bind_socket(time_to_return)

        def bind(self) -> bool:
            """Bind the listen port now (False if another card holds it)."""
            self._create_socket()
            return bool(self._bind_socket(time.time() + 0.1))

        def _recv_data(self, timeout, *brty_list):
            """Receive, rewriting a CL3 SEL_REQ (97 70) as nfcpy 1.0.4 expects (95 70)."""
            # _listen_tta waits at least 0.5 s per receive; capping it lets
            # listen() return, and stop_event be seen, within a slice. Safe
            # because the socket (and anything queued on it) now survives.
            if self.pushback is not None:
                (brty, data, addr), self.pushback = self.pushback, None
                return brty, data, addr
            if timeout is not None:
                timeout = min(timeout, _LISTEN_SLICE)
            brty, data, addr = super()._recv_data(timeout, *brty_list)
            if fix_cl3 and data[:2] == b"\x97\x70":
                data = bytearray(b"\x95\x70") + data[2:]
            return brty, data, addr

    device = EmulatorDevice(host, port)
    device._vendor_name = platform.uname()[0]
    device._device_name = "IP-Stack"
    device._chipset_name = "UDP"
    device._path = f"udp:{host}:{port}"
    return device


class _Type4Files:
    """The files of an NFC Forum Type 4 Tag and the APDUs that read them."""

    def __init__(self, ndef):
        self.ndef = ndef
        self.app = False
        self.file: bytes | None = None

    def apdu(self, cmd: bytes) -> bytes:
        """The response APDU (data + status word) to one command APDU."""
        if len(cmd) < 4:
            return b"\x67\x00"
        ins, p1, p2 = cmd[1], cmd[2], cmd[3]
        if ins == 0xA4 and p1 == 0x04:  # SELECT by name
            self.app = cmd[5 : 5 + cmd[4]] == _NDEF_AID if len(cmd) > 5 else False
            self.file = None
            return _OK if self.app else b"\x6a\x82"
        if ins == 0xA4 and p1 == 0x00 and self.app and len(cmd) >= 7:  # SELECT by file id
            fid = cmd[5:7]
            if fid == b"\xe1\x03":
                self.file = _CC
            elif fid == b"\xe1\x04":
                message = bytes(self.ndef())  # a fresh message per selection (the card's read counter)
                self.file = len(message).to_bytes(2, "big") + message
            else:
                return b"\x6a\x82"
            return _OK
        if ins == 0xB0 and self.file is not None:  # READ BINARY
            offset = (p1 << 8) | p2
            le = cmd[4] if len(cmd) > 4 else 256
            return self.file[offset : offset + (le or 256)] + _OK
        return b"\x6d\x00"


def _serve_type4(clf, target, ndef) -> None:
    """Answer one reader's ISO-DEP session (RATS, then I-blocks) until it stops talking to us."""
    import nfc.clf

    files = _Type4Files(ndef)
    cmd = target.tt4_cmd
    last = None
    while cmd:
        if cmd[0] == 0xE0:  # RATS
            rsp = _ATS
        elif cmd[0] & 0xE2 == 0x02:  # I-block, no chaining: answer with the same block number
            rsp = bytes([0x02 | (cmd[0] & 0x01)]) + files.apdu(bytes(cmd[1:]))
        elif cmd[0] & 0xF6 == 0xB2 and last is not None:  # R(NAK): presence check or a lost answer
            rsp = last
        elif cmd[0] & 0xF7 == 0xC2:  # S(DESELECT)
            clf.exchange(bytes(cmd[:1]), 0)
            return
        else:  # the reader polls again (SENS_REQ ...): the session is over; listen() answers it
            clf.device.pushback = (target.brty, cmd, target._addr)
            return
        last = rsp
        try:
            cmd = clf.exchange(rsp, 0.5)
        except nfc.clf.CommunicationError:  # RFOFF, silence: the reader moved on
            return


def emulate_card(
    uid_hex: str,
    host: str = "localhost",
    port: int = 54321,
    stop_event: threading.Event | None = None,
    *,
    technology: str = "iso14443a",
    ready: threading.Event | None = None,
    ndef=None,
) -> None:
    """Answer polls on ``udp:host:port`` as the card *uid_hex* until *stop_event* is set.

    *ready*, if given, is set once the port is bound, i.e. the card is in the field.
    *ndef*, if given, makes the card a Type 4A tag whose NDEF file holds ``ndef()``.
    """
    import nfc
    import nfc.clf

    uid = format_uid(uid_from_text(uid_hex))
    stop_event = stop_event or threading.Event()
    target = _local_target(uid, technology, type4=ndef is not None)
    clf = nfc.ContactlessFrontend()
    clf.device = _emulator_device(host, port, fix_cl3=technology == "iso14443a" and len(uid) == 20)
    try:
        log.debug("emulating %s card %s on udp:%s:%s", technology, uid, host, port)
        while not stop_event.is_set() and not clf.device.bind():
            stop_event.wait(0.1)  # another emulated card is on the reader
        if ready is not None:
            ready.set()
        while not stop_event.is_set():
            started = time.monotonic()
            try:
                # Returns None after the slice unless the reader sends a tag
                # command (it never does: it only senses), so this loop simply
                # keeps the emulated card in the field.
                activated = clf.listen(target, _LISTEN_SLICE)
                if activated is not None and ndef is not None and getattr(activated, "tt4_cmd", None):
                    _serve_type4(clf, activated, ndef)
            except nfc.clf.CommunicationError as error:  # RFOFF from the reader, garbage
                log.debug("emulator: %r", error)
            if time.monotonic() - started < 0.01:
                stop_event.wait(0.05)  # never spin, whatever listen() did
    finally:
        clf.close()


class EmulatedCard:
    """A card held on a ``udp`` reader for the duration of a with-block (runs a thread)."""

    def __init__(
        self,
        uid_hex: str,
        host: str = "localhost",
        port: int = 54321,
        *,
        technology: str = "iso14443a",
        ndef=None,
    ) -> None:
        """Prepare to emulate *uid_hex* on ``udp:host:port`` (a Type 4A tag if *ndef*, a callable, is given)."""
        self.uid = format_uid(uid_from_text(uid_hex))
        _local_target(self.uid, technology)  # validate now, not in the thread
        self.host, self.port, self.technology = host, port, technology
        self.ndef = ndef
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, wait: float = 2.0) -> EmulatedCard:
        """Put the card on the reader; wait up to *wait* seconds until it answers polls."""
        self.stop_event.clear()
        self.ready.clear()
        self._thread = threading.Thread(
            target=emulate_card,
            args=(self.uid, self.host, self.port, self.stop_event),
            kwargs={"technology": self.technology, "ready": self.ready, "ndef": self.ndef},
            name=f"nfc-emulator-{self.uid}",
            daemon=True,
        )
        self._thread.start()
        if not self.ready.wait(wait):
            log.warning("emulated card %s: port %s still busy after %.1f s", self.uid, self.port, wait)
        return self

    def stop(self) -> None:
        """Take the card off the reader (returns within about 0.1 s)."""
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> EmulatedCard:
        """Start emulating on entering the with-block."""
        return self.start()

    def __exit__(self, *exc_info) -> None:
        """Stop emulating on leaving the with-block."""
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """Command line: hold a card on a udp reader for a number of seconds."""
    parser = argparse.ArgumentParser(
        prog="python -m hardware.readers.nfc_emulator",
        description="Tap an emulated card on an nfcpy udp reader (spec nfc:udp:HOST:PORT).",
    )
    parser.add_argument("uid", help="card UID in hex, e.g. 04A1B2C3D4E5F6")
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=54321)
    parser.add_argument("--seconds", type=float, default=2.0, help="how long the card stays on the reader")
    parser.add_argument("--technology", choices=("iso14443a", "felica"), default="iso14443a")
    args = parser.parse_args(argv)
    try:
        card = EmulatedCard(args.uid, args.host, args.port, technology=args.technology)
    except (ReaderError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    with card:
        time.sleep(args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
