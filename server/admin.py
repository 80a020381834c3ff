"""``privcard admin``: staff administration from the shell (scripts use ``--json``).

Every command is a thin call into the service layer (:mod:`server.services`); errors print
one line (and its Thai line) and exit 1 (tracebacks only with ``--verbose``).

By default the CLI acts for the machine's operator: every site, the admin role, the audit
actor ``cli:<login>``. ``--as STAFF_USERNAME`` acts as a console account instead: its role
and its sites (``web_staff.sites``), enforced by the same service calls the console makes
(another site's device, member or entry is "not found"; the programme-wide commands are
refused to a site's account, the admin commands to the staff role), and the audit records
``staff:<username>`` (docs/sites.md "The admin CLI as a staff account").
"""

from __future__ import annotations

import argparse
import csv
import getpass
import json
import os
import sys
import time
from pathlib import Path

from broker import contract
from server import admin_show, catalogue, store
from server.cli_support import add_ils_smtp_options, day, listing, pair, print_result, said, table, word
from server.domain.config import ConfigError, load
from server.ils.config import IlsConfigError
from server.ils.config import load_config as load_ils_config
from server.messages.config import MailConfigError
from server.messages.config import load_config as load_mail_config
from server.services import ServiceError, Services, bootstrap
from server.services.sites import EVERYTHING
from server.sun import CardKeyError, Keyring

DEFAULT_DB = os.environ.get("PRIVCARD_DB", "sqlite:///var/privcard.db")


def _value(text: str):
    """A KEY=VALUE value: JSON when it parses (numbers, true, objects), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _pairs(items: list[str]) -> dict:
    out = {}
    for item in items:
        if "=" not in item:
            raise ServiceError("expected KEY=VALUE, got %(item)r", item=item)
        key, value = item.split("=", 1)
        out[key.strip()] = _value(value.strip())
    return out


#: options accepted after the subcommand too (``member list --json``)
COMMON = argparse.ArgumentParser(add_help=False)
COMMON.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")
COMMON.add_argument("--db", default=argparse.SUPPRESS, help="database URL")


def build_parser() -> argparse.ArgumentParser:
    """All admin subcommands."""
    p = argparse.ArgumentParser(prog="privcard admin", description="Administer members, cards, devices and points.")
    p.add_argument("--db", default=DEFAULT_DB, help="database URL (default %(default)s)")
    p.add_argument("--config", default=os.environ.get("PRIVCARD_CONFIG"), help="programme TOML")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--card-keys", metavar="PATH", default=None, help="card key file (default $PRIVCARD_CARD_KEYS; docs/cards.md)"
    )
    add_ils_smtp_options(
        p,
        smtp_help="the SMTP server (checked; the CLI only queues, the running server sends; docs/messages.md)",
    )
    p.add_argument("--actor", default=None, help="who is recorded in the audit log (default cli:<login>)")
    p.add_argument(
        "--as",
        dest="as_staff",
        metavar="STAFF_USERNAME",
        default=None,
        help="act as this console account: its role and sites, enforced as in the console; the audit records "
        "staff:STAFF_USERNAME (default: every site, as the machine's operator; docs/sites.md)",
    )
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="cmd", required=True)

    member = sub.add_parser("member", parents=[COMMON], help="members").add_subparsers(dest="action", required=True)
    a = member.add_parser("add", parents=[COMMON], help="enrol a member (credits the sign-up points)")
    a.add_argument("--name", required=True)
    a.add_argument("--card", required=True, help="card UID (hex)")
    a.add_argument("--tier", choices=["silver", "gold"], help="default: the group's tier rule, else silver")
    a.add_argument("--group", help="U1-U5 or a group the library defines ([terms.groups])")
    a.add_argument("--valid-until", help="YYYY-MM-DD")
    a.add_argument("--staff", action="store_true", help="staff card (opens the kiosk's staff screen)")
    a.add_argument("--email")
    a.add_argument("--patron-id", help="the id the library system knows the patron by (barcode / student number)")
    s = member.add_parser("show", parents=[COMMON], help="a member by id or card UID")
    s.add_argument("ref")
    s.add_argument("--history", type=int, default=20)
    ls = member.add_parser("list", parents=[COMMON], help="list or search members")
    ls.add_argument("--search")
    ls.add_argument("--limit", type=int, default=50)
    st = member.add_parser(
        "set",
        parents=[COMMON],
        help="change fields: name= tier= group= valid_until= status= staff= pin= email= patron_id= phone= "
        "language=th|en consent_marketing= consent_notices= consent_statement= consent_ranking= "
        "patron_pin= (the PIN for the patron's own page; patron_pin= clears it)",
    )
    st.add_argument("ref")
    st.add_argument("fields", nargs="+", metavar="KEY=VALUE")
    rn = member.add_parser(
        "renew",
        parents=[COMMON],
        help="renew a membership for the next term (the renewal fee is recorded)",
        description="Renew for the term the member's group's rule gives (docs/rules.md 'Membership terms'): "
        "a member still valid renews for the term after theirs. A group whose term ends on a typed date "
        "(staff) needs --until.",
    )
    rn.add_argument("ref")
    rn.add_argument("--until", help="the new end date (YYYY-MM-DD): staff's employment end")
    tr = member.add_parser("tier", parents=[COMMON], help="give a member a tier (silver, gold) with a reason")
    tr.add_argument("ref")
    tr.add_argument("tier", choices=["silver", "gold"])
    tr.add_argument("--reason", required=True, help="recorded in the member's history")

    term = sub.add_parser("term", parents=[COMMON], help="membership terms").add_subparsers(
        dest="action", required=True
    )
    tc = term.add_parser(
        "close",
        parents=[COMMON],
        help="lapse members whose term ended before a date, with a report of who lapsed",
        description="Members whose valid_until is before --date lapse: their points are kept or forfeited "
        "([terms] on_expiry). The server runs this every day; running it again changes nothing.",
    )
    tc.add_argument("--date", help="YYYY-MM-DD (default today)")
    tc.add_argument("--dry-run", action="store_true", help="report who would lapse; change nothing")
    term.add_parser("show", parents=[COMMON], help="the groups' term rules, tiers and privilege basis")

    card = sub.add_parser("card", parents=[COMMON], help="cards").add_subparsers(dest="action", required=True)
    r = card.add_parser("replace", parents=[COMMON], help="replace a lost card (old card blocked, fee recorded)")
    r.add_argument("ref", help="member id or current card UID")
    r.add_argument("--card", required=True, help="the new card's UID")
    b = card.add_parser("block", parents=[COMMON], help="block a card")
    b.add_argument("uid")
    b.add_argument("--reason", default="blocked by staff")
    sc = card.add_parser(
        "secure",
        parents=[COMMON],
        help="require Secure Unique NFC (NTAG 424 DNA) from this card from now on",
        description="Mark a card as requiring a valid, fresh SUN URL on every tap (docs/cards.md). Without keys "
        "the card's keys are diversified from the master key in the card key file; with --meta-key and "
        "--file-key they are imported, stored sealed under the file's key-encryption key.",
    )
    sc.add_argument("uid")
    sc.add_argument("--meta-key", metavar="HEX", help="the card's SDM meta read key (32 hex digits)")
    sc.add_argument("--file-key", metavar="HEX", help="the card's SDM file read key (32 hex digits)")
    card.add_parser("genuine", parents=[COMMON], help="secured and UID-only card counts, suspected clones")
    ck = card.add_parser(
        "keys",
        parents=[COMMON],
        help="print the SDM keys to write onto a blank NTAG 424 DNA (diversified from the master key)",
        description="Print the card's SDM meta read key (key 1) and SDM file read key (key 2), diversified from "
        "the master key in the card key file, for personalising it (docs/cards.md). They are secrets: do not "
        "paste them into tickets or chats; the audit records that they were shown, not the keys.",
    )
    ck.add_argument("uid")

    device = sub.add_parser("device", parents=[COMMON], help="devices").add_subparsers(dest="action", required=True)
    d = device.add_parser("add", parents=[COMMON], help="register a gate, kiosk or counter")
    d.add_argument("id")
    d.add_argument("--kind", required=True, choices=contract.DEVICE_KINDS)
    d.add_argument("--direction", choices=["in", "out"])
    d.add_argument("--activity")
    d.add_argument("--location")
    d.add_argument("--site", help="the site (library building) it belongs to; default: the programme's default site")
    d.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="settings, e.g. open_ms=4000")
    dl = device.add_parser("list", parents=[COMMON], help="devices and their status")
    dl.add_argument("--site", help="only this site's devices")
    ds = device.add_parser("set", parents=[COMMON], help="change fields or settings (pins.relay=17 style keys allowed)")
    ds.add_argument("id")
    ds.add_argument("fields", nargs="+", metavar="KEY=VALUE")
    dc = device.add_parser("show", parents=[COMMON], help="one device with its retained config")
    dc.add_argument("id")
    _register_credentials(device)

    site = sub.add_parser("site", parents=[COMMON], help="sites (docs/sites.md)").add_subparsers(
        dest="action", required=True
    )
    site.add_parser("list", parents=[COMMON], help="the programme's sites, their hours and device counts")
    ss = site.add_parser("show", parents=[COMMON], help="one site: names, time zone, hours, overrides, devices")
    ss.add_argument("code")
    _register_bridge(site)

    aw = sub.add_parser("award", parents=[COMMON], help="credit a counter or event activity (same limits as taps)")
    aw.add_argument("ref", help="card UID or member id")
    aw.add_argument("--activity", required=True)
    aw.add_argument("--item", help="shop, event or session (per-item activities)")
    aw.add_argument("--at", help="when (ISO-8601; default now)")

    v = sub.add_parser("void", parents=[COMMON], help="reverse a ledger entry")
    v.add_argument("entry", type=int)
    v.add_argument("--reason", required=True)
    v.add_argument("--allow-negative", action="store_true", help="allow the balance to go below zero")

    t = sub.add_parser("transfer", parents=[COMMON], help="move points between members")
    t.add_argument("source")
    t.add_argument("target")
    t.add_argument("points", type=int)

    rd = sub.add_parser("redeem", parents=[COMMON], help="spend points on a reward")
    rd.add_argument("ref")
    rd.add_argument("--reward", required=True, help="fine_discount, locker_day, study_room_hour, ...")
    rd.add_argument("--points", type=int)
    rd.add_argument("--units", type=int)
    rd.description = (
        "Spend points on a reward. A fine discount for a member with a patron_id, when a library system is "
        "linked, is paid in the ILS (37 Fee Paid): exit 0 confirmed, 3 pending (retried later with the same "
        "transaction id; ils settle), 1 refused (the points are back)."
    )

    ils = sub.add_parser("ils", parents=[COMMON], help="the library system link (SIP2; docs/ils.md)")
    ils_sub = ils.add_subparsers(dest="action", required=True)
    ip = ils_sub.add_parser("patron", parents=[COMMON], help="a member's standing in the ILS (fines, items, flags)")
    ip.add_argument("ref", help="member id or card UID")
    ils_sub.add_parser("settle", parents=[COMMON], help="send pending fine payments again now (same transaction ids)")
    ils_sub.add_parser("pending", parents=[COMMON], help="fine payments the ILS has not confirmed yet")
    ir = ils_sub.add_parser(
        "resolve",
        parents=[COMMON],
        help="settle a pending fine payment by the ILS's own records (one whose answer was lost and the fines "
        "cannot tell): --paid confirms it, --not-paid gives the held points back",
    )
    ir.add_argument("transaction", help="the payment's transaction id (BK), as ils pending lists it")
    paid = ir.add_mutually_exclusive_group(required=True)
    paid.add_argument("--paid", dest="paid", action="store_true", help="the ILS shows the payment made")
    paid.add_argument("--not-paid", dest="paid", action="store_false", help="the ILS shows no such payment")
    iv = ils_sub.add_parser(
        "reversed",
        parents=[COMMON],
        help="a confirmed fine payment staff reversed in the ILS by hand (the fine is owed again): "
        "its points come back to the member, once",
    )
    iv.add_argument("transaction", help="the payment's transaction id (BK), as the member's ledger and audit show it")
    iv.add_argument("--reason", required=True, help="why it was reversed (kept in the ledger and the audit log)")
    ie = ils_sub.add_parser(
        "export-privileges",
        parents=[COMMON],
        help="one row per member with a patron_id: borrowing level, locker days, study-room hours, ILS category",
    )
    ie.add_argument("--changed-since", metavar="DATE", help="only members changed on or after YYYY-MM-DD")
    ie.add_argument("--format", choices=["csv", "json"], default="csv")

    im = sub.add_parser(
        "import-attendance",
        parents=[COMMON],
        help="credit an event's registration list (CSV)",
        description="Credit (or with --dry-run, check) an event's registration list: a CSV of card UIDs or "
        "member ids, one per line, an optional header uid/card/member_id. At most 100,000 rows and 5 MB. "
        "It runs in chunks of 200 rows, each a short transaction, so gates keep being answered; progress "
        "goes to stderr. Killed part-way, the same command again resumes where it stopped and credits "
        "nothing twice. The event date may not be in the future nor more than 366 days ago. "
        "Exit 0: done without errors; 3: done, some rows refused (listed by line); 1: refused.",
    )
    im.add_argument("file")
    im.add_argument("--activity", required=True)
    im.add_argument("--event", required=True)
    im.add_argument("--date", help="event date (YYYY-MM-DD; default today)")
    im.add_argument("--dry-run", action="store_true", help="check the list without crediting")
    im.add_argument(
        "--site",
        help="the site the entries are made at (one of yours); default: a row's site column, else your one "
        "site, else each member's home site",
    )

    en = sub.add_parser("entries", parents=[COMMON], help="latest ledger entries")
    en.add_argument("--member")
    en.add_argument("--limit", type=int, default=20)

    _register_staff(sub)
    from server import programme_cli

    programme_cli.register(sub, parents=[COMMON])
    from server import feedback_cli

    feedback_cli.register(sub, parents=[COMMON])
    from server import messages_cli

    messages_cli.register(sub, parents=[COMMON])
    return p


def _register_staff(sub) -> None:
    """``staff add`` lives with the web console's accounts."""
    try:
        from server.web import staff_admin
    except ImportError:
        return
    staff_admin.register(sub, parents=[COMMON])


def _register_credentials(device_sub) -> None:
    """``device credentials`` lives in :mod:`server.broker_accounts` (password-file format: broker.mosquitto)."""
    from server import broker_accounts

    broker_accounts.register(device_sub, parents=[COMMON])


def _register_bridge(site_sub) -> None:
    """``site bridge`` (a site broker bridged to the centre) lives in :mod:`server.broker_accounts` too."""
    from server import broker_accounts

    broker_accounts.register_bridge(site_sub, parents=[COMMON])


#: a member's columns (``member show``, ``member list``): English words of the catalogue, shown English/Thai
MEMBER_COLUMNS = ["Member", "Name", "Tier", "Group", "Balance", "Status", "Valid until", "Cards"]


def _member_row(m: dict) -> list:
    cards = ",".join(c["uid"] + ("" if c["status"] == "active" else f" ({word('blocked')})") for c in m["cards"])
    return [
        f"#{m['id']}",
        m["name"][:30],
        m["tier"],
        m["group"] or "-",
        m["balance"],
        m["status"],
        m["valid_until"] or "-",
        cards,
    ]


def _both(label: dict, n: int = 40) -> str:
    """A ``{"th", "en"}`` label from data in a listing's row: ``English / ไทย`` (each cut at ``n``)."""
    en, th = label["en"][:n], label["th"][:n]
    return en if en == th else f"{en} / {th}"


#: commands of the whole programme: refused to an account scoped to sites (as the console's 403)
PROGRAMME_WIDE = {
    ("staff", None),
    ("programme", None),
    ("campaign", None),
    ("draw", None),
    ("ranking", None),
    ("message", None),
    ("term", "close"),
    ("site", "bridge"),
    ("device", "acl"),
    ("card", "secure"),
    ("card", "keys"),
    ("card", "genuine"),
    ("ils", "settle"),
    ("ils", "pending"),
    ("ils", "resolve"),
    ("ils", "reversed"),
    ("ils", "export-privileges"),
}
#: commands for the admin role only (the console's admin pages); the programme-wide ones too
ADMIN_ONLY = {("device", None)} | PROGRAMME_WIDE


def _command(args) -> tuple[str, str | None]:
    return args.cmd, getattr(args, "action", None)


def _may_run(args, name: str, role: str, scope) -> None:
    """Refuse what the account ``name`` may not do (a ServiceError in Thai and English)."""
    cmd, action = _command(args)
    here = {(cmd, None), (cmd, action)}
    label = " ".join(x for x in (cmd, action) if x)
    if role != "admin" and here & ADMIN_ONLY:
        raise ServiceError(
            "privcard admin %(command)s needs the admin role; %(name)s is staff", command=label, name=name
        )
    if not scope.everything and here & PROGRAMME_WIDE:
        raise ServiceError(
            "privcard admin %(command)s is the whole programme's; %(name)s works for sites %(sites)s",
            command=label,
            name=name,
            sites=scope.text(),
        )


def act_as(args, svc: Services) -> None:
    """Who the command acts as: ``--as`` a console account (its role, sites and audit name), else the operator.

    Sets ``args.scope``, ``args.acting_role`` (not ``args.role``: that is ``staff add --role``'s)
    and ``args.actor``; refuses an unknown or disabled account, ``--as`` with ``--actor``, and a
    command the account may not run.
    """
    if not args.as_staff:
        args.scope, args.acting_role = EVERYTHING, "admin"
        args.actor = args.actor or f"cli:{getpass.getuser()}"
        return
    if args.actor:
        raise ServiceError("use --as or --actor, not both")
    name = args.as_staff.strip()
    role, scope = svc.sites.account(name)
    _may_run(args, name, role, scope)
    args.scope, args.acting_role, args.actor = scope, role, f"staff:{name}"[:64]


def run(args, svc: Services) -> int:
    """Execute one parsed command (as ``args.scope``: every site unless ``--as`` a site's account)."""
    if not hasattr(args, "scope"):
        act_as(args, svc)
    actor, scope = args.actor, args.scope
    if args.cmd == "member":
        if args.action == "add":
            m = svc.members.add(
                args.name,
                args.card,
                tier=args.tier,
                group=args.group,
                valid_until=args.valid_until,
                staff=args.staff,
                email=args.email,
                patron_id=args.patron_id,
                actor=actor,
                scope=scope,
            )
            d = svc.reads.member_dict(m, scope=scope)
            print_result(
                args,
                d,
                *said("enrolled member #%(id)s %(name)s: %(points)s points", id=m.id, name=m.name, points=d["balance"]),
            )
        elif args.action == "show":
            d = svc.reads.member_dict(svc.members.find(args.ref), history=args.history, scope=scope)
            text = table(MEMBER_COLUMNS, [_member_row(d)], right=(4,))
            history = []
            for e in d["history"]:
                mark = word("voided") if e["voided"] else ""
                if e["source"] == "tier":  # a tier change: what changed and why
                    mark = f"{e['item']}: {e['note'] or ''}"
                history.append([e["id"], e["at"][:19], _both(e["label"]), e["item"] or "", f"{e['points']:+d}", mark])
            if history:
                text += "\n" + table(
                    ["Entry", "At", "Activity", "Item", "Points", "Note"], history, right=(4,), indent="  "
                )
            print_result(args, d, text)
        elif args.action == "list":
            rows = [svc.reads.member_dict(m, scope=scope) for m in svc.members.list(args.search, args.limit)]
            listing(args, rows, MEMBER_COLUMNS, [_member_row(m) for m in rows], "no members", right=(4,))
        elif args.action == "set":
            fields = _pairs(args.fields)
            if "patron_pin" in fields:  # as typed (leading zeros kept), hashed, never echoed (docs/patrons.md)
                fields["patron_pin"] = next(
                    f.split("=", 1)[1].strip() for f in args.fields if f.split("=", 1)[0].strip() == "patron_pin"
                )
                m = svc.patrons.set_member(args.ref, actor=actor, scope=scope, **fields)  # another site's: not found
            else:
                m = svc.members.set(args.ref, actor=actor, scope=scope, **fields)
            print_result(args, svc.reads.member_dict(m, scope=scope), *said("updated member #%(id)s", id=m.id))
        elif args.action == "renew":
            d = svc.terms.renew(args.ref, until=args.until, actor=actor, scope=scope)
            print_result(
                args,
                d,
                *said(
                    "renewed member #%(id)s until %(until)s; fee %(fee)s baht recorded",
                    id=d["member"],
                    until=day(d["valid_until"]) or "-",
                    fee=d["fee_baht"],
                ),
            )
        elif args.action == "tier":
            m = svc.terms.set_tier(args.ref, args.tier, reason=args.reason, actor=actor, scope=scope)
            print_result(
                args,
                svc.reads.member_dict(m, scope=scope),
                *said("member #%(id)s is now %(tier)s", id=m.id, tier=_tier_word(svc, m.tier)),
            )
    elif args.cmd == "term":
        if args.action == "close":
            d = svc.terms.close(args.date, dry_run=args.dry_run, actor=actor)
            template = (
                "would lapse %(n)s member(s) whose term ended before %(date)s (points: %(on_expiry)s)"
                if d["dry_run"]
                else "lapsed %(n)s member(s) whose term ended before %(date)s (points: %(on_expiry)s)"
            )
            en, th = said(template, n=len(d["lapsed"]), date=day(d["date"]), on_expiry=_term_word(d["on_expiry"]))
            rows = [
                [
                    f"#{r['member']}",
                    r["name"][:30],
                    r["group"] or "-",
                    r["valid_until"],
                    r["balance"],
                    r["forfeited"] or "",
                ]
                for r in d["lapsed"]
            ]
            text = [en, th] + (
                [
                    table(
                        ["Member", "Name", "Group", "Valid until", "Points", "Forfeited"],
                        rows,
                        right=(4, 5),
                        indent="  ",
                    )
                ]
                if rows
                else []
            )
            if d["tiers"]:  # tiers won by points in an earlier term, back now that the new term has begun
                text += said(
                    "would put back %(n)s tier(s) won by points in an earlier term: the new term has begun"
                    if d["dry_run"]
                    else "put back %(n)s tier(s) won by points in an earlier term: the new term has begun",
                    n=len(d["tiers"]),
                )
                text.append(
                    table(
                        ["Member", "Name", "Card type"],
                        [[f"#{r['member']}", r["name"][:30], _tier_move(svc, r["from"], r["to"])] for r in d["tiers"]],
                        indent="  ",
                    )
                )
            print_result(args, d, "\n".join(text))
        elif args.action == "show":
            d = svc.terms.overview()
            en, th = said(
                "today %(today)s: semester %(semester)s, academic year %(year)s; renewal fee %(fee)s baht; "
                "points at expiry: %(on_expiry)s; privileges follow: %(basis)s",
                today=day(d["today"]),
                semester=d["semester"],
                year=d["academic_year"],
                fee=d["renewal_fee_baht"],
                on_expiry=_term_word(d["on_expiry"]),
                basis=_term_word(d["basis"]),
            )
            groups = table(
                ["Group", "Group name", "Term", "Joining today: until", "Tier"],
                [
                    [g["code"], _both(g["label"], 24), g["term"], g["joining_today_until"] or "-", g["tier"] or "-"]
                    for g in d["groups"]
                ],
                indent="  ",
            )
            tiers = table(
                ["Tier", "Multiplier", "Groups", "Promotion at (points earned)"],
                [[t["code"], t["multiplier"], ",".join(t["groups"]) or "-", t["earned_at"] or "-"] for t in d["tiers"]],
                indent="  ",
            )
            print_result(args, d, "\n".join([en, th, groups, tiers]))
    elif args.cmd == "card":
        if args.action == "replace":
            m = svc.members.replace_card(args.ref, args.card, actor=actor, scope=scope)
            d = svc.reads.member_dict(m, scope=scope)
            print_result(
                args,
                d,
                *said(
                    "member #%(id)s now uses card %(card)s; old card(s) blocked; fee %(fee)s baht recorded",
                    id=m.id,
                    card=args.card.upper(),
                    fee=svc.prog.card_replacement_fee_baht,
                ),
            )
        elif args.action == "block":
            c = svc.members.block_card(args.uid, args.reason, actor=actor, scope=scope)
            print_result(
                args,
                {"uid": c.uid, "status": c.status, "member": c.member_id},
                *said("card %(uid)s blocked", uid=c.uid),
            )
        elif args.action == "secure":
            c = svc.cards.secure(args.uid, meta_key=args.meta_key, file_key=args.file_key, actor=actor)
            template = (
                "card %(uid)s now requires Secure Unique NFC (imported keys)"
                if c.sun_keys
                else "card %(uid)s now requires Secure Unique NFC (keys diversified from the master key)"
            )
            print_result(args, {"uid": c.uid, "sun": True}, *said(template, uid=c.uid))
        elif args.action == "keys":
            k = svc.cards.diversified_keys(args.uid, actor=actor)
            uid = contract.normalise_uid(args.uid)
            en, th = said("card %(uid)s: its SDM keys (secrets: do not paste them into tickets or chats)", uid=uid)
            print_result(
                args,
                {"uid": uid, "meta_read_key": k.meta.hex().upper(), "file_read_key": k.file.hex().upper()},
                f"{en}\n{th}\n  {word('key 1 (SDM meta read)')}: {k.meta.hex().upper()}\n"
                f"  {word('key 2 (SDM file read)')}: {k.file.hex().upper()}",
            )
        elif args.action == "genuine":
            counts, suspects = svc.cards.counts(), svc.cards.suspects()
            lines = list(
                said(
                    "secured %(secured)s, UID-only %(uid_only)s (active cards)",
                    secured=counts["secured"],
                    uid_only=counts["uid_only"],
                )
            )
            if suspects:
                lines.append(
                    table(
                        ["Suspected card", "Member", "Suspected since"],
                        [[s["uid"], f"#{s['member']}", s["suspect_at"]] for s in suspects],
                        indent="  ",
                    )
                )
            for s in suspects:
                s["suspect_at"] = contract.format_time(s["suspect_at"])
            print_result(args, {**counts, "suspects": suspects}, "\n".join(lines))
    elif args.cmd == "device":
        if args.action == "add":
            dev = svc.devices.add(
                args.id,
                args.kind,
                direction=args.direction,
                activity=args.activity,
                location=args.location,
                settings=_pairs(args.set),
                site=args.site,
                actor=actor,
                scope=scope,
            )
            print_result(
                args, svc.reads.device_dict(dev), *said("added %(kind)s %(id)s", kind=pair(dev.kind), id=dev.id)
            )
        elif args.action == "list":
            visible = svc.devices.visible(scope)
            rows = [
                svc.reads.device_dict(d)
                for d in store.Device.select().order_by(store.Device.id)
                if visible is None or d.id in visible
            ]
            if args.site:
                site = svc.sites.get(args.site.upper(), scope).code
                rows = [d for d in rows if (d["site"] or svc.prog.default_site) == site]
            listing(
                args,
                rows,
                ["Device", "Kind", "Site", "Direction", "Activity", "State", "Last seen", "Location"],
                [
                    [
                        d["id"],
                        d["kind"],
                        d["site"] or svc.prog.default_site,
                        d["direction"] or "-",
                        d["activity"] or "-",
                        d["state"],
                        d["last_seen"] or word("never"),
                        d["location"] or "",
                    ]
                    for d in rows
                ],
                "no devices",
            )
        elif args.action == "set":
            dev, changed = svc.devices.change(args.id, actor=actor, scope=scope, **_pairs(args.fields))
            # what was typed again unchanged is not a change: nothing written, no new config revision
            told = (
                said(
                    "updated %(id)s (revision %(revision)s); the server publishes its config within a second",
                    id=dev.id,
                    revision=dev.revision,
                )
                if changed
                else said("Device %(id)s: nothing changed.", id=dev.id)
            )
            print_result(args, svc.reads.device_dict(dev) | {"changed": sorted(changed)}, *told)
        elif args.action == "show":
            dev = svc.devices.get(args.id, scope)
            d = svc.reads.device_dict(dev) | {"config": svc.devices.config(dev).to_dict()}
            print_result(args, d, "" if args.json else admin_show.device_text(svc, dev, d))
        else:
            return args.handler(args, svc)
    elif args.cmd == "site":
        if args.action == "bridge":
            return args.handler(args, svc)
        rows = [svc.reads.site_dict(x) for x in svc.sites.list(scope)]
        if args.action == "list":
            listing(
                args,
                rows,
                ["Site", "Site name", "Time zone", "Hours (Monday)", "Devices", "Default site"],
                [
                    [
                        r["code"],
                        _both(r["name"]),
                        r["timezone"],
                        r["hours"]["mon"],
                        len(r["devices"]),
                        word("yes") if r["default"] else "",
                    ]
                    for r in rows
                ],
                "no sites",
                right=(4,),
            )
        else:
            r = svc.reads.site_dict(svc.sites.get(args.code.upper(), scope))
            print_result(args, r, "" if args.json else admin_show.site_text(svc, r))
    elif args.cmd == "award":
        outcome, entry = svc.points.award(args.ref, args.activity, item=args.item, at=args.at, actor=actor, scope=scope)
        m = svc.members.find(args.ref)
        d = {
            "outcome": outcome,
            "entry": entry.id if entry else None,
            "points": entry.points if entry else 0,
            "member": m.id,
            "balance": m.balance,
        }
        template = (
            "credited: %(points)+d points, balance %(balance)s"
            if outcome == "credited"
            else "%(outcome)s: no points, balance %(balance)s"
        )
        # the outcome in Thai as the console's taps show it (limit_reached: ได้คะแนนแล้ววันนี้), its code in English
        print_result(args, d, *said(template, outcome=pair(outcome), points=d["points"], balance=m.balance))
    elif args.cmd == "void":
        revs = svc.points.void(args.entry, args.reason, actor=actor, allow_negative=args.allow_negative, scope=scope)
        d = [
            {
                "entry": r.id,
                "void_of": r.void_of_id,
                "points": r.points,
                "member": r.member_id,
                "balance": svc.ledger.balance(r.member_id),
            }
            for r in revs
        ]
        lines = [
            said(
                "voided entry %(entry)s: %(points)+d points, member #%(member)s balance %(balance)s",
                entry=x["void_of"],
                points=x["points"],
                member=x["member"],
                balance=x["balance"],
            )
            for x in d
        ]
        print_result(args, d, "\n".join(en for en, _ in lines), "\n".join(th for _, th in lines))
    elif args.cmd == "transfer":
        out_e, in_e = svc.points.transfer(args.source, args.target, args.points, actor=actor, scope=scope)
        d = {
            "from": out_e.member_id,
            "to": in_e.member_id,
            "points": args.points,
            "from_balance": svc.ledger.balance(out_e.member_id),
            "to_balance": svc.ledger.balance(in_e.member_id),
        }
        print_result(
            args,
            d,
            *said(
                "moved %(points)s points from #%(source)s (now %(source_balance)s) to #%(target)s (now %(target_balance)s)",
                points=args.points,
                source=d["from"],
                source_balance=d["from_balance"],
                target=d["to"],
                target_balance=d["to_balance"],
            ),
        )
    elif args.cmd == "redeem":
        d = svc.points.redeem(args.ref, args.reward, points=args.points, units=args.units, actor=actor, scope=scope)
        values = {"points": d["points"], "reward": d["label"], "balance": d["balance"]}
        if "baht" in d:
            en, th = said(
                "redeemed %(points)s points for %(reward)s (%(baht)s baht); balance %(balance)s",
                baht=d["baht"],
                **values,
            )
        else:
            en, th = said(
                "redeemed %(points)s points for %(reward)s (%(units)s unit(s)); balance %(balance)s",
                units=d["units"],
                **values,
            )
        paid = d.get("ils")
        if paid:
            said_too = PAID_SAID[paid["status"]]
            en2, th2 = said(
                said_too,
                transaction=paid["transaction"],
                message=paid["message"],
                points=d["points"],
                balance=d["balance"],
            )
            en, th = (en2, th2) if paid["status"] == "refused" else (f"{en}\n{en2}", f"{th}\n{th2}")
        print_result(args, d, en, th)
        if paid and paid["status"] == "refused":
            return 1
        if paid and paid["status"] == "pending":
            return 3
    elif args.cmd == "ils":
        return _ils(args, svc, actor)
    elif args.cmd == "import-attendance":
        return _import_attendance(args, svc, actor)
    elif args.cmd == "entries":
        rows = svc.reads.entries(args.member, args.limit)
        listing(
            args,
            rows,
            ["Entry", "At", "Member", "Activity", "Points"],
            [[e["id"], e["at"][:19], f"#{e['member']}", e["activity"], f"{e['points']:+d}"] for e in rows],
            "no entries",
            right=(0, 4),
        )
    elif args.cmd in ("staff", "programme", "campaign", "draw", "ranking", "message", "feedback"):
        return args.handler(args, svc)
    return 0


#: what a redemption paid in the library system adds (the refused one replaces the line above it)
PAID_SAID = {
    "confirmed": "paid in the library system: %(transaction)s (%(message)s)",
    "pending": "PENDING in the library system: %(transaction)s (%(message)s); "
    "the points stay held until it answers (ils settle)",
    "refused": "NOT redeemed: the library system refused %(transaction)s: %(message)s; "
    "the %(points)s points are back, balance %(balance)s",
}


def _term_word(code: str) -> dict:
    """A term rule's word (keep, forfeit, earned_in_term, ...): its code in English, its Thai words in Thai."""
    return {"en": code, "th": catalogue.TERM_WORDS.get(code, {"th": code})["th"]}


def _tier_move(svc: Services, old: str, new: str | None) -> str:
    """A tier put back, ``gold→silver / บัตรทอง→บัตรเงิน``."""
    th = {c: _tier_word(svc, c)["th"] for c in (old, new or "")}
    return _both({"en": f"{old}→{new or '-'}", "th": f"{th[old]}→{th[new or '']}"})


def _tier_word(svc: Services, code: str) -> dict:
    """A tier: its code in English, its Thai label from the programme in Thai (gold: บัตรทอง)."""
    return {"en": code, "th": svc.prog.tiers.get(code, {"th": code})["th"]}


PAYMENT_COLUMNS = ["Transaction", "Entry", "Member", "Patron", "Baht", "Points", "Status", "Tries", "Last message"]


def _payment_row(p: dict) -> list:
    return [
        p["transaction"],
        p["entry_id"],
        f"#{p['member']}",
        p["patron_id"],
        p["baht"],
        p["points"],
        p["status"],
        p["attempts"],
        p.get("message") or p["last_error"] or "",
    ]


def _ils(args, svc: Services, actor: str) -> int:
    """``privcard admin ils patron|settle|pending|resolve|reversed|export-privileges``."""
    if args.action == "patron":
        svc.members.for_change(args.ref, args.scope)  # a member's ILS standing is their home site's
        d = svc.ils.patron(args.ref, actor=actor)
        en, th = said(
            "patron %(patron)s: %(valid)s, fines %(fines).2f baht, %(charged)s charged, %(overdue)s overdue, "
            "%(blocked)s; flags: %(flags)s",
            patron=d["patron_id"],
            valid=pair("valid") if d["valid"] else pair("NOT VALID"),
            fines=d["fines_baht"],
            charged=d["charged"],
            overdue=d["overdue"],
            blocked=pair("BLOCKED") if d["blocked"] else pair("not blocked"),
            flags=", ".join(d["flags"]) or pair("none"),
        )
        if d["message"]:
            en2, th2 = said("ILS says: %(message)s", message=d["message"])
            en, th = f"{en}; {en2}", f"{th} {th2}"
        print_result(args, d, en, th)
    elif args.action == "settle":
        rows = svc.ils.settle(actor=actor)
        listing(args, rows, PAYMENT_COLUMNS, [_payment_row(p) for p in rows], "no pending payments", right=(1, 4, 5, 7))
        return 3 if any(p["status"] == "pending" for p in rows) else 0
    elif args.action == "pending":
        if not svc.ils.configured:
            svc.ils.link()  # the clear "not configured" error
        rows = svc.ils.pending()
        listing(args, rows, PAYMENT_COLUMNS, [_payment_row(p) for p in rows], "no pending payments", right=(1, 4, 5, 7))
    elif args.action == "resolve":
        d = svc.ils.resolve(args.transaction, args.paid, actor)
        text = PAID_SAID["confirmed"] if d["status"] == "confirmed" else "not paid: %(transaction)s (%(message)s)"
        print_result(args, d, *said(text, transaction=d["transaction"], message=d["message"]))
    elif args.action == "reversed":
        d = svc.ils.reverse(args.transaction, args.reason, actor)
        d["balance"] = svc.ledger.balance(d["member"])
        text = "reversed in the library system: %(transaction)s; the %(points)s points are back, balance %(balance)s"
        print_result(args, d, *said(text, transaction=d["transaction"], points=d["points"], balance=d["balance"]))
    elif args.action == "export-privileges":
        rows = svc.ils.export_privileges(args.changed_since)
        if args.json or args.format == "json":
            print(json.dumps(rows, ensure_ascii=False, indent=2))
        else:
            w = csv.writer(sys.stdout, lineterminator="\n")
            w.writerow(EXPORT_COLUMNS)
            for r in rows:
                w.writerow([r[k] for k in EXPORT_COLUMNS])
    return 0


EXPORT_COLUMNS = (
    "patron_id",
    "member",
    "tier",
    "status",
    "balance",
    "books",
    "loan_days",
    "locker_days",
    "study_room_hours",
    "category",
)


def _progress(template: str, **values) -> None:
    """A progress line on stderr: English, then Thai."""
    for line in said(template, **values):
        print(line, file=sys.stderr, flush=True)


def _import_attendance(args, svc: Services, actor: str) -> int:
    """Preview or credit a list in chunks in this process, progress on stderr; resumes a killed run of the same list."""
    try:
        text = Path(args.file).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ServiceError("cannot read %(file)s: %(error)s", file=args.file, error=str(exc)) from None
    att = svc.attendance
    opts = {"day": args.date, "dry_run": args.dry_run, "site": args.site, "scope": args.scope}
    job = att.resumable_job(text, args.activity, args.event, **opts)
    if job is None:
        started_by = args.as_staff or actor  # so the account's own job answers to it in the console's API too
        job = att.start_job(
            text,
            args.activity,
            args.event,
            **opts,
            origin="cli",
            started_by=started_by,
            role=args.acting_role,
            actor=actor,
        )
    else:
        _progress("resuming job %(job)s after line %(line)s", job=job.id, line=job.next_line)
    last = [0.0]

    def progress(j) -> None:
        now = time.monotonic()
        if now - last[0] >= 1.0 or j.status == "done":
            last[0] = now
            _progress(
                "job %(job)s: %(done)s/%(total)s rows, %(credited)s would be credited, %(already)s already, %(errors)s errors"
                if j.dry_run
                else "job %(job)s: %(done)s/%(total)s rows, %(credited)s credited, %(already)s already, %(errors)s errors",
                job=j.id,
                done=j.rows_done,
                total=j.total,
                credited=j.credited,
                already=j.already,
                errors=j.errors,
            )

    job = att.run_job(job.id, progress=progress)
    pruned = att.prune_files()  # lists of imports finished over [rules] import_files_keep_days ago
    if pruned["jobs"] or pruned["uploads"]:
        _progress("deleted the lists of %(n)s old finished import(s)", n=pruned["jobs"] + pruned["uploads"])
    shown = job.shown or []
    d = {
        "job": job.id,
        "status": job.status,
        "rows": job.total,
        "counts": {"credited": job.credited, "already_credited": job.already, "errors": job.errors},
        "credited": [
            {"line": r["line"], "member": r["member"], "entry": r.get("entry")}
            for r in shown
            if r["result"] == "credited"
        ],
        "already_credited": [{"line": r["line"], "member": r["member"]} for r in shown if r["result"] == "already"],
        "errors": [_row_error(r) for r in shown if r["result"] == "error"],
        "truncated": len(shown) < job.rows_done,
    }
    if job.status == "failed":
        if job.failure:  # its template and values: the error's Thai line too
            raise ServiceError(job.failure["template"], **job.failure["values"])
        raise ServiceError("import failed")
    lines = list(
        said(
            "would credit %(credited)s, already credited %(already)s, errors %(errors)s"
            if args.dry_run
            else "credited %(credited)s, already credited %(already)s, errors %(errors)s",
            credited=job.credited,
            already=job.already,
            errors=job.errors,
        )
    )
    errors = [[r["line"], _reason(r)] for r in shown if r["result"] == "error"]
    if errors:
        lines.append(table(["Line", "Reason"], errors, right=(0,), indent="  "))
    if job.errors > len(d["errors"]):
        lines += said("  ... and %(n)s more errors (not listed)", n=job.errors - len(d["errors"]))
    print_result(args, d, "\n".join(lines))
    return 0 if not job.errors else 3


def _row_error(row: dict) -> dict:
    """A refused row for ``--json``: ``error`` in English and ``error_th`` in Thai, as the command's own refusals."""
    why = row.get("why") or {}
    th = catalogue.thai(why.get("template"), why.get("values"))
    return {"line": row["line"], "error": row["error"], **({"error_th": th} if th else {})}


def _reason(row: dict) -> str:
    """An import row's refusal: ``English / ไทย`` when it kept its template, else as it was said."""
    why = row.get("why")
    if not why:
        return str(row["error"])
    en = catalogue.localize(why["template"], why["values"], "en")
    th = catalogue.localize(why["template"], why["values"], "th")
    return en if en == th else f"{en} / {th}"


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        prog = load(args.config)
        keyring = Keyring.load(args.card_keys)
        ils = load_ils_config(args.config, args.ils)
        mail = load_mail_config(args.config, args.smtp)
        store.connect(args.db)
        svc = bootstrap(prog, keyring=keyring, ils=ils, mail=mail)
        try:
            act_as(args, svc)
            return run(args, svc)
        finally:
            svc.ils.close()
    except (ServiceError, ConfigError, store.StoreError, CardKeyError, IlsConfigError, MailConfigError) as exc:
        if args.verbose:
            raise
        thai = catalogue.thai_of(exc)
        if args.json:
            print(json.dumps({"error": str(exc), **({"error_th": thai} if thai else {})}, ensure_ascii=False))
        print(f"privcard admin: {exc}", file=sys.stderr)
        if thai:
            print(f"privcard admin: {thai}", file=sys.stderr)
        return 1
    finally:
        if store.db.obj is not None:
            store.db.close()
