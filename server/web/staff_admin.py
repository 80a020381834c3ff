"""``privcard admin staff ...``: console accounts from the command line.

The admin CLI (``server/admin.py``) hooks this in with::

    from server.web import staff_admin
    staff_admin.register(subparsers)          # adds the "staff" command, sets args.handler
    ...
    elif args.cmd == "staff":
        return args.handler(args, svc)    # == staff_admin.run(args); uses args.db, args.actor

Standalone (same arguments): ``python -m server.web.staff_admin --db URL staff add alice --role admin``.

``staff add`` and ``staff passwd`` set a final password, as they always did (the person
at the shell is usually the account's owner, or setting up the first admin);
``--must-change`` makes it temporary: the account must choose its own password at its
next console sign-in (what the console's own Add staff and temporary password do).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys

from server import store


def register(subparsers, parents=()) -> argparse.ArgumentParser:
    """Add ``staff add|list|passwd|role|disable|enable|unlock|unlock-pin|pin-lockouts|token|tokens|revoke-token``.

    ``parents``: the options every admin command takes after its action too (``--db``, ``--json``).
    """
    p = subparsers.add_parser(
        "staff",
        help="web console staff accounts",
        description="Create and manage web console staff accounts.",
        parents=list(parents),
    )
    actions = p.add_subparsers(dest="staff_command", metavar="ACTION")
    actions.required = True

    def action(name, **kw):  # every action takes the parents' options after it too (``staff list --db URL``)
        return actions.add_parser(name, parents=list(parents), **kw)

    add = action("add", help="create an account (prompts for the password unless --password)")
    add.add_argument("username")
    add.add_argument("--role", choices=("admin", "staff"), default="staff")
    add.add_argument("--password", help="the password (prompted when omitted; avoid on shared machines)")
    add.add_argument(
        "--must-change",
        action="store_true",
        help="temporary password: the account must change it at its next console sign-in",
    )
    add.add_argument("--sites", help="the sites it works for, e.g. MAIN,BRANCH2 (default: every site)")
    action("list", help="list accounts")
    st = action("sites", help="change the sites an account works for ('all': every site)")
    st.add_argument("username")
    st.add_argument("sites", help="comma-separated site codes, or 'all'")
    pw_ = action("passwd", help="set a new password (and lift a lock-out)")
    pw_.add_argument("username")
    pw_.add_argument("--password")
    pw_.add_argument(
        "--must-change",
        action="store_true",
        help="temporary password: the account must change it at its next console sign-in "
        "(without it the password is final and any such demand is lifted)",
    )
    role = action("role", help="change an account's role")
    role.add_argument("username")
    role.add_argument("role", choices=("admin", "staff"))
    for name, text in (
        ("disable", "stop an account from signing in"),
        ("enable", "allow an account again"),
        ("unlock", "lift a lock-out after failed sign-ins"),
    ):
        action(name, help=text).add_argument("username")
    up = action(
        "unlock-pin",
        help="lift a kiosk staff PIN lock-out (5 wrong PINs) of a staff member's cards, on one kiosk or all",
    )
    up.add_argument("member", help="the staff member's id or one of their cards' UIDs")
    up.add_argument("--device", help="only on this kiosk (default: every kiosk)")
    action("pin-lockouts", help="list the staff cards locked out now, on every kiosk")
    tok = action("token", help="create an API bearer token (printed once; its expiry on stderr)")
    tok.add_argument("username")
    tok.add_argument("--label", default="cli")
    tok.add_argument("--days", default=None, help="lifetime in days, 1-366 (default 90)")
    toks = action("tokens", help="list API tokens (one account's, or everyone's)")
    toks.add_argument("username", nargs="?")
    rev = action("revoke-token", help="revoke an API token by its number (from 'staff tokens')")
    rev.add_argument("token_id")
    # server/admin.py dispatches with ``args.handler(args, svc)``
    p.set_defaults(handler=lambda args, svc=None: run(args, svc))
    return p


def _password(given: str | None) -> str:
    if given is not None:
        return given
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        from server.services.errors import ServiceError

        raise ServiceError("passwords differ")  # run() prints it in English and Thai
    return first


def _sites(text: str | None, svc) -> str | None:
    """Site codes typed at the shell, checked against the programme when the service is at hand."""
    from server.services.sites import Scope

    if text is None or text.strip().lower() in ("", "all"):
        return None
    if svc is not None:
        return svc.sites.scope(text).text()
    return Scope.parse(text.upper()).text()


def run(args, svc=None) -> int:
    """Execute a parsed ``staff`` command; prints one line per result, errors on stderr."""
    from server import catalogue
    from server.cli_support import code_word, listing, print_result, said, word
    from server.services.errors import ServiceError
    from server.web import accounts

    if store.db.obj is None:
        store.connect(args.db)
    else:
        store.upgrade()  # the web tables, when the admin CLI connected before importing us
    cmd = args.staff_command
    actor = getattr(args, "actor", None) or f"cli:{os.environ.get('USER') or 'admin'}"
    try:
        if cmd == "add":
            sites = _sites(args.sites, svc)
            s = accounts.add_staff(
                args.username,
                args.role,
                _password(args.password),
                actor=actor,
                must_change_password=args.must_change,
                sites=sites,
            )
            _say(
                args,
                "staff account %(name)s (%(role)s) created with a temporary password"
                if s.must_change_password
                else "staff account %(name)s (%(role)s) created",
                name=s.username,
                role=_role(s.role),
            )
        elif cmd == "list":
            now = store.utcnow()
            rows = [
                {
                    "username": s.username,
                    "role": s.role,
                    "active": bool(s.active),
                    "locked_until": f"{s.locked_until:%Y-%m-%dT%H:%M:%SZ}"
                    if s.locked_until and s.locked_until > now
                    else None,
                    "must_change_password": bool(s.must_change_password),
                    "sites": s.sites or None,
                }
                for s in accounts.Staff.select().order_by(accounts.Staff.username)
            ]
            listing(
                args,
                rows,
                ["Account", "Role", "State", "Sites", "Locked until", "Note"],
                [
                    [
                        r["username"],
                        code_word(r["role"]),
                        code_word("active" if r["active"] else "disabled"),
                        r["sites"] or word("every site"),
                        _utc_minute(r["locked_until"]) if r["locked_until"] else "",
                        word("must change password") if r["must_change_password"] else "",
                    ]
                    for r in rows
                ],
                "no staff accounts",
            )
        elif cmd == "sites":
            person = accounts.Staff.get_or_none(accounts.Staff.username == args.username.strip().lower())
            if person is None:
                raise accounts.AccountError("no staff account %(name)s", name=args.username)
            s = accounts.set_sites(person.id, _sites(args.sites, svc), actor=actor)
            if s.sites:
                _say(args, "%(name)s works for %(sites)s", name=s.username, sites=s.sites)
            else:
                _say(args, "%(name)s works for every site", name=s.username)
        elif cmd == "passwd":
            s = accounts.set_password(
                args.username, _password(args.password), actor=actor, must_change=args.must_change
            )
            _say(
                args,
                "password of %(name)s changed (temporary: must be changed at the next sign-in)"
                if s.must_change_password
                else "password of %(name)s changed",
                name=s.username,
            )
        elif cmd == "role":
            accounts.set_staff(args.username, role=args.role, actor=actor)
            _say(args, "%(name)s is now %(role)s", name=args.username, role=_role(args.role))
        elif cmd in ("disable", "enable"):
            accounts.set_staff(args.username, active=cmd == "enable", actor=actor)
            _say(args, "%(name)s disabled" if cmd == "disable" else "%(name)s enabled", name=args.username)
        elif cmd == "unlock":
            accounts.set_staff(args.username, unlock=True, actor=actor)
            _say(args, "%(name)s unlocked", name=args.username)
        elif cmd == "unlock-pin":
            if svc is None:
                raise ServiceError("%(command)s: run it as privcard admin", command="unlock-pin")
            cleared = svc.staff.clear(args.member, device=args.device, actor=actor)
            lines = [
                said("card %(card)s on %(device)s: unlocked", card=c["card"], device=c["device"])
                if c["was_locked"]
                else said(
                    "card %(card)s on %(device)s: %(n)s wrong PIN(s) forgotten",
                    card=c["card"],
                    device=c["device"],
                    n=c["failures"],
                )
                for c in cleared
            ] or [said("no staff PIN lock-outs")]
            print_result(args, cleared, "\n".join(en for en, _ in lines), "\n".join(th for _, th in lines))
        elif cmd == "pin-lockouts":
            if svc is None:
                raise ServiceError("%(command)s: run it as privcard admin", command="pin-lockouts")
            rows = [{**r, "locked_until": f"{r['locked_until']:%Y-%m-%dT%H:%M:%SZ}"} for r in svc.staff.lockouts()]
            listing(
                args,
                rows,
                ["Card", "Device", "Member", "Name", "Locked until"],
                [
                    [
                        r["card"],
                        r["device"],
                        f"#{r['member']}" if r["member"] else "-",
                        r["name"] or "",
                        _utc_minute(r["locked_until"]),
                    ]
                    for r in rows
                ],
                "no staff PIN lock-outs",
            )
        elif cmd == "token":
            token, row = accounts.issue_token(args.username, args.label, actor=actor, days=args.days)
            print(token)
            for line in said(
                "token %(id)s of %(name)s expires %(when)s UTC",
                id=row.id,
                name=args.username,
                when=row.expires_at.replace(tzinfo=None),
            ):
                print(line, file=sys.stderr)
        elif cmd == "tokens":
            rows = [
                {
                    "id": t.id,
                    "username": t.staff.username,
                    "label": t.label,
                    "created_at": f"{t.created_at:%Y-%m-%dT%H:%M:%SZ}",
                    "expires_at": f"{t.expires_at:%Y-%m-%dT%H:%M:%SZ}",
                    "last_used": f"{t.last_used:%Y-%m-%dT%H:%M:%SZ}" if t.last_used else None,
                    "state": t.state,
                    "revoked_why": t.revoked_why,
                }
                for t in accounts.list_tokens(args.username)
            ]
            listing(
                args,
                rows,
                ["Token", "Account", "Label", "Created", "Expires", "Last used", "State"],
                [
                    [
                        r["id"],
                        r["username"],
                        r["label"],
                        r["created_at"][:10],
                        _utc_minute(r["expires_at"]),
                        _utc_minute(r["last_used"]) if r["last_used"] else word("never"),
                        code_word(r["state"])
                        + (f" ({r['revoked_why']})" if r["revoked_why"] and r["revoked_why"] != "revoked" else ""),
                    ]
                    for r in rows
                ],
                "no API tokens",
            )
        elif cmd == "revoke-token":
            t = accounts.revoke_token(args.token_id, actor=actor)
            _say(args, "token %(id)s of %(name)s revoked", id=t.id, name=t.staff.username)
        return 0
    except (accounts.AccountError, ServiceError) as exc:
        thai = catalogue.thai_of(exc)
        if getattr(args, "json", False):
            print(json.dumps({"error": str(exc), **({"error_th": thai} if thai else {})}, ensure_ascii=False))
        print(f"privcard admin staff: {exc}", file=sys.stderr)
        if thai:
            print(f"privcard admin staff: {thai}", file=sys.stderr)
        return 1


def _utc_minute(stamp: str) -> str:
    """A ``YYYY-MM-DDTHH:MM:SSZ`` time of the ``--json`` rows as a listing's cell shows it: ``YYYY-MM-DD HH:MM UTC``."""
    return f"{stamp[:16].replace('T', ' ')} UTC"


def _role(code: str) -> dict:
    """A role (admin, staff): its code in English, its Thai word in Thai (เจ้าหน้าที่)."""
    from server.cli_support import pair

    return pair(code)


def _say(args, template: str, **values) -> None:
    """A confirmation: its English line, then its Thai line (``server.cli_support.said``)."""
    from server.cli_support import said

    for line in said(template, **values):
        print(line)


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point (until the admin CLI wires ``staff`` in)."""
    parser = argparse.ArgumentParser(prog="privcard admin")
    parser.add_argument("--db", default=os.environ.get("PRIVCARD_DB", "sqlite:///var/privcard.db"))
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print the data as JSON (for scripts)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    register(subparsers, parents=(common,))
    args = parser.parse_args(argv)
    try:
        return run(args)
    except store.StoreError as exc:
        from server import catalogue

        print(f"privcard admin: {exc}", file=sys.stderr)
        if thai := catalogue.thai_of(exc):
            print(f"privcard admin: {thai}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
