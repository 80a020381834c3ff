"""The ``stdin`` reader: one UID per line from standard input.

For development (type UIDs into a running gate) and for end-to-end tests, which
drive a whole gate process by writing UIDs to its stdin pipe. Blank lines are
skipped, a line that is not a UID is logged and skipped, and end of input puts
the reader in state ``"closed"`` (read() then returns None at once, so a gate
can exit when its input ends). ``stdin?decimal=1`` accepts decimal UIDs as a
wedge reader types them (see :func:`hardware.readers.uid_from_text`).

The reader uses ``select`` + ``os.read`` on the file descriptor, so read(timeout)
honours its timeout on pipes and terminals alike; a stream without a descriptor
(``io.StringIO``) is read line by line instead.
"""

from __future__ import annotations

import logging
import os
import select
import sys
import threading
import time
from typing import TextIO

from hardware.readers import CardRead, CardReader, ReaderSpec, format_uid, uid_from_text
from hardware.readers.serialport import parse_lines

log = logging.getLogger(__name__)

_SLICE = 0.2  # longest select() wait, so close() from another thread is noticed


class StdinReader(CardReader):
    """Reads card UIDs, one per line, from a text stream (default ``sys.stdin``)."""

    OPTIONS = ("decimal",)

    def __init__(self, spec: str = "stdin", stream: TextIO | None = None, *, decimal: bool = False) -> None:
        """Read from *stream*, or from ``sys.stdin`` as it is when read() is first called."""
        self.spec = spec
        self.state = "ok"
        self.decimal = decimal
        self._stream = stream
        self._buffer = b""
        self._lines: list[str] = []
        self._closed = threading.Event()

    @classmethod
    def from_spec(cls, parsed: ReaderSpec) -> StdinReader:
        """Build from a parsed ``stdin`` spec."""
        parsed.check_options(cls.OPTIONS)
        if parsed.target:
            raise parsed.error("stdin takes no device")
        return cls(parsed.spec, decimal=parsed.bool_option("decimal", False))

    def read(self, timeout: float | None = None) -> CardRead | None:
        """Next valid UID line within *timeout* seconds; None on timeout, EOF or close."""
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        while not self._closed.is_set():
            while self._lines:
                card = self._to_card(self._lines.pop(0))
                if card is not None:
                    return card
            if self.state == "closed":
                return None
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining < 0:
                return None
            self._fill(_SLICE if remaining is None else min(_SLICE, remaining))
        return None

    def close(self) -> None:
        """Stop reading (the stream itself is left open: it is usually sys.stdin)."""
        self._closed.set()
        self.state = "closed"

    def _to_card(self, line: str) -> CardRead | None:
        """A CardRead for one line, or None (logged) if it is not a UID."""
        try:
            return CardRead(uid=format_uid(uid_from_text(line, decimal=self.decimal)), technology="stdin")
        except ValueError as error:
            log.warning("stdin: ignored line: %s", error)
            return None

    def _fill(self, wait: float) -> None:
        """Move complete lines from the stream into the line queue, waiting up to *wait*."""
        stream = self._stream if self._stream is not None else sys.stdin
        try:
            fd = stream.fileno()
        except (AttributeError, OSError, ValueError):
            fd = None
        if fd is None:
            line = stream.readline()
            if not line:
                self._eof()
            elif line.strip():
                self._lines.append(line.strip())
            return
        ready, _, _ = select.select([fd], [], [], wait)
        if not ready:
            return
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError as error:  # e.g. EIO when the controlling terminal went away
            log.warning("stdin: %s; treating as end of input", error)
            data = b""
        if not data:
            if self._buffer.strip():
                self._lines.append(self._buffer.decode("ascii", errors="replace").strip())
            self._buffer = b""
            self._eof()
            return
        lines, self._buffer = parse_lines(self._buffer + data)
        self._lines.extend(lines)

    def _eof(self) -> None:
        """End of input: the reader is closed for good."""
        log.info("stdin: end of input")
        self.state = "closed"
