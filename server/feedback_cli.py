"""``privcard admin feedback list|show|add|assign|answer|status|decide|report``: the feedback desk (issue 14).

Thin calls into :mod:`server.services.feedback`, registered by :mod:`server.admin` (like
``programme`` and ``staff``). ``--json`` prints what the service returned.
"""

from __future__ import annotations

from datetime import date, timedelta

from broker.contract import FEEDBACK_CATEGORIES
from server import catalogue
from server.cli_support import day, listing, print_result, said, table, word
from server.domain.feedback import CHANNELS, DECISIONS, STATUSES
from server.services import ServiceError, Services


def register(sub, parents) -> None:
    """Add ``feedback`` and its actions to ``privcard admin``."""
    fp = sub.add_parser("feedback", parents=parents, help="the feedback desk: the queue, answers, reports")
    fp.set_defaults(handler=run)
    fa = fp.add_subparsers(dest="action", required=True)
    ls = fa.add_parser("list", parents=parents, help="the queue: open items oldest first, then answered and closed")
    ls.add_argument("--status", choices=STATUSES)
    ls.add_argument("--category", choices=FEEDBACK_CATEGORIES)
    ls.add_argument("--channel", choices=CHANNELS)
    ls.add_argument("--assignee", help="a staff username, or - for nobody")
    ls.add_argument("--member", help="member id or card UID")
    ls.add_argument("--open", action="store_true", help="new and in progress only")
    ls.add_argument("--site", help="only the items given at this site (one of yours)")
    ls.add_argument("--limit", type=int, default=200)
    sh = fa.add_parser("show", parents=parents, help="one item with its answer")
    sh.add_argument("id")
    ad = fa.add_parser("add", parents=parents, help="record feedback taken at the counter, by e-mail or by phone")
    ad.add_argument("--channel", choices=("counter", "email", "phone"), required=True)
    ad.add_argument("--category", choices=FEEDBACK_CATEGORIES, required=True)
    ad.add_argument("--text", required=True, help="what the patron said (at most 1,000 characters)")
    ad.add_argument("--member", help="member id or card UID (none: anonymous)")
    ad.add_argument("--rating", type=int, help="satisfaction 1-5")
    ad.add_argument("--pledge", action="store_true", help="a book-purchase request pledging the programme's points")
    ad.add_argument("--site", help="where it was given (one of yours); default: your one site, else the member's")
    asg = fa.add_parser("assign", parents=parents, help='give an item to a staff account ("" for nobody)')
    asg.add_argument("id")
    asg.add_argument("assignee")
    an = fa.add_parser("answer", parents=parents, help="write the answer (sent to the patron by their channel)")
    an.add_argument("id")
    an.add_argument("--text", required=True, help="the answer (at most 1,000 characters)")
    an.add_argument("--action", dest="action_taken", help="what the library did about it")
    an.add_argument("--decision", choices=DECISIONS, help="a book-purchase request: bought, or declined (refund)")
    st = fa.add_parser("status", parents=parents, help="move an item: in_progress or closed")
    st.add_argument("id")
    st.add_argument("status", choices=STATUSES)
    de = fa.add_parser("decide", parents=parents, help="a book-purchase request: bought (points kept) or declined")
    de.add_argument("id")
    de.add_argument("decision", choices=DECISIONS)
    rp = fa.add_parser("report", parents=parents, help="volumes, time to first answer, satisfaction per month")
    rp.add_argument("--from", dest="start", help="YYYY-MM-DD (default: 365 days ago)")
    rp.add_argument("--to", dest="end", help="YYYY-MM-DD (default: today)")
    rp.add_argument("--site", help="only this site's feedback (one of yours; default: all of yours)")


COLUMNS = ["Feedback", "Received", "Status", "Category", "Channel", "Site", "Member", "Assignee", "Text"]


def _row(d: dict) -> list:
    who = f"#{d['member']}" if d["member"] else word("anonymous")
    text = " ".join(d["text"].split())
    return [
        d["id"],
        d["received_at"][:16],
        d["status"],
        d["category"],
        d["channel"],
        d["site"],
        who,
        d["assignee"] or "-",
        text[:60],
    ]


def _line(d: dict) -> str:
    """One item under its header line."""
    return table(COLUMNS, [_row(d)])


def _detail(d: dict) -> str:
    lines = [_line(d), f"  {word('Text')}: {d['text']}"]
    if d["pledge_points"]:
        lines.append(
            f"  {word('points pledged')}: {d['pledge_points']}; {word('decision')}: {d['decision'] or word('not decided yet')}"
            + (f"; {word('given back by entry')} {d['refund_entry']}" if d["refund_entry"] else "")
        )
    if d["answer"]:
        lines.append(
            f"  {word('answer')} ({d['answered_by']}, {d['answered_at'][:16]}, {d['delivery']}): {d['answer']}"
        )
    if d["action_taken"]:
        lines.append(f"  {word('action taken')}: {d['action_taken']}")
    if d["channel_back"] == "none":
        lines += [f"  {x}" for x in said("no channel back: anonymous kiosk feedback cannot be answered to the patron")]
    return "\n".join(lines)


def _day(text: str | None, default: date) -> date:
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ServiceError("dates must be YYYY-MM-DD") from None


def run(args, svc: Services) -> int:
    """Execute ``privcard admin feedback ACTION``."""
    from server.services.sites import EVERYTHING

    desk, actor, scope = svc.feedback, args.actor, getattr(args, "scope", EVERYTHING)
    if args.action == "list":
        rows = desk.list(
            status=args.status,
            category=args.category,
            channel=args.channel,
            assignee=args.assignee,
            member=args.member,
            open_only=args.open,
            limit=args.limit,
            site=args.site,
            scope=scope,
        )
        listing(args, rows, COLUMNS, [_row(d) for d in rows], "no feedback")
    elif args.action == "show":
        d = desk.get(args.id, scope)
        print_result(args, d, _detail(d))
    elif args.action == "add":
        d = desk.submit(
            channel=args.channel,
            category=args.category,
            text=args.text,
            member=args.member,
            rating=args.rating,
            pledge=args.pledge,
            actor=actor,
            site=args.site,
            scope=scope,
        )
        print_result(args, d, "\n".join([*said("recorded feedback %(id)s", id=d["id"]), _detail(d)]))
    elif args.action == "assign":
        d = desk.assign(args.id, args.assignee, actor=actor, scope=scope)
        head = (
            said("feedback %(id)s assigned to %(assignee)s", id=d["id"], assignee=d["assignee"])
            if d["assignee"]
            else said("feedback %(id)s assigned to nobody", id=d["id"])
        )
        print_result(args, d, "\n".join([*head, _line(d)]))
    elif args.action == "answer":
        d = desk.answer(args.id, args.text, args.action_taken, decision=args.decision, actor=actor, scope=scope)
        print_result(args, d, "\n".join([*said("answered feedback %(id)s", id=d["id"]), _detail(d)]))
    elif args.action == "status":
        d = desk.set_status(args.id, args.status, actor=actor, scope=scope)
        head = said("feedback %(id)s is now %(status)s", id=d["id"], status=_status(d["status"]))
        print_result(args, d, "\n".join([*head, _line(d)]))
    elif args.action == "decide":
        d = desk.decide(args.id, args.decision, actor=actor, scope=scope)
        print_result(args, d, "\n".join([*said("recorded the decision on feedback %(id)s", id=d["id"]), _detail(d)]))
    elif args.action == "report":
        today = svc.today()
        end = _day(args.end, today)
        start = _day(args.start, end - timedelta(days=365))
        r = desk.report(min(start, end), max(start, end), svc.sites.report_sites(scope, args.site))
        wait = r["first_answer_hours"]
        values = {"start": day(r["from"]), "end": day(r["to"]), "total": r["total"]}
        head = said("feedback %(start)s .. %(end)s: %(total)s written", **values)
        answer = said(
            "first answer: %(answered)s answered, median %(median)s h, p90 %(p90)s h",
            answered=wait["answered"],
            median=wait["median"],
            p90=wait["p90"],
        )
        text = [
            head[0],
            f"  {answer[0]}",
            head[1],
            f"  {answer[1]}",
            f"  {word('by category')}: " + (", ".join(f"{k} {v}" for k, v in r["by_category"].items()) or "-"),
            f"  {word('by channel')}: " + (", ".join(f"{k} {v}" for k, v in r["by_channel"].items()) or "-"),
        ]
        if r["satisfaction"]:
            text.append(
                table(
                    ["Month", "Average satisfaction", "Number of ratings"],
                    [[s["month"], s["average"], s["ratings"]] for s in r["satisfaction"]],
                    right=(1, 2),
                    indent="  ",
                )
            )
        print_result(args, r, "\n".join(text))
    return 0


def _status(code: str) -> dict:
    """A feedback status: its code in English, the console's Thai word in Thai."""
    return {"en": code, "th": catalogue.FEEDBACK_WORDS["status"].get(code, {"th": code})["th"]}
