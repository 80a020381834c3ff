"""``privcard admin programme|campaign|draw|ranking``: the programme edited live (issue 13).

Thin calls into :mod:`server.services.programme` and :mod:`server.services.draws`,
registered by :mod:`server.admin` (like ``staff`` and ``device credentials``).
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from server.cli_support import listing, print_result, said, table
from server.services import ServiceError, Services


def register(sub, parents) -> None:
    """Add the four command groups to ``privcard admin``."""
    pr = sub.add_parser("programme", parents=parents, help="the programme in force: export, import, versions")
    pr.set_defaults(handler=programme)
    pa = pr.add_subparsers(dest="action", required=True)
    ex = pa.add_parser("export", parents=parents, help="write the programme in force as TOML (stdout or FILE)")
    ex.add_argument("file", nargs="?")
    im = pa.add_parser("import", parents=parents, help="make a TOML file (merged over the defaults) the next version")
    im.add_argument("file")
    im.add_argument("--dry-run", action="store_true", help="check and list the changes, change nothing")
    pa.add_parser("versions", parents=parents, help="the stored versions, newest first")
    se = pa.add_parser("section", parents=parents, help="print one section, or replace it from FILE")
    se.add_argument("name")
    se.add_argument("--file", help="TOML text of that section")
    se.add_argument("--dry-run", action="store_true")
    ra = pa.add_parser("retire", parents=parents, help="retire an activity (no tap earns it any more)")
    ra.add_argument("activity")

    cp = sub.add_parser("campaign", parents=parents, help="promotions: bonus or multiplier, or a one-off activity")
    cp.set_defaults(handler=campaign)
    ca = cp.add_subparsers(dest="action", required=True)
    add = ca.add_parser("add", parents=parents, help="add a dated campaign (times in the library's time zone)")
    add.add_argument("code")
    add.add_argument("--kind", required=True, choices=["multiplier", "bonus", "activity"])
    add.add_argument("--starts", required=True, help="'YYYY-MM-DD HH:MM' (first minute, included)")
    add.add_argument("--ends", required=True, help="'YYYY-MM-DD HH:MM' (last minute, included)")
    add.add_argument("--activities", help="comma-separated activity codes (default: all)")
    add.add_argument("--groups", help="comma-separated groups of [terms.groups] (U1..U5 shipped; default: all)")
    add.add_argument("--tiers", help="comma-separated tiers (default: all)")
    add.add_argument("--multiplier", help="k for --kind multiplier, e.g. 2 or 1.5")
    add.add_argument("--bonus", type=int, help="+N points for --kind bonus")
    add.add_argument("--points", type=int, help="points of a one-off activity")
    add.add_argument("--limit", help="limit of a one-off activity (once, per_day, ...)")
    add.add_argument("--th", help="Thai name")
    add.add_argument("--en", help="English name")
    ca.add_parser("list", parents=parents, help="every campaign and what it gave")
    end = ca.add_parser("end", parents=parents, help="end a campaign now")
    end.add_argument("code")

    dp = sub.add_parser("draw", parents=parents, help="prize draws (seeded, reproducible)")
    dp.set_defaults(handler=draw)
    da = dp.add_subparsers(dest="action", required=True)
    cr = da.add_parser("create", parents=parents, help="record a draw and its seed (before it is run)")
    cr.add_argument("name")
    cr.add_argument("--winners", type=int, required=True)
    cr.add_argument("--group", help="a group of [terms.groups] (U1..U5 shipped; default: all)")
    cr.add_argument("--tier")
    cr.add_argument("--term", help="e.g. 1/2569: points earned in that term count")
    cr.add_argument("--min-points", type=int, default=0)
    cr.add_argument("--tickets", default="one", help="one | per_points:N")
    cr.add_argument("--prize-points", type=int)
    cr.add_argument("--prize-reward")
    for name, text in (("run", "draw the winners"), ("show", "publish seed, list, winners"), ("verify", "recompute")):
        x = da.add_parser(name, parents=parents, help=text)
        x.add_argument("id")
    aw = da.add_parser("award", parents=parents, help="give the winners the prize (ledger entries)")
    aw.add_argument("id")
    da.add_parser("list", parents=parents, help="every draw and ranking")

    rp = sub.add_parser("ranking", parents=parents, help="most active users and top borrowers per term")
    rp.set_defaults(handler=ranking)
    rk = rp.add_subparsers(dest="action", required=True)
    for name, text in (("show", "the ranking now"), ("record", "record the top N (to award them)")):
        x = rk.add_parser(name, parents=parents, help=text)
        x.add_argument("kind", choices=["active", "borrowers"])
        x.add_argument("--term", required=True)
        x.add_argument("--top", type=int, default=10)
        if name == "record":
            x.add_argument("--name", default="")
            x.add_argument("--prize-points", type=int)
            x.add_argument("--prize-reward")


def programme(args, svc: Services) -> int:
    """``programme export|import|versions|section|retire``."""
    p = svc.programme
    if args.action == "export":
        text = p.export()
        if args.file:
            Path(args.file).write_text(text, encoding="utf-8")
            print_result(
                args,
                {"file": args.file, "version": p.version()},
                *said("wrote version %(version)s to %(file)s", version=p.version(), file=args.file),
            )
        else:
            sys.stdout.write(text)
    elif args.action == "import":
        try:
            text = Path(args.file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ServiceError("cannot read %(file)s: %(error)s", file=args.file, error=str(exc)) from None
        r = p.import_toml(text, actor=args.actor, dry_run=args.dry_run)
        print_result(args, r, _changes_text(r))
    elif args.action == "versions":
        rows = p.versions()
        listing(
            args,
            rows,
            ["Version", "At", "By", "Section"],
            [[f"v{r['version']}", f"{r['at']:%Y-%m-%d %H:%M}", r["actor"], r["section"]] for r in rows],
            "no stored version: the start-up file is in force",
        )
    elif args.action == "section":
        if args.file:
            text = Path(args.file).read_text(encoding="utf-8")
            r = p.set_section(args.name, text, actor=args.actor, dry_run=args.dry_run)
            print_result(args, r, _changes_text(r))
        else:
            sys.stdout.write(p.section_text(args.name))
    elif args.action == "retire":
        r = p.retire_activity(args.activity, actor=args.actor)
        print_result(args, r, _changes_text(r))
    return 0


def _changes_text(r: dict) -> str:
    if r.get("dry_run"):
        lines = list(said("would change %(n)s setting(s); nothing changed yet", n=len(r["changes"])))
    else:
        lines = list(said("version %(version)s: %(n)s change(s)", version=r["version"], n=len(r["changes"])))
    if r["changes"]:
        lines.append(
            table(
                ["Setting", "Old value", "New value"],
                [[c["path"], repr(c["old"]), repr(c["new"])] for c in r["changes"]],
                indent="  ",
            )
        )
    return "\n".join(lines)


def campaign(args, svc: Services) -> int:
    """``campaign add|list|end``."""
    c = svc.campaigns
    if args.action == "add":
        spec = {
            k: getattr(args, k)
            for k in (
                "code",
                "kind",
                "starts",
                "ends",
                "activities",
                "groups",
                "tiers",
                "multiplier",
                "bonus",
                "points",
                "limit",
                "th",
                "en",
            )
        }
        d = c.add(spec, actor=args.actor)
        en, th = said(
            "added campaign %(code)s: %(gives)s, from %(starts)s to %(ends)s",
            code=d["code"],
            gives=d["gives"],
            starts=_minute(d["starts"]),
            ends=_minute(d["ends"]),
        )
        print_result(args, d, "\n".join([en, th, _campaigns([d])]))
    elif args.action == "list":
        rows = c.list()
        if rows:
            print_result(args, rows, _campaigns(rows))
        else:
            print_result(args, rows, *said("no campaigns"))
    elif args.action == "end":
        d = c.end(args.code, actor=args.actor)
        en, th = said(
            "ended campaign %(code)s: it gave %(points)s points in %(entries)s entries",
            code=d["code"],
            points=d["given"]["points"],
            entries=d["given"]["entries"],
        )
        print_result(args, d, "\n".join([en, th, _campaigns([d])]))
    return 0


def _minute(text: str) -> datetime:
    """A campaign's start or end (ISO, the library's local time): a date-time :func:`said` shows in
    each language (Buddhist era in Thai)."""
    return datetime.fromisoformat(text)


def _campaigns(rows: list[dict]) -> str:
    return table(
        ["Campaign", "State", "Starts", "Ends", "Gives", "Points given", "Entries"],
        [
            [
                d["code"],
                d["state"],
                d["starts"][:16],
                d["ends"][:16],
                _both(d["gives"]),
                d["given"]["points"],
                d["given"]["entries"],
            ]
            for d in rows
        ],
        right=(5, 6),
    )


def _both(label: dict) -> str:
    """A ``{"th", "en"}`` label from data in a row: ``English / ไทย``."""
    return label["en"] if label["en"] == label["th"] else f"{label['en']} / {label['th']}"


def draw(args, svc: Services) -> int:
    """``draw create|run|show|verify|award|list``."""
    d = svc.draws
    if args.action == "create":
        r = d.create(
            args.name,
            winners=args.winners,
            group=args.group,
            tier=args.tier,
            term=args.term,
            min_points=args.min_points,
            tickets=args.tickets,
            prize_points=args.prize_points,
            prize_reward=args.prize_reward,
            actor=args.actor,
        )
        head = said("recorded draw #%(id)s %(name)s; its seed is published when it is run", id=r["id"], name=r["name"])
    elif args.action == "run":
        r = d.run(args.id, actor=args.actor)
        head = said("ran draw #%(id)s: %(n)s winner(s)", id=r["id"], n=len(r["winners"] or []))
    elif args.action == "show":
        r = d.show(args.id)
        head = ()
    elif args.action == "award":
        r = d.award(args.id, actor=args.actor)
        head = said("gave the prize of draw #%(id)s to its winners", id=r["id"])
    elif args.action == "verify":
        r = d.verify(args.id)
        print_result(
            args,
            r,
            *said(
                "draw %(id)s: verified: winners %(winners)s, recomputed %(recomputed)s"
                if r["ok"]
                else "draw %(id)s: MISMATCH: winners %(winners)s, recomputed %(recomputed)s",
                id=r["id"],
                winners=r["winners"],
                recomputed=r["recomputed"],
            ),
        )
        return 0 if r["ok"] else 2
    else:
        rows = d.list()
        listing(args, rows, DRAW_COLUMNS, [_draw_row(x) for x in rows], "no draws")
        return 0
    print_result(args, r, "\n".join([*head, table(DRAW_COLUMNS, [_draw_row(r)])]))
    return 0


DRAW_COLUMNS = ["Draw", "Kind", "State", "Title", "Seed", "Winners"]


def _draw_row(r: dict) -> list:
    seed = r["seed"] or f"(sha256 {r['commitment']})" if r["kind"] == "draw" else "-"
    return [f"#{r['id']}", r["kind"], r["state"], r["name"][:30], seed, r["winners"] or "-"]


def ranking(args, svc: Services) -> int:
    """``ranking show|record``."""
    if args.action == "show":
        r = svc.draws.ranking("", kind=args.kind, term=args.term, top=args.top, actor=args.actor, record=False)
        lines = [r["counts"]["en"], r["counts"]["th"]]
        if r["top"]:
            lines.append(
                table(
                    ["Rank", "Member", "Score"],
                    [[i + 1, f"#{t['member']}", t["score"]] for i, t in enumerate(r["top"])],
                    right=(0, 2),
                )
            )
        print_result(args, r, "\n".join(lines))
    else:
        r = svc.draws.ranking(
            args.name,
            kind=args.kind,
            term=args.term,
            top=args.top,
            prize_points=args.prize_points,
            prize_reward=args.prize_reward,
            actor=args.actor,
        )
        print_result(
            args,
            r,
            "\n".join([*said("recorded ranking #%(id)s", id=r["id"]), table(DRAW_COLUMNS, [_draw_row(r)])]),
        )
    return 0
