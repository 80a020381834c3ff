"""pyserial reader driver: ``serial:DEVICE?format=rdm6300|line&baud=N``.

DEVICE is anything ``serial.serial_for_url`` opens: ``/dev/ttyAMA0``,
``/dev/ttyUSB0``, ``/dev/privcard-reader``, a pseudo-terminal, or ``loop://``.
(Options after "?" belong to the spec, so pyserial's own URL parameters cannot
be used.) Named ``serialport`` so it never shadows the ``serial`` package.

Formats:

``rdm6300`` (default)
    RDM6300 / RDM630 / EM4100 125 kHz modules, 9600 8N1, frames of 14 bytes::

        STX(02) | 10 ASCII hex: 2 version + 8 tag | 2 ASCII hex checksum | ETX(03)

    The checksum is the XOR of the five data bytes. A frame with a bad checksum
    or a malformed frame is logged and dropped; bytes between frames are
    skipped; a frame may arrive split over several reads or several frames in
    one read. The UID is the 10 hex characters (5 bytes, version included),
    technology ``em4100``. The module repeats the frame while the tag stays in
    the field, hence the default ``release=1.0``.

``line``
    Readers that send ``UID\\r\\n`` (or ``\\n``, ``\\r``); technology ``line``.
    ``decimal=1`` converts a decimal UID (see :func:`hardware.readers.uid_from_text`),
    ``reverse=1`` swaps its byte order. Default ``release=0``.

Options: ``format``, ``baud`` (default 9600), ``release``, ``decimal``, ``reverse``.
"""

from __future__ import annotations

import logging
from functools import reduce

from hardware.readers import CardRead, ReaderError, ReaderSpec, format_uid, uid_from_text
from hardware.readers.base import ReopeningReader

log = logging.getLogger(__name__)

STX, ETX = 0x02, 0x03
FRAME_LEN = 14  # STX + 10 data + 2 checksum + ETX
_HEX = frozenset(b"0123456789ABCDEFabcdef")
# A line reader that never sends a newline must not grow the buffer forever.
MAX_LINE = 64
FORMATS = ("rdm6300", "line")


def rdm6300_frame(uid10: str) -> bytes:
    """The 14-byte RDM6300 frame for a 10-hex-character tag id (for demos and tests)."""
    data = bytes.fromhex(uid10)
    if len(data) != 5:
        raise ValueError(f"an EM4100 id is 5 bytes (10 hex characters), got {uid10!r}")
    checksum = reduce(lambda a, b: a ^ b, data)
    return bytes([STX]) + uid10.upper().encode("ascii") + f"{checksum:02X}".encode("ascii") + bytes([ETX])


def parse_rdm6300_stream(buffer: bytes) -> tuple[list[str], list[bytes], bytes]:
    """Split a byte stream into (UIDs of good frames, rejected frames, unparsed rest).

    Feed the returned rest back in front of the next bytes read. Garbage before an
    STX is skipped silently; a frame that starts with STX but is malformed (non-hex
    character, missing ETX) or fails its checksum is returned in *rejected* and
    scanning resumes at the byte after its STX.
    """
    uids: list[str] = []
    rejected: list[bytes] = []
    start = buffer.find(STX)
    while start != -1:
        frame = buffer[start : start + FRAME_LEN]
        # Find the first position that breaks the frame layout, if any.
        broken = None
        for offset in range(1, len(frame)):
            byte = frame[offset]
            if offset < FRAME_LEN - 1:
                if byte not in _HEX:
                    broken = offset
                    break
            elif byte != ETX:
                broken = offset
                break
        if broken is None and len(frame) < FRAME_LEN:
            return uids, rejected, buffer[start:]  # incomplete: wait for more bytes
        if broken is not None:
            # A new STX inside the frame means the previous frame was cut short:
            # resync on it. Either way the bytes so far are a rejected frame.
            rejected.append(bytes(frame[: broken + (0 if frame[broken] == STX else 1)]))
            start = buffer.find(STX, start + 1)
            continue
        text = frame[1:13].decode("ascii").upper()
        data = bytes.fromhex(text[:10])
        if reduce(lambda a, b: a ^ b, data) != int(text[10:12], 16):
            rejected.append(bytes(frame))
        else:
            uids.append(format_uid(data))
        start = buffer.find(STX, start + FRAME_LEN)
    return uids, rejected, b""


def parse_lines(buffer: bytes) -> tuple[list[str], bytes]:
    """Split a byte stream into complete lines (stripped, non-empty) and the unfinished rest."""
    lines: list[str] = []
    normalized = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    *complete, rest = normalized.split(b"\n")
    for raw in complete:
        text = raw.decode("ascii", errors="replace").strip()
        if text:
            lines.append(text)
    if len(rest) > MAX_LINE:
        log.warning("dropping %d bytes without a line end", len(rest))
        rest = b""
    return lines, rest


class SerialReader(ReopeningReader):
    """RDM6300 or line-oriented reader on a serial port (pyserial)."""

    OPTIONS = ("format", "baud", "release", "decimal", "reverse")

    def __init__(
        self,
        spec: str,
        url: str,
        *,
        format: str = "rdm6300",
        baud: int = 9600,
        release: float | None = None,
        decimal: bool = False,
        reverse: bool = False,
    ) -> None:
        """Open *url* at *baud* and parse *format* frames."""
        try:
            import serial  # pyserial
        except ImportError as error:
            raise ReaderError(f"{spec}: pyserial is not installed (pip install 'privcard[gate]'): {error}") from None
        if format not in FORMATS:
            raise ReaderError(f"{spec}: format must be rdm6300 or line, got {format!r}")
        self._serial = serial
        self.url = url
        self.format = format
        self.baud = baud
        self.decimal = decimal
        self.reverse = reverse
        self._port = None
        self._buffer = b""
        if release is None:
            release = 1.0 if format == "rdm6300" else 0.0
        super().__init__(spec, release=release)

    @classmethod
    def from_spec(cls, parsed: ReaderSpec) -> SerialReader:
        """Build from a parsed ``serial:`` spec, validating device and options."""
        parsed.check_options(cls.OPTIONS)
        if not parsed.target:
            raise parsed.error("serial reader needs a device, e.g. serial:/dev/ttyAMA0?format=rdm6300")
        fmt = parsed.options.get("format", "rdm6300")
        if fmt not in FORMATS:
            raise parsed.error(f"format must be rdm6300 or line, got {fmt!r}")
        baud = parsed.int_option("baud", 9600, low=300, high=4_000_000)
        release = parsed.float_option("release", 1.0 if fmt == "rdm6300" else 0.0, low=0.0, high=60.0)
        decimal = parsed.bool_option("decimal", False)
        reverse = parsed.bool_option("reverse", False)
        if fmt == "rdm6300" and ("decimal" in parsed.options or "reverse" in parsed.options):
            raise parsed.error("decimal and reverse apply to format=line only")
        return cls(parsed.spec, parsed.target, format=fmt, baud=baud, release=release, decimal=decimal, reverse=reverse)

    def _open(self) -> None:
        """Open the port; SerialException (an OSError) if the device is absent."""
        # exclusive=True takes a flock on POSIX ports so a second gate process
        # (or a stray `screen`) cannot steal half of the frames.
        kwargs = {"exclusive": True} if "://" not in self.url else {}
        self._port = self._serial.serial_for_url(self.url, baudrate=self.baud, timeout=0, **kwargs)
        self._buffer = b""
        log.info("%s: opened %s at %d baud (%s)", self.spec, self.url, self.baud, self.format)

    def _poll(self, wait: float) -> list[CardRead]:
        """Read what arrives within *wait* seconds and return the complete frames."""
        port = self._port
        if port.timeout != wait:  # pyserial applies a new timeout with tcsetattr()
            port.timeout = wait
        # Block for the first byte, then take whatever else is already queued.
        chunk = port.read(1)
        if chunk and port.in_waiting:
            chunk += port.read(port.in_waiting)
        if not chunk:
            return []
        self._buffer += chunk
        if self.format == "rdm6300":
            uids, rejected, self._buffer = parse_rdm6300_stream(self._buffer)
            for frame in rejected:
                log.warning("%s: rejected RDM6300 frame %r (bad checksum or malformed)", self.spec, frame)
            return [CardRead(uid=uid, technology="em4100") for uid in uids]
        lines, self._buffer = parse_lines(self._buffer)
        cards = []
        for line in lines:
            try:
                cards.append(
                    CardRead(
                        uid=format_uid(uid_from_text(line, decimal=self.decimal, reverse=self.reverse)),
                        technology="line",
                    )
                )
            except ValueError as error:
                log.warning("%s: ignored line: %s", self.spec, error)
        return cards

    def _release(self) -> None:
        """Close the port."""
        port, self._port = self._port, None
        if port is not None:
            port.close()
