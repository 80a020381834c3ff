"""A library's own member groups (``[terms.groups]``) are the groups prize draws and campaigns may
name — in the service layer, the console's forms and ``privcard admin draw create`` / ``campaign
add`` — and an unknown group is refused with the list of the programme's groups, in English and
Thai. Real SQLite; the console through Flask's test client; the CLI in this process.

Before: draws and campaigns accepted only the shipped U1–U5 (``members.GROUPS``, hard-coded):
a library whose groups are STU and FAC could enrol a member as STU but not draw a prize among
STU members nor run a campaign for them ("group must be one of U1, U2, U3, U4, U5, got 'STU'"),
while a draw for U1 — a group it does not have — was accepted and found nobody.
"""

from __future__ import annotations

import re

from server.services import ServiceError
from tests.browser.web_support import ADMIN, flashes, post_form, sign_in
from tests.helpers import OWN_GROUPS, admin_here, close_store, new_uid, open_service

WEEK = {"starts": "2026-12-07 00:00", "ends": "2026-12-11 23:59"}


def test_draws_and_campaigns_name_the_programmes_own_groups_and_refuse_others(app):
    svc = app.extensions["privcard.service"]
    svc.programme.set_section("terms", OWN_GROUPS, actor="test")
    student = svc.members.add("Student", new_uid(), group="STU")
    svc.members.add("Lecturer", new_uid(), group="FAC", valid_until="2030-01-01")
    d = svc.draws.create("Students' prize", winners=1, group="STU", prize_points=10, actor="test")
    assert d["filters"]["group"] == "STU"
    assert [m for m, _ in svc.draws.eligible(d["filters"])] == [student.id]
    try:
        svc.draws.create("Prize", winners=1, group="U1", prize_points=10, actor="test")
    except ServiceError as exc:
        assert str(exc) == "group must be one of STU, FAC, got 'U1'"
    else:
        raise AssertionError("a draw for a group the programme does not have was accepted")
    c = svc.campaigns.add({"code": "stu_week", "kind": "bonus", "bonus": 3, "groups": ["STU"], **WEEK}, actor="t")
    assert c["groups"] == ["STU"]
    try:
        svc.campaigns.add({"code": "u1_week", "kind": "bonus", "bonus": 3, "groups": "U1", **WEEK}, actor="t")
    except ServiceError as exc:
        assert str(exc) == "the campaign was not added: groups: unknown 'U1'; known: FAC, STU"
    else:
        raise AssertionError("a campaign for a group the programme does not have was accepted")

    # the console's forms offer the programme's groups, take them, and refuse another in the staff's language
    client = app.test_client()
    sign_in(client, ADMIN, "th")
    page = client.get("/draws").text
    offered = re.findall(r'<option value="(\w+)">', re.search(r'<select name="group">(.*?)</select>', page, re.S)[1])
    assert offered == ["STU", "FAC"], offered  # the programme's groups (shown by their names), no U1-U5
    page = client.get("/campaigns").text
    assert 'name="groups" value="FAC"' in page and 'name="groups" value="U1"' not in page
    form = {"name": "Faculty prize", "winners": "1", "group": "FAC", "prize_points": "5", "tickets": "one"}
    post_form(client, "/draws", "/draws", form)
    assert [x["filters"]["group"] for x in svc.draws.list()] == ["FAC", "STU"]
    said = flashes(post_form(client, "/draws", "/draws", {**form, "name": "Old prize", "group": "U5"}).text)
    assert said == ["กลุ่มผู้ใช้ต้องเป็น STU, FAC เท่านั้น (ได้รับ 'U5')"], said
    form = {"code": "fac_week", "kind": "bonus", "bonus": "2", "groups": "FAC", **WEEK}
    post_form(client, "/campaigns", "/campaigns", form)
    said = flashes(post_form(client, "/campaigns", "/campaigns", {**form, "code": "u2", "groups": "U2"}).text)
    assert said == ["ไม่ได้เพิ่มแคมเปญ: groups: ไม่รู้จัก 'U2' (ที่มี: FAC, STU)"], said
    assert sorted(x["code"] for x in svc.campaigns.list()) == ["fac_week", "stu_week"]


def test_privcard_admin_draw_create_and_campaign_add_take_the_programmes_own_groups(tmp_path):
    db = f"sqlite:///{tmp_path}/x.db"
    svc = open_service(db)
    svc.programme.set_section("terms", OWN_GROUPS, actor="test")
    close_store()
    code, data, lines = admin_here("--db", db, "--json", "draw", "create", "Prize", "--winners", "1", "--group", "STU")
    assert code == 0 and data["filters"]["group"] == "STU", lines
    code, data, lines = admin_here("--db", db, "--json", "draw", "create", "Prize", "--winners", "1", "--group", "U3")
    assert code == 1
    assert data == {
        "error": "group must be one of STU, FAC, got 'U3'",
        "error_th": "กลุ่มผู้ใช้ต้องเป็น STU, FAC เท่านั้น (ได้รับ 'U3')",
    }
    argv = ["--db", db, "--json", "campaign", "add", "stu", "--kind", "bonus", "--bonus", "2"]
    argv += ["--starts", WEEK["starts"], "--ends", WEEK["ends"]]
    code, data, lines = admin_here(*argv, "--groups", "STU,FAC")
    assert code == 0 and data["groups"] == ["STU", "FAC"], lines  # stored as a list, as the console stores it
    code, data, lines = admin_here(*argv[:5], "u4", *argv[6:], "--groups", "U4")
    assert code == 1 and data["error"] == "the campaign was not added: groups: unknown 'U4'; known: FAC, STU", data
    assert lines[1] == "privcard admin: ไม่ได้เพิ่มแคมเปญ: groups: ไม่รู้จัก 'U4' (ที่มี: FAC, STU)", lines
