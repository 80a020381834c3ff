"""The serial reader on pseudo-terminals: RDM6300 frames and lines through real pyserial.

The test holds the pty master (the "module" side) and the reader opens the slave
path, exactly as it opens /dev/ttyAMA0 on a gate.
"""

from __future__ import annotations

import logging
import os
import time

import pytest

pytest.importorskip("serial")

from hardware.readers import CardRead, ReaderError, open_reader
from hardware.readers.serialport import rdm6300_frame

# The RDM6300 datasheet's example frame: tag 62E3086CED, checksum 08.
FRAME_A = b"\x0262E3086CED08\x03"
FRAME_B = rdm6300_frame("0400E1E3A1")


class Pty:
    """A pseudo-terminal whose master end the test writes to."""

    def __init__(self) -> None:
        """Open a pty; the slave fd is closed so only the reader holds the slave."""
        self.master, slave = os.openpty()
        self.path = os.ttyname(slave)
        os.close(slave)

    def write(self, data: bytes) -> None:
        """Send bytes as the reader module would."""
        os.write(self.master, data)

    def close(self) -> None:
        """Hang up: the slave side now fails with EIO, like an unplugged USB-serial adapter."""
        if self.master is not None:
            os.close(self.master)
            self.master = None


@pytest.fixture
def pty():
    """A pseudo-terminal, closed afterwards."""
    pty = Pty()
    yield pty
    pty.close()


def open_serial(spec: str):
    """Open a reader and check it is up."""
    reader = open_reader(spec)
    assert reader.state == "ok", reader
    return reader


def test_good_rdm6300_frames_are_read(pty):
    with open_serial(f"serial:{pty.path}?format=rdm6300&release=0") as reader:
        pty.write(FRAME_A)
        assert reader.read(timeout=2) == CardRead(uid="62E3086CED", technology="em4100")
        pty.write(FRAME_B)
        assert reader.read(timeout=2).uid == "0400E1E3A1"
        assert reader.read(timeout=0.2) is None


def test_a_corrupt_checksum_is_rejected_and_logged(pty, caplog):
    corrupt = FRAME_A[:11] + b"09\x03"
    with open_serial(f"serial:{pty.path}?format=rdm6300") as reader, caplog.at_level(logging.WARNING):
        pty.write(corrupt)
        assert reader.read(timeout=0.5) is None
        pty.write(FRAME_B)
        assert reader.read(timeout=2).uid == "0400E1E3A1"
    assert "rejected RDM6300 frame" in caplog.text


def test_a_frame_split_in_three_pieces_is_one_card(pty):
    with open_serial(f"serial:{pty.path}") as reader:  # format=rdm6300 is the default
        for piece in (FRAME_A[:4], FRAME_A[4:9], FRAME_A[9:]):
            pty.write(piece)
            time.sleep(0.05)
        assert reader.read(timeout=2).uid == "62E3086CED"
        assert reader.read(timeout=0.2) is None


def test_two_frames_in_one_write_are_two_cards_with_garbage_skipped(pty):
    with open_serial(f"serial:{pty.path}?format=rdm6300") as reader:
        pty.write(b"\x00\xffjunk" + FRAME_A + b"\r\n" + FRAME_B)
        assert reader.read(timeout=2).uid == "62E3086CED"
        assert reader.read(timeout=2).uid == "0400E1E3A1"


def test_a_repeating_module_is_one_tap_per_presentation(pty):
    # RDM6300 clones repeat the frame while the tag stays in the field.
    with open_serial(f"serial:{pty.path}?format=rdm6300&release=0.5") as reader:
        pty.write(FRAME_A)
        assert reader.read(timeout=2).uid == "62E3086CED"
        for _ in range(4):
            time.sleep(0.1)
            pty.write(FRAME_A)
        assert reader.read(timeout=0.3) is None
        time.sleep(0.6)  # tag taken away
        pty.write(FRAME_A)
        assert reader.read(timeout=2).uid == "62E3086CED"


def test_line_format_reads_hex_and_skips_junk(pty):
    with open_serial(f"serial:{pty.path}?format=line&baud=115200") as reader:
        pty.write(b"04a1b2c3d4e5f6\r\nhello\r\n")
        assert reader.read(timeout=2) == CardRead(uid="04A1B2C3D4E5F6", technology="line")
        pty.write(b"A1B2")
        time.sleep(0.05)
        pty.write(b"C3D4\n")
        assert reader.read(timeout=2).uid == "A1B2C3D4"
        assert reader.read(timeout=0.2) is None


def test_line_format_with_decimal_readers(pty):
    with open_serial(f"serial:{pty.path}?format=line&decimal=1") as reader:
        pty.write(b"2558070133\r\n")
        assert reader.read(timeout=2).uid == "98790D75"


def test_reader_survives_the_pty_going_away_and_comes_back(tmp_path):
    # A stable name (like udev's /dev/privcard-reader) pointing at the current pty.
    link = tmp_path / "ttyRDM"
    first = Pty()
    os.symlink(first.path, link)
    reader = open_serial(f"serial:{link}?format=rdm6300&release=0")
    try:
        first.write(FRAME_A)
        assert reader.read(timeout=2).uid == "62E3086CED"

        first.close()  # "unplugged"
        assert reader.read(timeout=0.5) is None  # no exception
        assert reader.state == "reopening"

        second = Pty()
        try:
            os.replace(_new_link(tmp_path, second.path), link)
            deadline = time.monotonic() + 5
            while reader.state != "ok" and time.monotonic() < deadline:
                reader.read(timeout=0.2)
            assert reader.state == "ok"
            second.write(FRAME_B)
            assert reader.read(timeout=2).uid == "0400E1E3A1"
        finally:
            second.close()
    finally:
        reader.close()
    assert reader.state == "closed"


def _new_link(directory, target: str):
    """A fresh symlink to *target* in *directory*, for an atomic os.replace."""
    tmp = directory / "ttyRDM.new"
    os.symlink(target, tmp)
    return tmp


def test_a_missing_device_starts_reopening_instead_of_failing():
    reader = open_reader("serial:/dev/ttyPRIVCARD-missing?format=rdm6300")
    try:
        assert reader.state == "reopening"
        started = time.monotonic()
        assert reader.read(timeout=0.3) is None
        assert time.monotonic() - started < 1.0
    finally:
        reader.close()


def test_bad_serial_specs_raise_reader_error(pty):
    with pytest.raises(ReaderError, match="format must be rdm6300 or line"):
        open_reader(f"serial:{pty.path}?format=wiegand")
    with pytest.raises(ReaderError, match="option baud must be between"):
        open_reader(f"serial:{pty.path}?baud=0")


def test_pyserial_loop_url_opens_as_a_reader():
    with open_serial("serial:loop://?format=line") as reader:
        assert reader.read(timeout=0.1) is None
        assert reader.state == "ok"
