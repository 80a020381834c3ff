"""``privcard admin message send|preview|list|show|segments``: messages to patrons (issue 14).

Thin calls into :mod:`server.services.messages`, registered by :mod:`server.admin`. The CLI
only queues; the running server sends (``docs/messages.md``).

A message text is given inline (``--subject-th/--subject-en/--body-th/--body-en``) or as a
TOML file (``--template FILE``)::

    [th]
    subject = "ห้องสมุดเปิดถึงสามทุ่ม"
    body = "สวัสดีคุณ{name} ..."
    [en]
    subject = "The library is open until 9 pm"
    body = "Hello {name}, ..."
"""

from __future__ import annotations

import tomllib

from server import catalogue
from server.cli_support import listing, print_result, said, table, word
from server.services import ServiceError, Services
from server.services.messages import reason_label


def register(sub, parents) -> None:
    """Add ``message`` to ``privcard admin``."""
    ms = sub.add_parser("message", parents=parents, help="messages to patrons: segments, delivery log")
    ms.set_defaults(handler=run)
    ma = ms.add_subparsers(dest="action", required=True)
    for name, what in (("send", "queue a message to a segment (the server sends it)"), ("preview", "count a segment")):
        p = ma.add_parser(name, parents=parents, help=what)
        p.add_argument(
            "--segment",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="group=U1 (one of [terms.groups]) tier=gold term=2568/1 active_days=30 lapsed=true status=active|blocked|any (repeatable)",
        )
        if name == "send":
            p.add_argument("--template", metavar="FILE", help="TOML with [th] and [en] subject and body")
            for part in ("subject", "body"):
                for lang in ("th", "en"):
                    p.add_argument(f"--{part}-{lang}", default=None)
    ls = ma.add_parser("list", parents=parents, help="the delivery log, newest first")
    ls.add_argument("--status", help="pending, sent, failed, skipped (queued = pending)")
    ls.add_argument("--batch", type=int, help="one segment message")
    ls.add_argument("--member", help="member id or card UID")
    ls.add_argument("--limit", type=int, default=50)
    sh = ma.add_parser("show", parents=parents, help="one message (its text and delivery)")
    sh.add_argument("id")
    sg = ma.add_parser("segments", parents=parents, help="segment messages and their delivery counts")
    sg.add_argument("--batch", type=int, help="one of them")


def _segment(items: list[str]) -> dict:
    out = {}
    for item in items:
        if "=" not in item:
            raise ServiceError("expected KEY=VALUE, got %(item)r", item=item)
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def _texts(args) -> tuple[dict, dict]:
    subject, body = {}, {}
    if args.template:
        try:
            with open(args.template, "rb") as fh:
                raw = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ServiceError("cannot read %(file)s: %(error)s", file=args.template, error=str(exc)) from None
        for lang in ("th", "en"):
            part = raw.get(lang) or {}
            subject[lang], body[lang] = part.get("subject"), part.get("body")
    for lang in ("th", "en"):
        subject[lang] = getattr(args, f"subject_{lang}") or subject.get(lang)
        body[lang] = getattr(args, f"body_{lang}") or body.get(lang)
    return subject, body


def reason_text(r: dict, lang: str = "en") -> str | None:
    """A message's reason as the console labels it ("gave up after 3 tries (…)"), in ``lang``; None without one."""
    why, values, detail = reason_label(r["reason"], r["status"])
    if why is None:
        return detail
    text = catalogue.localize(why, values, lang)
    return f"{text} ({detail})" if detail else text


COLUMNS = ["Message", "Queued (UTC)", "Member", "Template", "Status", "Failed at", "Tries", "Address", "Reason"]


def _row(r: dict) -> list:
    """One message: id, when queued (UTC), member, template, status (a failed one: when, ``-`` if not
    recorded), tries, address, and its reason in words (English / Thai)."""
    failed = (r.get("failed_at") or "-")[:19] if r["status"] == "failed" else ""
    reason = ""
    if r["reason"]:
        en, th = r["reason_text"], reason_text(r, "th")
        reason = en if en == th or th is None else f"{en} / {th}"
    return [
        r["id"],
        r["created_at"][:19],
        f"#{r['member'] or '-'}",
        r["template"],
        r["status"],
        failed,
        r["attempts"],
        r["address"] or "-",
        reason,
    ]


def _worded(r: dict) -> dict:
    """A message as ``list``/``show`` print it: its stored ``reason`` (a code) and ``reason_text`` in words."""
    return {**r, "reason_text": reason_text(r)}


def _counts(c: dict, lang: str) -> str:
    return ", ".join(f"{catalogue.translate(k.replace('_', ' '), lang)} {v}" for k, v in c.items())


def run(args, svc: Services) -> int:
    m = svc.messages
    actor = args.actor
    if args.action == "preview":
        d = m.preview(_segment(args.segment))
        print_result(
            args,
            d,
            *said(
                "%(members)s member(s): %(recipients)s will receive it, %(opted_out)s opted out, "
                "%(no_address)s without an address",
                members=d["members"],
                recipients=d["recipients"],
                opted_out=d["opted_out"],
                no_address=d["no_address"],
            ),
        )
    elif args.action == "send":
        subject, body = _texts(args)
        d = m.send_segment(subject, body, _segment(args.segment), actor=actor)
        counts = {"en": _counts(d["counts"], "en"), "th": _counts(d["counts"], "th")}
        print_result(
            args,
            d,
            *said(
                "segment message %(batch)s: %(total)s member(s); %(counts)s",
                batch=d["batch"],
                total=d["total"],
                counts=counts,
            ),
        )
    elif args.action == "list":
        member = svc.members.find(args.member).id if args.member else None
        rows = [_worded(r) for r in m.list(status=args.status, batch=args.batch, member=member, limit=args.limit)]
        listing(args, rows, COLUMNS, [_row(r) for r in rows], "no messages", right=(0, 6))
    elif args.action == "show":
        d = _worded(m.show(args.id))
        subject = d["subject"] or word("(segment text)")
        print_result(
            args, d, table(COLUMNS, [_row(d)], right=(0, 6)) + f"\n{word('Subject')}: {subject}\n\n{d['body'] or ''}"
        )
    elif args.action == "segments":
        rows = [m.batch(args.batch)] if args.batch else m.batches()
        listing(
            args,
            rows,
            ["Batch", "Queued (UTC)", "Subject", "Members", "Deliveries"],
            [
                [b["batch"], b["created_at"][:19], _subject(b["subject"]), b["total"], _deliveries(b["counts"])]
                for b in rows
            ],
            "no segment messages",
            right=(0, 3),
        )
    return 0


def _deliveries(counts: dict) -> str:
    """A segment message's delivery counts in a listing's cell: ``English / ไทย``."""
    return f"{_counts(counts, 'en')} / {_counts(counts, 'th')}"


def _subject(subject: dict) -> str:
    en, th = (subject.get("en") or "")[:40], (subject.get("th") or "")[:40]
    return en if en == th or not th else f"{en} / {th}"
