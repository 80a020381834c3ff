"""Reader specs, UID normalisation, the stdin/fake readers and the pure frame parsers."""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from datetime import UTC

import pytest

from hardware import readers as hardware_readers
from hardware.readers import (
    CardRead,
    ReaderError,
    decimal_to_hex,
    format_uid,
    open_reader,
    parse_spec,
    uid_from_text,
)
from hardware.readers.base import ArrivalFilter, Backoff
from hardware.readers.fake import FakeReader
from hardware.readers.serialport import parse_lines, parse_rdm6300_stream, rdm6300_frame
from hardware.readers.stdin import StdinReader

# The worked example of the RDM6300 datasheet: tag 62E3086CED, checksum
# 62^E3^08^6C^ED = 08.
DATASHEET_FRAME = b"\x02" + b"62E3086CED" + b"08" + b"\x03"


# -- specs ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "spec, kind, target, options",
    [
        ("nfc:usb", "nfc", "usb", {}),
        ("nfc:usb:072f:2200", "nfc", "usb:072f:2200", {}),
        ("nfc:tty:AMA0:pn532", "nfc", "tty:AMA0:pn532", {}),
        ("nfc:udp:localhost:54321?targets=106A,212F", "nfc", "udp:localhost:54321", {"targets": "106A,212F"}),
        (
            "serial:/dev/ttyAMA0?format=rdm6300&baud=9600",
            "serial",
            "/dev/ttyAMA0",
            {"format": "rdm6300", "baud": "9600"},
        ),
        ("serial:loop://?format=line", "serial", "loop://", {"format": "line"}),
        ("hid:/dev/input/event3?decimal=0", "hid", "/dev/input/event3", {"decimal": "0"}),
        ("stdin", "stdin", "", {}),
        ("FAKE", "fake", "", {}),
    ],
)
def test_parse_spec_splits_kind_target_and_options(spec, kind, target, options):
    parsed = parse_spec(spec)
    assert (parsed.kind, parsed.target, parsed.options) == (kind, target, options)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("", "non-empty"),
        ("bogus:/dev/x", "unknown reader kind 'bogus'"),
        ("nfc:", "nfc reader path must be"),
        ("nfc:usb:zz", "nfc reader path must be"),
        ("nfc:tty:AMA0:pn999", "unknown serial NFC driver 'pn999'"),
        ("nfc:udp:localhost:99999", "udp port must be 1-65535"),
        ("nfc:usb?targets=106A,999X", "targets must be a comma list"),
        ("nfc:usb?interval=soon", "option interval must be a number"),
        ("nfc:usb?colour=red", "unknown option 'colour'"),
        ("serial:", "needs a device"),
        ("serial:/dev/ttyS0?format=wiegand", "format must be rdm6300 or line"),
        ("serial:/dev/ttyS0?baud=fast", "option baud must be an integer"),
        ("serial:/dev/ttyS0?baud=9600&baud=115200", "given twice"),
        ("serial:/dev/ttyS0?decimal=1", "apply to format=line only"),
        ("serial:/dev/ttyS0?baud", "options must look like"),
        ("hid:event3", "input device path"),
        ("hid:/dev/input/event3?decimal=maybe", "option decimal must be 1 or 0"),
        ("stdin:/dev/tty", "stdin takes no device"),
        ("fake?speed=1", "unknown option 'speed'"),
    ],
)
def test_bad_specs_raise_reader_error_quoting_the_problem(spec, message):
    with pytest.raises(ReaderError, match=message.replace("?", r"\?").replace("(", r"\(")):
        open_reader(spec)


# -- UIDs ----------------------------------------------------------------------------
def test_decimal_wedge_output_becomes_hex_of_the_4_byte_value():
    assert decimal_to_hex("2558070133") == "98790D75"
    assert decimal_to_hex("0000000123") == "0000007B"
    assert format_uid(uid_from_text("2558070133", decimal=True)) == "98790D75"


def test_digits_that_are_not_a_32_bit_number_stay_hex():
    # Larger than 0xFFFFFFFF: must be an all-digit 5-byte hex UID (e.g. EM4100).
    assert decimal_to_hex("4294967296") is None
    assert format_uid(uid_from_text("4294967296", decimal=True)) == "4294967296"
    assert decimal_to_hex("12345678901") is None  # 11 digits
    assert format_uid(uid_from_text("2558070133", decimal=False)) == "2558070133"


def test_uid_from_text_uppercases_drops_separators_and_reverses():
    assert format_uid(uid_from_text("04:a2:b3:c4")) == "04A2B3C4"
    assert format_uid(uid_from_text(" 04-a2-b3-c4-d5-e6-f7\n")) == "04A2B3C4D5E6F7"
    assert format_uid(uid_from_text("2558070133", decimal=True, reverse=True)) == "750D7998"


@pytest.mark.parametrize("text", ["", "XYZXYZXY", "ABCDEF", "ABCDEF123", "00" * 11, "0x04A2B3C4"])
def test_uid_from_text_rejects_what_is_not_4_to_10_bytes_of_hex(text):
    with pytest.raises(ValueError, match="not a card UID"):
        uid_from_text(text)


def _fake_read() -> str:
    reader = FakeReader()
    reader.present("04:a1:b2:c3")
    return reader.read(timeout=1).uid


@pytest.mark.parametrize(
    "reported",
    [
        _fake_read,
        lambda: StdinReader(stream=io.StringIO(" 04-a2-b3-c4-d5-e6-f7\n")).read(timeout=1).uid,
        lambda: format_uid(uid_from_text("2558070133", decimal=True, reverse=True)),  # a wedge reader
        lambda: format_uid(bytes(range(1, 11))),  # what the nfc reader makes of 10 sensed bytes
        lambda: parse_rdm6300_stream(DATASHEET_FRAME)[0][0],
    ],
    ids=["fake", "stdin", "hid-decimal-reversed", "nfc-bytes", "rdm6300"],
)
def test_what_a_reader_reports_is_the_uid_the_server_expects(reported):
    """The contract's normaliser (the only one) leaves a reported UID unchanged, and the wire accepts it."""
    from datetime import datetime

    from broker import contract

    uid = reported()
    assert contract.normalise_uid(uid) == uid
    assert contract.UID_RE.pattern == hardware_readers._UID_RE.pattern
    tap = contract.Tap("gate-1:1", uid, datetime(2025, 1, 6, 9, tzinfo=UTC), True)
    assert contract.Tap.parse(tap.encode()).uid == uid
    assert contract.Query.parse(contract.Query("q-1", uid).encode()).uid == uid


def test_card_read_refuses_lower_case_and_unknown_technology():
    with pytest.raises(ReaderError):
        CardRead(uid="04a2b3c4", technology="iso14443a")
    with pytest.raises(ReaderError, match="unknown technology"):
        CardRead(uid="04A2B3C4", technology="wiegand")


# -- presentation filter and backoff --------------------------------------------------
def test_arrival_filter_reports_a_card_once_per_presentation():
    arrivals = ArrivalFilter(release=1.0)
    assert arrivals.arrived("AAAAAAAA", 0.0)
    assert not arrivals.arrived("AAAAAAAA", 0.2)  # still on the reader
    assert not arrivals.arrived("AAAAAAAA", 1.1)  # 0.9 s after the previous sighting
    assert arrivals.arrived("BBBBBBBB", 1.2)  # another card
    assert arrivals.arrived("AAAAAAAA", 1.3)  # back again after another card
    assert arrivals.arrived("AAAAAAAA", 2.5)  # gone for more than a second
    every = ArrivalFilter(release=0)
    assert every.arrived("AAAAAAAA", 0.0) and every.arrived("AAAAAAAA", 0.0)


def test_backoff_doubles_from_half_a_second_up_to_ten():
    backoff = Backoff()
    assert [backoff.next_delay() for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


# -- RDM6300 and line parsers ---------------------------------------------------------
def test_rdm6300_frame_builder_matches_the_datasheet_example():
    assert rdm6300_frame("62e3086ced") == DATASHEET_FRAME


def test_rdm6300_parser_reads_a_good_frame():
    assert parse_rdm6300_stream(DATASHEET_FRAME) == (["62E3086CED"], [], b"")


def test_rdm6300_parser_rejects_a_bad_checksum():
    corrupt = DATASHEET_FRAME[:11] + b"09" + b"\x03"
    uids, rejected, rest = parse_rdm6300_stream(corrupt + DATASHEET_FRAME)
    assert uids == ["62E3086CED"]
    assert rejected == [corrupt]
    assert rest == b""


def test_rdm6300_parser_keeps_a_split_frame_until_complete():
    uids, rejected, rest = parse_rdm6300_stream(DATASHEET_FRAME[:5])
    assert (uids, rejected, rest) == ([], [], DATASHEET_FRAME[:5])
    uids, rejected, rest = parse_rdm6300_stream(rest + DATASHEET_FRAME[5:11])
    assert (uids, rest) == ([], DATASHEET_FRAME[:11])
    uids, rejected, rest = parse_rdm6300_stream(rest + DATASHEET_FRAME[11:])
    assert (uids, rejected, rest) == (["62E3086CED"], [], b"")


def test_rdm6300_parser_handles_concatenated_frames_and_garbage():
    other = rdm6300_frame("0400E1E3A1")
    stream = b"\xff\x00noise" + DATASHEET_FRAME + b"\r\n\x03" + other + b"zz" + other[:3]
    uids, rejected, rest = parse_rdm6300_stream(stream)
    assert uids == ["62E3086CED", "0400E1E3A1"]
    assert rejected == []
    assert rest == other[:3]


def test_rdm6300_parser_resyncs_on_a_frame_cut_short():
    cut = DATASHEET_FRAME[:6]
    uids, rejected, rest = parse_rdm6300_stream(cut + DATASHEET_FRAME)
    assert uids == ["62E3086CED"]
    assert rejected == [cut]
    assert rest == b""


def test_rdm6300_parser_rejects_non_hex_and_missing_etx():
    non_hex = b"\x0262E3086CEG08\x03"
    no_etx = DATASHEET_FRAME[:13] + b"X"
    uids, rejected, _rest = parse_rdm6300_stream(non_hex + no_etx + DATASHEET_FRAME)
    assert uids == ["62E3086CED"]
    assert len(rejected) == 2


def test_line_parser_splits_on_any_line_end():
    lines, rest = parse_lines(b"04A1B2C3\r\n\r\nA1B2C3D4\rDEADBEEF\nCAFE")
    assert lines == ["04A1B2C3", "A1B2C3D4", "DEADBEEF"]
    assert rest == b"CAFE"


# -- stdin reader ------------------------------------------------------------------------
@pytest.fixture
def stdin_pipe(monkeypatch):
    """sys.stdin replaced by the read end of a pipe; yields a writer for the other end."""
    read_fd, write_fd = os.pipe()
    stream = os.fdopen(read_fd, "r")
    monkeypatch.setattr(sys, "stdin", stream)
    writer = os.fdopen(write_fd, "wb", buffering=0)
    yield writer
    if not writer.closed:
        writer.close()
    stream.close()


def test_stdin_reader_reads_uids_line_by_line_from_a_pipe(stdin_pipe):
    reader = open_reader("stdin")
    stdin_pipe.write(b"04a1b2c3\nnot-a-card\n\nA1:B2:C3:D4\n")
    assert reader.read(timeout=2) == CardRead("04A1B2C3", "stdin")
    assert reader.read(timeout=2) == CardRead("A1B2C3D4", "stdin")  # bad line skipped
    stdin_pipe.write(b"DEAD")
    assert reader.read(timeout=0.2) is None  # half a line is not a card yet
    stdin_pipe.write(b"BEEF\n")
    assert reader.read(timeout=2).uid == "DEADBEEF"
    assert reader.state == "ok"


def test_stdin_reader_times_out_then_closes_at_end_of_input(stdin_pipe):
    reader = open_reader("stdin")
    started = time.monotonic()
    assert reader.read(timeout=0.3) is None
    assert 0.25 <= time.monotonic() - started < 1.0
    stdin_pipe.write(b"2558070133")
    stdin_pipe.close()
    # The last line needs no newline; then EOF closes the reader.
    assert reader.read(timeout=2).uid == "2558070133"
    assert reader.read(timeout=2) is None
    assert reader.state == "closed"


def test_stdin_reader_decimal_option_and_text_streams():
    reader = StdinReader(stream=io.StringIO("2558070133\n\nzz\n04A1B2C3\n"), decimal=True)
    assert reader.read(1).uid == "98790D75"
    assert reader.read(1).uid == "04A1B2C3"
    assert reader.read(1) is None and reader.state == "closed"


def test_stdin_reader_close_from_another_thread_unblocks_read(stdin_pipe):
    reader = open_reader("stdin")
    threading.Timer(0.2, reader.close).start()
    started = time.monotonic()
    assert reader.read() is None
    assert time.monotonic() - started < 2
    assert reader.state == "closed"


# -- fake reader -----------------------------------------------------------------------
def test_fake_reader_returns_presented_cards_in_order():
    reader = open_reader("fake")
    assert isinstance(reader, FakeReader)
    reader.present("04a1b2c3")
    reader.present("0102030405060708", technology="felica")
    assert reader.read(timeout=1) == CardRead("04A1B2C3", "iso14443a")
    assert reader.read(timeout=1) == CardRead("0102030405060708", "felica")
    assert reader.read(timeout=0.05) is None
    assert reader.reads == 2


def test_fake_reader_is_thread_safe_and_close_wakes_a_blocked_read():
    reader = FakeReader()
    threading.Timer(0.1, reader.present, args=("A1B2C3D4",)).start()
    assert reader.read(timeout=2).uid == "A1B2C3D4"
    threading.Timer(0.1, reader.close).start()
    started = time.monotonic()
    assert reader.read() is None
    assert time.monotonic() - started < 1
    assert reader.state == "closed"


def test_fake_reader_unplugged_loses_taps_and_rejects_bad_uids():
    reader = FakeReader()
    reader.unplug()
    assert reader.state == "reopening"
    reader.present("A1B2C3D4")
    reader.replug()
    assert reader.read(timeout=0.05) is None
    with pytest.raises(ReaderError, match="not a card UID"):
        reader.present("hello")


# -- nfcpy targets to UIDs (nfcpy's own RemoteTarget objects) ---------------------------
def test_uids_from_nfcpy_sense_results():
    nfc_clf = pytest.importorskip("nfc.clf")
    from hardware.readers.nfc import uid_from_target

    type_a = nfc_clf.RemoteTarget(
        "106A", sens_res=b"\x44\x00", sel_res=b"\x00", sdd_res=bytes.fromhex("04497622D93881")
    )
    assert uid_from_target(type_a) == CardRead("04497622D93881", "iso14443a")
    type_b = nfc_clf.RemoteTarget("106B", sensb_res=bytes.fromhex("50E5DD3DC900000011008185"))
    assert uid_from_target(type_b) == CardRead("E5DD3DC9", "iso14443b")
    felica = nfc_clf.RemoteTarget("212F", sensf_res=bytes.fromhex("0101010601B00ADE0B03014B024F4993FF12FC"))
    assert uid_from_target(felica) == CardRead("01010601B00ADE0B", "felica")
    topaz = nfc_clf.RemoteTarget("106A", sens_res=b"\x00\x0c", rid_res=bytes.fromhex("1148B2565400"))
    assert uid_from_target(topaz) == CardRead("B2565400", "iso14443a")
    phone_p2p = nfc_clf.RemoteTarget("106A", sens_res=b"\x04\x00", sel_res=b"\x60", sdd_res=bytes.fromhex("08796BEB"))
    assert uid_from_target(phone_p2p) is None
    felica_p2p = nfc_clf.RemoteTarget("212F", sensf_res=bytes.fromhex("0101FE1444EFB88FD50000000000000000"))
    assert uid_from_target(felica_p2p) is None


# -- keyboard wedge (evdev's own key codes and events) -----------------------------------
def test_wedge_keystrokes_become_a_card_uid():
    evdev = pytest.importorskip("evdev")
    from hardware.readers.hid import KeyAccumulator, key_name

    ecodes = evdev.ecodes
    keys = KeyAccumulator()
    typed = [ecodes.KEY_LEFTSHIFT] + [getattr(ecodes, f"KEY_{c}") for c in "2558070133"] + [ecodes.KEY_ENTER]
    lines = []
    for code in typed:
        event = evdev.InputEvent(0, 0, ecodes.EV_KEY, code, 1)
        line = keys.feed(key_name(ecodes, event.code), now=0.0)
        if line is not None:
            lines.append(line)
    assert lines == ["2558070133"]
    assert format_uid(uid_from_text(lines[0], decimal=True)) == "98790D75"
    # Keypad digits, hex letters and KPENTER work too; stale half-lines are dropped.
    assert keys.feed("KEY_9", now=10.0) is None
    for name in ["KEY_KP0", "KEY_4", "KEY_A", "KEY_B", "KEY_1", "KEY_2", "KEY_C", "KEY_D"]:
        keys.feed(name, now=12.0)
    assert keys.feed("KEY_KPENTER", now=12.0) == "04AB12CD"


def test_hid_reader_without_its_device_starts_reopening_and_converts_lines():
    pytest.importorskip("evdev")
    reader = open_reader("hid:/dev/input/event-privcard-missing")
    try:
        assert reader.state == "reopening"
        assert reader.read(timeout=0.1) is None
        assert reader.line_to_card("2558070133") == CardRead("98790D75", "hid")
        assert reader.line_to_card("hello") is None
    finally:
        reader.close()
    assert reader.state == "closed"
    raw = open_reader("hid:/dev/input/event-privcard-missing?decimal=0&reverse=1")
    assert raw.line_to_card("2558070133") == CardRead("3301075825", "hid")
    raw.close()
