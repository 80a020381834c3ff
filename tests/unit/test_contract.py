"""The bus contract v1 (docs/protocol.md): parsing, precise errors, serialisation round trips."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from broker import contract
from broker.contract import (
    MAX_DEVICE_PAYLOAD,
    Allowlist,
    Answer,
    ContractError,
    DeviceConfig,
    Feedback,
    Query,
    Status,
    Tap,
    TapResult,
)

GOOD_TAP = {"v": 1, "tap_id": "gate-1:42", "uid": "04A1B2C3D4E5F6", "at": "2026-11-22T10:00:00+07:00", "clock_ok": True}


def tap_payload(**changes) -> bytes:
    data = dict(GOOD_TAP)
    for key, value in changes.items():
        if value is ...:
            data.pop(key)
        else:
            data[key] = value
    return json.dumps(data).encode()


def refused(payload, parser=Tap.parse) -> ContractError:
    with pytest.raises(ContractError) as info:
        parser(payload)
    return info.value


# --------------------------------------------------------------------------- topics


def test_topic_builders_and_parser_round_trip():
    assert contract.tap_topic("gate-1") == "privcard/dev/gate-1/tap"
    assert contract.result_topic("gate-1") == "privcard/dev/gate-1/result"
    assert contract.query_topic("kiosk_2") == "privcard/dev/kiosk_2/query"
    assert contract.answer_topic("kiosk_2") == "privcard/dev/kiosk_2/answer"
    assert contract.config_topic("g") == "privcard/dev/g/config"
    assert contract.status_topic("g") == "privcard/dev/g/status"
    assert contract.allowlist_topic() == "privcard/allowlist"
    assert contract.tap_topic("g", prefix="lib2") == "lib2/dev/g/tap"
    assert contract.device_wildcard("tap") == "privcard/dev/+/tap"
    t = contract.parse_topic("privcard/dev/gate-1/tap")
    assert (t.prefix, t.device_id, t.kind) == ("privcard", "gate-1", "tap")
    assert str(t) == "privcard/dev/gate-1/tap"


@pytest.mark.parametrize(
    "topic, words",
    [
        ("privcard/dev/gate-1", "not a device topic"),
        ("other/dev/gate-1/tap", "not a device topic"),
        ("privcard/dev/gate-1/tap/extra", "not a device topic"),
        ("privcard/dev/gate 1/tap", "device id must be"),
        ("privcard/dev/gate-1/bogus", "unknown topic kind 'bogus'"),
    ],
)
def test_parse_topic_refuses(topic, words):
    with pytest.raises(ContractError, match=words):
        contract.parse_topic(topic)


@pytest.mark.parametrize("device_id", ["", "a" * 65, "gate/1", "gate+", "gate#", "gäte", 7, None])
def test_device_id_rules(device_id):
    with pytest.raises(ContractError, match="device id must be 1-64 characters"):
        contract.check_device_id(device_id)


def test_device_id_limits_accepted():
    assert contract.check_device_id("a" * 64) == "a" * 64
    assert contract.check_device_id("Gate_1-x") == "Gate_1-x"
    with pytest.raises(ContractError, match="unknown topic kind"):
        contract.device_topic("gate-1", "nope")


# --------------------------------------------------------------------------- tap parsing


def test_good_tap_parses_to_typed_fields():
    tap = Tap.parse(tap_payload())
    assert tap.tap_id == "gate-1:42"
    assert tap.uid == "04A1B2C3D4E5F6"
    assert tap.at == datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
    assert tap.at.utcoffset() == timedelta(hours=7)
    assert tap.clock_ok is True
    assert Tap.parse(tap_payload().decode()) == tap  # str accepted too


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("tap_id", 42, "tap_id must be str, got int"),
        ("uid", 123, "uid must be str, got int"),
        ("uid", None, "uid must be str, got NoneType"),
        ("at", 1700000000, "at must be str, got int"),
        ("clock_ok", 1, "clock_ok must be bool, got int"),
        ("clock_ok", "true", "clock_ok must be bool, got str"),
    ],
)
def test_wrong_types_are_named_precisely(field, value, message):
    err = refused(tap_payload(**{field: value}))
    assert message in str(err)


@pytest.mark.parametrize("field", ["tap_id", "uid", "at", "clock_ok"])
def test_missing_fields_are_named(field):
    err = refused(tap_payload(**{field: ...}))
    assert f"missing field {field!r}" in str(err)


@pytest.mark.parametrize(
    "v, message",
    [
        (2, "unsupported contract version 2"),
        (True, "v must be the integer 1, got True"),
        ("1", "v must be the integer 1, got '1'"),
        (1.0, "v must be the integer 1, got 1.0"),
        (..., "v must be the integer 1, got None"),
    ],
)
def test_version_must_be_integer_one(v, message):
    err = refused(tap_payload(v=v))
    assert message in str(err)
    assert err.ref == "gate-1:42"


def test_errors_carry_the_tap_id_when_it_is_valid():
    # every field error after a readable tap_id keeps it, so the server can answer `invalid`
    for payload in (
        tap_payload(uid="zz"),
        tap_payload(at="yesterday"),
        tap_payload(clock_ok=None),
        tap_payload(extra=1),
        tap_payload(v=9),
        tap_payload(at=...),
        tap_payload(uid="04a1b2c3"),
    ):
        assert refused(payload).ref == "gate-1:42", payload


@pytest.mark.parametrize("tap_id", ["", "a" * 65, "has space", "slash/x", "ไทย", "semi;colon"])
def test_bad_tap_id_is_refused_without_a_ref(tap_id):
    err = refused(tap_payload(tap_id=tap_id))
    assert "tap_id must be 1-64 characters of A-Z a-z 0-9 . _ : -" in str(err)
    assert err.ref is None


def test_tap_id_limits_accepted():
    for tap_id in ("a", "x" * 64, "gate-1:000123", "A.b_c:d-e"):
        assert Tap.parse(tap_payload(tap_id=tap_id)).tap_id == tap_id


def test_unexpected_fields_refused_by_name():
    err = refused(tap_payload(device="gate-1", zeta=1))
    assert "unexpected field(s): device, zeta" in str(err)


@pytest.mark.parametrize("uid", ["04A1B2C3", "04A1B2C3D4E5F6", "0123456789ABCDEF0123"])
def test_uid_accepted_4_to_10_bytes_upper_hex(uid):
    assert Tap.parse(tap_payload(uid=uid)).uid == uid


@pytest.mark.parametrize(
    "uid",
    [
        "04A1B2",  # 3 bytes
        "0123456789ABCDEF012345",  # 11 bytes
        "04A1B2C3D",  # odd number of digits
        "04a1b2c3",  # lower case is not canonical on the wire
        "04:A1:B2:C3",  # separators are for people, not the wire
        "04A1B2CG",  # not hex
        "",
    ],
)
def test_uid_refused_on_the_wire(uid):
    err = refused(tap_payload(uid=uid))
    assert "uid must be upper-case hex of 4-10 bytes" in str(err)
    assert err.ref == "gate-1:42"


def test_normalise_uid_for_people():
    assert contract.normalise_uid("04:a1:b2:c3") == "04A1B2C3"
    assert contract.normalise_uid(" 04 a1-b2 c3 d4 ") == "04A1B2C3D4"
    for bad in ("04a1b2", "xyz12345", 1234):
        with pytest.raises(ContractError, match="uid must be"):
            contract.normalise_uid(bad)


@pytest.mark.parametrize(
    "at, expected",
    [
        ("2026-11-22T10:00:00+07:00", datetime(2026, 11, 22, 3, 0, tzinfo=UTC)),
        ("2026-11-22T03:00:00Z", datetime(2026, 11, 22, 3, 0, tzinfo=UTC)),
        ("2026-11-22T03:00:00.123456+00:00", datetime(2026, 11, 22, 3, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-22T03:00:00-05:30", datetime(2026, 11, 22, 8, 30, tzinfo=UTC)),
    ],
)
def test_at_iso8601_with_offset(at, expected):
    assert Tap.parse(tap_payload(at=at)).at == expected


@pytest.mark.parametrize(
    "at, message",
    [
        ("2026-11-22T10:00:00", "at must carry a UTC offset"),
        ("2026-11-22", "at must carry a UTC offset"),
        ("22/11/2026 10:00", "at is not ISO-8601"),
        ("2026-13-01T10:00:00+07:00", "at is not ISO-8601"),
        ("yesterday", "at is not ISO-8601"),
        ("2026-11-22T10:00:00+07:00" + " " * 20, "at is too long"),
    ],
)
def test_at_refused(at, message):
    err = refused(tap_payload(at=at))
    assert message in str(err)
    assert err.ref == "gate-1:42"


def test_size_limit_is_4_kib():
    base = tap_payload()
    # pad with spaces (valid JSON whitespace) to exactly the limit: accepted
    exact = base[:-1] + b" " * (MAX_DEVICE_PAYLOAD - len(base)) + b"}"
    assert len(exact) == MAX_DEVICE_PAYLOAD
    assert Tap.parse(exact).tap_id == "gate-1:42"
    over = base[:-1] + b" " * (MAX_DEVICE_PAYLOAD - len(base) + 1) + b"}"
    err = refused(over)
    assert f"payload is {MAX_DEVICE_PAYLOAD + 1} bytes; the limit is {MAX_DEVICE_PAYLOAD}" in str(err)
    big = refused(b'{"v":1,"tap_id":"x","pad":"' + b"a" * (1 << 20) + b'"}')
    assert "the limit is 4096" in str(big)
    # the size is counted in bytes, not characters: 2,000 Thai characters are 6,000 bytes
    assert "the limit is 4096" in str(refused(json.dumps({"v": 1, "x": "ก" * 2000}, ensure_ascii=False)))


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"not json", "payload is not JSON"),
        (b"", "payload is not JSON"),
        (b"\xff\xfe{}", "payload is not UTF-8"),
        (b"[1,2,3]", "payload must be a JSON object, got list"),
        (b'"text"', "payload must be a JSON object, got str"),
        (b"null", "payload must be a JSON object, got NoneType"),
    ],
)
def test_not_an_object(payload, message):
    err = refused(payload)
    assert message in str(err)
    assert err.ref is None


def test_tap_round_trip():
    tap = Tap(
        tap_id="g:1",
        uid="04A1B2C3",
        at=datetime(2026, 11, 22, 10, 0, 0, 250000, tzinfo=timezone(timedelta(hours=7))),
        clock_ok=False,
    )
    wire = tap.encode()
    assert json.loads(wire) == {
        "v": 1,
        "tap_id": "g:1",
        "uid": "04A1B2C3",
        "at": "2026-11-22T10:00:00.250+07:00",
        "clock_ok": False,
    }
    assert Tap.parse(wire) == tap
    assert b" " not in wire  # compact


def test_format_time_needs_aware():
    with pytest.raises(ValueError):
        contract.format_time(datetime(2026, 1, 1))


# --------------------------------------------------------------------------- results, queries, answers


def test_result_round_trip_keeps_thai_readable():
    r = TapResult(
        tap_id="g:1",
        outcome="credited",
        open=True,
        points=5,
        balance=255,
        activity="entry",
        name="สมชาย",
        tier="silver",
        message={"th": "ได้รับ 5 คะแนน", "en": "+5 points"},
    )
    wire = r.encode()
    assert "สมชาย".encode() in wire  # not \u-escaped
    assert TapResult.parse(wire) == r
    assert set(json.loads(wire)) == {
        "v",
        "tap_id",
        "outcome",
        "open",
        "points",
        "balance",
        "activity",
        "name",
        "tier",
        "message",
    }


def test_result_validation():
    with pytest.raises(ContractError, match="unknown outcome 'great'"):
        TapResult(tap_id="g:1", outcome="great", open=True)
    ok = TapResult(tap_id="g:1", outcome="unknown_card", open=False).to_dict()
    assert ok["balance"] is None and ok["points"] == 0
    for change, message in (
        ({"outcome": "great"}, "unknown outcome"),
        ({"open": 1}, "open must be bool"),
        ({"points": True}, "points must be an integer, got boolean"),
        ({"balance": "5"}, "balance must be int"),
        ({"message": "hi"}, "message must be an object with string fields th and en"),
    ):
        with pytest.raises(ContractError, match=message) as info:
            TapResult.parse(json.dumps({**ok, **change}))
        assert info.value.ref == "g:1"


@pytest.mark.parametrize("outcome", contract.OUTCOMES)
def test_every_outcome_round_trips(outcome):
    r = TapResult(tap_id="t", outcome=outcome, open=outcome == "credited")
    assert TapResult.parse(r.encode()) == r


def test_invalid_result_helper():
    r = contract.invalid_result("g:9", "uid must be hex" + "x" * 300)
    assert (r.outcome, r.open, r.points, r.balance) == ("invalid", False, 0, None)
    assert r.message["en"].startswith("Invalid tap: uid must be hex")
    assert len(r.message["en"]) <= 200


def test_query_parse_and_errors():
    q = Query(query_id="k:1", uid="04A1B2C3")
    assert Query.parse(q.encode()) == q
    err = refused(json.dumps({"v": 1, "query_id": "k:2", "uid": "nothex"}), Query.parse)
    assert err.ref == "k:2" and "uid must be upper-case hex" in str(err)
    err = refused(json.dumps({"v": 1, "query_id": "bad id", "uid": "04A1B2C3"}), Query.parse)
    assert err.ref is None and "query_id must be" in str(err)
    assert "unexpected field(s): x" in str(
        refused(json.dumps({"v": 1, "query_id": "k", "uid": "04A1B2C3", "x": 1}), Query.parse)
    )


def test_answer_round_trip_and_leniency():
    a = Answer(
        query_id="k:1",
        outcome="member",
        member={"id": 1, "name": "A"},
        balance=300,
        privileges={"locker_days": 3},
        history=[{"id": 1}],
        stats={"earned_today": 5},
    )
    assert Answer.parse(a.encode()) == a
    lenient = Answer.parse(
        json.dumps({"v": 1, "query_id": "k:1", "outcome": "member", "balance": "x", "history": "nope", "member": []})
    )
    assert (lenient.balance, lenient.history, lenient.member) == (None, [], None)
    with pytest.raises(ContractError, match="unknown answer outcome"):
        Answer.parse(json.dumps({"v": 1, "query_id": "k", "outcome": "credited"}))


def test_answer_carries_the_ils_fines_only_when_set():
    fines = Answer("k:2", "member", balance=300, ils={"state": "ok", "fines_baht": 35.0, "points_to_clear": 175})
    assert Answer.parse(fines.encode()) == fines
    assert Answer.parse(Answer("k:3", "member", ils={"state": "unreachable"}).encode()).ils == {"state": "unreachable"}
    assert "ils" not in json.loads(Answer("k:4", "member").encode())
    assert Answer.parse(json.dumps({"v": 1, "query_id": "k", "outcome": "member", "ils": "35 baht"})).ils is None


@pytest.mark.parametrize("pin", ["1234", "00000000", "048261"])
def test_query_pin_round_trip_and_never_in_repr(pin):
    q = Query(query_id="u:1", uid="04A1B2C3", pin=pin)
    assert Query.parse(q.encode()) == q and json.loads(q.encode())["pin"] == pin
    assert pin not in repr(q)
    assert "pin" not in json.loads(Query(query_id="u:2", uid="04A1B2C3").encode())


@pytest.mark.parametrize("pin", ["123", "123456789", "12a4", " 1234", "1234\n", "١٢٣٤", 1234, True, ""])
def test_query_pin_must_be_4_to_8_ascii_digits_and_is_not_echoed(pin):
    err = refused(json.dumps({"v": 1, "query_id": "u:3", "uid": "04A1B2C3", "pin": pin}), Query.parse)
    assert err.ref == "u:3" and str(err) == "pin must be 4-8 digits"


def test_pin_verdicts_round_trip_with_their_fields_only_when_set():
    locked = Answer("u:1", "pin_locked", locked_until="2026-11-23T10:15:00Z", retry_after_s=900)
    assert Answer.parse(locked.encode()) == locked
    wrong = Answer("u:2", "pin_wrong", attempts_left=2)
    assert Answer.parse(wrong.encode()) == wrong
    plain = json.loads(Answer("u:3", "staff_unlocked").encode())
    assert not {"attempts_left", "locked_until", "retry_after_s", "ils"} & set(plain)
    odd = Answer.parse(json.dumps({"v": 1, "query_id": "u", "outcome": "pin_wrong", "attempts_left": -1}))
    assert odd.attempts_left is None


def test_feedback():
    fb = Feedback(feedback_id="k:7", rating=5, at=datetime(2026, 11, 22, tzinfo=UTC), uid=None)
    assert Feedback.parse(fb.encode()) == fb
    for rating in (0, 6):
        err = refused(json.dumps({**fb.to_dict(), "rating": rating}), Feedback.parse)
        assert f"rating must be 1-5, got {rating}" in str(err) and err.ref == "k:7"
    assert "rating must be an integer, got boolean" in str(
        refused(json.dumps({**fb.to_dict(), "rating": True}), Feedback.parse)
    )


def test_status():
    s = Status.parse(b'{"v":1,"state":"online","outbox":3,"clock_ok":true}')
    assert s.state == "online" and s.extra == {"outbox": 3, "clock_ok": True}
    assert Status.parse(s.encode()) == s
    for payload, message in (
        (b'{"v":1,"state":"asleep"}', "state must be online or offline"),
        (b'{"v":1,"state":"online","cpu":1}', "unexpected status field 'cpu'"),
        (b'{"v":1,"state":"online","outbox":true}', "wrong type bool"),
        (b'{"v":1,"state":"online","error":"' + b"e" * 201 + b'"}', "longer than 200"),
    ):
        with pytest.raises(ContractError, match=message):
            Status.parse(payload)


def test_device_config_round_trip_and_checks():
    cfg = DeviceConfig(
        device_id="gate-1",
        kind="gate",
        direction="out",
        activity="late_stay",
        location="Main",
        settings={"open_ms": 3000, "offline_policy": "allowlist"},
        revision=4,
    )
    assert DeviceConfig.parse(cfg.encode()) == cfg
    for change, message in (
        ({"kind": "robot"}, "kind must be one of gate, kiosk, counter"),
        ({"direction": "up"}, "direction must be in or out"),
        ({"settings": {"offline_policy": "maybe"}}, "offline_policy must be one of"),
        ({"settings": "x"}, "settings must be an object"),
        ({"device_id": "a/b"}, "device id must be"),
    ):
        with pytest.raises(ContractError, match=message):
            DeviceConfig.parse(json.dumps({**cfg.to_dict(), **change}))


# --------------------------------------------------------------------------- allow-list


def test_allowlist_round_trip_compact_and_versioned():
    uids = frozenset(f"04{i:012X}" for i in range(20000))
    when = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
    al = Allowlist(version=7, uids=uids, generated_at=when)
    wire = al.encode()
    back = Allowlist.parse(wire)
    assert back.uids == uids and back.version == 7 and back.generated_at == when
    data = json.loads(wire)
    assert data["count"] == 20000 and data["encoding"] == "zlib+base64" and data["v"] == 1
    raw = 20000 * 15
    assert len(wire) < raw / 3, f"allow-list of 20,000 UIDs is {len(wire)} bytes: not compact"
    assert Allowlist(version=7, uids=uids, generated_at=when).encode() == wire  # deterministic
    assert Allowlist.parse(Allowlist(version=1, uids=frozenset()).encode()).uids == frozenset()


def test_allowlist_refuses_bad_copies():
    good = Allowlist(version=3, uids=frozenset({"04A1B2C3", "04A1B2C4"})).to_dict()
    for change, message in (
        ({"encoding": "gzip"}, "unsupported allow-list encoding"),
        ({"uids": "!!!notbase64"}, "allow-list uids do not decode"),
        ({"count": 3}, "count 3 does not match its 2 UIDs"),
        ({"version": "3"}, "version must be int"),
        ({"v": 2}, "unsupported contract version 2"),
    ):
        with pytest.raises(ContractError, match=message):
            Allowlist.parse(json.dumps({**good, **change}))


# --------------------------------------------------------------------------- field limits (issue 11)


@pytest.mark.parametrize(
    "at",
    [
        "0001-01-01T00:00:00+14:00",  # converting it to UTC overflows
        "9999-12-31T23:59:59-14:00",
        "1969-12-31T23:59:59Z",
        "1970-01-01T06:59:59+07:00",  # one second before the epoch in UTC
        "2100-01-01T00:00:00Z",
    ],
)
def test_times_outside_the_window_are_refused_with_the_tap_id(at):
    exc = refused(tap_payload(at=at))
    assert "at must lie between 1970-01-01 and 2100-01-01" in str(exc) and exc.ref == "gate-1:42"


@pytest.mark.parametrize("at", ["1970-01-01T07:00:00+07:00", "2099-12-31T23:59:59Z", "1970-01-01T00:00:00Z"])
def test_times_at_the_window_edges_parse(at):
    assert Tap.parse(tap_payload(at=at)).at == datetime.fromisoformat(at.replace("Z", "+00:00"))


@pytest.mark.parametrize("uid", ["00000000", "00000000000000", "00000000000000000000"])
def test_an_all_zero_uid_is_refused_on_the_wire_and_from_people(uid):
    assert "all zeros" in str(refused(tap_payload(uid=uid)))
    with pytest.raises(ContractError, match="all zeros"):
        contract.normalise_uid("00:00:00:00")
    assert contract.normalise_uid("00000001") == "00000001"


@pytest.mark.parametrize(
    ("payload", "parser", "words"),
    [
        (b'{"v":1,"state":"online","version":"1.0\\ud800"}', Status.parse, "version holds a lone surrogate"),
        (b'{"v":1,"state":"online","error":"\\udfff x"}', Status.parse, "lone surrogate"),
        (b'{"v":1,"state":"online","\\ud800":1}', Status.parse, "lone surrogate"),
        (
            b'{"v":1,"tap_id":"t:1","uid":"04A1B2C3","at":"2026-01-01T00:00:00Z","clock_ok":true,"x":"\\ud83d"}',
            Tap.parse,
            "lone surrogate",
        ),
        (b'{"v":1,"feedback_id":"f:1","rating":5,"at":"\\ud800"}', Feedback.parse, "lone surrogate"),
        (b'{"v":1,"query_id":"q:1","uid":"\\udc00"}', Query.parse, "lone surrogate"),
    ],
)
def test_a_lone_surrogate_anywhere_is_refused(payload, parser, words):
    assert words in str(refused(payload, parser))


def test_an_escaped_backslash_before_u_is_ordinary_text():
    """The surrogate walk runs only for payloads with a ``\\u`` escape; a literal backslash-u is text."""
    status = Status.parse(b'{"v":1,"state":"online","reader":"C:\\\\ud800 \\u00e9"}')
    assert status.extra["reader"] == "C:\\ud800 \u00e9"


def test_a_surrogate_pair_is_ordinary_text():
    status = Status.parse(b'{"v":1,"state":"online","reader":"ok \\ud83d\\ude00"}')
    assert status.extra["reader"] == "ok \U0001f600"


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ('"outbox":1000000000000000000000000000000', "outbox must be between 0 and"),
        ('"outbox":-1', "outbox must be between 0 and"),
        ('"uptime_s":1e308', "uptime_s must be between 0 and"),
        ('"uptime_s":1e400', "uptime_s must be a finite number"),
        ('"uptime_s":NaN', "NaN is not a number"),
        ('"uptime_s":-Infinity', "-Infinity is not a number"),
        ('"allowlist_version":-5', "allowlist_version must be between"),
        ('"at":"0001-01-01T00:00:00+14:00"', "at must lie between"),
        ('"oldest_tap_at":"9999-01-01T00:00:00Z"', "oldest_tap_at must lie between"),
        ('"oldest_tap_at":"yesterday"', "oldest_tap_at is not ISO-8601"),
    ],
)
def test_status_numbers_and_times_are_range_checked(extra, words):
    assert words in str(refused(f'{{"v":1,"state":"online",{extra}}}'.encode(), Status.parse))


def test_status_within_range_parses():
    status = Status.parse(
        b'{"v":1,"state":"online","outbox":12,"uptime_s":3600.5,"at":"2026-11-22T10:00:00+07:00",'
        b'"oldest_tap_at":"2026-11-21T10:00:00Z","allowlist_version":9}'
    )
    assert status.extra["outbox"] == 12 and status.extra["uptime_s"] == 3600.5


def test_feedback_time_is_range_checked_with_its_id():
    exc = refused(b'{"v":1,"feedback_id":"f:9","rating":5,"at":"0001-01-01T00:00:00+14:00"}', Feedback.parse)
    assert "at must lie between" in str(exc) and exc.ref == "f:9"


def test_refusing_poison_costs_microseconds():
    """The boundary is the cheap place to refuse: far under a millisecond per payload."""
    import time

    poison = tap_payload(at="0001-01-01T00:00:00+14:00")
    start = time.perf_counter()
    for _ in range(1000):
        with pytest.raises(ContractError):
            Tap.parse(poison)
    assert (time.perf_counter() - start) / 1000 < 0.001


def test_a_result_is_encoded_once_and_a_changed_copy_afresh():
    """The server stores in its tap inbox the very bytes it sends (one encoding a tap)."""
    import dataclasses
    import json

    r = contract.TapResult("t:1", "credited", True, points=5, balance=5, activity="entry", name="สมชาย")
    wire = r.encode()
    assert r.encode() is wire
    assert json.loads(wire) == r.to_dict() and "สมชาย".encode() in wire
    other = dataclasses.replace(r, points=10)
    assert json.loads(other.encode())["points"] == 10 and r.encode() is wire
    assert r == contract.TapResult.parse(wire)
