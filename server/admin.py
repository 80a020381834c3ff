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
from server import catalogue, store
from server.cli_support import add_ils_smtp_options, print_result
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
    staff_admin.register(sub)


def _register_credentials(device_sub) -> None:
    """``device credentials`` lives in :mod:`server.broker_accounts` (password-file format: broker.mosquitto)."""
    from server import broker_accounts

    broker_accounts.register(device_sub, parents=[COMMON])


def _register_bridge(site_sub) -> None:
    """``site bridge`` (a site broker bridged to the centre) lives in :mod:`server.broker_accounts` too."""
    from server import broker_accounts

    broker_accounts.register_bridge(site_sub, parents=[COMMON])


def _member_line(m: dict) -> str:
    cards = ",".join(c["uid"] + ("" if c["status"] == "active" else "(blocked)") for c in m["cards"])
    return (
        f"#{m['id']:<6} {m['name'][:30]:<30} {m['tier']:<6} {m['group'] or '-':<3} "
        f"{m['balance']:>6} pts  {m['status']:<7} until {m['valid_until'] or '-':<10} cards {cards}"
    )


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
            print_result(args, d, f"enrolled member #{m.id} {m.name}: {d['balance']} points")
        elif args.action == "show":
            d = svc.reads.member_dict(svc.members.find(args.ref), history=args.history, scope=scope)
            lines = [_member_line(d)]
            for e in d["history"]:
                mark = " (voided)" if e["voided"] else ""
                if e["source"] == "tier":  # a tier change: what changed and why
                    mark = f" {e['item']}: {e['note'] or ''}"
                lines.append(
                    f"  [{e['id']}] {e['at'][:19]} {e['label']['en'][:40]:<40} {e['item'] or '':<16} "
                    f"{e['points']:>+6}{mark}"
                )
            print_result(args, d, "\n".join(lines))
        elif args.action == "list":
            rows = [svc.reads.member_dict(m, scope=scope) for m in svc.members.list(args.search, args.limit)]
            print_result(args, rows, "\n".join(_member_line(m) for m in rows) or "no members")
        elif args.action == "set":
            fields = _pairs(args.fields)
            if "patron_pin" in fields:  # as typed (leading zeros kept), hashed, never echoed (docs/patrons.md)
                fields["patron_pin"] = next(
                    f.split("=", 1)[1].strip() for f in args.fields if f.split("=", 1)[0].strip() == "patron_pin"
                )
                m = svc.patrons.set_member(args.ref, actor=actor, scope=scope, **fields)  # another site's: not found
            else:
                m = svc.members.set(args.ref, actor=actor, scope=scope, **fields)
            print_result(args, svc.reads.member_dict(m, scope=scope), f"updated member #{m.id}")
        elif args.action == "renew":
            d = svc.terms.renew(args.ref, until=args.until, actor=actor, scope=scope)
            print_result(
                args,
                d,
                f"renewed member #{d['member']} until {d['valid_until'] or '-'}; fee {d['fee_baht']} baht recorded",
            )
        elif args.action == "tier":
            m = svc.terms.set_tier(args.ref, args.tier, reason=args.reason, actor=actor, scope=scope)
            print_result(args, svc.reads.member_dict(m, scope=scope), f"member #{m.id} is now {m.tier}")
    elif args.cmd == "term":
        if args.action == "close":
            d = svc.terms.close(args.date, dry_run=args.dry_run, actor=actor)
            verb = "would lapse" if d["dry_run"] else "lapsed"
            lines = [
                f"{verb} {len(d['lapsed'])} member(s) whose term ended before {d['date']} (points: {d['on_expiry']})"
            ]
            lines += [
                f"  #{r['member']:<6} {r['name'][:30]:<30} {r['group'] or '-':<4} until {r['valid_until']} "
                f"balance {r['balance']}" + (f", forfeit {r['forfeited']}" if r["forfeited"] else "")
                for r in d["lapsed"]
            ]
            print_result(args, d, "\n".join(lines))
        elif args.action == "show":
            d = svc.terms.overview()
            lines = [
                f"today {d['today']}: semester {d['semester']}, academic year {d['academic_year']}; "
                f"renewal fee {d['renewal_fee_baht']} baht; points at expiry: {d['on_expiry']}; "
                f"privileges follow: {d['basis']}"
            ]
            lines += [
                f"  {g['code']:<6} {g['label']['en'][:24]:<24} term {g['term']:<13} joining today: until "
                f"{g['joining_today_until'] or '-'}" + (f", tier {g['tier']}" if g["tier"] else "")
                for g in d["groups"]
            ]
            lines += [
                f"  tier {t['code']}: multiplier {t['multiplier']}, groups {','.join(t['groups']) or '-'}, "
                f"promotion at {t['earned_at'] or '-'} earned"
                for t in d["tiers"]
            ]
            print_result(args, d, "\n".join(lines))
    elif args.cmd == "card":
        if args.action == "replace":
            m = svc.members.replace_card(args.ref, args.card, actor=actor, scope=scope)
            d = svc.reads.member_dict(m, scope=scope)
            print_result(
                args,
                d,
                f"member #{m.id} now uses card {args.card.upper()}; old card(s) blocked; "
                f"fee {svc.prog.card_replacement_fee_baht} baht recorded",
            )
        elif args.action == "block":
            c = svc.members.block_card(args.uid, args.reason, actor=actor, scope=scope)
            print_result(args, {"uid": c.uid, "status": c.status, "member": c.member_id}, f"card {c.uid} blocked")
        elif args.action == "secure":
            c = svc.cards.secure(args.uid, meta_key=args.meta_key, file_key=args.file_key, actor=actor)
            how = "imported keys" if c.sun_keys else "keys diversified from the master key"
            print_result(args, {"uid": c.uid, "sun": True}, f"card {c.uid} now requires Secure Unique NFC ({how})")
        elif args.action == "keys":
            k = svc.cards.diversified_keys(args.uid, actor=actor)
            uid = contract.normalise_uid(args.uid)
            print_result(
                args,
                {"uid": uid, "meta_read_key": k.meta.hex().upper(), "file_read_key": k.file.hex().upper()},
                f"card {uid}\n  key 1 (SDM meta read): {k.meta.hex().upper()}\n"
                f"  key 2 (SDM file read): {k.file.hex().upper()}",
            )
        elif args.action == "genuine":
            counts, suspects = svc.cards.counts(), svc.cards.suspects()
            lines = [f"secured {counts['secured']}, UID-only {counts['uid_only']} (active cards)"]
            lines += [f"  suspect {s['uid']} member #{s['member']} since {s['suspect_at']}" for s in suspects]
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
            print_result(args, svc.reads.device_dict(dev), f"added {dev.kind} {dev.id}")
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
            print_result(
                args,
                rows,
                "\n".join(
                    f"{d['id']:<16} {d['kind']:<8} {d['site'] or svc.prog.default_site:<8} "
                    f"{d['direction'] or '-':<4} {d['activity'] or '-':<14} "
                    f"{d['state']:<8} last seen {d['last_seen'] or 'never'}  {d['location'] or ''}"
                    for d in rows
                )
                or "no devices",
            )
        elif args.action == "set":
            dev = svc.devices.set(args.id, actor=actor, scope=scope, **_pairs(args.fields))
            print_result(
                args,
                svc.reads.device_dict(dev),
                f"updated {dev.id} (revision {dev.revision}); the server publishes its config within a second",
            )
        elif args.action == "show":
            dev = svc.devices.get(args.id, scope)
            d = svc.reads.device_dict(dev) | {"config": svc.devices.config(dev).to_dict()}
            print_result(args, d, json.dumps(d, ensure_ascii=False, indent=2, default=str))
        else:
            return args.handler(args, svc)
    elif args.cmd == "site":
        if args.action == "bridge":
            return args.handler(args, svc)
        rows = [svc.reads.site_dict(x) for x in svc.sites.list(scope)]
        if args.action == "list":
            print_result(
                args,
                rows,
                "\n".join(
                    f"{r['code']:<10} {r['name']['en']:<32} {r['timezone']:<16} {r['hours']['mon']:<12} "
                    f"{len(r['devices'])} devices{'  (default)' if r['default'] else ''}"
                    for r in rows
                ),
            )
        else:
            r = svc.reads.site_dict(svc.sites.get(args.code.upper(), scope))
            print_result(args, r, json.dumps(r, ensure_ascii=False, indent=2, default=str))
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
        print_result(args, d, f"{outcome}: {d['points']:+d} points, balance {m.balance}")
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
        print_result(
            args,
            d,
            "\n".join(
                f"voided entry {x['void_of']}: {x['points']:+d} points, member #{x['member']} balance {x['balance']}"
                for x in d
            ),
        )
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
            f"moved {args.points} points from #{d['from']} (now {d['from_balance']}) "
            f"to #{d['to']} (now {d['to_balance']})",
        )
    elif args.cmd == "redeem":
        d = svc.points.redeem(args.ref, args.reward, points=args.points, units=args.units, actor=actor, scope=scope)
        value = f"{d['baht']} baht" if "baht" in d else f"{d['units']} unit(s)"
        text = f"redeemed {d['points']} points for {d['label']['en']} ({value}); balance {d['balance']}"
        paid = d.get("ils")
        if paid:
            text = {
                "confirmed": f"{text}\npaid in the library system: {paid['transaction']} ({paid['message']})",
                "pending": f"{text}\nPENDING in the library system: {paid['transaction']} ({paid['message']}); "
                "the points stay held until it answers (ils settle)",
                "refused": f"NOT redeemed: the library system refused {paid['transaction']}: {paid['message']}; "
                f"the {d['points']} points are back, balance {d['balance']}",
            }[paid["status"]]
        print_result(args, d, text)
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
        print_result(
            args,
            rows,
            "\n".join(
                f"[{e['id']}] {e['at'][:19]} #{e['member']:<6} {e['activity']:<16} {e['points']:>+6}" for e in rows
            )
            or "no entries",
        )
    elif args.cmd in ("staff", "programme", "campaign", "draw", "ranking", "message", "feedback"):
        return args.handler(args, svc)
    return 0


def _payment_line(p: dict) -> str:
    return (
        f"{p['transaction']:<20} entry {p['entry_id']:<7} #{p['member']:<6} patron {p['patron_id']:<14} "
        f"{p['baht']:>5} baht {p['points']:>5} pts  {p['status']:<9} tries {p['attempts']}"
        + (f"  ({p.get('message') or p['last_error']})" if p.get("message") or p["last_error"] else "")
    )


def _ils(args, svc: Services, actor: str) -> int:
    """``privcard admin ils patron|settle|pending|export-privileges``."""
    if args.action == "patron":
        svc.members.for_change(args.ref, args.scope)  # a member's ILS standing is their home site's
        d = svc.ils.patron(args.ref, actor=actor)
        flags = ", ".join(d["flags"]) or "none"
        print_result(
            args,
            d,
            f"patron {d['patron_id']}: {'valid' if d['valid'] else 'NOT VALID'}, fines {d['fines_baht']:.2f} baht, "
            f"{d['charged']} charged, {d['overdue']} overdue, {'BLOCKED' if d['blocked'] else 'not blocked'}; "
            f"flags: {flags}" + (f"; ILS says: {d['message']}" if d["message"] else ""),
        )
    elif args.action == "settle":
        rows = svc.ils.settle(actor=actor)
        print_result(args, rows, "\n".join(_payment_line(p) for p in rows) or "no pending payments")
        return 3 if any(p["status"] == "pending" for p in rows) else 0
    elif args.action == "pending":
        if not svc.ils.configured:
            svc.ils.link()  # the clear "not configured" error
        rows = svc.ils.pending()
        print_result(args, rows, "\n".join(_payment_line(p) for p in rows) or "no pending payments")
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
        print(f"resuming job {job.id} after line {job.next_line}", file=sys.stderr)
    last = [0.0]

    def progress(j) -> None:
        now = time.monotonic()
        if now - last[0] >= 1.0 or j.status == "done":
            last[0] = now
            print(
                f"job {j.id}: {j.rows_done}/{j.total} rows, {j.credited} "
                f"{'would be credited' if j.dry_run else 'credited'}, {j.already} already, {j.errors} errors",
                file=sys.stderr,
            )

    job = att.run_job(job.id, progress=progress)
    pruned = att.prune_files()  # lists of imports finished over [rules] import_files_keep_days ago
    if pruned["jobs"] or pruned["uploads"]:
        print(f"deleted the lists of {pruned['jobs'] + pruned['uploads']} old finished import(s)", file=sys.stderr)
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
        "errors": [{"line": r["line"], "error": r["error"]} for r in shown if r["result"] == "error"],
        "truncated": len(shown) < job.rows_done,
    }
    if job.status == "failed":
        raise ServiceError(job.failure["template"] % job.failure["values"] if job.failure else "import failed")
    lines = [
        f"{'would credit' if args.dry_run else 'credited'} {job.credited}, "
        f"already credited {job.already}, errors {job.errors}"
    ]
    lines += [f"  line {r['line']}: {r['error']}" for r in shown if r["result"] == "error"]
    if job.errors > len(d["errors"]):
        lines.append(f"  ... and {job.errors - len(d['errors'])} more errors (not listed)")
    print_result(args, d, "\n".join(lines))
    return 0 if not job.errors else 3


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
