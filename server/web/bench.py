"""Console benchmark: member search and the dashboard over a large database.

``python -m server.web.bench [--db URL] [--members 50000] [--entries 2000000]``

Fills a fresh database with bulk inserts (one transaction, ``executemany`` on
SQLite, ``execute_values`` on PostgreSQL), then times, through the real HTTP
server (werkzeug, threaded) with a signed-in session:

- member search pages ``/members?q=`` — name prefixes, a later word of the name
  (surname), exact card UIDs, card-UID prefixes, member ids — and the same via
  ``/api/members``;
- the dashboard page ``/`` and its live fragment;
- a member screen (ledger page by keyset).

Prints p50/p95/max per kind and a Markdown table for docs/benchmarks-console.md.
Targets: search p95 < 100 ms, dashboard < 200 ms.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import logging
import random
import re
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

#: a member row's consent columns (NOT NULL, no SQL default: the model's defaults are Python's), as a new member gets them
CONSENT_COLUMNS = ("consent_marketing", "consent_notices", "consent_statement", "consent_ranking")
CONSENTS = (False, True, False, True)

FIRST = [
    "somchai",
    "somsri",
    "wipa",
    "thanakorn",
    "piyanuch",
    "anan",
    "kanya",
    "narong",
    "pim",
    "sakda",
    "john",
    "mali",
    "nattapon",
    "arunee",
    "chai",
    "dao",
    "kittisak",
    "ploy",
    "tawan",
    "nok",
    "สมชาย",
    "สมศรี",
    "วิภา",
    "ธนากร",
    "ปิยะนุช",
    "อนันต์",
    "กัญญา",
    "ณรงค์",
    "พิมพ์",
    "ศักดา",
    "มาลี",
    "ณัฐพล",
    "อรุณี",
    "ดาว",
    "กิตติศักดิ์",
    "พลอย",
    "ตะวัน",
    "นก",
    "ประเสริฐ",
    "วันเพ็ญ",
]
LAST = [
    "jaidee",
    "rakrian",
    "srisuk",
    "boonmee",
    "kaewmanee",
    "thongdee",
    "wongsa",
    "srisawat",
    "smith",
    "chaiyo",
    "ใจดี",
    "รักเรียน",
    "ศรีสุข",
    "บุญมี",
    "แก้วมณี",
    "ทองดี",
    "วงศ์ษา",
    "ศรีสวัสดิ์",
    "ชัยโย",
    "มั่นคง",
    "สุขใจ",
    "เจริญผล",
    "พรหมมา",
    "อินทร์แก้ว",
    "ทองคำ",
    "แสงทอง",
    "สายบุญ",
    "บุญเรือง",
    "ปัญญาดี",
    "คงสวัสดิ์",
]
ACTIVITIES = [("entry", 5, 0.62), ("borrow", 5, 0.25), ("late_stay", 10, 0.08), ("partner_purchase", 5, 0.05)]


def _ts(when: datetime) -> str:
    return when.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def fill(db_url: str, members: int, entries: int, seed: int = 1) -> dict:
    """Bulk-load members, cards, ledger entries, taps and devices; returns timings and samples."""
    from server import store
    from server.domain.config import load
    from server.services import bootstrap
    from server.web import accounts  # noqa: F401  (registers the web tables and indexes)

    rnd = random.Random(seed)
    store.connect(db_url)
    svc = bootstrap(load())
    today = svc.today()
    now = store.utcnow()
    database = store.db.obj
    sqlite = store.is_sqlite()

    def bulk(table: str, cols: tuple, rows) -> None:
        names = ", ".join(f'"{c}"' for c in cols)
        cur = database.cursor()
        if sqlite:
            cur.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(cols))})', rows)
        else:
            from psycopg2.extras import execute_values

            execute_values(cur, f'INSERT INTO "{table}" ({names}) VALUES %s', rows, page_size=5000)

    t0 = time.perf_counter()
    names = []
    with store.db.atomic():
        mrows, crows = [], []
        for i in range(1, members + 1):
            name = f"{rnd.choice(FIRST)} {rnd.choice(LAST)}"
            if rnd.random() < 0.5:
                name = name.title()
            names.append(name)
            mrows.append(
                (
                    i,
                    name,
                    f"U{1 + i % 5}",
                    "gold" if i % 9 == 0 else "silver",
                    "active",
                    False,
                    0,
                    "th",
                    *CONSENTS,
                    _ts(now),
                    _ts(now),
                )
            )
            crows.append((f"{0x04100000 + i:08X}", i, "active", _ts(now), False))
        bulk(
            "member",
            (
                "id",
                "name",
                "group",
                "tier",
                "status",
                "staff",
                "balance",
                "language",
                *CONSENT_COLUMNS,
                "created_at",
                "updated_at",
            ),
            mrows,
        )
        bulk("card", ("uid", "member_id", "status", "issued_at", "sun"), crows)
        for d in range(20):
            kind = (
                ("gate", "in")
                if d < 8
                else ("gate", "out")
                if d < 14
                else ("counter", None)
                if d < 18
                else ("kiosk", None)
            )
            state = "online" if d % 5 else "offline"
            database.execute_sql(
                'INSERT INTO "device" ("id","kind","direction","settings","revision","published_revision","state",'
                '"last_seen","status","created_at","updated_at") '
                f"VALUES ({','.join([store.db.param] * 11)})",
                (
                    f"{kind[0]}-{d}",
                    kind[0],
                    kind[1],
                    "{}",
                    1,
                    1,
                    state,
                    _ts(now),
                    json.dumps({"v": 1, "state": state, "outbox": d % 3}),
                    _ts(now),
                    _ts(now),
                ),
            )
    t_members = time.perf_counter() - t0

    t0 = time.perf_counter()
    weights = [w for _, _, w in ACTIVITIES]
    chunk = 100_000
    with store.db.atomic():
        for start in range(0, entries, chunk):
            rows = []
            for _ in range(start, min(start + chunk, entries)):
                act, pts, _ = rnd.choices(ACTIVITIES, weights)[0]
                back = rnd.randint(0, 239)  # ~8,300 entries a day: a busy library of 50,000 members
                day = today - timedelta(days=back)
                at = datetime(day.year, day.month, day.day, rnd.randint(1, 14), rnd.randint(0, 59), tzinfo=UTC)
                rows.append((rnd.randint(1, members), act, pts, day.isoformat(), "", _ts(at), "tap", _ts(at)))
            bulk("ledger_entry", ("member_id", "activity", "points", "day", "item", "at", "source", "created_at"), rows)
        database.execute_sql(
            'UPDATE "member" SET "balance" = (SELECT COALESCE(SUM("points"), 0) FROM "ledger_entry" '
            'WHERE "ledger_entry"."member_id" = "member"."id")'
        )
    t_entries = time.perf_counter() - t0

    t0 = time.perf_counter()
    with store.db.atomic():
        rows = []
        start_today = datetime.combine(today, datetime.min.time()).replace(tzinfo=svc.prog.tz)
        for k in range(200_000):
            back = 0 if k < 4000 else rnd.randint(1, 60)
            at = start_today - timedelta(days=back) + timedelta(minutes=rnd.randint(0, 13 * 60))
            if at > now:
                at = now - timedelta(seconds=rnd.randint(1, 3600))
            m = rnd.randint(1, members)
            outcome = rnd.choice(["credited", "limit_reached", "limit_reached", "unknown_card"])
            rows.append(
                (
                    f"gate-{k % 8}",
                    f"bench-{k}",
                    f"{0x04100000 + m:08X}",
                    _ts(at),
                    _ts(at),
                    outcome,
                    5 if outcome == "credited" else 0,
                    m,
                    json.dumps({"activity": "entry"}),
                    "clock",
                )
            )
        bulk(
            "tap_inbox",
            ("device", "tap_id", "uid", "at", "received_at", "outcome", "points", "member", "result", "timing"),
            rows,
        )
    t_taps = time.perf_counter() - t0
    if sqlite:
        database.execute_sql("ANALYZE")
    else:
        database.execute_sql("ANALYZE")
    return {
        "members": members,
        "entries": entries,
        "taps": 200_000,
        "load_members_s": t_members,
        "load_entries_s": t_entries,
        "load_taps_s": t_taps,
        "names": names,
    }


def _queries(rnd: random.Random, names: list[str], members: int, n: int) -> dict:
    """Search inputs of each kind a person types."""
    out: dict = {"name prefix": [], "surname (later word)": [], "card UID": [], "card UID prefix": [], "member id": []}
    for _ in range(n):
        name = rnd.choice(names)
        first, last = name.split(" ", 1)
        out["name prefix"].append(first[: rnd.randint(2, 5)])
        out["surname (later word)"].append(last[: rnd.randint(3, 6)])
        m = rnd.randint(1, members)
        out["card UID"].append(f"{0x04100000 + m:08X}")
        out["card UID prefix"].append(f"{0x04100000 + m:08X}"[:6])
        out["member id"].append(str(m))
    return out


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def measure(db_url: str, names: list[str], members: int, n: int = 200) -> list[tuple[str, list[float], int]]:
    """Time requests through the real HTTP server with a signed-in session."""
    from server import store
    from server.domain.config import load
    from server.web import accounts, serve_in_thread

    store.db.close()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per timed request
    web = serve_in_thread("127.0.0.1:0", db_url, load())
    try:
        if not accounts.Staff.get_or_none(accounts.Staff.username == "bench"):
            accounts.add_staff("bench", "admin", "bench-password")
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(f"{web.url}/login").read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        opener.open(
            f"{web.url}/login",
            urllib.parse.urlencode({"username": "bench", "password": "bench-password", "csrf_token": token}).encode(),
        ).read()

        def timed(path: str) -> tuple[float, int]:
            t = time.perf_counter()
            body = opener.open(f"{web.url}{path}").read()
            return (time.perf_counter() - t) * 1000, len(body)

        assert b"Dashboard" in opener.open(f"{web.url}/lang/en?next=/").read()
        rnd = random.Random(2)
        results = []
        hits = {}
        for kind, qs in _queries(rnd, names, members, n).items():
            times = []
            found = 0
            for q in qs:
                ms, _ = timed("/members?" + urllib.parse.urlencode({"q": q}))
                times.append(ms)
            for q in qs[:20]:
                data = json.loads(opener.open(f"{web.url}/api/members?" + urllib.parse.urlencode({"q": q})).read())
                found += len(data["members"])
            hits[kind] = found / 20
            results.append((f"search page: {kind}", times, round(hits[kind], 1)))
        api = [
            timed("/api/members?" + urllib.parse.urlencode({"q": q}))[0]
            for q in _queries(random.Random(3), names, members, n // 5)["name prefix"]
        ]
        results.append(("search API: name prefix", api, None))
        results.append(("dashboard page /", [timed("/")[0] for _ in range(n // 2)], None))
        results.append(("dashboard live fragment", [timed("/dashboard/live")[0] for _ in range(n // 2)], None))
        results.append(
            (
                "member screen (ledger page)",
                [timed(f"/members/{rnd.randint(1, members)}")[0] for _ in range(n // 2)],
                None,
            )
        )
        return results
    finally:
        web.shutdown()


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(prog="python -m server.web.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--db", help="database URL (default: a fresh SQLite file in a temp dir)")
    p.add_argument("--members", type=int, default=50_000)
    p.add_argument("--entries", type=int, default=2_000_000)
    p.add_argument("--requests", type=int, default=200, help="requests per kind")
    args = p.parse_args(argv)
    db_url = args.db or f"sqlite:///{Path(tempfile.mkdtemp(prefix='privcard-webbench-')) / 'bench.db'}"
    print(f"filling {db_url} with {args.members} members and {args.entries} ledger entries ...", flush=True)
    info = fill(db_url, args.members, args.entries)
    print(
        f"loaded members+cards in {info['load_members_s']:.1f} s, entries in {info['load_entries_s']:.1f} s, "
        f"200k taps in {info['load_taps_s']:.1f} s",
        flush=True,
    )
    results = measure(db_url, info["names"], args.members, args.requests)
    print(f"\n{'what':<40} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  hits/query")
    lines = ["| what | requests | p50 ms | p95 ms | max ms | members found per query |", "|---|---|---|---|---|---|"]
    worst_search = worst_dash = 0.0
    for what, times, hits in results:
        p50, p95, mx = statistics.median(times), _pct(times, 95), max(times)
        print(f"{what:<40} {len(times):>5} {p50:>8.1f} {p95:>8.1f} {mx:>8.1f}  {hits if hits is not None else ''}")
        lines.append(
            f"| {what} | {len(times)} | {p50:.1f} | {p95:.1f} | {mx:.1f} | {hits if hits is not None else ''} |"
        )
        if what.startswith("search"):
            worst_search = max(worst_search, p95)
        if what.startswith("dashboard"):
            worst_dash = max(worst_dash, p95)
    print("\n" + "\n".join(lines))
    ok = worst_search < 100 and worst_dash < 200
    print(
        f"\nsearch p95 (worst kind) {worst_search:.1f} ms (target < 100), dashboard p95 {worst_dash:.1f} ms "
        f"(target < 200): {'OK' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["fill", "main", "measure"]
