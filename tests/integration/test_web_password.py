"""Passwords from the console: staff change their own on the Account page, admins set
a temporary one that must be changed at the next sign-in, and a change ends every
other session of the account. Flask's test client against a real database (SQLite;
the migration test also on PostgreSQL), signing in through the real forms.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from server import catalogue, store
from server.store import Audit
from server.web import accounts
from tests.browser.web_support import ADMIN, STAFF, csrf_of, flashes, post_form, sign_in, text

WEB = Path(accounts.__file__).resolve().parent
NEW = "bob-new-password-33"
TEMP = "temporary-pass-44"


def client(app, who=STAFF, lang="en"):
    """A new browser-like client signed in as ``who``."""
    c = app.test_client()
    sign_in(c, who, lang)
    return c


def bob() -> accounts.Staff:
    return accounts.Staff.get(accounts.Staff.username == STAFF[0])


def change(c, current: str, new: str, again: str | None = None):
    """Post the Account page's form like a person; returns the page it leads to."""
    return post_form(
        c, "/account", "/account", {"current": current, "new": new, "again": new if again is None else again}
    )


def signs_in(app, username: str, password: str) -> int:
    """The status of a sign-in attempt through the form (302 = signed in)."""
    c = app.test_client()
    c.get("/lang/en")
    return c.post(
        "/login", data={"username": username, "password": password, "csrf_token": csrf_of(c.get("/login").text)}
    ).status_code


def test_change_own_password(app):
    c = client(app)
    assert 'href="/account"' in c.get("/").text  # the header links to it
    page = c.get("/account")
    assert page.status_code == 200
    assert "Change password" in text(page.text) and "Current password" in text(page.text)
    before = bob()

    page = change(c, STAFF[1], NEW)
    assert "Your password was changed. Other sessions of this account are signed out." in flashes(page.text)
    after = bob()
    assert after.password_hash.startswith("$argon2id$") and after.password_hash != before.password_hash
    assert after.password_version == before.password_version + 1
    assert c.get("/").status_code == 200  # this session goes on
    assert signs_in(app, STAFF[0], STAFF[1]) == 401  # the old password stops working
    assert signs_in(app, STAFF[0], NEW) == 302
    row = Audit.select().where(Audit.action == "staff.password").order_by(Audit.id.desc()).get()
    assert (row.actor, row.target, row.detail) == ("web:bob", "bob", {"must_change_password": False})
    for a in Audit.select():  # never the password in the audit trail
        blob = f"{a.actor} {a.action} {a.target} {a.detail}"
        assert NEW not in blob and STAFF[1] not in blob and after.password_hash not in blob


def test_wrong_current_password_changes_nothing_and_counts_toward_the_lockout(app):
    c = client(app)
    before = bob()
    for i in range(4):
        page = change(c, "not-my-password", NEW)
        assert "The current password is wrong; the password was not changed." in flashes(page.text)
        s = bob()
        assert s.password_hash == before.password_hash and s.password_version == before.password_version
        assert s.failures == i + 1  # the same counter failed sign-ins use
    assert Audit.select().where(Audit.action == "staff.password_failed").count() == 4
    # a fifth failure, this time at the sign-in form, locks the account: one lock-out for both
    assert signs_in(app, STAFF[0], "wrong-again") == 401
    s = bob()
    assert s.locked_until is not None and s.locked_until > store.utcnow()
    assert signs_in(app, STAFF[0], STAFF[1]) == 401  # locked, even with the right password
    # and while locked the Account page refuses the right current password too
    page = change(c, STAFF[1], NEW)
    assert any("locked until" in f for f in flashes(page.text))
    assert bob().password_hash == before.password_hash


def test_five_wrong_current_passwords_lock_the_account(app):
    c = client(app)
    for _ in range(4):
        change(c, "not-my-password", NEW)
    page = change(c, "not-my-password", NEW)
    assert any("Too many failed attempts: this account is locked until" in f for f in flashes(page.text))
    assert bob().locked_until > store.utcnow()
    row = Audit.select().where(Audit.action == "staff.password_failed").order_by(Audit.id.desc()).get()
    assert row.detail == {"failures": 5, "locked": True}
    assert signs_in(app, STAFF[0], STAFF[1]) == 401


@pytest.mark.parametrize(
    "new, again, message",
    [
        ("short", "short", "password must be at least 8 characters"),
        ("x" * 257, "x" * 257, "password must be at most 256 characters"),
        (NEW, NEW + "-typo", "the two new passwords differ"),
        (STAFF[1], STAFF[1], "the new password must differ from the current one"),
    ],
)
def test_bad_new_password_is_refused_and_changes_nothing(app, new, again, message):
    c = client(app)
    before = bob()
    page = change(c, STAFF[1], new, again)
    assert f"{message} — the password was not changed." in flashes(page.text)
    s = bob()
    assert (s.password_hash, s.password_version, s.failures) == (before.password_hash, before.password_version, 0)
    assert Audit.select().where(Audit.action == "staff.password").count() == 0
    assert signs_in(app, STAFF[0], STAFF[1]) == 302


def test_errors_are_shown_in_thai(app):
    c = client(app, lang="th")
    assert "เปลี่ยนรหัสผ่าน" in text(c.get("/account").text) and "Change password" not in c.get("/account").text
    page = change(c, STAFF[1], "short")
    assert "รหัสผ่านต้องมีอย่างน้อย 8 ตัวอักษร — รหัสผ่านยังไม่ถูกเปลี่ยน" in flashes(page.text)
    page = change(c, "wrong-password", NEW)
    assert "รหัสผ่านปัจจุบันไม่ถูกต้อง รหัสผ่านยังไม่ถูกเปลี่ยน" in flashes(page.text)


def test_password_forms_without_csrf_token_change_nothing(app):
    c = client(app)
    before = bob()
    form = {"current": STAFF[1], "new": NEW, "again": NEW}
    r = c.post("/account", data=form)
    assert r.status_code == 400 and "nothing was changed" in text(r.text)
    assert c.post("/account", data={**form, "csrf_token": "forged.token"}).status_code == 400
    admin = client(app, ADMIN)
    foreign = csrf_of(admin.get("/").text)  # another session's token
    assert c.post("/account", data={**form, "csrf_token": foreign}).status_code == 400
    r = admin.post("/staff/password", data={"staff": before.id, "password": TEMP, "again": TEMP})
    assert r.status_code == 400
    s = bob()
    assert (s.password_hash, s.password_version, s.must_change_password, s.failures) == (
        before.password_hash,
        before.password_version,
        False,
        0,
    )


def test_admin_temporary_password_forces_a_change_at_the_next_sign_in(app):
    old_session = client(app)  # bob is signed in somewhere
    admin = client(app, ADMIN)
    page = post_form(admin, "/staff", "/staff/password", {"staff": bob().id, "password": TEMP, "again": TEMP})
    assert (
        "Temporary password set for bob: they must change it at their next sign-in; their open sessions are signed out."
    ) in flashes(page.text)
    assert bob().must_change_password
    assert re.search(r'data-staff="bob"><td>bob <span class="badge must-change">must change password', page.text)
    row = Audit.select().where(Audit.action == "staff.password").order_by(Audit.id.desc()).get()
    assert (row.actor, row.target, row.detail) == ("web:alice", "bob", {"must_change_password": True})
    r = old_session.get("/")
    assert r.status_code == 302 and r.location.startswith("/login")  # the old session ended

    c = app.test_client()
    c.get("/lang/en")
    r = c.post("/login", data={"username": STAFF[0], "password": TEMP, "csrf_token": csrf_of(c.get("/login").text)})
    assert r.status_code == 302 and r.location == "/account"
    # every page but the Account page, sign-out, the language switch and static files leads there
    member = post_form(admin, "/members", "/members", {"name": "Somchai", "card": "04A1B2C3D4"})
    mid = int(member.request.path.rsplit("/", 1)[1])
    for url in ("/", "/members", f"/members/{mid}", "/events", "/reports", "/dashboard/live", "/staff"):
        r = c.get(url)
        assert r.status_code == 302 and r.location == "/account", url
    r = c.post(f"/members/{mid}/credit", data={"activity": "borrow", "csrf_token": csrf_of(c.get("/account").text)})
    assert r.status_code == 302 and r.location == "/account"
    assert store.LedgerEntry.select().where(store.LedgerEntry.member == mid).count() == 1  # sign-up only
    # the JSON API with this cookie session is refused; it says why
    r = c.get("/api/me")
    assert r.status_code == 403 and "must change its password" in r.get_json()["error"]
    assert c.get("/static/console.css").status_code == 200
    page = c.get("/account")
    assert page.status_code == 200
    assert "An administrator chose the password of this account." in text(page.text)
    assert 'href="/members"' not in page.text  # no navigation that only bounces back
    assert c.get("/lang/th", follow_redirects=True).request.path == "/account"
    assert "ผู้ดูแลระบบเป็นผู้กำหนดรหัสผ่านของบัญชีนี้" in text(c.get("/account").text)
    c.get("/lang/en")

    # the temporary password cannot be kept
    page = change(c, TEMP, TEMP)
    assert "the new password must differ from the current one — the password was not changed." in flashes(page.text)
    assert bob().must_change_password
    token = csrf_of(c.get("/account").text)
    r = c.post("/account", data={"current": TEMP, "new": NEW, "again": NEW, "csrf_token": token})
    assert r.status_code == 302 and r.location == "/"  # on to the console
    assert not bob().must_change_password
    assert c.get("/").status_code == 200 and c.get(f"/members/{mid}").status_code == 200
    assert c.get("/api/me").get_json()["username"] == "bob"
    assert signs_in(app, STAFF[0], TEMP) == 401 and signs_in(app, STAFF[0], NEW) == 302


def test_sign_out_works_while_a_change_is_required(app):
    accounts.set_password(STAFF[0], TEMP, actor="test", must_change=True)
    c = app.test_client()
    sign_in_form = c.get("/login")
    c.post("/login", data={"username": STAFF[0], "password": TEMP, "csrf_token": csrf_of(sign_in_form.text)})
    r = c.post("/logout", data={"csrf_token": csrf_of(c.get("/account").text)})
    assert r.status_code == 302 and r.location == "/login"
    assert c.get("/account").location.startswith("/login")


def test_admin_reset_refuses_bad_input(app):
    admin = client(app, ADMIN)
    before = bob()
    for form, message in [
        ({"staff": before.id, "password": "short", "again": "short"}, "password must be at least 8 characters"),
        ({"staff": before.id, "password": TEMP, "again": TEMP + "x"}, "the two new passwords differ"),
        ({"staff": "", "password": TEMP, "again": TEMP}, "choose an account"),
        ({"staff": 9999, "password": TEMP, "again": TEMP}, "choose an account"),
    ]:
        page = post_form(admin, "/staff", "/staff/password", form)
        assert f"{message} — the password was not changed." in flashes(page.text), form
    me = accounts.Staff.get(accounts.Staff.username == ADMIN[0])
    page = post_form(admin, "/staff", "/staff/password", {"staff": me.id, "password": TEMP, "again": TEMP})
    assert "change your own password on the Account page — the password was not changed." in flashes(page.text)
    s = bob()
    assert (s.password_hash, s.must_change_password) == (before.password_hash, False)
    assert accounts.Staff.get_by_id(me.id).password_hash == me.password_hash
    # and a staff member cannot reset anyone
    staff = client(app)
    r = staff.post(
        "/staff/password",
        data={"staff": me.id, "password": TEMP, "again": TEMP, "csrf_token": csrf_of(staff.get("/").text)},
    )
    assert r.status_code == 403
    assert accounts.Staff.get_by_id(me.id).password_hash == me.password_hash


def test_admin_reset_lifts_a_lockout(app):
    for _ in range(5):
        signs_in(app, STAFF[0], "wrong-password")
    assert bob().locked_until is not None
    admin = client(app, ADMIN)
    post_form(admin, "/staff", "/staff/password", {"staff": bob().id, "password": TEMP, "again": TEMP})
    assert bob().locked_until is None and bob().failures == 0
    assert signs_in(app, STAFF[0], TEMP) == 302


def test_console_add_staff_sets_the_flag_and_the_cli_only_with_must_change(app, capsys):
    from server.web import staff_admin

    admin = client(app, ADMIN)
    page = post_form(admin, "/staff", "/staff", {"username": "carol", "role": "staff", "password": TEMP})
    assert "Staff account carol added. They must choose their own password at the first sign-in." in flashes(page.text)
    carol = accounts.Staff.get(accounts.Staff.username == "carol")
    assert carol.must_change_password
    c = app.test_client()
    c.get("/lang/en")
    r = c.post("/login", data={"username": "carol", "password": TEMP, "csrf_token": csrf_of(c.get("/login").text)})
    assert r.location == "/account" and c.get("/members").location == "/account"

    db = f"sqlite:///{store.db.obj.database}"
    assert staff_admin.main(["--db", db, "staff", "add", "dave", "--password", TEMP]) == 0
    assert not accounts.Staff.get(accounts.Staff.username == "dave").must_change_password  # as before
    assert staff_admin.main(["--db", db, "staff", "add", "erin", "--password", TEMP, "--must-change"]) == 0
    assert accounts.Staff.get(accounts.Staff.username == "erin").must_change_password
    assert staff_admin.main(["--db", db, "staff", "passwd", "dave", "--password", NEW, "--must-change"]) == 0
    assert accounts.Staff.get(accounts.Staff.username == "dave").must_change_password
    assert staff_admin.main(["--db", db, "staff", "passwd", "erin", "--password", NEW]) == 0
    assert not accounts.Staff.get(accounts.Staff.username == "erin").must_change_password
    capsys.readouterr()
    assert staff_admin.main(["--db", db, "staff", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # one header naming the columns in both languages, then a row per account
    assert lines[0].split() == [
        "Account/บัญชีผู้ใช้",
        "Role/บทบาท",
        "State/สถานะ",
        "Sites/สาขา",
        "Locked",
        "until/ล็อกถึง",
        "Note/หมายเหตุ",
    ]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    tail = ["must", "change", "password/ต้องเปลี่ยนรหัสผ่าน"]
    assert rows["dave"][1:] == ["staff/เจ้าหน้าที่", "active/ใช้งานได้", "every", "site/ทุกสาขา", *tail]
    assert rows["erin"][1:] == ["staff/เจ้าหน้าที่", "active/ใช้งานได้", "every", "site/ทุกสาขา"]
    # scripts read --json
    assert staff_admin.main(["--db", db, "staff", "list", "--json"]) == 0
    data = {r["username"]: r for r in json.loads(capsys.readouterr().out)}
    assert data["dave"]["must_change_password"] is True and data["erin"]["must_change_password"] is False
    assert data["erin"] == {
        "username": "erin",
        "role": "staff",
        "active": True,
        "locked_until": None,
        "must_change_password": False,
        "sites": None,
    }


def test_api_token_is_unaffected_by_the_flag(app):
    before = accounts.create_token(STAFF[0], "script", actor="test")
    accounts.set_password(STAFF[0], TEMP, actor="test", must_change=True)
    # the new password revoked the token made before it; one made after works despite the flag
    assert accounts.staff_for_token(before) is None
    token = accounts.create_token(STAFF[0], "script", actor="test")
    c = app.test_client()
    assert c.get("/api/me", headers={"Authorization": f"Bearer {before}"}).status_code == 401
    auth = {"Authorization": f"Bearer {token}"}
    r = c.get("/api/me", headers=auth)
    assert r.status_code == 200 and r.get_json()["username"] == "bob"
    r = c.post("/api/members", json={"name": "Token Person", "card": "04ABCDEF01"}, headers=auth)
    assert r.status_code == 201
    assert store.Member.get_or_none(store.Member.name == "Token Person") is not None


def test_a_change_ends_every_other_session(app):
    first, second = client(app), client(app)
    stolen = first.get_cookie("privcard_session").value  # a copy of this session's cookie, taken earlier
    change(first, STAFF[1], NEW)
    assert first.get("/").status_code == 200  # the session that changed it goes on
    r = second.get("/")
    assert r.status_code == 302 and r.location.startswith("/login")
    assert second.get("/api/me").status_code == 401
    replay = app.test_client()
    replay.set_cookie("privcard_session", stolen)
    assert replay.get("/").status_code == 302  # the cookie from before the change is worthless now
    # an admin's reset ends the session that changed it as well
    accounts.set_password(STAFF[0], TEMP, actor="test", must_change=True)
    assert first.get("/").location.startswith("/login")


def test_an_admin_reset_during_the_change_is_not_overwritten(app, monkeypatch):
    real = accounts.hash_password

    def hash_while_an_admin_resets(password):
        digest = real(password)
        if password == NEW:  # while bob's new password is hashed, an admin sets a temporary one
            accounts.set_password(STAFF[0], TEMP, actor="web:alice", must_change=True)
        return digest

    monkeypatch.setattr(accounts, "hash_password", hash_while_an_admin_resets)
    with pytest.raises(accounts.AccountError, match="changed meanwhile"):
        accounts.change_own_password(bob().id, STAFF[1], NEW, NEW)
    assert bob().must_change_password
    assert accounts.authenticate(STAFF[0], TEMP).username == STAFF[0]


def test_disabled_account_is_signed_out(app):
    c = client(app)
    accounts.set_staff(STAFF[0], active=False, actor="test")
    assert c.get("/").location.startswith("/login")


# --------------------------------------------------------------------------- migration


def test_existing_database_gets_the_password_columns_in_place(any_db_url):
    from server.domain.config import load
    from server.web import create_app

    store.connect(any_db_url)
    accounts.add_staff(*ADMIN[:1], "admin", ADMIN[1], actor="test")
    token = accounts.create_token(ADMIN[0], "script", actor="test")
    # the database as the release before the password change left it: no columns, no
    # session table, web schema version 2
    store.db.execute_sql("DROP TABLE web_session")
    for column in ("must_change_password", "password_version"):
        store.db.execute_sql(f"ALTER TABLE web_staff DROP COLUMN {column}")
    store.Counter.update(value=2).where(store.Counter.key == "schema:web").execute()
    columns = {c.name for c in store.db.get_columns("web_staff")}
    assert "must_change_password" not in columns and "password_version" not in columns
    store.db.close()

    app = create_app(any_db_url, load(), testing=True)  # upgrades on start
    try:
        assert store.counter("schema:web") == len(store.EXTRA_MIGRATIONS["web"]) == 5
        columns = {c.name for c in store.db.get_columns("web_staff")}
        assert {"must_change_password", "password_version"} <= columns
        alice = accounts.Staff.get(accounts.Staff.username == ADMIN[0])
        assert (alice.must_change_password, alice.password_version) == (False, 0)
        assert accounts.staff_for_token(token).username == ADMIN[0]  # her token survived
        c = app.test_client()
        sign_in(c, ADMIN)
        assert c.get("/staff").status_code == 200
        post_form(c, "/account", "/account", {"current": ADMIN[1], "new": NEW, "again": NEW})
        assert accounts.Staff.get(accounts.Staff.username == ADMIN[0]).password_version == 1
        assert store.upgrade() == len(store.MIGRATIONS)  # a second start is a no-op
        assert store.counter("schema:web") == 5
    finally:
        store.db.close()


def test_existing_database_gets_the_session_table(any_db_url):
    from server.domain.config import load
    from server.web import create_app

    store.connect(any_db_url)
    accounts.add_staff(*ADMIN[:1], "admin", ADMIN[1], actor="test")
    alice = accounts.Staff.get(accounts.Staff.username == ADMIN[0])
    token = accounts.create_token(ADMIN[0], "script", actor="test")
    # the database as the previous release left it: web schema version 3, no web_session
    store.db.execute_sql("DROP TABLE web_session")
    store.Counter.update(value=3).where(store.Counter.key == "schema:web").execute()
    assert "web_session" not in store.db.get_tables()
    store.db.close()

    app = create_app(any_db_url, load(), testing=True)  # upgrades on start
    try:
        assert store.counter("schema:web") == len(store.EXTRA_MIGRATIONS["web"]) == 5
        assert "web_session" in store.db.get_tables()
        assert accounts.staff_for_token(token).username == ADMIN[0]  # accounts and tokens kept
        # a cookie of the previous release (account id and password version, no session id)
        # is no session any more: that browser signs in once more
        old = app.test_client()
        old.set_cookie(
            "privcard_session",
            app.session_interface.get_signing_serializer(app).dumps(
                {"staff_id": alice.id, "pwv": alice.password_version, "lang": "en"}
            ),
        )
        r = old.get("/")
        assert r.status_code == 302 and r.location.startswith("/login")
        c = app.test_client()
        sign_in(c, ADMIN)
        assert c.get("/staff").status_code == 200
        assert accounts.WebSession.select().where(accounts.WebSession.staff == alice.id).count() == 1
        post_form(c, "/", "/logout", {})
        assert c.get("/").status_code == 302
        assert store.upgrade() == len(store.MIGRATIONS)  # a second start is a no-op
        assert store.counter("schema:web") == 5
    finally:
        store.db.close()


# --------------------------------------------------------------------------- i18n


#: the exceptions and messages whose first argument is a template the console translates
TEMPLATE_CALLS = ("AccountError", "ServiceError", "NotFound", "Message")
SERVICES = sorted((WEB.parent / "services").glob("*.py"))
#: the packages whose errors the service passes on with their templates
PASSED_ON = {
    WEB.parent.parent / "broker" / "contract.py": "ContractError",
    WEB.parent.parent / "broker" / "settings.py": "_fail",
    WEB.parent / "domain" / "rules.py": "RuleError",
}


def _template_calls():
    """(path, call node, enclosing classes and functions) of every AccountError/ServiceError/... raised or built
    in the console's sources and the service layer."""

    def visit(node, path, scopes):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            scopes = (*scopes, node.name)
        if (
            isinstance(node, ast.Call)
            and node.args
            and (node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")) in TEMPLATE_CALLS
        ):
            yield path, node, scopes
        for child in ast.iter_child_nodes(node):
            yield from visit(child, path, scopes)

    for path in [*WEB.glob("*.py"), *SERVICES]:
        yield from visit(ast.parse(path.read_text()), path, ())


def _passed_on_templates() -> set[str]:
    """The templates of the contract's, the settings' and the rules' errors that carry values (passed on)."""
    found = set()
    for path, name in PASSED_ON.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == name
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and {k.arg for k in node.keywords} - {"ref"}
            ):
                found.add(node.args[0].value)
    return found


def _console_strings() -> set[str]:
    """Every English source string the console shows: ``_("...")``, AccountError and ServiceError templates."""
    from server.web import auth

    found = set()
    for path in (WEB / "templates").glob("*.html"):
        found.update(m.group(2) for m in re.finditer(r"""_\(\s*(["'])(.*?)\1""", path.read_text()))
    for path in WEB.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args or not isinstance(node.args[0], ast.Constant):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name == "_" and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    found.update(node.args[0].value for _path, node, _f in _template_calls() if isinstance(node.args[0], ast.Constant))
    found.update(auth.ERROR_MESSAGES.values())  # the error pages' texts, translated via a table
    found.update(_passed_on_templates())  # contract/rules messages the service passes on
    return found


def test_service_errors_are_templates_with_their_values_apart():
    """A ServiceError/AccountError built from an f-string could not be translated: the template is a literal."""
    calls = list(_template_calls())
    assert len([c for c in calls if c[0] in SERVICES]) > 45  # the scan sees the service layer's raises
    for path, node, scopes in calls:
        where = f"{path.name}:{node.lineno}"
        first = node.args[0]
        # the classes' own plumbing, and another package's text that matched no known template (kept as it is)
        if set(scopes) & set(TEMPLATE_CALLS):
            continue
        assert isinstance(first, ast.Constant) and isinstance(first.value, str), f"{where}: not a literal template"
        # every placeholder has a value and every value a placeholder (else str(exc) would raise or lose it)
        keywords = {k.arg for k in node.keywords}
        assert set(re.findall(r"%\((\w+)\)", first.value)) == keywords, where


def test_every_console_string_has_a_thai_translation():
    strings = _console_strings()
    assert "Change password" in strings and "the two new passwords differ" in strings  # the scan sees them
    assert "balance %(balance)s is less than %(points)s points" in strings  # ... and ServiceError templates
    assert "uid must be 4-10 bytes of hex (8-20 hex digits), got %(uid)s" in strings
    assert "at most %(max)s points can be redeemed as a fine discount" in strings  # ... and RuleError templates
    assert "%(path)s: GPIO%(pin)s is already used for %(other)s" in strings  # ... and device settings' ones
    missing = sorted(s for s in strings if s not in catalogue.TH)
    assert not missing, missing
    for source in strings:  # placeholders survive translation
        assert set(re.findall(r"%\((\w+)\)", source)) == set(re.findall(r"%\((\w+)\)", catalogue.TH[source])), source
