"""Lifting a kiosk staff PIN lock-out before its time (``docs/rules.md``, Staff PIN lock-out).

5 wrong PINs lock a staff card on one kiosk; a programme administrator lifts it with
``privcard admin staff unlock-pin MEMBER [--device KIOSK]`` or the Unlock button of the
console's Staff page. Both are audited (``staff.pin_cleared``), both are refused to an
account scoped to sites and to the staff role (``--as``, the console's 403), and a
refusal comes in English and Thai. The service on SQLite and PostgreSQL, the real
``privcard admin`` entry point and the real console app.
"""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from broker.contract import Query
from server import admin
from server.domain import config
from server.domain.config import to_toml
from server.store import Audit, StaffPinGuard
from tests.browser.web_support import ADMIN, flashes, post_form, text
from tests.helpers import admin_here, close_store, fresh_pg_database, open_service
from tests.site_support import ANNA, SAM, TWO_SITES, client, two_site_app

STAFF, STAFF2 = "04AA000001", "04AA000002"
PIN = "48261937"
_seq = iter(range(10**6))


def lock_out(svc, device: str, uid: str, wrong: int = 5) -> None:
    """Type ``wrong`` wrong PINs for ``uid`` at ``device`` (5: locked out)."""
    for _ in range(wrong):
        svc.staff.unlock(device, Query(f"q{next(_seq)}", uid, pin="0000"))


def try_pin(svc, device: str, uid: str, pin: str = PIN) -> str:
    return svc.staff.unlock(device, Query(f"q{next(_seq)}", uid, pin=pin)).outcome


def staff_members(svc, site_of_kiosks: dict[str, str] | None = None) -> dict[str, int]:
    kiosks = site_of_kiosks or {"kiosk-a": None, "kiosk-b": None}
    for dev, site in kiosks.items():
        svc.devices.add(dev, "kiosk", **({"site": site} if site else {}))
    ids = {}
    for name, uid in (("Staff One", STAFF), ("Staff Two", STAFF2)):
        m = svc.members.add(name, uid)
        svc.members.set(m.id, actor="test", staff=True, pin=PIN)
        ids[uid] = m.id
    return ids


@pytest.fixture(params=["sqlite", "postgresql"])
def svc(request, tmp_db_url):
    if request.param == "sqlite":
        service = open_service(tmp_db_url)
        service.ids = staff_members(service)
        yield service
        close_store()
        return
    pg_url, template = request.getfixturevalue("pg_url"), request.getfixturevalue("pg_template")
    with fresh_pg_database(pg_url, prefix="h19lo", template=template) as url:
        service = open_service(url)
        service.ids = staff_members(service)
        yield service
        close_store()


def test_clearing_lifts_the_lock_on_one_kiosk_or_all_and_is_audited(svc):
    lock_out(svc, "kiosk-a", STAFF)
    lock_out(svc, "kiosk-b", STAFF)
    lock_out(svc, "kiosk-a", STAFF2, wrong=2)  # counting, not locked
    assert try_pin(svc, "kiosk-a", STAFF) == "pin_locked"
    assert {(r["card"], r["device"], r["member"]) for r in svc.staff.lockouts()} == {
        (STAFF, "kiosk-a", svc.ids[STAFF]),
        (STAFF, "kiosk-b", svc.ids[STAFF]),
    }
    cleared = svc.staff.clear(str(svc.ids[STAFF]), device="kiosk-a", actor="cli:ops")
    assert cleared == [{"card": STAFF, "device": "kiosk-a", "failures": 5, "was_locked": True}]
    assert try_pin(svc, "kiosk-a", STAFF) == "staff_unlocked"
    assert try_pin(svc, "kiosk-b", STAFF) == "pin_locked"  # only the kiosk named
    # by card, every kiosk; the other member's count of wrong PINs is untouched
    assert [c["device"] for c in svc.staff.clear(STAFF, actor="cli:ops")] == ["kiosk-b"]
    assert try_pin(svc, "kiosk-b", STAFF) == "staff_unlocked"
    assert StaffPinGuard.get((StaffPinGuard.card == STAFF2) & (StaffPinGuard.device == "kiosk-a")).failures == 2
    assert svc.staff.lockouts() == []
    audits = list(Audit.select().where(Audit.action == "staff.pin_cleared").order_by(Audit.id))
    assert [(a.actor, a.detail["cleared"][0]["device"]) for a in audits] == [
        ("cli:ops", "kiosk-a"),
        ("cli:ops", "kiosk-b"),
    ]
    assert PIN not in json.dumps([a.detail for a in audits])


def test_nothing_to_clear_or_an_unknown_kiosk_is_refused_in_thai_and_english(svc):
    from server import catalogue
    from server.services.errors import NotFound, ServiceError

    with pytest.raises(ServiceError) as nothing:
        svc.staff.clear(STAFF2)
    assert str(nothing.value) == f"member #{svc.ids[STAFF2]} has no staff PIN lock-out"
    th = catalogue.translate(nothing.value.template, "th", **nothing.value.values)
    assert th == f"สมาชิก #{svc.ids[STAFF2]} ไม่ได้ถูกล็อก PIN เจ้าหน้าที่"
    with pytest.raises(NotFound, match="no device kiosk-zz"):
        svc.staff.clear(STAFF, device="kiosk-zz")
    with pytest.raises(NotFound):
        svc.staff.clear("04FFFFFFFF")


# --------------------------------------------------------------------------- the admin CLI


@pytest.fixture
def db(tmp_db_url, tmp_path):
    from server.web import accounts

    conf = tmp_path / "programme.toml"
    conf.write_text(to_toml(TWO_SITES), encoding="utf-8")
    svc = open_service(tmp_db_url, prog=config.load(conf))
    accounts.add_staff("root", "admin", "root-password-1")  # the programme's administrator
    accounts.add_staff("anna", "admin", "anna-password-1", sites="A")
    accounts.add_staff("sam", "staff", "sam-password-22")
    ids = staff_members(svc, {"kiosk-a": "A", "kiosk-b": "B"})
    lock_out(svc, "kiosk-a", STAFF)
    close_store()
    yield {"url": tmp_db_url, "conf": str(conf), "ids": ids}
    close_store()


def cli(db, *argv) -> tuple[int, object, str]:
    code, data, lines = admin_here("--db", db["url"], "--config", db["conf"], "--json", *argv)
    return code, data, "".join(f"{line}\n" for line in lines)


def test_the_cli_lists_and_lifts_a_lockout_as_the_programme_admin_only(db):
    code, rows, _ = cli(db, "staff", "pin-lockouts")
    assert code == 0 and [(r["card"], r["device"], r["name"]) for r in rows] == [(STAFF, "kiosk-a", "Staff One")]
    # a site's admin and a staff account may not: refused before anything is read, in both languages
    code, out, err = cli(db, "--as", "anna", "staff", "unlock-pin", STAFF)
    assert code == 1 and out["error"].startswith("privcard admin staff is the whole programme's; anna")
    assert out["error_th"].startswith("privcard admin staff เป็นคำสั่งของทั้งโครงการ")
    code, out, _ = cli(db, "--as", "sam", "staff", "unlock-pin", STAFF)
    assert code == 1 and "needs the admin role" in out["error"] and "ต้องใช้บทบาทผู้ดูแลระบบ" in out["error_th"]
    code, rows, _ = cli(db, "staff", "pin-lockouts")
    assert len(rows) == 1  # still locked
    code, out, err = cli(db, "--as", "root", "staff", "unlock-pin", STAFF2)
    assert code == 1 and out == {
        "error": f"member #{db['ids'][STAFF2]} has no staff PIN lock-out",
        "error_th": f"สมาชิก #{db['ids'][STAFF2]} ไม่ได้ถูกล็อก PIN เจ้าหน้าที่",
    }
    assert "privcard admin staff: สมาชิก" in err
    code, out, _ = cli(db, "--as", "root", "staff", "unlock-pin", str(db["ids"][STAFF]), "--device", "kiosk-a")
    assert code == 0 and out == [{"card": STAFF, "device": "kiosk-a", "failures": 5, "was_locked": True}]
    code, rows, _ = cli(db, "staff", "pin-lockouts")
    assert code == 0 and rows == []
    svc = open_service(db["url"], prog=config.load(db["conf"]))
    assert try_pin(svc, "kiosk-a", STAFF) == "staff_unlocked"
    audit = Audit.get(Audit.action == "staff.pin_cleared")
    assert audit.actor == "staff:root" and audit.target == str(db["ids"][STAFF])


def test_the_cli_text_output(db):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert admin.main(["--db", db["url"], "--config", db["conf"], "staff", "pin-lockouts"]) == 0
    head, row = out.getvalue().splitlines()  # a header in both languages, a row per locked card
    assert head.split()[:3] == ["Card/บัตร", "Device/อุปกรณ์", "Member/สมาชิก"]
    assert row.split()[:5] == [STAFF, "kiosk-a", f"#{db['ids'][STAFF]}", "Staff", "One"] and row.endswith(" UTC")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert admin.main(["--db", db["url"], "--config", db["conf"], "staff", "unlock-pin", STAFF]) == 0
    assert out.getvalue() == f"card {STAFF} on kiosk-a: unlocked\nบัตร {STAFF} ที่ kiosk-a: ปลดล็อกแล้ว\n"
    # nothing locked any more: said in both languages; --db after the action, as every admin command takes it
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert admin.main(["--config", db["conf"], "staff", "pin-lockouts", "--db", db["url"]]) == 0
    assert out.getvalue() == "no staff PIN lock-outs\nไม่มีบัตรเจ้าหน้าที่ที่ถูกล็อกเพราะใส่ PIN ผิด\n"


# --------------------------------------------------------------------------- the console


@pytest.fixture
def app(tmp_db_url):
    app = two_site_app(tmp_db_url, accounts=(ANNA, SAM))
    svc = app.extensions["privcard.service"]
    app.staff_ids = staff_members(svc, {"kiosk-a": "A", "kiosk-b": "B"})
    lock_out(svc, "kiosk-b", STAFF)
    yield app
    close_store()


@pytest.mark.parametrize("lang", ["en", "th"])
def test_the_staff_page_shows_the_lockout_and_its_unlock_button(app, lang):
    from tests.site_support import sign_in

    c = app.test_client()
    sign_in(c, ADMIN, lang=lang)
    page = c.get("/staff").text
    assert f'data-pin-lockout="{STAFF}@kiosk-b"' in page
    heading = {"en": "Kiosk staff PIN lock-outs", "th": "การล็อก PIN เจ้าหน้าที่ที่ตู้คีออสก์"}[lang]
    assert heading in text(page) and "Staff One" in text(page)
    done = post_form(c, "/staff", "/staff/pin-unlock", {"member": app.staff_ids[STAFF], "device": "kiosk-b"})
    said = {
        "en": f"Staff PIN lock-out of member #{app.staff_ids[STAFF]} lifted on kiosk-b.",
        "th": f"ปลดล็อก PIN เจ้าหน้าที่ของสมาชิก #{app.staff_ids[STAFF]} ที่ kiosk-b แล้ว",
    }[lang]
    assert said in flashes(done.text)
    assert "data-pin-lockout" not in done.text
    none = {"en": "No staff card is locked out on a kiosk.", "th": "ไม่มีบัตรเจ้าหน้าที่ถูกล็อกที่ตู้คีออสก์"}[lang]
    assert none in text(done.text)
    assert try_pin(app.extensions["privcard.service"], "kiosk-b", STAFF) == "staff_unlocked"
    assert Audit.get(Audit.action == "staff.pin_cleared").actor == f"web:{ADMIN[0]}"
    # again: nothing left to lift, said in the page's language
    again = post_form(c, "/staff", "/staff/pin-unlock", {"member": app.staff_ids[STAFF], "device": "kiosk-b"})
    nothing = {
        "en": f"member #{app.staff_ids[STAFF]} has no staff PIN lock-out on kiosk-b",
        "th": f"สมาชิก #{app.staff_ids[STAFF]} ไม่ได้ถูกล็อก PIN เจ้าหน้าที่ที่ kiosk-b",
    }[lang]
    assert any(nothing in f for f in flashes(again.text))


@pytest.mark.parametrize("who", [ANNA, SAM])
def test_a_sites_admin_or_staff_cannot_lift_it(app, who):
    c = client(app, who)
    assert c.get("/staff").status_code == 403
    admin_page = client(app, ADMIN).get("/staff").text
    from tests.browser.web_support import csrf_of

    token = csrf_of(c.get("/").text)
    r = c.post("/staff/pin-unlock", data={"member": app.staff_ids[STAFF], "device": "kiosk-b", "csrf_token": token})
    assert r.status_code == 403
    assert f'data-pin-lockout="{STAFF}@kiosk-b"' in admin_page
    assert try_pin(app.extensions["privcard.service"], "kiosk-b", STAFF) == "pin_locked"
