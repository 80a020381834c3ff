"""A library's own member groups (``[terms.groups]``) everywhere the console, the API and the CLI
name groups: the "Members by segment" report, segment messages, campaigns' stored groups and the
forms that offer groups. Real SQLite; the console through Flask's test client; the CLI in this
process.

Before: the segments report counted only U1–U5 (a library's STU members vanished from it, named
by a fixed table that disagreed with the programme's names); a segment message to a typo'd group
was queued for nobody without a word; a campaign added by the CLI stored its groups as the text
typed ("STU,FAC") and the console's list showed it letter by letter; the member, campaign and
message forms offered bare codes.
"""

from __future__ import annotations

import json
import re
from html import unescape

from server import catalogue
from server.services import ServiceError
from server.web import reports
from tests.browser.web_support import ADMIN, csrf_of, flashes, post_form, sign_in
from tests.helpers import OWN_GROUPS, admin_here, close_store, new_uid, open_service


def _csv(client, path: str) -> list[list[str]]:
    import csv
    import io

    return list(csv.reader(io.StringIO(client.get(path).data.decode("utf-8-sig"))))


def test_the_segments_report_counts_and_names_the_programmes_own_groups_and_keeps_old_ones(app):
    svc = app.extensions["privcard.service"]
    # enrolled while U1-U5 were the groups: U3 stays on the member after the library's own replace them
    svc.members.add("Old lecturer", new_uid(), group="U3", valid_until="2030-01-01")
    svc.programme.set_section("terms", OWN_GROUPS, actor="test")
    svc.members.add("Student A", new_uid(), group="STU")
    svc.members.add("Student B", new_uid(), group="STU", tier="gold")
    svc.members.add("Lecturer", new_uid(), group="FAC", valid_until="2030-01-01")
    svc.members.add("Nobody's", new_uid())
    day = svc.sites.today()
    rows = reports.build("segments", svc, day, day).rows
    shown = [(r["group"], r["label"]["en"], r["label"]["th"], r["silver"], r["gold"], r["total"]) for r in rows]
    assert shown == [
        ("STU", "Student", "นักศึกษา", 1, 1, 2),
        ("FAC", "Faculty", "คณาจารย์", 1, 0, 1),
        ("U3", "No longer in the programme", "ไม่มีในโปรแกรมแล้ว", 1, 0, 1),
        ("-", "Not set", "ไม่ระบุ", 1, 0, 1),
    ], shown
    assert sum(r["total"] for r in rows) == 5  # every member counted once

    client = app.test_client()
    sign_in(client, ADMIN, "th")
    table = _csv(client, "/reports/segments.csv")
    assert table[0] == ["กลุ่ม", "คำอธิบาย", "บัตรเงิน", "บัตรทอง", "ใช้งานได้", "รวม"]
    assert [row[:2] + row[-1:] for row in table[1:]] == [
        ["STU", "นักศึกษา", "2"],
        ["FAC", "คณาจารย์", "1"],
        ["U3", "ไม่มีในโปรแกรมแล้ว", "1"],
        ["'-", "ไม่ระบุ", "1"],  # the CSV guard's quote (a cell starting with - could be a formula)
    ]
    page = unescape(re.sub(r"<[^>]+>", " ", client.get("/reports").text))
    assert "นักศึกษา" in page and "คณาจารย์" in page


SUBJECT = {"th": "ข่าวห้องสมุด", "en": "Library news"}
BODY = {"th": "สวัสดีคุณ{name}", "en": "Hello {name}"}


def _outbox() -> tuple[int, int]:
    from server.services.messages import MessageBatch, OutMessage

    return MessageBatch.select().count(), OutMessage.select().count()


def test_a_segment_message_to_a_group_the_programme_does_not_have_is_refused_and_queues_nothing(app):
    svc = app.extensions["privcard.service"]
    svc.programme.set_section("terms", OWN_GROUPS, actor="test")
    svc.members.add("Student", new_uid(), group="STU", email="stu@example.org")
    svc.members.add("Lecturer", new_uid(), group="FAC", email="fac@example.org", valid_until="2030-01-01")
    assert svc.messages.preview({"group": "STU"})["members"] == 1  # a library's own group reaches its members
    before = _outbox()
    for typo in ("STUD", "stu", "U1"):  # U1: a shipped group this library replaced
        for call, args in ((svc.messages.preview, ()), (svc.messages.send_segment, (SUBJECT, BODY))):
            try:
                call(*args, {"group": typo}, **({"actor": "t"} if args else {}))
            except ServiceError as exc:
                assert str(exc) == f"group must be one of STU, FAC, got {typo!r}"
                assert catalogue.thai_of(exc) == f"กลุ่มผู้ใช้ต้องเป็น STU, FAC เท่านั้น (ได้รับ {typo!r})"
            else:
                raise AssertionError(f"a segment of group {typo!r} was accepted")
    assert _outbox() == before

    # the console: preview and send refused in the staff's language, nothing queued
    client = app.test_client()
    sign_in(client, ADMIN, "th")
    form = {f"subject_{k}": v for k, v in SUBJECT.items()} | {f"body_{k}": v for k, v in BODY.items()}
    for do in ("preview", "send"):
        page = post_form(client, "/messages", "/messages", {**form, "group": "STUD", "do": do})
        assert flashes(page.text) == ["กลุ่มผู้ใช้ต้องเป็น STU, FAC เท่านั้น (ได้รับ 'STUD')"], flashes(page.text)
    assert _outbox() == before
    page = post_form(client, "/messages", "/messages", {**form, "group": "FAC", "do": "send"})
    assert _outbox() == (before[0] + 1, before[1] + 1)  # the right group: its one member


def test_privcard_admin_message_refuses_a_group_the_programme_does_not_have(tmp_db_url):
    svc = open_service(tmp_db_url)
    svc.programme.set_section("terms", OWN_GROUPS, actor="test")
    svc.members.add("Lecturer", new_uid(), group="FAC", email="fac@example.org", valid_until="2030-01-01")
    before = _outbox()  # the welcome
    close_store()
    texts = ["--subject-th", "ข่าว", "--subject-en", "News", "--body-th", "สวัสดี", "--body-en", "Hello"]
    send = ["--db", tmp_db_url, "--json", "message", "send", *texts]
    for argv in (send, ["--db", tmp_db_url, "--json", "message", "preview"]):
        code, data, lines = admin_here(*argv, "--segment", "group=FACULTY")
        assert code == 1 and data == {
            "error": "group must be one of STU, FAC, got 'FACULTY'",
            "error_th": "กลุ่มผู้ใช้ต้องเป็น STU, FAC เท่านั้น (ได้รับ 'FACULTY')",
        }, (data, lines)
    open_service(tmp_db_url)
    try:
        assert _outbox() == before
    finally:
        close_store()
    code, data, lines = admin_here(*send, "--segment", "group=FAC")
    assert code == 0 and data["total"] == 1, lines


WEEK = {"starts": "2026-12-07 00:00", "ends": "2026-12-11 23:59"}


def _stored_spec(code: str) -> dict:
    """A campaign's spec as the database holds it (its JSON text, read without the model)."""
    from server import store

    [(text,)] = store.db.execute_sql(
        'SELECT "spec" FROM "campaign" WHERE "code" = ?'.replace("?", store.db.param), (code,)
    )
    return json.loads(text)


def test_a_campaign_s_groups_are_stored_as_a_list_whether_typed_in_the_cli_or_ticked_in_the_console(app, tmp_db_url):
    svc = app.extensions["privcard.service"]
    svc.programme.set_section("terms", OWN_GROUPS, actor="test")
    client = app.test_client()
    sign_in(client, ADMIN, "en")
    form = {"code": "web_week", "kind": "bonus", "bonus": "2", **WEEK}
    token = csrf_of(client.get("/campaigns").text)
    ticked = {"groups": ["STU", "FAC"], "tiers": ["gold"], "activities": ["entry"], "csrf_token": token}
    assert client.post("/campaigns", data={**form, **ticked}).status_code == 302
    close_store()
    argv = ["--db", tmp_db_url, "--json", "campaign", "add", "cli_week", "--kind", "bonus", "--bonus", "2"]
    argv += ["--starts", WEEK["starts"], "--ends", WEEK["ends"], "--groups", "STU, FAC", "--tiers", "gold"]
    code, out, lines = admin_here(*argv, "--activities", "entry")
    assert code == 0, lines
    assert (out["groups"], out["tiers"], out["activities"]) == (["STU", "FAC"], ["gold"], ["entry"])
    svc = open_service(tmp_db_url)
    try:
        web, cli = _stored_spec("web_week"), _stored_spec("cli_week")
        for key in ("groups", "tiers", "activities"):
            assert web[key] == cli[key], (key, web, cli)
        assert cli["groups"] == ["STU", "FAC"]
        assert [c["groups"] for c in svc.campaigns.list()] == [["STU", "FAC"], ["STU", "FAC"]]
    finally:
        close_store()
    # the console's list names them (the CLI's text used to show letter by letter: "S, T, U, ,, F, A, C")
    for lang, names in (("en", "Student, Faculty"), ("th", "นักศึกษา, คณาจารย์")):
        sign_in(client, ADMIN, lang)
        page = client.get("/campaigns").text
        shown = re.findall(r'<span class="campaign-groups">(.*?)</span>', page)
        assert shown == [names, names], shown


def test_a_campaign_stored_with_its_groups_as_text_reads_as_a_list_and_is_migrated(any_db_url):
    """A database from before: ``campaign add`` stored the CLI's text; the ``programme_live``
    migration's second step rewrites it as a list, and the service reads either."""
    from server import store
    from server.services.live import CampaignRow

    svc = open_service(any_db_url)
    svc.programme.set_section("terms", OWN_GROUPS, actor="test")
    svc.campaigns.add({"code": "old", "kind": "bonus", "bonus": 2, "groups": ["STU", "FAC"], **WEEK}, actor="t")
    svc.campaigns.add({"code": "ticked", "kind": "bonus", "bonus": 1, "groups": ["FAC"], **WEEK}, actor="t")
    # as the old code wrote it: the text typed
    spec = {**_stored_spec("old"), "groups": "STU,FAC", "activities": "entry,borrow", "tiers": "gold"}
    CampaignRow.update(spec=spec).where(CampaignRow.code == "old").execute()
    try:
        assert svc.campaigns.get("old")["groups"] == ["STU", "FAC"]  # read tolerantly before the migration
        store.Counter.update(value=1).where(store.Counter.key == "schema:programme_live").execute()
    finally:
        close_store()
    svc = open_service(any_db_url)  # migrates
    try:
        old = _stored_spec("old")
        assert (old["groups"], old["activities"], old["tiers"]) == (["STU", "FAC"], ["entry", "borrow"], ["gold"])
        assert _stored_spec("ticked")["groups"] == ["FAC"]  # a list stays as it was
        assert svc.campaigns.get("old")["gives"]["en"] == "bonus +2 points"  # still a valid campaign
        assert store.Counter.get(store.Counter.key == "schema:programme_live").value == 2
    finally:
        close_store()


NAMES = {"en": ["Student", "Faculty"], "th": ["นักศึกษา", "คณาจารย์"]}


def _options(html: str, form_id: str) -> list[tuple[str, str, bool]]:
    """A form's group choices as (value sent, text shown, selected)."""
    form = re.search(rf'<form[^>]*id="{form_id}".*?</form>', html, re.S).group(0)
    select = re.search(r'<select name="group">(.*?)</select>', form, re.S).group(1)
    out = []
    for attrs, shown in re.findall(r"<option([^>]*)>(.*?)</option>", select, re.S):
        value = re.search(r'value="([^"]*)"', attrs)
        out.append((value.group(1) if value else unescape(shown).strip(), unescape(shown).strip(), "selected" in attrs))
    return out


def test_the_member_message_and_campaign_forms_offer_the_programmes_own_groups_by_name(app):
    svc = app.extensions["privcard.service"]
    old = svc.members.add("Old lecturer", new_uid(), group="U3", valid_until="2030-01-01")
    svc.programme.set_section("terms", OWN_GROUPS, actor="test")
    student = svc.members.add("Student", new_uid(), group="STU")
    client = app.test_client()
    for lang in ("en", "th"):
        sign_in(client, ADMIN, lang)
        stu, fac = NAMES[lang]
        assert _options(client.get("/members").text, "enrol-form") == [
            ("", "—", False),
            ("STU", stu, False),
            ("FAC", fac, False),
        ]
        page = client.get(f"/members/{student.id}").text
        assert _options(page, "edit-form") == [("", "—", False), ("STU", stu, True), ("FAC", fac, False)]
        assert re.search(r'<dd id="member-group">(.*?)</dd>', page).group(1) == stu
        assert [o[:2] for o in _options(client.get("/messages").text, "message-form")][1:] == [
            ("STU", stu),
            ("FAC", fac),
        ]
        boxes = re.findall(r'name="groups" value="(\w+)"> ([^<]+)</label>', client.get("/campaigns").text)
        assert boxes == [("STU", stu), ("FAC", fac)], boxes
        # a group the programme no longer defines: said so, and kept by the edit form, not cleared
        page = client.get(f"/members/{old.id}").text
        gone = {"en": "U3 (no longer in the programme)", "th": "U3 (ไม่มีในโปรแกรมแล้ว)"}[lang]
        assert unescape(re.search(r'<dd id="member-group">(.*?)</dd>', page).group(1)) == gone
        assert _options(page, "edit-form")[-1] == ("U3", gone, True)

    # saving the edit form as shown keeps the old group; choosing another unknown one is refused
    form = {"name": "Old lecturer (emeritus)", "group": "U3", "valid_until": "2030-01-01", "status": "active"}
    post_form(client, f"/members/{old.id}", f"/members/{old.id}/edit", form)
    assert (svc.members.find(old.id).name, svc.members.find(old.id).group) == ("Old lecturer (emeritus)", "U3")
    page = post_form(client, f"/members/{old.id}", f"/members/{old.id}/edit", {**form, "group": "U4"})
    assert flashes(page.text) == ["กลุ่มผู้ใช้ต้องเป็น STU, FAC เท่านั้น (ได้รับ 'U4')"], flashes(page.text)
    assert svc.members.find(old.id).group == "U3"
    post_form(client, f"/members/{old.id}", f"/members/{old.id}/edit", {**form, "group": "FAC"})
    assert svc.members.find(old.id).group == "FAC"
