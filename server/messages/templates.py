"""The named message templates, in Thai and English, and their rendering.

A template is a subject and a body per language with ``{placeholder}`` fields. Only plain
names are allowed (``{name}``, never ``{name.attr}`` or ``{name[0]}``), and each template
declares the fields it needs: a value missing or a field unknown is refused when the
message is *queued* (:class:`TemplateError`), so nothing is ever sent half-filled.

Every message ends with the unsubscribe line, added when it is sent (the link is made
then, from ``[mail] public_url``). Values are inserted as plain text; the HTML part of an
e-mail is made from the text by escaping it (:func:`to_html`), so a name such as
``<script>`` shows as typed and never runs.
"""

from __future__ import annotations

import html
import string
from dataclasses import dataclass

from server.domain.errors import TemplatedError

LANGUAGES = ("th", "en")

#: what kind of message each template is: which consent it needs (server.services.messages)
#: transactional: sent whatever the member's message preferences (an address is still needed);
#: notice: news about their own account (stops on "no notices"); marketing: staff's messages
#: to a segment (needs consent); statement: the monthly statement (opt-in).
KINDS = ("transactional", "notice", "marketing", "statement")

#: the fields staff may use in a segment message (filled per member when it is sent)
SEGMENT_FIELDS = ("name", "balance", "tier", "valid_until", "member_id")


class TemplateError(TemplatedError, ValueError):
    """A template or its values are wrong (unknown placeholder, missing value, bad template)."""


@dataclass(frozen=True)
class Template:
    """One named message: its kind, fields, subject and body per language."""

    name: str
    kind: str
    fields: tuple[str, ...]
    subject: dict
    body: dict


def fields_of(text: str) -> set[str]:
    """The placeholder names a template text uses (refusing ``{a.b}``, ``{a[0]}``, ``{a!r}``, broken braces)."""
    names = set()
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise TemplateError("the message text has a broken placeholder: %(error)s", error=str(exc)) from None
    for _, field, spec, conv in parsed:
        if field is None:
            continue
        if not field.isidentifier() or spec or conv:
            raise TemplateError("placeholder {%(field)s} is not a plain name such as {name}", field=field)
        names.add(field)
    return names


def fill(text: str, values: dict) -> str:
    """``text`` with its placeholders replaced by ``values`` (as text; checked by :func:`fields_of`)."""
    missing = fields_of(text) - set(values)
    if missing:
        raise TemplateError(
            "unknown placeholder(s) %(fields)s", fields=", ".join("{" + f + "}" for f in sorted(missing))
        )
    return text.format_map({k: "" if v is None else str(v) for k, v in values.items()})


def check_text(text: str, allowed) -> None:
    """Refuse a staff-written text using a placeholder outside ``allowed``."""
    unknown = fields_of(text) - set(allowed)
    if unknown:
        raise TemplateError(
            "unknown placeholder(s) %(fields)s; you can use %(known)s",
            fields=", ".join("{" + f + "}" for f in sorted(unknown)),
            known=", ".join("{" + f + "}" for f in allowed),
        )


def to_html(text: str) -> str:
    """The HTML part of an e-mail: the text escaped, line breaks kept, nothing else."""
    body = html.escape(text).replace("\n", "<br>\n")
    return f'<!doctype html><html><body style="font-family:sans-serif">{body}</body></html>'


def _t(name, kind, fields, subject_th, subject_en, body_th, body_en) -> Template:
    return Template(name, kind, tuple(fields), {"th": subject_th, "en": subject_en}, {"th": body_th, "en": body_en})


TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        _t(
            "welcome",
            "notice",
            ("name", "member_id", "balance"),
            "ยินดีต้อนรับสู่บัตรสิทธิพิเศษห้องสมุด",
            "Welcome to the library privilege card",
            "สวัสดีคุณ{name}\n\nยินดีต้อนรับสู่โครงการบัตรสิทธิพิเศษของห้องสมุด หมายเลขสมาชิกของคุณคือ {member_id} "
            "ขณะนี้คุณมี {balance} แต้ม แตะบัตรที่ประตูและตู้บริการเพื่อสะสมแต้ม",
            "Hello {name},\n\nWelcome to the library's privilege card programme. Your member number is "
            "{member_id}. You have {balance} points now; tap your card at the gates and kiosks to earn more.",
        ),
        _t(
            "level_reached",
            "notice",
            ("name", "level", "points"),
            "คุณได้รับสิทธิพิเศษระดับใหม่",
            "You have reached a new privilege level",
            "สวัสดีคุณ{name}\n\nคุณสะสมได้ {points} แต้มในภาคการศึกษานี้ และได้รับสิทธิพิเศษระดับ {level} แล้ว",
            "Hello {name},\n\nYou have earned {points} points this term and reached privilege level {level}.",
        ),
        _t(
            "tier_promoted",
            "notice",
            ("name", "tier", "old"),
            "ยินดีด้วย คุณได้รับ{tier}แล้ว",
            "Congratulations: you now have the {tier}",
            "สวัสดีคุณ{name}\n\nคุณได้เลื่อนระดับจาก{old}เป็น{tier}แล้ว สิทธิพิเศษใหม่ใช้ได้ตั้งแต่วันนี้ ดูสิทธิของคุณได้ที่ตู้บริการหรือหน้าสมาชิกของคุณ",
            "Hello {name},\n\nYou have moved up from the {old} to the {tier}. Your new privileges apply from "
            "today; see them at a kiosk or on your member page.",
        ),
        _t(
            "term_ending",
            "notice",
            ("name", "valid_until", "days", "balance"),
            "สิทธิสมาชิกของคุณจะสิ้นสุดใน {days} วัน",
            "Your membership ends in {days} days",
            "สวัสดีคุณ{name}\n\nสิทธิสมาชิกบัตรสิทธิพิเศษของคุณจะสิ้นสุดวันที่ {valid_until} ขณะนี้คุณมี {balance} แต้ม "
            "ต่ออายุสมาชิกได้ที่เคาน์เตอร์ห้องสมุด",
            "Hello {name},\n\nYour privilege card membership ends on {valid_until}. You have {balance} points. "
            "Renew at the library counter.",
        ),
        _t(
            "points_forfeited",
            "notice",
            ("name", "points", "valid_until"),
            "แต้มของคุณหมดอายุแล้ว",
            "Your points have been forfeited",
            "สวัสดีคุณ{name}\n\nสิทธิสมาชิกของคุณสิ้นสุดเมื่อ {valid_until} แต้มจำนวน {points} แต้มจึงหมดอายุ "
            "ต่ออายุสมาชิกได้ที่เคาน์เตอร์ห้องสมุด",
            "Hello {name},\n\nYour membership ended on {valid_until}, so {points} points were forfeited. "
            "Renew at the library counter to start again.",
        ),
        _t(
            "prize_won",
            "notice",
            ("name", "draw", "prize"),
            "ยินดีด้วย คุณได้รับรางวัล",
            "Congratulations, you have won a prize",
            "สวัสดีคุณ{name}\n\nคุณได้รับรางวัลจาก {draw}: {prize}",
            "Hello {name},\n\nYou have won a prize in {draw}: {prize}.",
        ),
        _t(
            "feedback_answer",
            "transactional",
            ("name", "subject", "answer"),
            "คำตอบจากห้องสมุด: {subject}",
            "The library's answer: {subject}",
            "สวัสดีคุณ{name}\n\nห้องสมุดตอบความคิดเห็นของคุณแล้ว:\n\n{answer}",
            "Hello {name},\n\nThe library has answered your feedback:\n\n{answer}",
        ),
        _t(
            "monthly_statement",
            "statement",
            ("name", "month", "earned", "spent", "balance"),
            "สรุปแต้มประจำเดือน {month}",
            "Your points statement for {month}",
            "สวัสดีคุณ{name}\n\nเดือน {month} คุณได้รับ {earned} แต้ม ใช้ไป {spent} แต้ม คงเหลือ {balance} แต้ม",
            "Hello {name},\n\nIn {month} you earned {earned} points and spent {spent}; your balance is {balance}.",
        ),
        _t(
            "signin_link",
            "transactional",
            ("link", "minutes"),
            "ลิงก์เข้าสู่ระบบบัตรสิทธิพิเศษ",
            "Your privilege card sign-in link",
            "เปิดลิงก์นี้เพื่อเข้าสู่หน้าบัตรสิทธิพิเศษของคุณ (ใช้ได้ครั้งเดียว ภายใน {minutes} นาที):\n\n{link}\n\nหากคุณไม่ได้ขอ ไม่ต้องทำอะไร",
            "Open this link to sign in to your privilege card page (once, within {minutes} minutes):\n\n{link}\n\n"
            "If you did not ask for it, do nothing.",
        ),
        # a staff message to a segment: subject and body are the staff's own text
        _t("segment", "marketing", ("subject", "body"), "{subject}", "{subject}", "{body}", "{body}"),
    )
}

UNSUBSCRIBE = {
    "th": "\n\n--\nไม่ต้องการรับข้อความแบบนี้อีก: {link}",
    "en": "\n\n--\nStop messages like this: {link}",
}


def get(name: str) -> Template:
    """A template by name (TemplateError if there is none)."""
    try:
        return TEMPLATES[name]
    except KeyError:
        raise TemplateError(
            "no message template %(name)r; known: %(known)s", name=name, known=", ".join(TEMPLATES)
        ) from None


def render(name: str, language: str, values: dict) -> tuple[str, str]:
    """``(subject, body)`` of template ``name`` in ``language`` (th/en), every placeholder checked."""
    t = get(name)
    lang = language if language in LANGUAGES else "th"
    values = dict(values or {})
    unknown = set(values) - set(t.fields)
    if unknown:
        raise TemplateError(
            "template %(name)s has no placeholder(s) %(fields)s",
            name=name,
            fields=", ".join("{" + f + "}" for f in sorted(unknown)),
        )
    missing = set(t.fields) - set(values)
    if missing:
        raise TemplateError(
            "template %(name)s needs a value for %(fields)s",
            name=name,
            fields=", ".join("{" + f + "}" for f in sorted(missing)),
        )
    subject = fill(t.subject[lang], values)
    return " ".join(subject.split())[:250], fill(t.body[lang], values)
