"""The checkout payload (broker.contract.Checkout), its id, the selfcheck kind's ACL, and the proxy's frame reader."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from broker import contract
from broker.contract import Checkout, ContractError
from broker.mosquitto.access import device_rules
from gate.sip2proxy import IlsAddress, Observer, ProxyError, read_frame

AT = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)


def checkout(**over) -> Checkout:
    values = dict(tap_id=contract.checkout_id("sc-1", "P1", "B2", "20261202    093000"), patron="P1", item="B2")
    values.update(over)
    return Checkout(at=AT, clock_ok=True, ils_at="20261202    093000", **values)


def test_checkout_round_trips_and_its_id_is_stable_per_checkout():
    c = checkout()
    assert Checkout.parse(c.encode()) == c
    assert c.tap_id == contract.checkout_id("sc-1", "P1", "B2", "20261202    093000")
    assert c.tap_id != contract.checkout_id("sc-1", "P1", "B2", "20261202    093001")  # a new checkout
    assert c.tap_id != contract.checkout_id("sc-2", "P1", "B2", "20261202    093000")
    assert len(c.tap_id) <= 64 and contract.TAP_ID_RE.match(c.tap_id)


@pytest.mark.parametrize(
    "change, words",
    [
        ({"patron": "has space"}, "patron must be"),
        ({"patron": "P" * 65}, "patron must be"),
        ({"item": ""}, "item must be"),
        ({"extra": 1}, "unexpected field"),
        ({"ils_at": "yesterday"}, "ils_at"),
        ({"at": "2026-12-02T09:30:00"}, "UTC offset"),
    ],
)
def test_a_bad_checkout_is_refused_with_its_tap_id(change, words):
    data = checkout().to_dict() | change
    with pytest.raises(ContractError, match=words) as err:
        Checkout.parse(contract.dumps(data))
    assert err.value.ref == data["tap_id"]


def test_selfcheck_may_send_checkouts_and_status_only_and_its_acl_says_so():
    assert contract.CAPABILITIES["selfcheck"] == {"checkout", "status"}
    assert contract.checkout_topic("sc-1") == "privcard/dev/sc-1/checkout"
    assert device_rules("sc-1", "selfcheck") == [
        "user sc-1",
        "topic write privcard/dev/sc-1/checkout",
        "topic write privcard/dev/sc-1/status",
    ]
    assert not contract.may("gate", "checkout")


def test_read_frame_reads_a_checkout_leniently_and_refuses_a_bad_checksum():
    # what Sip2 sends: a blank nb due date, which pysip2's strict decoder refuses
    body = b"11NN20261202    093000" + b" " * 18 + b"AOWU|AAP1|ABB2|AC|BON|BIN|AY1AZ"
    good = body + f"{(-sum(body)) & 0xFFFF:04X}".encode() + b"\r"
    fixed, fields = read_frame(good, 38)
    assert fixed[2:20] == "20261202    093000" and fields["AA"] == "P1" and fields["AB"] == "B2"
    bad = good[:-2] + (b"0" if good[-2:-1] != b"0" else b"1") + b"\r"
    with pytest.raises(ValueError, match="checksum"):
        read_frame(bad, 38)


def test_observer_pairs_11_with_12_and_credits_only_accepted_non_cancelled_checkouts():
    seen = []
    obs = Observer("sc-1", seen.append, clock=lambda: AT)
    date = b"20261202    093000"
    req = b"11NN" + date + b" " * 18 + b"AOWU|AAP1|ABB2|AC|\r"
    ok = b"121NNY" + date + b"AOWU|AAP1|ABB2|AJT|AH|\r"
    no = b"120NNN" + date + b"AOWU|AAP1|ABB3|AJT|AH|\r"
    cancel = b"11NN" + date + b" " * 18 + b"AOWU|AAP1|ABB4|AC|BIY|\r"
    # split anywhere across reads: frames are found by their CR
    stream = [
        (b"sc", req[:7]),
        (b"sc", req[7:]),
        (b"ils", ok),
        (b"sc", req),
        (b"ils", no),
        (b"sc", cancel),
        (b"ils", ok),
    ]
    for side, data in stream:
        obs.feed(side.decode(), data)
    assert [(c.patron, c.item, c.ils_at) for c in seen] == [("P1", "B2", "20261202    093000")]
    obs.feed("ils", b"\x07garbage\r")  # relayed anyway; the observer shrugs
    assert obs.frames == 7 and obs.undecoded == 0  # garbage with no command of ours is not even read


def test_ils_url_grammar():
    assert IlsAddress.parse("sip2://ils:6001") == IlsAddress("ils", 6001)
    assert IlsAddress.parse("sip2s://user:pw@ils:6443?institution=WU").tls
    for bad in ("http://ils:1", "sip2://ils", "sip2://:6001"):
        with pytest.raises(ProxyError):
            IlsAddress.parse(bad)
