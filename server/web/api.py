"""The console's JSON API under ``/api/``: the same operations as the pages.

Auth: the console's session cookie (then unsafe methods need the CSRF token in an
``X-CSRFToken`` header, as the pages' scripts send it) or ``Authorization: Bearer
<token>`` (tokens from ``privcard admin staff token USER`` or the Staff page).
Errors are ``{"error": "...", "error_th": "..."}`` with 400 (refused), 401, 403, 404: the
English text scripts match, and its Thai (``server.web.auth.api_error``). The OpenAPI
description at ``/api/openapi.json`` is generated from the routes registered here.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for

from broker import settings as device_settings
from server import broker_accounts
from server.services import NotFound, ServiceError
from server.services.attendance import TooBusy
from server.services.ils import IlsUnavailable
from server.store import Device, Member
from server.web import accounts, csrf, queries, reports
from server.web.auth import actor, api_error, error_fields, staff_scope, thai

bp = Blueprint("api", __name__)
SPEC: list[dict] = []


def svc():
    """The process's service layer (:class:`server.services.Services`)."""
    return current_app.extensions["privcard.service"]


def route(
    path: str, method: str, summary: str, *, admin: bool = False, body: dict | None = None, query: dict | None = None
):
    """Register an API view and describe it for OpenAPI."""

    def deco(view):
        def wrapper(**kwargs):
            if admin and g.staff.role != "admin":
                return api_error(403, "admin role required")
            if method != "GET" and not g.via_token:
                csrf.protect()  # a cookie session must prove the request came from the console
            try:
                return view(**kwargs)
            except NotFound as exc:
                return api_error(404, exc)
            except ServiceError as exc:
                return api_error(400, exc)
            except accounts.AccountError as exc:
                return api_error(400, exc)

        wrapper.__name__ = view.__name__
        bp.add_url_rule(path, view.__name__, wrapper, methods=[method])
        SPEC.append(
            {
                "path": path,
                "method": method.lower(),
                "summary": summary,
                "admin": admin,
                "body": body,
                "query": query or {},
                "name": view.__name__,
            }
        )
        return view

    return deco


def body() -> dict:
    """The JSON request body (an object) or a 400."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ServiceError("send a JSON object body with Content-Type: application/json")
    return data


def _member(ref) -> Member:
    return svc().members.find(ref)


#: the largest id a database row can have (SQLite and PostgreSQL BIGINT): larger ones are refused, not a 500
MAX_ID = 2**63 - 1


def int_arg(name: str, default: int | None, lo: int, hi: int) -> int | None:
    """A whole-number query argument within [lo, hi] (the default when absent), or a 400 naming it."""
    raw = request.args.get(name, "")
    if raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = None
    if value is None or not lo <= value <= hi:
        raise ServiceError("%(name)s must be a whole number from %(lo)s to %(hi)s", name=name, lo=lo, hi=hi)
    return value


STRING, INTEGER, BOOLEAN, OBJECT = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}, {"type": "object"}
#: every setting staff may set on some kind of device, as broker.settings declares it
SETTINGS = {
    s.key: {"type": s.json_type, "description": s.help_en}
    for s in device_settings.SETTINGS.values()
    if s.source == "staff"
}


# --------------------------------------------------------------------------- me and dashboard


@route("/me", "GET", "The signed-in staff account")
def me():
    scope = staff_scope()
    extra = {} if scope.everything else {"sites": scope.codes(svc().prog)}  # a site-scoped account's sites
    return jsonify(username=g.staff.username, role=g.staff.role, **extra)


@route("/dashboard", "GET", "Devices, today's taps and points, latest taps (the dashboard polls this)")
def dashboard():
    d = queries.dashboard(svc(), staff_scope())
    lang = g.get("lang", "th")
    for t in d["taps"]:
        t["at"] = queries.fmt_time(t["at"])
        t["received_at"] = queries.fmt_time(t["received_at"])
    for dev in d["devices"]:
        dev["last_seen"] = queries.fmt_time(dev["last_seen"])
    d["today"] = d["today"].isoformat()
    d["site_days"] = {code: day.isoformat() for code, day in d["site_days"].items()}  # when the sites' days differ
    d["lang"] = lang
    return jsonify(d)


# --------------------------------------------------------------------------- members


@route("/members", "GET", "Search members by name, card UID or member id", query={"q": STRING, "limit": INTEGER})
def members_search():
    limit = int_arg("limit", 50, 1, 200)
    found = queries.search_members(request.args.get("q", ""), limit=limit)
    cards = queries.active_cards([m.id for m in found])
    return jsonify(
        members=[
            {
                "id": m.id,
                "name": m.name,
                "group": m.group,
                "tier": m.tier,
                "balance": m.balance,
                "status": m.status,
                "card": cards.get(m.id),
            }
            for m in found
        ]
    )


@route(
    "/members",
    "POST",
    "Enrol a member (sign-up credit, joining fee); home_site within your sites (default: your one site)",
    body={
        "name": STRING,
        "card": STRING,
        "tier": STRING,
        "group": STRING,
        "valid_until": STRING,
        "email": STRING,
        "patron_id": STRING,
        "home_site": STRING,
    },
)
def members_add():
    b = body()
    m = svc().members.add(
        str(b.get("name", "")),
        str(b.get("card", "")),
        tier=b.get("tier") or None,
        group=b.get("group"),
        valid_until=b.get("valid_until"),
        email=b.get("email"),
        patron_id=b.get("patron_id") or None,
        home_site=b.get("home_site") or None,
        scope=staff_scope(),  # a one-site account's member lands on its site; another site is refused
        actor=actor(),
    )
    return jsonify(svc().reads.member_dict(m, scope=staff_scope())), 201


@route("/members/<ref>", "GET", "A member with cards, privileges and the last 20 entries")
def member_get(ref):
    return jsonify(svc().reads.member_dict(_member(ref), history=20, scope=staff_scope()))


@route(
    "/members/<ref>",
    "PATCH",
    "Change name, tier, group, valid_until, status, email, patron_id (the ILS's patron id; null clears it), "
    "phone, language (th/en), consent_marketing, consent_notices, consent_statement, consent_ranking",
    body={
        "name": STRING,
        "tier": STRING,
        "group": STRING,
        "valid_until": STRING,
        "status": STRING,
        "email": STRING,
        "patron_id": STRING,
        "phone": STRING,
        "language": STRING,
        "consent_marketing": BOOLEAN,
        "consent_notices": BOOLEAN,
        "consent_statement": BOOLEAN,
        "consent_ranking": BOOLEAN,
        "home_site": STRING,
    },
)
def member_set(ref):
    b = body()
    allowed = {"name", "tier", "group", "valid_until", "status", "email", "patron_id", "phone", "language"}
    allowed |= {"consent_marketing", "consent_notices", "consent_statement", "consent_ranking"}
    allowed |= {"home_site"}
    extra = set(b) - allowed
    if extra:
        raise ServiceError("unknown field(s): %(fields)s", fields=", ".join(sorted(extra)))
    m = svc().members.set(_member(ref).id, actor=actor(), scope=staff_scope(), **b)
    return jsonify(svc().reads.member_dict(m, scope=staff_scope()))


@route(
    "/members/<ref>/entries",
    "GET",
    "The member's ledger, newest first (keyset: ?before=ENTRY_ID)",
    query={"before": INTEGER, "limit": INTEGER},
)
def member_entries(ref):
    m = _member(ref)
    limit = int_arg("limit", 20, 1, 200)
    before = int_arg("before", None, 1, MAX_ID)
    entries, older = queries.ledger_page(svc(), m.id, before=before, limit=limit)
    for e in entries:
        e.pop("at_dt", None)
    return jsonify(entries=entries, next_before=older)


@route(
    "/members/<ref>/replace-card",
    "POST",
    "Replace a lost card (fee recorded, old cards blocked)",
    body={"card": STRING},
)
def member_replace_card(ref):
    m = svc().members.replace_card(_member(ref).id, str(body().get("card", "")), actor=actor(), scope=staff_scope())
    return jsonify(svc().reads.member_dict(Member.get_by_id(m.id)))


@route("/cards/<uid>/block", "POST", "Block one card", body={"reason": STRING})
def card_block(uid):
    c = svc().members.block_card(
        uid, str(body().get("reason") or "blocked by staff"), actor=actor(), scope=staff_scope()
    )
    return jsonify(uid=c.uid, status=c.status, member=c.member_id)


@route(
    "/members/<ref>/credit",
    "POST",
    "Credit a counter activity (borrow, partner_purchase with item=shop, volunteer with item=session)",
    body={"activity": STRING, "item": STRING},
)
def member_credit(ref):
    b = body()
    m = _member(ref)
    outcome, entry = svc().points.award(
        m.id, str(b.get("activity", "")), item=b.get("item") or None, actor=actor(), scope=staff_scope()
    )
    return jsonify(
        outcome=outcome, entry=svc().ledger.entry_dict(entry) if entry else None, balance=svc().ledger.balance(m.id)
    )


@route(
    "/members/<ref>/redeem",
    "POST",
    "Redeem a reward (fine_discount needs points; others units)",
    body={"reward": STRING, "points": INTEGER, "units": INTEGER},
)
def member_redeem(ref):
    b = body()
    out = svc().points.redeem(
        _member(ref).id,
        str(b.get("reward", "")),
        points=b.get("points"),
        units=b.get("units"),
        actor=actor(),
        scope=staff_scope(),
    )
    return jsonify(out)


@route(
    "/transfers",
    "POST",
    "Transfer points between members",
    body={"from": STRING, "to": STRING, "points": INTEGER, "note": STRING},
)
def transfers():
    b = body()
    out_e, in_e = svc().points.transfer(
        b.get("from", ""), b.get("to", ""), b.get("points"), actor=actor(), note=b.get("note"), scope=staff_scope()
    )
    return jsonify(out=svc().ledger.entry_dict(out_e), into=svc().ledger.entry_dict(in_e)), 201


@route(
    "/entries/<int:entry_id>/void",
    "POST",
    "Void an entry with a reason (a reversal entry is appended)",
    body={"reason": STRING},
)
def entry_void(entry_id):
    revs = svc().points.void(entry_id, str(body().get("reason") or ""), actor=actor(), scope=staff_scope())
    return jsonify(reversals=[svc().ledger.entry_dict(r) for r in revs])


# --------------------------------------------------------------------------- the library system (ILS)


def _ils():
    """The ILS part of the service layer, or a 404 when no library system is configured."""
    if not svc().ils.configured:
        raise NotFound("no library system (ILS) is configured")
    return svc().ils


@route(
    "/members/<ref>/ils",
    "GET",
    "What the library system says of the member: valid, fines_baht, charged, overdue, blocked, flags, message "
    "(503 with state=unreachable when it does not answer; another site's member: 404)",
)
def member_ils(ref):
    ils = _ils()
    m = svc().members.for_change(ref, staff_scope())  # the ILS record is site-only data: another site's is 404
    try:
        return jsonify(state="ok", **ils.patron(m.id, actor=actor()))
    except IlsUnavailable as exc:
        return jsonify(state="unreachable", **error_fields(exc)), 503


def _every_site():
    """A 403 for an account scoped to sites (the ILS queue holds every site's patrons), else None."""
    return api_error(403, "this is the whole programme's; your account works for some sites") if g.staff.sites else None


@route("/ils/pending", "GET", "Fine-discount payments sent to the library system and not yet answered (every site)")
def ils_pending():
    if refused := _every_site():
        return refused
    return jsonify(pending=[_jsonable(r) for r in _ils().pending()])


@route("/ils/settle", "POST", "Send every pending payment again now (same BK: never paid twice; every site)")
def ils_settle():
    if refused := _every_site():
        return refused
    results = [_jsonable(r) for r in _ils().settle(actor=actor())]
    counts = {k: sum(1 for r in results if r.get("status") == k) for k in ("confirmed", "refused", "pending")}
    return jsonify(results=results, **counts)


@route(
    "/ils/resolve",
    "POST",
    "Settle one pending payment by the library system's own records: {transaction, paid: true|false} (every site)",
)
def ils_resolve():
    if refused := _every_site():
        return refused
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("transaction"), str) or type(body.get("paid")) is not bool:
        return api_error(400, 'send {"transaction": BK, "paid": true or false}')
    return jsonify(_jsonable(_ils().resolve(body["transaction"], body["paid"], actor())))


@route(
    "/ils/reversed",
    "POST",
    "A confirmed payment staff reversed in the library system by hand: its points come back once: "
    "{transaction, reason} (every site)",
)
def ils_reversed():
    if refused := _every_site():
        return refused
    body = request.get_json(silent=True)
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("transaction"), str)
        or not isinstance(body.get("reason"), str)
    ):
        return api_error(400, 'send {"transaction": BK, "reason": text}')
    return jsonify(_jsonable(svc().ils.reverse(body["transaction"], body["reason"], actor())))


def _jsonable(row: dict) -> dict:
    """A service row with its date-times as ISO-8601 text."""
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}


# --------------------------------------------------------------------------- devices (admin)


@route("/devices", "GET", "All devices with status (a site-scoped admin: those of its sites)", admin=True)
def devices_list():
    visible = svc().devices.visible(staff_scope())
    return jsonify(
        devices=[
            svc().reads.device_dict(d)
            for d in Device.select().order_by(Device.id)
            if visible is None or d.id in visible
        ]
    )


@route(
    "/devices",
    "POST",
    "Register a device",
    admin=True,
    body={
        "id": STRING,
        "kind": STRING,
        "direction": STRING,
        "activity": STRING,
        "location": STRING,
        "settings": OBJECT,
        "site": STRING,
    },
)
def devices_add():
    b = body()
    d = svc().devices.add(
        str(b.get("id", "")),
        str(b.get("kind", "")),
        direction=b.get("direction"),
        activity=b.get("activity"),
        location=b.get("location"),
        settings=b.get("settings") or {},
        site=b.get("site"),
        actor=actor(),
        scope=staff_scope(),
    )
    return jsonify(svc().reads.device_dict(d)), 201


@route("/devices/<device_id>", "GET", "A device, its retained config and recent taps", admin=True)
def device_get(device_id):
    d = svc().devices.get(device_id, staff_scope())
    taps = queries.latest_taps(20, device=device_id)
    for t in taps:
        t["at"], t["received_at"] = queries.fmt_time(t["at"]), queries.fmt_time(t["received_at"])
    return jsonify(device=svc().reads.device_dict(d), config=svc().devices.config(d).to_dict(), taps=taps)


@route(
    "/devices/<device_id>",
    "PATCH",
    "Change fields or settings (null removes a setting); republished at once. Only the keys whose "
    "value differs are saved and audited; the answer's changed lists them (empty: nothing written)",
    admin=True,
    body={"kind": STRING, "direction": STRING, "activity": STRING, "location": STRING, "site": STRING, **SETTINGS},
)
def device_set(device_id):
    d, changed = svc().devices.change(device_id, actor=actor(), scope=staff_scope(), **body())
    return jsonify({**svc().reads.device_dict(d), "changed": sorted(changed)})


@route(
    "/devices/<device_id>/retire",
    "POST",
    "Retire a device: the server refuses everything it sends; its broker account is removed "
    "when PRIVCARD_MQTT_PASSWORD_FILE is set (else run privcard admin device acl on the broker host)",
    admin=True,
)
def device_retire(device_id):
    d = svc().devices.retire(device_id, actor=actor(), scope=staff_scope())
    return jsonify(device=svc().reads.device_dict(d), broker=broker_accounts.sync_if_configured())


@route("/devices/<device_id>/reactivate", "POST", "Bring a retired device back (issue new credentials)", admin=True)
def device_reactivate(device_id):
    d = svc().devices.reactivate(device_id, actor=actor(), scope=staff_scope())
    return jsonify(device=svc().reads.device_dict(d), broker=broker_accounts.sync_if_configured())


# --------------------------------------------------------------------------- events and reports


def jobs():
    """The process's attendance job runner."""
    return current_app.extensions["privcard.jobs"]


def _row_error(row: dict) -> dict:
    """A refused row: its line and reason in English (``error``) and, when the catalogue has it, Thai (``error_th``)."""
    why = row.get("why") or {}
    th = thai(why.get("template"), why.get("values"))
    return {"line": row["line"], "error": row["error"], **({"error_th": th} if th else {})}


def _job_response(job):
    """A job as JSON: 200 with its (capped) rows once done, 202 with its progress while it runs."""
    d = {
        "job": job.id,
        "status": job.status,
        "dry_run": job.dry_run,
        "rows": job.total,
        "progress": {"rows_done": job.rows_done, "rows": job.total},
        "counts": {"credited": job.credited, "already_credited": job.already, "errors": job.errors},
        "url": url_for("api.import_job", job_id=job.id),
    }
    if job.status == "failed":
        d["error"] = job.failure["template"] % job.failure["values"] if job.failure else "failed"
        if job.failure and (th := thai(job.failure["template"], job.failure["values"])):
            d["error_th"] = th
        return jsonify(d), 200
    if job.status != "done":
        return jsonify(d), 202
    shown = job.shown or []
    d["credited"] = [
        {"line": r["line"], "member": r["member"], "entry": r.get("entry")} for r in shown if r["result"] == "credited"
    ]
    d["already_credited"] = [{"line": r["line"], "member": r["member"]} for r in shown if r["result"] == "already"]
    d["errors"] = [_row_error(r) for r in shown if r["result"] == "error"]
    d["truncated"] = len(shown) < job.rows_done
    return jsonify(d), 200


@route(
    "/events/import",
    "POST",
    "Preview (dry_run) or credit an attendance list (CSV text) as a background job; waits up to `wait` s "
    "(default 10, at most 30): 200 with the result when done, else 202 with the job's URL to poll; 429 when "
    "your role already runs its share of imports. The entries are made at `site` (within your sites), else at "
    "a row's `site` column, else at your one site, else at each member's home site",
    body={
        "activity": STRING,
        "event": STRING,
        "day": STRING,
        "csv": STRING,
        "dry_run": BOOLEAN,
        "wait": INTEGER,
        "site": STRING,
    },
)
def events_import():
    b = body()
    wait = b.get("wait", 10)
    if isinstance(wait, bool) or not isinstance(wait, (int, float)) or not 0 <= wait <= 30:
        raise ServiceError("wait must be a number of seconds from 0 to 30")
    if not isinstance(b.get("csv", ""), str):
        raise ServiceError("csv must be a string")
    try:
        job = svc().attendance.start_job(
            b.get("csv", ""),
            str(b.get("activity", "")),
            str(b.get("event", "")),
            day=b.get("day"),
            dry_run=bool(b.get("dry_run")),
            origin="api",
            started_by=g.staff.username,
            role=g.staff.role,
            actor=actor(),
            scope=staff_scope(),
            site=b.get("site") or None,
        )
    except TooBusy as exc:
        return api_error(429, exc)
    jobs().submit(job.id)
    return _job_response(jobs().wait(job.id, float(wait)))


@route("/jobs/<job_id>", "GET", "An attendance import job: its progress, and its result once done")
def import_job(job_id):
    # another site's job is 404, as a missing id (the service decides: server.services.attendance.Attendance.job)
    job = svc().attendance.job(job_id, staff_scope(), username=g.staff.username, role=g.staff.role)
    return _job_response(job)


@route(
    "/reports/<name>",
    "GET",
    "A report as JSON (?format=csv for CSV): " + ", ".join(reports.REPORTS),
    query={"from": STRING, "to": STRING, "format": STRING, "site": STRING},
)
def report(name):
    if name not in reports.BUILDERS:
        raise NotFound("no report %(name)s; known: %(known)s", name=name, known=", ".join(reports.REPORTS))
    start, end, _ = reports.default_range(svc(), staff_scope())
    start, end = reports.parse_range(request.args.get("from"), request.args.get("to"), (start, end))
    sites = svc().sites.report_sites(staff_scope(), request.args.get("site"))  # NotFound outside the scope
    rep = reports.build(name, svc(), start, end, sites)
    if request.args.get("format") == "csv":
        return Response(rep.csv(g.get("lang", "en")), mimetype="text/csv; charset=utf-8")
    return jsonify(
        report=name,
        **{"from": start.isoformat(), "to": end.isoformat()},
        sites=sites,
        columns=[k for k, _ in rep.columns],
        rows=rep.rows,
    )


# --------------------------------------------------------------------------- the feedback desk


@route(
    "/feedback",
    "GET",
    "The feedback queue (a site's staff: its sites' items), with filters; `site` one of your sites",
    query={
        "status": STRING,
        "category": STRING,
        "channel": STRING,
        "assignee": STRING,
        "site": STRING,
        "open": BOOLEAN,
        "limit": INTEGER,
    },
)
def feedback_list():
    a = request.args
    rows = svc().feedback.list(
        **{k: a.get(k) or None for k in ("status", "category", "channel", "assignee", "site")},
        open_only=a.get("open") in ("1", "true"),
        limit=int_arg("limit", 200, 1, 1000),
        scope=staff_scope(),
    )
    return jsonify(feedback=rows)


@route("/feedback/<fid>", "GET", "One item of feedback (another site's: 404)")
def feedback_item(fid):
    return jsonify(svc().feedback.get(fid, staff_scope()))


@route(
    "/feedback/<fid>/status",
    "POST",
    "Move an item (in_progress, closed; answered only by answering)",
    body={"status": STRING},
)
def feedback_status(fid):
    return jsonify(svc().feedback.set_status(fid, str(body().get("status", "")), actor=actor(), scope=staff_scope()))


@route(
    "/feedback/<fid>/answer",
    "POST",
    "Answer an item (sent back by the patron's channel); a book request's `decision`: bought | declined",
    body={"answer": STRING, "action": STRING, "decision": STRING},
)
def feedback_answer(fid):
    b = body()
    return jsonify(
        svc().feedback.answer(
            fid,
            str(b.get("answer", "")),
            b.get("action") or None,
            decision=b.get("decision") or None,
            actor=actor(),
            scope=staff_scope(),
        )
    )


@route(
    "/entries",
    "GET",
    "The latest ledger entries (a site's staff: those made at its sites, as reports count them)",
    query={"limit": INTEGER},
)
def entries():
    limit = int_arg("limit", 50, 1, 500)
    rows = svc().sites.latest_entries(staff_scope(), limit)
    return jsonify(entries=svc().ledger.entry_dicts(list(rows)))


# --------------------------------------------------------------------------- API tokens


def _token_dict(t) -> dict:
    return {
        "id": t.id,
        "username": t.staff.username,
        "label": t.label,
        "created_at": queries.fmt_time(t.created_at),
        "expires_at": queries.fmt_time(t.expires_at),
        "last_used": queries.fmt_time(t.last_used),
        "state": t.state,
        "revoked_at": queries.fmt_time(t.revoked_at),
        "revoked_why": t.revoked_why,
    }


@route(
    "/tokens",
    "GET",
    "API tokens: your own; an admin sees everyone's with ?all=1",
    query={"all": BOOLEAN},
)
def tokens_list():
    everyone = g.staff.role == "admin" and not g.staff.sites and request.args.get("all") in ("1", "true")
    return jsonify(tokens=[_token_dict(t) for t in accounts.list_tokens(None if everyone else g.staff.username)])


@route(
    "/tokens",
    "POST",
    "Create an API token for your own account (shown once); days: 1-366, default 90",
    body={"label": STRING, "days": INTEGER},
)
def tokens_add():
    b = body()
    token, row = accounts.issue_token(g.staff.username, str(b.get("label") or ""), actor=actor(), days=b.get("days"))
    return jsonify(token=token, **_token_dict(row)), 201


@route("/tokens/<int:token_id>/revoke", "POST", "Revoke a token (your own; an admin any)")
def token_revoke(token_id):
    try:
        row = accounts.revoke_token(
            token_id, actor=actor(), owner=None if g.staff.role == "admin" and not g.staff.sites else g.staff.id
        )
    except accounts.AccountError:
        raise NotFound("no API token %(id)s", id=token_id) from None
    return jsonify(_token_dict(row))


# --------------------------------------------------------------------------- OpenAPI


def openapi() -> dict:
    """The OpenAPI 3.1 description of the routes above."""
    paths: dict = {}
    for r in SPEC:
        oa_path = r["path"].replace("<int:", "<").replace("<", "{").replace(">", "}")
        params = [
            {"name": p.strip("{}"), "in": "path", "required": True, "schema": STRING}
            for p in oa_path.split("/")
            if p.startswith("{")
        ]
        params += [{"name": k, "in": "query", "required": False, "schema": v} for k, v in r["query"].items()]
        op = {
            "operationId": r["name"],
            "summary": r["summary"] + (" (admin)" if r["admin"] else ""),
            "parameters": params,
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": OBJECT}}},
                "400": {"$ref": "#/components/responses/Error"},
                "401": {"$ref": "#/components/responses/Error"},
                **({"403": {"$ref": "#/components/responses/Error"}} if r["admin"] else {}),
                "404": {"$ref": "#/components/responses/Error"},
            },
        }
        if r["body"] is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object", "properties": r["body"]}}},
            }
        paths.setdefault(oa_path, {})[r["method"]] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "privcard console API",
            "version": "1",
            "description": "Staff operations on members, points, devices, events and reports. Every change "
            "is audited with the caller's staff account.",
        },
        "servers": [{"url": url_for("api.me", _external=False).rsplit("/me", 1)[0]}],
        "security": [{"bearer": []}, {"session": []}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "privcard admin staff token USER"},
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "privcard_session",
                    "description": "console session; unsafe methods also need X-CSRFToken",
                },
            },
            "responses": {
                "Error": {
                    "description": "Refused",
                    "content": {
                        "application/json": {
                            "schema": {"type": "object", "properties": {"error": STRING, "error_th": STRING}}
                        }
                    },
                }
            },
        },
        "paths": paths,
    }


@bp.route("/openapi.json")
def openapi_json():
    """The API description (signed-in staff only, like every API call)."""
    return jsonify(openapi())
