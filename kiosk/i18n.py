"""Kiosk wording in Thai and English, and date/number formatting per language.

Pure standard library (no Kivy): the core, the presenters and the tests use it.
Thai dates are in the Buddhist era (พ.ศ. = Gregorian + 543), as the pilot showed
them (``21/1/2559 11:14``); English dates are Gregorian.
"""

from __future__ import annotations

import math
from datetime import date, datetime

LANGS = ("th", "en")
BE_OFFSET = 543

THAI_MONTHS = (
    "มกราคม",
    "กุมภาพันธ์",
    "มีนาคม",
    "เมษายน",
    "พฤษภาคม",
    "มิถุนายน",
    "กรกฎาคม",
    "สิงหาคม",
    "กันยายน",
    "ตุลาคม",
    "พฤศจิกายน",
    "ธันวาคม",
)
THAI_WEEKDAYS = ("จันทร์", "อังคาร", "พุธ", "พฤหัสบดี", "ศุกร์", "เสาร์", "อาทิตย์")
EN_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
EN_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

#: Fallback labels for Table 1 activity codes, used when an answer has no label.
ACTIVITY_LABELS = {
    "signup": ("สมัครสมาชิกใหม่", "New member"),
    "entry": ("การเข้าใช้บริการพื้นที่ต่างๆ", "Using the library's areas"),
    "borrow": ("การยืมหนังสือและวารสาร", "Borrowing books and journals"),
    "late_stay": ("ใช้พื้นที่นั่งอ่านก่อนปิด 30 นาที", "Reading in the last 30 minutes"),
    "pulinet_event": ("กิจกรรม PULINET", "PULINET activity"),
    "db_training": ("การอบรมฐานข้อมูลอิเล็กทรอนิกส์", "E-database training"),
    "learning_activity": ("กิจกรรมส่งเสริมการเรียนรู้", "Learning-promotion activity"),
    "volunteer": ("งานจิตอาสา", "Volunteer work"),
    "partner_purchase": ("ซื้อสินค้าจากร้านค้าที่ร่วมรายการ", "Partner-shop purchase"),
    "redeem": ("แลกคะแนน", "Points redeemed"),
    "void": ("ยกเลิกรายการ", "Voided entry"),
    "transfer": ("โอนคะแนน", "Points transfer"),
}

STRINGS: dict[str, tuple[str, str]] = {
    # shared
    "library_name": ("ห้องสมุดมหาวิทยาลัย", "University Library"),
    "lang_button": ("EN", "ไทย"),
    "back": ("กลับ", "Back"),
    "done": ("เสร็จสิ้น", "Done"),
    "points_unit": ("คะแนน", "points"),
    "dash": ("—", "—"),
    # idle / attract
    "idle.prompt": ("แตะบัตรเพื่อดูคะแนน", "Tap your card"),
    "idle.subprompt": ("Tap your card to see your points", "แตะบัตรเพื่อดูคะแนน"),
    "idle.hours": ("เวลาให้บริการวันนี้ {open}–{close} น.", "Open today {open}–{close}"),
    "idle.closes": ("ปิดให้บริการเวลา {close} น.", "Closes at {close}"),
    "idle.closed": ("ปิดให้บริการแล้ว เปิดอีกครั้ง {open} น.", "Closed now, opens at {open}"),
    "idle.closed_today": ("วันนี้ห้องสมุดปิดให้บริการ", "The library is closed today"),
    "idle.closed_today_status": ("ปิดให้บริการทั้งวัน", "Closed all day"),
    "idle.thanks": ("ขอบคุณผู้ใช้บริการทุกท่าน", "Thank you for using the library"),
    "idle.offline": ("ไม่สามารถติดต่อเซิร์ฟเวอร์", "Server not reachable"),
    # loading
    "loading.title": ("กำลังตรวจสอบบัตร…", "Checking your card…"),
    # member
    "member.balance": ("คะแนนสะสม", "Points balance"),
    "member.tier.silver": ("บัตรเงิน", "Silver card"),
    "member.tier.gold": ("บัตรทอง", "Gold card"),
    "member.tier.unknown": ("บัตรสมาชิก", "Member card"),
    "member.card_title": ("บัตรสิทธิพิเศษห้องสมุด", "Library Privilege Card"),
    "member.today": ("วันนี้ {points}", "Today {points}"),
    "member.semester": ("ภาคการศึกษานี้ {points}", "This semester {points}"),
    "member.semester_named": ("ภาคการศึกษา {semester} {points}", "Semester {semester} {points}"),
    "member.next": ("อีก {needed} คะแนน ถึง {points} คะแนน: {unlocks}", "{needed} more points to {points}: {unlocks}"),
    "member.top_level": ("ถึงระดับสิทธิสูงสุดแล้ว", "Highest privilege level reached"),
    "member.privileges": ("สิทธิที่ได้รับตอนนี้", "Your privileges now"),
    # which points the levels follow (privileges.basis on the server, issue 13)
    "member.privileges_earned": (
        "สิทธิที่ได้รับตอนนี้ (จาก {points} คะแนนที่ได้รับในภาค {term})",
        "Your privileges now (from {points} points earned in term {term})",
    ),
    "member.privileges_balance": (
        "สิทธิที่ได้รับตอนนี้ (จากคะแนนคงเหลือ {points} คะแนน)",
        "Your privileges now (from your balance of {points} points)",
    ),
    "member.no_privileges": ("ยังไม่มีข้อมูลสิทธิ สอบถามได้ที่เคาน์เตอร์", "Privileges not available; ask at the counter"),
    "member.valid_until": ("ใช้ได้ถึง {date}", "Valid until {date}"),
    "member.no_name": ("สมาชิก", "Member"),
    "priv.borrow": ("ยืมหนังสือ", "Borrow"),
    "priv.borrow_value": ("{books} เล่ม / {loan}", "{books} books / {loan}"),
    "priv.loan_days": ("{days} วัน", "{days} days"),
    "priv.locker": ("ตู้ฝากสัมภาระ", "Locker"),
    "priv.locker_value": ("{days} วัน", "{days} days"),
    "priv.room": ("ห้องค้นคว้ากลุ่ม", "Study room"),
    "priv.room_value": ("{hours} ชม./ครั้ง", "{hours} h per booking"),
    "priv.fine": ("ส่วนลดค่าปรับ", "Fine discount"),
    "priv.fine_value": ("{baht} บาท", "{baht} baht"),
    # fines the library system (ILS) reports, and the points that would clear them
    "member.fines": ("ค่าปรับค้างชำระ {baht} บาท — ใช้ {points} คะแนน", "Fines owed: {baht} baht — use {points} points"),
    "member.fines_only": ("ค่าปรับค้างชำระ {baht} บาท", "Fines owed: {baht} baht"),
    "member.no_fines": ("ไม่มีค่าปรับค้างชำระ", "No fines owed"),
    "member.ils_unreachable": ("ระบบห้องสมุดไม่ตอบสนอง", "library system not reachable"),
    "member.history_button": ("ประวัติคะแนน", "History"),
    "member.staff_button": ("เจ้าหน้าที่", "Staff"),
    # history
    "history.title": ("ประวัติคะแนน 20 รายการล่าสุด", "Last 20 entries"),
    "history.col_at": ("วันที่-เวลา", "Date-time"),
    "history.col_activity": ("กิจกรรม", "Activity"),
    "history.col_points": ("คะแนน", "Points"),
    "history.voided": ("ยกเลิกแล้ว", "voided"),
    "history.reversal": ("ยกเลิกรายการ", "Reversal"),
    "history.empty": ("ยังไม่มีรายการ", "No entries yet"),
    # unknown / invalid
    "unknown.title": ("ไม่พบบัตรนี้ในระบบ", "This card is not registered"),
    "unknown.body": (
        "สมัครสมาชิกบัตรสิทธิพิเศษได้ที่เคาน์เตอร์บริการยืม-คืน",
        "Join the privilege-card programme at the circulation counter",
    ),
    "unknown.fee": (
        "ค่าสมัคร 50 บาท = 250 คะแนน ใช้เป็นส่วนลดค่าปรับ 50 บาทได้ทันที",
        "Fee 50 baht = 250 points, usable at once as a 50-baht fine discount",
    ),
    "invalid.title": ("อ่านบัตรไม่สำเร็จ", "The card could not be read"),
    "invalid.body": ("กรุณาแตะบัตรอีกครั้ง", "Please tap your card again"),
    "invalid.fee": ("หากยังไม่ได้ กรุณาติดต่อเจ้าหน้าที่", "If it still fails, please ask staff"),
    "not_genuine.title": ("ตรวจสอบบัตรไม่ผ่าน", "This card could not be verified"),
    "not_genuine.body": (
        "กรุณาแตะบัตรอีกครั้ง หากยังไม่ผ่าน กรุณาติดต่อเจ้าหน้าที่ที่เคาน์เตอร์บริการยืม-คืน",
        "Please tap it again; if it still fails, see staff at the circulation counter",
    ),
    "not_genuine.hint": (
        "บัตรนี้ต้องเป็นบัตรที่ห้องสมุดออกให้เท่านั้น สำเนาของบัตรใช้สะสมคะแนนไม่ได้",
        "Only the card the library issued earns points; a copy of it does not",
    ),
    # blocked / expired
    "blocked.title": ("บัตรนี้ถูกระงับการใช้งาน", "This card is blocked"),
    "blocked.body": (
        "กรุณาติดต่อเจ้าหน้าที่ที่เคาน์เตอร์บริการยืม-คืน",
        "Please see staff at the circulation counter",
    ),
    "blocked.hint": (
        "หากบัตรหาย ออกบัตรใหม่ได้ ค่าธรรมเนียม 50 บาท คะแนนเดิมยังอยู่",
        "A lost card is replaced for 50 baht; your points carry over",
    ),
    "expired.title": ("สมาชิกภาพหมดอายุแล้ว", "Your membership has expired"),
    "expired.body": (
        "ต่ออายุสมาชิกได้ที่เคาน์เตอร์บริการยืม-คืน",
        "Renew your membership at the circulation counter",
    ),
    "expired.hint": (
        "สิทธิของบัตรสิ้นสุดเมื่อจบภาคการศึกษา (นักศึกษา) หรือพ้นสภาพบุคลากร",
        "Card rights end with the semester (students) or employment (staff)",
    ),
    # unavailable
    "unavailable.title": ("ขออภัย ระบบไม่พร้อมให้บริการชั่วคราว", "Sorry, the service is unavailable right now"),
    "unavailable.body": ("คะแนนของท่านไม่สูญหาย", "Your points are safe"),
    "unavailable.retrying": ("กำลังลองเชื่อมต่อใหม่…", "Trying again…"),
    "unavailable.bad_answer": (
        "ไม่สามารถแสดงข้อมูลได้ กรุณาสอบถามเจ้าหน้าที่",
        "Your details can't be shown; please ask staff",
    ),
    # feedback
    "feedback.title": ("วันนี้ท่านพึงพอใจการใช้บริการเพียงใด", "How was your visit today?"),
    "feedback.subtitle": ("ความคิดเห็นของผู้ใช้บริการช่วยเราพัฒนาห้องสมุด", "Your rating helps us improve the library"),
    "feedback.1": ("ควรปรับปรุง", "Poor"),
    "feedback.2": ("พอใช้", "Fair"),
    "feedback.3": ("ปานกลาง", "OK"),
    "feedback.4": ("ดี", "Good"),
    "feedback.5": ("ดีมาก", "Excellent"),
    "feedback.skip": ("ข้าม", "Skip"),
    "feedback.thanks": ("ขอบคุณสำหรับความคิดเห็น", "Thank you for your feedback"),
    "feedback.write": ("เขียนถึงห้องสมุด", "Write to the library"),
    # writing to the library (issue 14): a category and a short text on the Thai keyboard
    "write.title": ("เขียนถึงห้องสมุด", "Write to the library"),
    "write.complaint": ("ร้องเรียน", "Complaint"),
    "write.suggestion": ("เสนอแนะ", "Suggestion"),
    "write.compliment": ("ชมเชย", "Compliment"),
    "write.question": ("สอบถาม", "Question"),
    "write.book_request": ("ขอซื้อหนังสือ", "Buy a book"),
    "write.placeholder": ("แตะแป้นพิมพ์ด้านล่างเพื่อพิมพ์ข้อความ", "Type your message on the keyboard below"),
    "write.count": ("{n}/{max} ตัวอักษร", "{n}/{max} characters"),
    "write.send": ("ส่ง", "Send"),
    "write.cancel": ("ยกเลิก", "Cancel"),
    "write.need_category": ("กรุณาเลือกประเภทก่อนส่ง", "Please choose what it is about first"),
    "write.need_text": ("กรุณาพิมพ์ข้อความก่อนส่ง", "Please type your message first"),
    # staff
    "staff.title": ("เมนูเจ้าหน้าที่", "Staff menu"),
    "staff.pin": ("ใส่รหัส PIN", "Enter PIN"),
    "staff.pin_wrong": ("รหัส PIN ไม่ถูกต้อง", "Wrong PIN"),
    "staff.pin_wrong_left": ("รหัส PIN ไม่ถูกต้อง ใส่ได้อีก {left} ครั้ง", "Wrong PIN: {left} tries left"),
    "staff.pin_locked": (
        "ใส่รหัส PIN ผิด 5 ครั้ง บัตรนี้ถูกล็อกที่เครื่องนี้ กรุณารออีก {minutes} นาที",
        "5 wrong PINs: this card is locked on this kiosk. Try again in {minutes} min",
    ),
    "staff.pin_checking": ("กำลังตรวจสอบกับเซิร์ฟเวอร์…", "Checking with the server…"),
    "staff.pin_unreachable": (
        "ติดต่อเซิร์ฟเวอร์ไม่ได้ จึงตรวจรหัส PIN ไม่ได้ กรุณาลองใหม่",
        "Server unreachable: the PIN cannot be checked. Please try again",
    ),
    "staff.pin_refused": ("เซิร์ฟเวอร์ไม่อนุญาต กรุณาแตะบัตรใหม่", "Refused by the server; tap the card again"),
    "staff.pin_short": ("รหัส PIN มี 4-8 หลัก", "A PIN has 4-8 digits"),
    "staff.ok": ("ตกลง", "OK"),
    "staff.clear": ("ลบ", "Clear"),
    "staff.exit": ("ออก", "Exit"),
    "staff.device": ("อุปกรณ์", "Device"),
    "staff.broker": ("โบรกเกอร์", "Broker"),
    "staff.server": ("เซิร์ฟเวอร์", "Server"),
    "staff.reader": ("เครื่องอ่านบัตร", "Reader"),
    "staff.version": ("รุ่นโปรแกรม", "Version"),
    "staff.connected": ("เชื่อมต่อแล้ว", "connected"),
    "staff.disconnected": ("ไม่ได้เชื่อมต่อ", "disconnected"),
    "staff.server_ok": ("ตอบกลับ {ms} มิลลิวินาที ({ago})", "answered in {ms} ms ({ago})"),
    "staff.server_down": ("ไม่ตอบสนอง", "not answering"),
    "staff.server_unknown": ("ยังไม่ทราบ", "not known yet"),
    "staff.ago": ("{s} วินาทีที่แล้ว", "{s} s ago"),
    "staff.test_server": ("ทดสอบเซิร์ฟเวอร์", "Test server"),
    "staff.reader_failed": ("เปิด {spec} ไม่ได้", "{spec} could not be opened"),
    "staff.reader_test": ("ทดสอบเครื่องอ่านบัตร", "Test reader"),
    "staff.reader_wait": ("แตะบัตรใดก็ได้ที่เครื่องอ่าน…", "Tap any card on the reader…"),
    "staff.reader_got": ("อ่านได้: {uid} ({tech}) เวลา {time}", "Read: {uid} ({tech}) at {time}"),
}


def tr(key: str, lang: str, **values) -> str:
    """The text for ``key`` in ``lang`` ("th"/"en"), formatted with ``values``.

    An unknown key returns the key itself, so a typo shows up on screen rather
    than crashing the kiosk.
    """
    pair = STRINGS.get(key)
    if pair is None:
        return key
    text = pair[1] if lang == "en" else pair[0]
    if values:
        try:
            return text.format(**values)
        except (KeyError, IndexError, ValueError):
            return text
    return text


def other_lang(lang: str) -> str:
    """The language the toggle switches to."""
    return "en" if lang == "th" else "th"


def pick(value, lang: str, default: str = "") -> str:
    """Text from a ``{"th":…, "en":…}`` object sent by the server, tolerant of junk."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        text = value.get(lang)
        if not isinstance(text, str) or not text:
            text = value.get("en" if lang == "th" else "th")
        if isinstance(text, str):
            return text
    return default


def activity_label(code, label, lang: str) -> str:
    """The label of a history entry: the server's, else ours for the code, else the code."""
    text = pick(label, lang)
    if text:
        return text
    if isinstance(code, str) and code in ACTIVITY_LABELS:
        th, en = ACTIVITY_LABELS[code]
        return en if lang == "en" else th
    return code if isinstance(code, str) else "—"


def format_points(value) -> str:
    """An integer with thousands separators (``1,295``), or a dash."""
    if isinstance(value, bool) or not isinstance(value, int):
        return "—"
    return f"{value:,}"


def format_baht(value) -> str:
    """An amount of baht: ``35``, ``1,250``, ``35.50`` (satang only when there are some), or a dash."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "—"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def format_signed(value) -> str:
    """Points with an explicit sign (``+5``, ``-250``, ``0``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return "—"
    return f"+{value:,}" if value > 0 else f"{value:,}"


def format_datetime(when: datetime, lang: str) -> str:
    """A history date-time: ``21/1/2559 11:14`` in Thai (B.E.), ``21 Jan 2016 11:14`` in English."""
    if lang == "en":
        return f"{when.day} {EN_MONTHS[when.month - 1][:3]} {when.year} {when:%H:%M}"
    return f"{when.day}/{when.month}/{when.year + BE_OFFSET} {when:%H:%M}"


def format_date_short(day: date, lang: str) -> str:
    """A short date: ``31/5/2569`` in Thai (B.E.), ``31 May 2026`` in English."""
    if lang == "en":
        return f"{day.day} {EN_MONTHS[day.month - 1][:3]} {day.year}"
    return f"{day.day}/{day.month}/{day.year + BE_OFFSET}"


def format_date_long(day: date, lang: str) -> str:
    """The idle screen's date: ``วันพฤหัสบดีที่ 21 มกราคม พ.ศ. 2559`` / ``Thursday 21 January 2016``."""
    if lang == "en":
        return f"{EN_WEEKDAYS[day.weekday()]} {day.day} {EN_MONTHS[day.month - 1]} {day.year}"
    return f"วัน{THAI_WEEKDAYS[day.weekday()]}ที่ {day.day} {THAI_MONTHS[day.month - 1]} พ.ศ. {day.year + BE_OFFSET}"
