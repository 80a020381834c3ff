"""Careless input refused with a clear error, changing nothing (issue 11, low findings):
``units: 0``, float and bool points, dates out of the staff window, a 100k-character
e-mail, names with nothing visible or with control characters, a world-readable
database file from the CLI, and the CSV formula guard's tab and CR. Real SQLite; the
console and API through Flask's test client; the CLI as its own process.
"""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from server import catalogue
from server.services import ServiceError
from server.store import LedgerEntry, Member
from server.web.reports import _csv_cell
from tests.brokers import PYTHON, python_env
from tests.browser.web_support import ADMIN, csrf_of, flashes, make_app, sign_in
from tests.helpers import close_store, days_ago, open_service

CARD, OTHER = "04A1B2C3D4", "04A1B2C3D5"


@pytest.fixture
def svc(tmp_db_url):
    s = open_service(tmp_db_url)
    s.members.add("Somchai", CARD)  # 250 sign-up points
    s.members.add("Somsri", OTHER)
    yield s
    close_store()


def _unchanged(before):
    assert LedgerEntry.select().count() == before[0]
    assert [m.balance for m in Member.select().order_by(Member.id)] == before[1]


def _state():
    return LedgerEntry.select().count(), [m.balance for m in Member.select().order_by(Member.id)]


def test_zero_units_and_non_whole_points_are_refused(svc):
    before = _state()
    cases = [
        (lambda: svc.points.redeem(CARD, "locker_day", units=0), "units must be 1-1000"),
        (lambda: svc.points.redeem(CARD, "locker_day", units=1.0), "units must be 1-1000"),
        (lambda: svc.points.redeem(CARD, "locker_day", units=True), "units must be 1-1000"),
        (lambda: svc.points.redeem(CARD, "fine_discount", points=25.0), "points must be a whole number"),
        (lambda: svc.points.redeem(CARD, "fine_discount", points=True), "points must be a whole number"),
        (lambda: svc.points.redeem(CARD, "locker_day", points=25.0), "points must be a whole number"),
        (lambda: svc.points.transfer(CARD, OTHER, 10.5), "positive whole number"),
        (lambda: svc.points.transfer(CARD, OTHER, True), "positive whole number"),
    ]
    for call, message in cases:
        with pytest.raises(ServiceError, match=message):
            call()
    _unchanged(before)
    assert svc.points.redeem(CARD, "locker_day")["units"] == 1  # not given: one unit


@pytest.mark.parametrize("at", ["0001-01-01", "0001-01-01T00:00:00+14:00", "2020-06-01", "2659-01-01"])
def test_a_credit_dated_outside_the_window_is_refused(svc, at):
    before = _state()
    with pytest.raises(ServiceError, match=r"cannot|future"):
        svc.points.award(CARD, "borrow", at=at)
    _unchanged(before)


def test_a_recent_date_still_credits(svc):
    outcome, entry = svc.points.award(CARD, "borrow", at=days_ago(3).isoformat())
    assert outcome == "credited" and entry.points > 0


@pytest.mark.parametrize(
    "name, message",
    [
        ("\u200b", "visible character"),
        ("\u200b\u200d\ufeff", "visible character"),
        ("   ", "visible character"),
        ("\u3000", "visible character"),
        ("Som\x00chai", "control characters"),
        ("Som\tchai", "control characters"),
        ("Somchai\x1b[2J", "control characters"),
    ],
)
def test_names_with_nothing_visible_or_control_characters_are_refused(svc, name, message):
    before = _state()
    with pytest.raises(ServiceError, match=message):
        svc.members.add(name, "04FFEEDDCC")
    with pytest.raises(ServiceError, match=message):
        svc.members.set(CARD, name=name)
    _unchanged(before)
    assert Member.get_by_id(1).name == "Somchai"


def test_names_are_normalised(svc):
    m = svc.members.add("  Rene\u0301e สมหญิง ", "04FFEEDDCC")  # e + combining acute
    assert m.name == "Ren\u00e9e สมหญิง"


@pytest.mark.parametrize(
    "email", ["x" * 100_000 + "@example.org", "a" * 250 + "@x.org", "no-at-sign", "a@b", "a b@c.org"]
)
def test_bad_emails_are_refused(svc, email):
    with pytest.raises(ServiceError, match="e-mail must be"):
        svc.members.add("Somying", "04FFEEDDCC", email=email)
    with pytest.raises(ServiceError, match="e-mail must be"):
        svc.members.set(CARD, email=email)
    assert Member.select().count() == 2 and Member.get_by_id(1).email is None


def test_a_good_email_is_kept(svc):
    assert svc.members.set(CARD, email=" somchai@example.ac.th ").email == "somchai@example.ac.th"


def test_refusals_read_in_thai():
    for text in (
        "a name must contain at least one visible character",
        "e-mail must be an address like name@example.org of at most 254 characters",
        "points must be a whole number, got %(points)r",
        "a date more than %(days)s days ago cannot be credited (%(day)s)",
    ):
        assert catalogue.TH[text] != text


def test_console_redeem_of_zero_units_is_refused(tmp_db_url):
    app = make_app(tmp_db_url)
    svc = app.extensions["privcard.service"]
    m = svc.members.add("Somchai", CARD)
    c = app.test_client()
    sign_in(c, ADMIN, "en")
    token = csrf_of(c.get(f"/members/{m.id}").text)
    r = c.post(f"/members/{m.id}/redeem", data={"reward": "locker_day", "units": "0", "csrf_token": token})
    page = c.get(r.location)
    assert "units must be 1-1000" in " ".join(flashes(page.text))
    assert Member.get_by_id(m.id).balance == 250  # nothing spent
    close_store()


def test_the_console_and_the_api_refuse_to_spend_an_expired_members_points_in_english_and_thai(tmp_db_url):
    """An expired member's balance waits for the renewal: the member page's redeem and transfer forms and
    ``POST /api/members/ID/redeem``, ``/api/transfers`` go through ``Points`` and are refused, nothing spent.

    Before: the console redeemed a locker day (and moved 100 points to another member) for a member whose
    membership had ended the day before: the flash said "Redeemed 25 points: Locker (per day)".
    """
    from datetime import timedelta

    from server.web import accounts

    app = make_app(tmp_db_url)
    svc = app.extensions["privcard.service"]
    ended = svc.ledger.today() - timedelta(days=1)
    m = svc.members.add("Somchai", CARD, valid_until=ended.isoformat())
    other = svc.members.add("Somsri", OTHER)
    c = app.test_client()
    sign_in(c, ADMIN, "th")
    token = csrf_of(c.get(f"/members/{m.id}").text)
    thai = f"สมาชิกภาพของสมาชิก {m.id} หมดอายุแล้วเมื่อ {ended.day}/{ended.month}/{ended.year + 543}"
    r = c.post(f"/members/{m.id}/redeem", data={"reward": "locker_day", "units": "1", "csrf_token": token})
    shown = " ".join(flashes(c.get(r.location).text if r.status_code == 302 else r.text))
    assert thai in shown and "คะแนนจะใช้ได้อีกเมื่อต่ออายุสมาชิก" in shown, shown
    r = c.post(f"/members/{m.id}/transfer", data={"to": str(other.id), "points": "100", "csrf_token": token})
    assert r.status_code == 400 and thai in " ".join(flashes(r.text))
    h = {"Authorization": f"Bearer {accounts.create_token(ADMIN[0], 't')}"}
    r = c.post(f"/api/members/{m.id}/redeem", json={"reward": "fine_discount", "points": 25}, headers=h)
    body = r.get_json()
    assert r.status_code == 400 and "the points wait for the renewal" in body["error"], body
    assert body["error_th"].startswith(thai), body
    r = c.post("/api/transfers", json={"from": str(m.id), "to": str(other.id), "points": 10}, headers=h)
    assert r.status_code == 400 and "the points wait for the renewal" in r.get_json()["error"]
    assert [Member.get_by_id(x.id).balance for x in (m, other)] == [250, 250]
    assert LedgerEntry.select().where(LedgerEntry.member == m.id).count() == 1  # the sign-up only
    close_store()


def test_api_float_points_are_refused(tmp_db_url):
    app = make_app(tmp_db_url)
    svc = app.extensions["privcard.service"]
    a, b = svc.members.add("Somchai", CARD), svc.members.add("Somsri", OTHER)
    from server.web import accounts

    token = accounts.create_token(ADMIN[0], "t")
    c = app.test_client()
    h = {"Authorization": f"Bearer {token}"}
    r = c.post("/api/transfers", json={"from": str(a.id), "to": str(b.id), "points": 10.0}, headers=h)
    assert r.status_code == 400 and "whole number" in r.get_json()["error"]
    r = c.post(f"/api/members/{a.id}/redeem", json={"reward": "locker_day", "units": 0}, headers=h)
    assert r.status_code == 400 and "units must be 1-1000" in r.get_json()["error"]
    assert [Member.get_by_id(x.id).balance for x in (a, b)] == [250, 250]
    close_store()


def test_the_cli_creates_its_database_private(tmp_path):
    path = tmp_path / "new" / "privcard.db"
    proc = subprocess.run(
        [PYTHON, "-m", "broker.dispatcher", "admin", "--db", f"sqlite:///{path}", "member", "list"],
        capture_output=True,
        text=True,
        env=python_env(),
        preexec_fn=lambda: os.umask(0),  # even with no umask at all
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    for f in [path, *path.parent.glob("privcard.db-*")]:
        mode = stat.S_IMODE(f.stat().st_mode)
        assert mode & 0o007 == 0 and mode & 0o022 == 0, (f.name, oct(mode))  # nothing for others, no group writes
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.stat().st_gid == path.parent.stat().st_gid


@pytest.mark.parametrize("cell", ["\t=1+2", '\r=HYPERLINK("http://x")', "=1+2", "@SUM(A1)", "+cmd", "-2+3"])
def test_csv_cells_that_a_spreadsheet_would_run_are_quoted(cell):
    assert _csv_cell(cell, "en") == "'" + cell


@pytest.mark.parametrize("cell", ["-5", "+3", "12.5", "Somchai", ""])
def test_plain_cells_stay_as_they_are(cell):
    assert _csv_cell(cell, "en") == cell
