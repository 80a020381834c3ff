"""Service staff operations: award, transfer, redeem, card replacement, attendance import."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from broker.contract import ContractError, Tap
from server import store
from server.services import Message, NotFound, ServiceError
from server.store import Card, Fee, LedgerEntry
from tests.helpers import close_store, ledger_problems, open_service

BKK = ZoneInfo("Asia/Bangkok")
TODAY = date(2026, 11, 23)
A, B, C = "04A1B2C3D4E5F6", "04B0B0B0", "04C0C0C0"


@pytest.fixture
def svc():
    now = datetime(2026, 11, 23, 10, 0, tzinfo=BKK).astimezone(UTC)
    service = open_service("sqlite:///:memory:", clock=lambda: now)
    service.devices.add("gate-in", "gate", direction="in")
    service.members.add("Somchai", A)
    service.members.add("Malee", B)
    yield service
    assert ledger_problems() == []
    close_store()


# --------------------------------------------------------------------------- award


def test_award_borrow_once_a_day(svc):
    assert svc.points.award(A, "borrow")[0] == "credited"
    assert svc.points.award("1", "borrow")[0] == "limit_reached"
    assert svc.ledger.balance(1) == 255
    assert svc.points.award(A, "borrow", at="2026-11-22")[0] == "credited"  # another day
    assert svc.ledger.balance(1) == 260


def test_award_partner_purchase_per_shop_per_day(svc):
    assert svc.points.award(A, "partner_purchase", item="More Coffee")[0] == "credited"
    assert svc.points.award(A, "partner_purchase", item="Banana Bakery")[0] == "credited"
    assert svc.points.award(A, "partner_purchase", item="More Coffee")[0] == "limit_reached"
    with pytest.raises(ServiceError, match="unknown partner shop"):
        svc.points.award(A, "partner_purchase", item="Starbucks")
    with pytest.raises(ServiceError, match="needs an item"):
        svc.points.award(A, "partner_purchase")
    assert svc.ledger.balance(1) == 260


def test_award_refusals(svc):
    with pytest.raises(ServiceError, match="unknown activity 'nap'"):
        svc.points.award(A, "nap")
    with pytest.raises(ServiceError, match="sign-up points are credited by member add"):
        svc.points.award(A, "signup")
    with pytest.raises(ServiceError, match="in the future"):
        svc.points.award(A, "borrow", at="2026-11-24T10:00+07:00")
    svc.members.set(B, status="blocked")
    with pytest.raises(ServiceError, match="is blocked"):
        svc.points.award(B, "borrow")


@pytest.mark.parametrize("activity", ["entry", "late_stay"])
def test_staff_cannot_credit_what_only_gates_credit(svc, activity):
    """The console, the API and the CLI all award with source="admin": gate-only activities are refused."""
    with pytest.raises(ServiceError) as caught:
        svc.points.award(A, activity)
    assert (caught.value.template, caught.value.values) == (
        "%(activity)s is not credited at the counter",
        {"activity": activity},
    )
    assert svc.ledger.balance(1) == 250 and LedgerEntry.select().where(LedgerEntry.activity == activity).count() == 0


# --------------------------------------------------------------------------- transfer


def test_transfer_moves_points(svc):
    out_e, in_e = svc.points.transfer(A, B, 100, note="gift")
    assert (svc.ledger.balance(1), svc.ledger.balance(2)) == (150, 350)
    assert (out_e.points, in_e.points, out_e.ref) == (-100, 100, in_e.ref)


def test_transfer_never_below_zero(svc):
    with pytest.raises(ServiceError, match="balance 250 is less than 251 points"):
        svc.points.transfer(A, B, 251)
    assert (svc.ledger.balance(1), svc.ledger.balance(2)) == (250, 250)
    svc.points.transfer(A, B, 250)
    assert (svc.ledger.balance(1), svc.ledger.balance(2)) == (0, 500)
    with pytest.raises(ServiceError, match="less than 1 points"):
        svc.points.transfer(A, B, 1)
    assert LedgerEntry.select().where(LedgerEntry.source == "transfer").count() == 2


@pytest.mark.parametrize("points", [2**31, 2**63, 10**20])
def test_a_huge_transfer_is_refused_as_more_than_the_balance(svc, points):
    """Before: SQLite raised OverflowError from the debit (the console's 500, the CLI's traceback)."""
    with pytest.raises(ServiceError, match=f"balance 250 is less than {points} points"):
        svc.points.transfer(A, B, points)
    assert (svc.ledger.balance(1), svc.ledger.balance(2)) == (250, 250)


@pytest.mark.parametrize("points", [0, -5, 2.5, "10"])
def test_transfer_amount_must_be_positive_whole(svc, points):
    with pytest.raises(ServiceError, match="positive whole number"):
        svc.points.transfer(A, B, points)


def test_transfer_to_self_or_nobody(svc):
    with pytest.raises(ServiceError, match="same member"):
        svc.points.transfer(A, "1", 10)
    with pytest.raises(ServiceError, match="no member"):
        svc.points.transfer(A, "04EEEEEEEE", 10)
    assert svc.ledger.balance(1) == 250


def test_a_blocked_members_points_are_not_transferred_away(svc):
    """A blocked member cannot redeem; before, staff could still transfer their balance to
    another member, who then redeemed it (the block did not hold the points)."""
    svc.members.set(A, status="blocked")
    with pytest.raises(ServiceError, match="member 1 is blocked"):
        svc.points.transfer(A, B, 100)
    with pytest.raises(ServiceError, match="member 1 is blocked"):
        svc.points.redeem(A, "fine_discount", points=100)
    assert (svc.ledger.balance(1), svc.ledger.balance(2)) == (250, 250)
    svc.members.set(A, status="active")
    svc.points.transfer(A, B, 100)
    assert (svc.ledger.balance(1), svc.ledger.balance(2)) == (150, 350)


def test_void_of_a_transfer_reverses_both_legs(svc):
    _out_e, in_e = svc.points.transfer(A, B, 100)
    revs = svc.points.void(in_e.id, "wrong member")
    assert sorted(r.points for r in revs) == [-100, 100]
    assert (svc.ledger.balance(1), svc.ledger.balance(2)) == (250, 250)


def test_void_that_would_go_negative_is_refused(svc):
    _, in_e = svc.points.transfer(A, B, 100)
    svc.points.transfer(B, A, 350)  # Malee gave everything away
    with pytest.raises(ServiceError, match="less than"):
        svc.points.void(in_e.id, "mistake")
    assert (svc.ledger.balance(1), svc.ledger.balance(2)) == (500, 0)


# --------------------------------------------------------------------------- redeem


def test_redeem_fine_discount_25_points_is_5_baht(svc):
    r = svc.points.redeem(A, "fine_discount", points=25)
    assert (r["points"], r["baht"], r["balance"]) == (25, 5, 225)
    r = svc.points.redeem(A, "fine_discount", points=100)
    assert (r["baht"], r["balance"]) == (20, 125)


@pytest.mark.parametrize(
    "points, message",
    [
        (30, "steps of 25 points"),
        (0, "steps of 25 points"),
        (-25, "steps of 25 points"),
        (None, "needs --points"),
        (2525, "at most 2500 points"),
    ],
)
def test_redeem_fine_discount_refusals(svc, points, message):
    with pytest.raises(ServiceError, match=message):
        svc.points.redeem(A, "fine_discount", points=points)
    assert svc.ledger.balance(1) == 250


def test_redeem_never_goes_negative(svc):
    with pytest.raises(ServiceError, match="balance 250 is less than 275 points"):
        svc.points.redeem(A, "fine_discount", points=275)
    svc.points.redeem(A, "fine_discount", points=250)
    assert svc.ledger.balance(1) == 0
    with pytest.raises(ServiceError, match="less than 25"):
        svc.points.redeem(A, "fine_discount", points=25)
    assert svc.ledger.balance(1) == 0


def test_redeem_unit_rewards(svc):
    r = svc.points.redeem(A, "locker_day", units=2)
    assert (r["points"], r["units"], r["balance"]) == (50, 2, 200)
    with pytest.raises(ServiceError, match="costs 25 points"):
        svc.points.redeem(A, "locker_day", points=30)
    with pytest.raises(ServiceError, match="unknown reward"):
        svc.points.redeem(A, "car")


# --------------------------------------------------------------------------- card replacement


def test_replace_card_blocks_the_old_one_and_records_the_fee(svc):
    svc.taps.decide("gate-in", Tap(tap_id="r:1", uid=A, at=svc.clock(), clock_ok=True))
    svc.members.replace_card(A, C)
    assert Card.get_by_id(A).status == "blocked"
    assert Card.get_by_id(C).status == "active"
    assert [(f.kind, f.baht) for f in Fee.select().where(Fee.member == 1).order_by(Fee.id)] == [
        ("joining", 50),
        ("card_replacement", 50),
    ]
    old = svc.taps.decide("gate-in", Tap(tap_id="r:2", uid=A, at=svc.clock(), clock_ok=True))
    assert (old.outcome, old.open) == ("card_blocked", False)
    new = svc.taps.decide("gate-in", Tap(tap_id="r:3", uid=C, at=svc.clock(), clock_ok=True))
    assert (new.outcome, new.balance) == ("limit_reached", 255)  # same member, same day, points kept
    assert A not in svc.devices.allowlist().uids and C in svc.devices.allowlist().uids
    with pytest.raises(ServiceError, match="already in use"):
        svc.members.replace_card(C, B)


# --------------------------------------------------------------------------- attendance import


CSV = """uid,name
04A1B2C3D4E5F6,Somchai
zz-not-a-uid,Bad
04EEEEEEEE,Nobody
,Empty
04:b0:b0:b0,Malee (typed by hand)
04A1B2C3D4E5F6,Somchai again
"""


def test_import_attendance_keeps_good_rows_reports_bad_by_line_and_is_idempotent(svc):
    report = svc.attendance.import_csv(CSV, "pulinet_event", "PULINET 2569 #3", day="2026-11-20")
    d = report.to_dict()
    assert [(r["line"], r["member"]) for r in d["credited"]] == [(2, 1), (6, 2)]
    errors = dict((e["line"], e["error"]) for e in d["errors"])
    assert set(errors) == {3, 4, 5, 7}
    assert "uid must be" in errors[3]
    assert "no member" in errors[4]
    assert "empty" in errors[5]
    assert "listed twice" in errors[7]
    assert (svc.ledger.balance(1), svc.ledger.balance(2)) == (270, 270)
    [e] = LedgerEntry.select().where(LedgerEntry.member == 1, LedgerEntry.activity == "pulinet_event")
    assert (e.day, e.item, e.source) == (date(2026, 11, 20), "PULINET 2569 #3", "import")

    again = svc.attendance.import_csv(CSV, "pulinet_event", "PULINET 2569 #3", day="2026-11-20").to_dict()
    assert again["credited"] == []
    assert [(r["line"], r["member"]) for r in again["already_credited"]] == [(2, 1), (6, 2)]
    assert (svc.ledger.balance(1), svc.ledger.balance(2)) == (270, 270)

    other = svc.attendance.import_csv("1\n2\n", "pulinet_event", "PULINET 2569 #4", day="2026-11-20").to_dict()
    assert len(other["credited"]) == 2  # another event the same day earns again


def test_import_attendance_refusals(svc):
    with pytest.raises(ServiceError, match="unknown activity"):
        svc.attendance.import_csv("1\n", "nap", "x")
    with pytest.raises(ServiceError, match="not credited from attendance lists"):
        svc.attendance.import_csv("1\n", "entry", "x")
    with pytest.raises(ServiceError, match="event name"):
        svc.attendance.import_csv("1\n", "volunteer", "")
    bad_header = svc.attendance.import_csv("name,email\nA,a@x\n", "volunteer", "Shelving").to_dict()
    assert bad_header["errors"][0]["line"] == 1 and "header" in bad_header["errors"][0]["error"]
    svc.members.set(B, valid_until=(TODAY - timedelta(days=1)).isoformat())
    r = svc.attendance.import_csv(f"{A}\n{B}\n", "volunteer", "Shelving").to_dict()
    assert [x["line"] for x in r["credited"]] == [1]
    assert r["errors"][0]["line"] == 2 and "expired" in r["errors"][0]["error"]


def test_import_dry_run_changes_nothing(svc):
    r = svc.attendance.import_csv(f"{A}\n", "volunteer", "Shelving", dry_run=True).to_dict()
    assert len(r["credited"]) == 1
    assert svc.ledger.balance(1) == 250


# --------------------------------------------------------------------------- error messages


def test_service_errors_keep_template_and_values_and_the_same_english(svc):
    with pytest.raises(ServiceError) as caught:
        svc.points.redeem(A, "locker_day", units=20)
    exc = caught.value
    assert str(exc) == "balance 250 is less than 500 points"  # what the CLI and the API show
    assert exc.template == "balance %(balance)s is less than %(points)s points"
    assert exc.values == {"balance": 250, "points": 500}
    with pytest.raises(NotFound) as caught:
        svc.points.transfer(A, "04:FF:EE:DD:CC", 10)
    assert str(caught.value) == "no member with id or card '04:FF:EE:DD:CC'"
    assert caught.value.values == {"ref": "04:FF:EE:DD:CC"}  # the staff's input stays out of the template
    # a message without values is its template; a literal % in it is kept
    assert str(ServiceError("100% sure")) == "100% sure" and ServiceError("100% sure").values == {}


def test_import_row_errors_are_plain_text_that_remember_their_template(svc):
    report = svc.attendance.import_csv(
        f"uid\n{A}\n{A}\n12345\nnot-a-card\n\n", "pulinet_event", "PULINET", dry_run=True
    )
    errors = dict(report.errors)
    assert errors == {
        3: "member 1 is listed twice",
        4: "no member with id or card '12345'",
        5: "uid must be 4-10 bytes of hex (8-20 hex digits), got 'not-a-card'",
    }
    # in file order, whichever check refused the line
    assert [e["line"] for e in report.to_dict()["errors"]] == [3, 4, 5]
    assert report.to_dict()["errors"][2] == {"line": 5, "error": errors[5]}
    assert (errors[3].template, errors[3].values) == ("member %(id)s is listed twice", {"id": 1})
    assert (errors[5].template, errors[5].values) == (
        "uid must be 4-10 bytes of hex (8-20 hex digits), got %(uid)s",
        {"uid": "'not-a-card'"},
    )
    header = svc.attendance.import_csv("name,email\nSomchai,x@example.org\n", "pulinet_event", "PULINET", dry_run=True)
    assert header.errors == [(1, "header has no uid/card/member_id/patron_id column: name,email")]
    assert header.errors[0][1].values == {"header": "name,email"}


def test_errors_passed_on_from_contract_and_rules_keep_their_templates(svc):
    """The contract's and the rules' errors carry template and values; the service passes both on unchanged."""
    cases = [
        (lambda: svc.members.add("X", 12345), "uid must be a string, got %(type)s", {"type": "int"}),
        (
            lambda: svc.members.add("X", "ZZ"),
            "uid must be 4-10 bytes of hex (8-20 hex digits), got %(uid)s",
            {"uid": "'ZZ'"},
        ),
        (
            lambda: svc.devices.add("gate in!", "gate"),
            "device id must be 1-64 characters of A-Z a-z 0-9 _ -, got %(device_id)s",
            {"device_id": "'gate in!'"},
        ),
        (
            lambda: svc.points.award(A, "partner_purchase"),
            "%(activity)s needs an item (event, shop or session)",
            {"activity": "partner_purchase"},
        ),
        (
            lambda: svc.points.redeem(A, "fine_discount", points=30),
            "fine discounts are redeemed in steps of %(step)s points",
            {"step": svc.prog.fine_step_points},
        ),
        (
            lambda: svc.points.redeem(A, "fine_discount", points=5000),
            "at most %(max)s points can be redeemed as a fine discount",
            {"max": svc.prog.fine_max_points},
        ),
    ]
    for case, template, values in cases:
        with pytest.raises(ServiceError) as caught:
            case()
        assert (caught.value.template, caught.value.values) == (template, values)
        assert str(caught.value) == template % values
    assert (
        str(ServiceError.of(ContractError("uid must be 4-10 bytes of hex (8-20 hex digits), got %(uid)s", uid="'ZZ'")))
        == "uid must be 4-10 bytes of hex (8-20 hex digits), got 'ZZ'"
    )
    # an error without a template is passed on as its text
    odd = Message.of(ValueError("something 100% new"))
    assert odd == "something 100% new" and odd.template == "something 100% new" and odd.values == {}


# --------------------------------------------------------------------------- device settings


def test_device_settings_are_checked_by_broker_settings_and_errors_name_the_path(svc):
    with pytest.raises(ServiceError) as caught:
        svc.devices.set("gate-in", **{"pins.relay": 40})
    assert caught.value.values["path"] == "pins.relay" and str(caught.value).startswith("pins.relay must be")
    with pytest.raises(ServiceError, match="lang is not a setting of a gate"):
        svc.devices.add("gate-2", "gate", settings={"lang": "en"})
    assert store.Device.get_by_id("gate-in").revision == 1  # nothing changed


def test_the_published_config_is_the_full_effective_settings(svc):
    d = svc.devices.set("gate-in", open_ms=2500, **{"pins.relay": 5})
    settings = svc.devices.config(d).settings
    assert settings["open_ms"] == 2500 and settings["clock_check"] == "auto"  # its own, then the gate's defaults
    assert settings["pins"]["relay"] == 5 and settings["pins"]["green"] == 27  # one pin over the default wiring
    assert settings["hours"]["mon"] == "08:00-22:00" and set(settings["library"]) == {"th", "en", "timezone"}
    # a key stored before broker.settings declared the settings is left out, not fatal
    store.Device.update(settings={"open_ms": 2500, "staff_pin_required": True}).where(
        store.Device.id == "gate-in"
    ).execute()
    assert "staff_pin_required" not in svc.devices.config(store.Device.get_by_id("gate-in")).settings


def test_a_device_save_audits_only_what_changed_and_a_save_that_changes_nothing_writes_nothing(svc):
    """The console's device form sends every field on each save: the ``device.set`` row listed the
    location, kind, gate and every setting unchanged. Only the keys whose value differs are saved
    and audited; a save that changes none writes no row and leaves the config revision."""
    from server.store import Audit

    def rows():
        return [r.detail for r in Audit.select().where(Audit.action == "device.set").order_by(Audit.id)]

    svc.devices.set("gate-in", location="Front door", open_ms=2500)
    form = {
        "kind": "gate",
        "direction": "in",
        "activity": "",
        "location": "Front door",
        "site": "",
        "clock_check": None,
    }
    d = svc.devices.set("gate-in", actor="web:alice", **form, open_ms=3500)
    assert d.settings["open_ms"] == 3500
    assert rows()[-1] == {"open_ms": "3500"}  # not the location, kind, gate, site or setting sent again
    revision, before = d.revision, rows()
    # the same form again (an unset setting sent empty), the default site named by its code: nothing differs
    d = svc.devices.set("gate-in", actor="web:alice", **{**form, "site": svc.prog.default_site}, open_ms=3500)
    assert d.revision == revision and d.site is None and rows() == before
    # one pin changed: that pin only; the callers hear what changed (the form's flash, the API's "changed")
    d, changed = svc.devices.change("gate-in", **{"pins.relay": 5, "pins.green": None})
    assert changed == {"pins.relay": 5} and rows()[-1] == {"pins.relay": "5"}
    assert svc.devices.change("gate-in", **{"pins.relay": 5})[1] == {}
