"""The [ils] configuration, the patron-status flags and the answer's ``ils`` shape (pure, no ILS needed)."""

from __future__ import annotations

import pytest

from broker.contract import Answer, ils_answer
from server.ils.base import PATRON_FLAGS, decode_flags
from server.ils.config import IlsConfigError, build

URL = "sip2://priv%40card:p%3Ass@ils.example:6011?institution=WU&location=MAIN"


def test_url_and_defaults():
    c = build({}, URL)
    assert (c.scheme, c.host, c.port, c.login, c.password, c.institution, c.location) == (
        "sip2",
        "ils.example",
        6011,
        "priv@card",
        "p:ss",
        "WU",
        "MAIN",
    )
    assert (c.encoding, c.error_detection, c.kiosk_budget_ms, c.currency, c.payment_type, c.fee_type) == (
        "utf-8",
        True,
        150,
        "THB",
        "00",
        "01",
    )
    assert "p:ss" not in repr(c) and "p:ss" not in c.safe_url
    assert build({"url": "sip2s://a:b@h?institution=X", "encoding": "cp850"}).tls
    assert build({"url": "sip2://a:b@h?institution=X", "encoding": "cp850"}).encoding == "cp850"
    assert build({}) is None and build({"categories": {"gold": "G"}}) is None


def test_categories():
    c = build({"categories": {"gold": "PCG", "default": "PC"}}, URL)
    assert c.category("gold") == "PCG" and c.category("silver") == "PC"
    assert build({}, URL).category("gold") == ""


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"url": "sip2://a:b@h"}, "institution= is required"),
        ({"url": "sip2://a:b@h:99999?institution=X"}, "port"),
        ({"url": "tcp://a:b@h?institution=X"}, "scheme"),
        ({"url": URL, "kiosk_budget_ms": 1.5}, "ils.kiosk_budget_ms"),
        ({"url": URL, "kiosk_budget_ms": 0}, "ils.kiosk_budget_ms"),
        ({"url": URL, "error_detection": "yes"}, "ils.error_detection"),
        ({"url": URL, "fee_type": "4"}, "ils.fee_type"),
        ({"url": URL, "categories": {"gold": 1}}, "ils.categories"),
        ({"url": URL, "tls_ca": "/no/such/ca.pem"}, "ils.tls_ca"),
        ({"url": URL, "bogus": 1}, "unknown key(s) bogus"),
        ({"timeout": 3}, "unknown key(s) timeout"),
        ({"currency": "THB"}, "ils.url is required"),
    ],
)
def test_bad_config_names_the_key(raw, named):
    with pytest.raises(IlsConfigError, match=named.replace("(", r"\(").replace(")", r"\)")):
        build(raw)


def test_flags_decoded_by_name():
    assert len(PATRON_FLAGS) == 14
    assert decode_flags(" " * 14) == []
    assert decode_flags("Y" + " " * 9 + "Y   ") == ["charge_privileges_denied", "excessive_outstanding_fines"]
    assert decode_flags("Y" * 14) == list(PATRON_FLAGS)


def test_answer_ils_part_is_validated():
    ok = {"state": "ok", "fines_baht": 35, "points_to_clear": 175}
    assert ils_answer(ok) == {"state": "ok", "fines_baht": 35.0, "points_to_clear": 175}
    assert ils_answer({"state": "unreachable", "x": 1}) == {"state": "unreachable"}
    for bad in (
        None,
        "ok",
        {"state": "ok"},
        {**ok, "fines_baht": -1},
        {**ok, "fines_baht": float("nan")},
        {**ok, "points_to_clear": 1.5},
        {**ok, "fines_baht": True},
        {"state": "maybe"},
    ):
        assert ils_answer(bad) is None, bad
    a = Answer("q1", "member", ils={"state": "unreachable"})
    assert Answer.parse(a.encode()).ils == {"state": "unreachable"}
    assert "ils" not in Answer("q2", "member").to_dict()
    assert Answer.parse(Answer("q3", "member", ils={"state": "ok", "fines_baht": "x"}).encode()).ils is None
