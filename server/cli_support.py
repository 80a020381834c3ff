"""What the server's command lines share: printing a result as text or ``--json``, in English and
Thai, and the ``--ils``/``--smtp`` options.

Used by :mod:`server.admin` and the command groups it registers (:mod:`server.programme_cli`,
:mod:`server.feedback_cli`, :mod:`server.messages_cli`), and by :mod:`server.main` (``privcard server``).

The human output says everything in English, then in Thai, as ``privcard admin``'s errors and
``privcard setup``/``doctor`` do: a confirmation or summary is its English line(s), then its Thai
line(s) (:func:`said`, :func:`print_result`); a listing prints each row once, under one header
line naming the columns in both languages (:func:`table`); one thing's summary (``device show``)
prints a line per label, ``English/ไทย``, then its value (:func:`facts`). Every English text is a template of
:data:`server.catalogue.TH` (its Thai); a date in a Thai line is in the Buddhist era.
"""

from __future__ import annotations

import argparse
import json
import os
import unicodedata
from datetime import date, datetime

from server import catalogue


def print_result(args, data, text: str, thai: str | None = None) -> None:
    """Print ``data`` as JSON when ``--json`` was given, else the human ``text`` and then its ``thai``."""
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        print(text)
        if thai:
            print(thai)


def _in(value, lang: str):
    """A value as ``lang`` shows it: a ``{"th", "en"}`` pair picks its language; in English a date is
    ISO and a date-time its local minute (in Thai :func:`catalogue.localize` gives the Buddhist era)."""
    if isinstance(value, dict) and "th" in value and "en" in value:
        return value[lang]
    if lang == "en":
        if isinstance(value, datetime):
            return catalogue.fmt_minute(value, "en", value.tzinfo)
        if isinstance(value, date):
            return value.isoformat()
    return value


def said(template: str, **values) -> tuple[str, str]:
    """A :data:`catalogue.TH` template in English and in Thai, with its values (a value may be a
    ``{"th", "en"}`` pair; a date is ISO in English, Buddhist era in Thai)."""
    en = catalogue.localize(template, {k: _in(v, "en") for k, v in values.items()}, "en")
    th = catalogue.localize(template, {k: _in(v, "th") for k, v in values.items()}, "th")
    return en, th


def word(english: str) -> str:
    """A short word in both languages, ``English/ไทย`` (one of :data:`catalogue.TH`)."""
    return f"{english}/{catalogue.translate(english, 'th')}"


def pair(english: str) -> dict:
    """A short word as a ``{"th", "en"}`` pair, for a value of :func:`said` (one of :data:`catalogue.TH`)."""
    return {"en": english, "th": catalogue.translate(english, "th")}


def day(value: str | date | None) -> date | None:
    """An ISO date (or a date-time's date) as a date, for :func:`said`; None stays None."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def width(text: str) -> int:
    """How many columns ``text`` takes on a terminal: Thai vowel and tone marks take none."""
    return sum(0 if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me", "Cf") else 1 for c in text)


def _pad(text: str, n: int, right: bool) -> str:
    gap = " " * max(0, n - width(text))
    return gap + text if right else text + gap


def table(columns: list[str], rows: list[list], *, right: tuple[int, ...] = (), indent: str = "") -> str:
    """``rows`` under one header line naming each column ``English/ไทย`` (``columns``: English words of
    :data:`catalogue.TH`), padded to the widest cell; columns numbered in ``right`` align right."""
    head = [word(c) for c in columns]
    cells = [[str(x) for x in r] for r in rows]
    widths = [max([width(head[i])] + [width(r[i]) for r in cells]) for i in range(len(head))]
    last = len(head) - 1

    def line(items: list[str]) -> str:
        out = [_pad(x, widths[i], i in right) if i < last or i in right else x for i, x in enumerate(items)]
        return (indent + "  ".join(out)).rstrip()

    return "\n".join([line(head)] + [line(r) for r in cells])


def facts(rows: list[tuple[str, object]], *, indent: str = "") -> str:
    """One thing's summary (``device show``, ``site show``): a line per row, its label (``English/ไทย``,
    from :func:`word`) then its value, the values aligned; an empty value shows ``-``."""
    cells = [(label, "-" if value is None or value == "" else str(value)) for label, value in rows]
    n = max(width(label) for label, _ in cells)
    return "\n".join((indent + _pad(label, n, False) + "  " + value).rstrip() for label, value in cells)


def both(en: str, th: str) -> str:
    """A value in both languages on one line, ``English / ไทย`` (once when they are the same)."""
    return en if en == th else f"{en} / {th}"


def code_word(code: str | None) -> str | None:
    """A code with its Thai words from :data:`catalogue.TH`, ``gate/ประตู`` (as it is when TH lacks it)."""
    if code is None:
        return None
    th = catalogue.translate(code, "th")
    return code if th == code else f"{code}/{th}"


def listing(args, data, columns: list[str], rows: list[list], empty: str, **kw) -> None:
    """Print a listing: ``data`` as JSON with ``--json``; else :func:`table`, or ``empty`` (a template)
    in English then Thai when there are no rows."""
    if rows:
        print_result(args, data, table(columns, rows, **kw))
    else:
        print_result(args, data, *said(empty))


def add_ils_smtp_options(p: argparse.ArgumentParser, *, smtp_help: str) -> None:
    """``--ils URL`` and ``--smtp URL`` (defaults ``$PRIVCARD_ILS``, ``$PRIVCARD_SMTP``); the SMTP help differs."""
    p.add_argument(
        "--ils",
        metavar="URL",
        default=os.environ.get("PRIVCARD_ILS"),
        help="library system: sip2[s]://LOGIN:PASSWORD@HOST:PORT?institution=..&location=.. "
        "(default $PRIVCARD_ILS, else [ils] url in --config; docs/ils.md)",
    )
    p.add_argument("--smtp", metavar="URL", default=os.environ.get("PRIVCARD_SMTP"), help=smtp_help)
