"""Fuzz the bus-contract parsers: anything in, only a parsed object or ContractError out.

Every payload a device or the server can receive goes through one of these parsers;
a parser that raises anything else would crash (or, on the server, stall) the
process that received it. Accepted payloads must survive encode → parse unchanged.
"""

from __future__ import annotations

import base64
import json
import zlib

from hypothesis import given
from hypothesis import strategies as st

from broker import contract
from broker.contract import Allowlist, ContractError, DeviceConfig, Feedback, Query, Status, Tap, TapResult
from tests.fuzz.fuzzlib import VALID, encodings, fuzz_settings, mutated, payloads


def _parse_or_reject(cls, payload):
    try:
        obj = cls.parse(payload)
    except ContractError as exc:
        assert str(exc), "a rejection must say why"
        if exc.ref is not None:
            assert contract.TAP_ID_RE.match(exc.ref)
        return None
    assert isinstance(obj, cls)
    again = cls.parse(obj.encode())
    if cls is Allowlist:  # generated_at is filled in on encode when absent
        again, obj = (again.version, again.uids), (obj.version, obj.uids)
    assert again == obj, f"{cls.__name__} does not survive encode/parse: {obj!r} -> {again!r}"
    return obj


@fuzz_settings()
@given(payloads("tap"))
def test_tap_parse(payload):
    tap = _parse_or_reject(Tap, payload)
    if tap is not None:
        assert contract.TAP_ID_RE.match(tap.tap_id) and contract.UID_RE.match(tap.uid)
        assert tap.at.utcoffset() is not None
        assert len(tap.encode()) <= contract.MAX_DEVICE_PAYLOAD


@fuzz_settings()
@given(payloads("query"))
def test_query_parse(payload):
    _parse_or_reject(Query, payload)


@fuzz_settings()
@given(st.one_of(payloads("feedback"), payloads("feedback_written")))
def test_feedback_parse(payload):
    fb = _parse_or_reject(Feedback, payload)
    if fb is not None:
        # a rating alone (old kiosks), or a written message whose rating may be absent (issue 14)
        assert (fb.rating is not None and 1 <= fb.rating <= 5) or (fb.rating is None and fb.text is not None)
        if fb.text is not None:
            assert fb.category in contract.FEEDBACK_CATEGORIES
            assert 1 <= len(fb.text) <= contract.MAX_FEEDBACK_TEXT and fb.text == fb.text.strip()


@fuzz_settings()
@given(payloads("status"))
def test_status_parse(payload):
    st_ = _parse_or_reject(Status, payload)
    if st_ is not None:
        assert st_.state in ("online", "offline")


@fuzz_settings()
@given(payloads("config"))
def test_device_config_parse(payload):
    cfg = _parse_or_reject(DeviceConfig, payload)
    if cfg is not None:
        contract.check_device_id(cfg.device_id)
        assert cfg.kind in contract.DEVICE_KINDS


def _allowlist_blob(raw: bytes) -> str:
    return base64.b64encode(zlib.compress(raw)).decode()


@st.composite
def allowlists(draw):
    good = Allowlist(version=7, uids=frozenset(["04A1B2C3", "04A1B2C3D4"])).to_dict()
    variant = draw(st.integers(0, 3))
    if variant == 0:
        good["uids"] = _allowlist_blob(draw(st.binary(max_size=200)))
    elif variant == 1:
        good["uids"] = draw(st.text(max_size=80))
    elif variant == 2:
        good["count"] = draw(st.integers(-3, 5))
        good["uids"] = _allowlist_blob("\n".join(draw(st.lists(st.text(max_size=12), max_size=6))).encode("utf-8"))
    return draw(mutated(good).flatmap(encodings))


@fuzz_settings()
@given(st.one_of(payloads("allowlist"), allowlists()))
def test_allowlist_parse(payload):
    _parse_or_reject(Allowlist, payload)


@fuzz_settings()
@given(payloads("result"))
def test_result_parse(payload):
    try:
        TapResult.parse(payload)
    except ContractError:
        pass


@fuzz_settings()
@given(st.text(max_size=120))
def test_topic_and_uid_helpers(text):
    for fn in (contract.parse_topic, contract.normalise_uid, contract.check_device_id, contract.parse_time):
        try:
            fn(text)
        except ContractError:
            pass


def test_known_bad_inputs_are_controlled_rejections():
    """Regression seeds found by fuzzing."""
    for cls in (Tap, Query, Feedback, Status, DeviceConfig, Allowlist, TapResult):
        for payload in (
            b"[" * 2000 + b"]" * 2000,
            b'{"a":' * 900 + b"1" + b"}" * 900,
            b"\xff\xfe",
            b'{"v":1,"version":' + b"9" * 5000 + b"}",
            json.dumps(VALID["tap"]).encode("utf-16"),
            "\ud800",
            '{"v":1,"tap_id":"\udcff"}',
        ):
            try:
                cls.parse(payload)
            except ContractError:
                pass
    bad_ascii = Allowlist(version=1, uids=frozenset(["04A1B2C3"])).to_dict()
    bad_ascii["uids"] = _allowlist_blob("04A1B2C3\nก".encode())
    try:
        Allowlist.parse(json.dumps(bad_ascii))
    except ContractError:
        pass
