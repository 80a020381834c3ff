"""The server's one Thai/English catalogue: English source strings and their Thai
(:data:`TH`), labels shown for ledger entries and their sources, and dates in the
Buddhist era for Thai (``21/1/2559 11:14:10``, as the pilot showed them).

Everything the server writes for people in two languages is here: the console's
texts (templates call ``_("English text")``), the templates of the service layer's
errors (``ServiceError``, and the ``ContractError``/``RuleError`` it passes on) and
the labels of non-activity ledger entries. A string missing from :data:`TH` shows in
English (a test keeps the catalogue complete).

Two kinds of text stay where they are, on purpose: the activities', rewards' and
tiers' names, which are programme configuration (``server/domain/programme.toml``),
and the messages a device shows after a tap or a query (``server.domain.rules.MESSAGES``).
Those messages are part of the programme's rules — which outcome says what, with the
points and balance filled in — travel on the bus as ``{"th", "en"}`` pairs and are
tested with the pure domain, which imports nothing of the server; nothing else in
the server writes them.
"""

from __future__ import annotations

from datetime import date, datetime

from broker.mosquitto import thai as broker_thai

LANGS = ("th", "en")
DEFAULT_LANG = "th"
BE_OFFSET = 543

TH = {
    # messages to patrons, contact data and consent (issue 14)
    "%(n)s of %(m)s member(s) will receive it; %(out)s opted out, %(none)s without an address.": "สมาชิก %(n)s จาก %(m)s คนจะได้รับ ไม่ประสงค์รับ %(out)s คน ไม่มีที่อยู่อีเมล %(none)s คน",
    "Active in the last N days": "มีกิจกรรมใน N วันที่ผ่านมา",
    "Address": "ที่อยู่",
    "E-mail": "อีเมล",
    "Delivery log": "บันทึกการส่ง",
    "Failed": "ส่งไม่สำเร็จ",
    "Queued at": "เวลาเข้าคิว",
    "The newest %(n)s of %(m)s.": "แสดง %(n)s รายการล่าสุดจากทั้งหมด %(m)s รายการ",
    "program error: this message could not be made or sent": "ข้อผิดพลาดของโปรแกรม สร้างหรือส่งข้อความนี้ไม่ได้",
    "the mail server refused it": "เซิร์ฟเวอร์อีเมลปฏิเสธ",
    "gave up after %(n)s tries": "เลิกส่งหลังจากลองส่ง %(n)s ครั้ง",
    "gave up after its only try": "เลิกส่งหลังจากลองส่งครั้งเดียว",
    "Failed at": "เวลาที่ส่งไม่สำเร็จ",
    "Joined or renewed in term": "สมัครหรือต่ออายุในภาค/ปีการศึกษา",
    "Lapsed members": "สมาชิกที่หมดอายุ",
    "Message": "ข้อความ",
    "Message queued for %(n)s member(s); %(out)s opted out, %(none)s without an address.": "เข้าคิวส่งข้อความถึงสมาชิก %(n)s คน ไม่ประสงค์รับ %(out)s คน ไม่มีที่อยู่อีเมล %(none)s คน",
    "Messages": "ข้อความ",
    "Messages to members": "ข้อความถึงสมาชิก",
    "No messages yet.": "ยังไม่มีข้อความ",
    "Nothing here.": "ไม่มีรายการ",
    "Pending": "รอส่ง",
    "Placeholders": "ช่องแทนค่า",
    "Preview recipients": "ดูจำนวนผู้รับ",
    "Segment": "กลุ่มผู้รับ",
    "Send": "ส่ง",
    "Sent to segments": "ข้อความที่ส่งถึงกลุ่ม",
    "Subject": "หัวเรื่อง",
    "Subject (English)": "หัวเรื่อง (ภาษาอังกฤษ)",
    "Subject (Thai)": "หัวเรื่อง (ภาษาไทย)",
    "Text": "ข้อความ",
    "Text (English)": "ข้อความ (ภาษาอังกฤษ)",
    "Text (Thai)": "ข้อความ (ภาษาไทย)",
    "Tries": "จำนวนครั้งที่ลอง",
    "Write to a segment": "เขียนข้อความถึงกลุ่มสมาชิก",
    "failed": "ส่งไม่สำเร็จ",
    "lapsed only": "เฉพาะที่หมดอายุ",
    "next try": "ลองใหม่",
    "no SMTP server is configured: messages wait in the outbox": "ยังไม่ได้ตั้งค่าเซิร์ฟเวอร์ SMTP ข้อความรออยู่ในคิว",
    "no address": "ไม่มีที่อยู่",
    "not lapsed": "ยังไม่หมดอายุ",
    "opted out": "ไม่ประสงค์รับ",
    "pending": "รอส่ง",
    "sent": "ส่งแล้ว",
    "skipped": "ข้าม",
    "Contact and messages": "ข้อมูลติดต่อและการรับข้อความ",
    "Phone": "โทรศัพท์",
    "News and promotions by e-mail": "รับข่าวและโปรโมชันทางอีเมล",
    "Notices about my account": "รับการแจ้งเตือนเกี่ยวกับบัญชี",
    "Monthly statement": "สรุปแต้มรายเดือน",
    "Appear in rankings": "แสดงชื่อในอันดับ",
    "Save contact": "บันทึกข้อมูลติดต่อ",
    "Contact and message preferences saved.": "บันทึกข้อมูลติดต่อและการรับข้อความแล้ว",
    "%(key)s must be true or false, got %(value)r": "%(key)s ต้องเป็น true หรือ false ได้รับ %(value)r",
    "a subject or text is too long (at most %(limit)s characters)": "หัวเรื่องหรือข้อความยาวเกินไป (ไม่เกิน %(limit)s ตัวอักษร)",
    "a subject is one line": "หัวเรื่องต้องมีบรรทัดเดียว",
    "active_days must be 1-3660": "active_days ต้องเป็น 1-3660",
    "language must be th or en, got %(value)r": "ภาษาต้องเป็น th หรือ en ได้รับ %(value)r",
    "no message %(id)s": "ไม่มีข้อความ %(id)s",
    "no message channel %(channel)s": "ไม่มีช่องทางส่งข้อความ %(channel)s",
    "no segment message %(id)s": "ไม่มีข้อความถึงกลุ่มสมาชิก %(id)s",
    "only a transactional message can go to a bare address, not %(name)s": "ส่งถึงที่อยู่อีเมลโดยตรงได้เฉพาะข้อความแจ้งรายการ ไม่ใช่ %(name)s",
    "phone must be 6-32 digits, spaces and + - ( ), got %(value)r": "หมายเลขโทรศัพท์ต้องมี 6-32 ตัว ประกอบด้วยตัวเลข ช่องว่าง และ + - ( ) ได้รับ %(value)r",
    "segment status must be active, blocked or any": "สถานะของกลุ่มต้องเป็น active, blocked หรือ any",
    "status must be one of %(statuses)s": "สถานะต้องเป็นหนึ่งใน %(statuses)s",
    "the message needs a subject in Thai and English": "ข้อความต้องมีหัวเรื่องทั้งภาษาไทยและภาษาอังกฤษ",
    "the message needs a text in Thai and English": "ข้อความต้องมีเนื้อหาทั้งภาษาไทยและภาษาอังกฤษ",
    "this unsubscribe link is not valid": "ลิงก์ยกเลิกการรับข้อความนี้ไม่ถูกต้อง",
    "unknown contact field %(field)s; known: %(known)s": "ไม่รู้จักข้อมูลติดต่อ %(field)s ที่รู้จัก: %(known)s",
    "unknown segment key(s) %(keys)s; known: %(known)s": "ไม่รู้จักเงื่อนไขกลุ่ม %(keys)s ที่รู้จัก: %(known)s",
    "the message text has a broken placeholder: %(error)s": "ข้อความมีช่องแทนค่าที่ไม่สมบูรณ์: %(error)s",
    "placeholder {%(field)s} is not a plain name such as {name}": "ช่องแทนค่า {%(field)s} ต้องเป็นชื่อธรรมดา เช่น {name}",
    "unknown placeholder(s) %(fields)s": "ไม่รู้จักช่องแทนค่า %(fields)s",
    "unknown placeholder(s) %(fields)s; you can use %(known)s": "ไม่รู้จักช่องแทนค่า %(fields)s ใช้ได้: %(known)s",
    "no message template %(name)r; known: %(known)s": "ไม่มีแบบข้อความ %(name)r ที่มี: %(known)s",
    "template %(name)s has no placeholder(s) %(fields)s": "แบบข้อความ %(name)s ไม่มีช่องแทนค่า %(fields)s",
    "template %(name)s needs a value for %(fields)s": "แบบข้อความ %(name)s ต้องมีค่าสำหรับ %(fields)s",
    # membership terms, silver and gold, partner-shop stamps (issue 13)
    "%(points)s points earned in a term": "ได้รับ %(points)s คะแนนในภาค/ปีการศึกษา",
    "A tier reached by points is kept for the rest of the term; every change is recorded in the member's history with its reason.": "ประเภทบัตรที่ได้จากคะแนนคงอยู่จนสิ้นภาค/ปีการศึกษา ทุกการเปลี่ยนแปลงบันทึกไว้ในประวัติของสมาชิกพร้อมเหตุผล",
    "By group rule": "ตามกลุ่มสมาชิก",
    "Card type": "ประเภทบัตร",
    "Card type by group": "ประเภทบัตรตามกลุ่ม",
    "Card type is now %(tier)s.": "ประเภทบัตรเป็น %(tier)s แล้ว",
    "Card types": "ประเภทบัตร",
    "Change card type": "เปลี่ยนประเภทบัตร",
    "Close term": "ปิดภาคสมาชิก",
    "Close the term now?": "ปิดภาคสมาชิกตอนนี้หรือไม่?",
    "Date on the stamp": "วันที่บนตราประทับ",
    "Earning": "คะแนนที่ได้รับ",
    "Expired members: %(n)s, not yet closed: %(m)s.": "สมาชิกหมดอายุ %(n)s คน ยังไม่ได้ปิด %(m)s คน",
    "Forfeited": "คะแนนที่สิ้นสุด",
    "Given by": "ได้รับโดย",
    "Joining today: valid until": "สมัครวันนี้: ใช้ได้ถึง",
    "Lapsed": "หมดอายุแล้ว",
    "Members whose term ended before the date lapse. The server does this every day; a preview changes nothing.": "สมาชิกที่หมดอายุก่อนวันที่นี้จะสิ้นสภาพ ระบบทำให้ทุกวัน การดูตัวอย่างไม่เปลี่ยนแปลงข้อมูล",
    "Members without a group": "สมาชิกที่ไม่มีกลุ่ม",
    "Membership renewed until %(day)s; renewal fee %(baht)s baht recorded.": "ต่ออายุสมาชิกถึง %(day)s แล้ว บันทึกค่าต่ออายุ %(baht)s บาท",
    "Membership term": "อายุสมาชิก",
    "Membership terms": "อายุสมาชิก",
    "New end date (employment end)": "วันสิ้นสุดใหม่ (สิ้นสุดการจ้างงาน)",
    "Points at expiry": "คะแนนเมื่อหมดอายุ",
    "Privilege level follows": "ระดับสิทธิพิเศษคิดจาก",
    "Privilege level from %(points)s points earned in term %(term)s (redeeming or transferring points does not lower it).": "ระดับสิทธิพิเศษคิดจาก %(points)s คะแนนที่ได้รับในภาค/ปีการศึกษา %(term)s (การแลกหรือโอนคะแนนไม่ทำให้ระดับลดลง)",
    "Privilege level from the balance of %(points)s points.": "ระดับสิทธิพิเศษคิดจากคะแนนคงเหลือ %(points)s คะแนน",
    "Renew membership": "ต่ออายุสมาชิก",
    "Renewal fee": "ค่าต่ออายุ",
    "Renewal fee: %(baht)s baht.": "ค่าต่ออายุ %(baht)s บาท",
    "Stamps up to %(days)s days old are credited for their own day.": "ตราประทับอายุไม่เกิน %(days)s วันได้รับคะแนนตามวันที่ประทับ",
    "Term close": "ปิดภาคสมาชิก",
    "Term close done: %(n)s member(s) lapsed.": "ปิดภาคสมาชิกแล้ว สมาชิกหมดอายุ %(n)s คน",
    "%(n)s card type(s) won by points put back: the new term has begun.": "ประเภทบัตรที่ได้จากคะแนนกลับเป็นประเภทเดิมแล้ว %(n)s คน เพราะเริ่มภาค/ปีการศึกษาใหม่แล้ว",
    "Card types won by points that go back: the new term has begun": "ประเภทบัตรที่ได้จากคะแนนที่จะกลับเป็นประเภทเดิม เพราะเริ่มภาค/ปีการศึกษาใหม่แล้ว",
    "Card types won by points put back: the new term has begun": "ประเภทบัตรที่ได้จากคะแนนที่กลับเป็นประเภทเดิมแล้ว เพราะเริ่มภาค/ปีการศึกษาใหม่แล้ว",
    "Term rule": "เงื่อนไขอายุสมาชิก",
    "Terms": "อายุสมาชิก",
    "Terms and card types": "อายุสมาชิกและประเภทบัตร",
    "Today": "วันนี้",
    "Without points": "เมื่อไม่มีคะแนน",
    "Would lapse": "จะหมดอายุ",
    "a reason is required to change a tier": "ต้องระบุเหตุผลในการเปลี่ยนประเภทบัตร",
    "a renewal must end today or later, not %(day)s": "วันสิ้นสุดของการต่ออายุต้องเป็นวันนี้หรือหลังจากนั้น ไม่ใช่ %(day)s",
    "a term close cannot be dated after today (%(today)s): preview %(day)s instead": "ปิดภาคสมาชิกลงวันที่หลังวันนี้ (%(today)s) ไม่ได้ ดูตัวอย่างของวันที่ %(day)s แทน",
    "a stamp older than %(days)s days cannot be credited (%(day)s)": "ตราประทับเก่ากว่า %(days)s วันให้คะแนนไม่ได้ (%(day)s)",
    "academic year": "ปีการศึกษา",
    "books": "เล่ม",
    "entry %(id)s is a tier change: set the tier again instead": "รายการ %(id)s เป็นการเปลี่ยนประเภทบัตร ให้เปลี่ยนประเภทบัตรอีกครั้งแทน",
    "group %(group)s's membership ends on a date staff type: give --until": "สมาชิกกลุ่ม %(group)s สิ้นสุดตามวันที่เจ้าหน้าที่กำหนด: ระบุวันสิ้นสุด",
    "groups": "กลุ่ม",
    "membership of group %(group)s does not end; nothing to renew": "สมาชิกกลุ่ม %(group)s ไม่มีวันหมดอายุ ไม่ต้องต่ออายุ",
    "points forfeited": "คะแนนที่สิ้นสุด",
    "semester": "ภาคการศึกษา",
    "shop is a setting of a reader whose activity is partner_purchase": "shop ใช้กับเครื่องอ่านที่มีกิจกรรม partner_purchase เท่านั้น",
    "shop: unknown partner shop %(shop)r; known: %(known)s": "shop: ไม่พบร้านค้า %(shop)r ร้านที่มี: %(known)s",
    "since": "ตั้งแต่",
    "staff (by hand)": "เจ้าหน้าที่กำหนด",
    "typed by staff": "เจ้าหน้าที่กำหนด",
    "unknown tier basis %(basis)r": "ไม่รู้จักที่มาของประเภทบัตร %(basis)r",
    # chrome
    "Privilege card console": "ระบบบัตรสิทธิพิเศษ",
    "Dashboard": "ภาพรวม",
    "Members": "สมาชิก",
    "Devices": "อุปกรณ์",
    "Events": "กิจกรรม",
    "Reports": "รายงาน",
    "Staff": "เจ้าหน้าที่",
    "Sign out": "ออกจากระบบ",
    "Sign in": "เข้าสู่ระบบ",
    "Username": "ชื่อผู้ใช้",
    "Password": "รหัสผ่าน",
    "Signed in as": "ผู้ใช้",
    "Wrong username or password.": "ชื่อผู้ใช้หรือรหัสผ่านไม่ถูกต้อง",
    "Too many failed attempts: this account is locked until %(until)s.": "ใส่รหัสผ่านผิดหลายครั้ง บัญชีถูกล็อกถึงเวลา %(until)s",
    # sign-in under attack, API tokens, odd input (server/web/auth.py, accounts.py, views.py)
    "Wrong username or password, or too many failed attempts: wait a few minutes and try again.": "ชื่อผู้ใช้หรือรหัสผ่านไม่ถูกต้อง หรือลองผิดหลายครั้งเกินไป โปรดรอสักครู่แล้วลองใหม่",
    "The server is busy checking other sign-ins; try again in a few seconds.": "เซิร์ฟเวอร์กำลังตรวจสอบการเข้าสู่ระบบอื่นอยู่ โปรดลองใหม่ในอีกไม่กี่วินาที",
    "Too many failed sign-ins from this address; try again in %(minutes)s minutes.": "เข้าสู่ระบบไม่สำเร็จจากที่อยู่นี้หลายครั้งเกินไป โปรดลองใหม่ในอีก %(minutes)s นาที",
    "the server is busy; try again in a moment": "เซิร์ฟเวอร์ไม่ว่าง โปรดลองใหม่อีกครั้งในไม่ช้า",
    "a token lasts 1 to %(max)s days": "โทเค็นมีอายุได้ 1 ถึง %(max)s วัน",
    "no API token %(id)s": "ไม่พบโทเค็น API %(id)s",
    "%(name)s must be a whole number from %(lo)s to %(hi)s": "%(name)s ต้องเป็นจำนวนเต็มตั้งแต่ %(lo)s ถึง %(hi)s",
    "API token %(id)s created; it expires on %(day)s.": "สร้างโทเค็น API %(id)s แล้ว หมดอายุ %(day)s",
    "API token %(id)s revoked.": "เพิกถอนโทเค็น API %(id)s แล้ว",
    "Created": "สร้างเมื่อ",
    "Expires": "หมดอายุ",
    "Last used": "ใช้ล่าสุด",
    "Revoke": "เพิกถอน",
    "revoked": "เพิกถอนแล้ว",
    "password changed": "เปลี่ยนรหัสผ่าน",
    "account disabled": "ปิดบัญชี",
    "No API tokens.": "ไม่มีโทเค็น API",
    "Your API tokens": "โทเค็น API ของคุณ",
    "Expires after (days)": "หมดอายุหลัง (วัน)",
    "A token is for your own account. A password change or disabling the account revokes its tokens.": "โทเค็นใช้กับบัญชีของคุณเอง การเปลี่ยนรหัสผ่านหรือการปิดบัญชีจะเพิกถอนโทเค็นของบัญชีนั้น",
    "Changing the password signs out every other session of this account (other browsers and computers) and revokes its API tokens.": "การเปลี่ยนรหัสผ่านจะออกจากระบบทุกเซสชันอื่นของบัญชีนี้ (เบราว์เซอร์และเครื่องอื่น) และเพิกถอนโทเค็น API ของบัญชีนี้",
    "The address is not valid text; nothing was changed.": "ที่อยู่ไม่ใช่ข้อความที่ถูกต้อง ไม่มีการเปลี่ยนแปลงใด",
    "Please sign in.": "กรุณาเข้าสู่ระบบ",
    "Only administrators can open this page.": "เฉพาะผู้ดูแลระบบเท่านั้นที่เปิดหน้านี้ได้",
    "The form expired or was not sent by this console; nothing was changed. Please try again.": "แบบฟอร์มหมดอายุหรือไม่ได้ส่งจากระบบนี้ ไม่มีการเปลี่ยนแปลงใดๆ กรุณาลองอีกครั้ง",
    "Not found": "ไม่พบข้อมูล",
    "File too large (max %(mb)s MB)": "ไฟล์มีขนาดใหญ่เกินไป (สูงสุด %(mb)s MB)",
    "The request was not understood; nothing was changed.": "ระบบไม่เข้าใจคำขอนี้ ไม่มีการเปลี่ยนแปลงใดๆ",
    "This address cannot be used this way (for example, signing out is a button, not a link).": "ใช้ที่อยู่นี้ด้วยวิธีนี้ไม่ได้ (เช่น การออกจากระบบต้องกดปุ่ม ไม่ใช่เปิดลิงก์)",
    "Too many requests; please wait a moment and try again.": "มีคำขอมากเกินไป กรุณารอสักครู่แล้วลองอีกครั้ง",
    "The request could not be handled (error %(code)s).": "ไม่สามารถดำเนินการตามคำขอนี้ได้ (ข้อผิดพลาด %(code)s)",
    "Something went wrong on the server. The error was logged; please try again, "
    "and tell the administrator if it happens again.": "เกิดข้อผิดพลาดในระบบ ระบบได้บันทึกข้อผิดพลาดไว้แล้ว กรุณาลองอีกครั้ง "
    "หากยังเกิดขึ้นอีกกรุณาแจ้งผู้ดูแลระบบ",
    "Save": "บันทึก",
    "Cancel": "ยกเลิก",
    "Back": "กลับ",
    "Search": "ค้นหา",
    "Download CSV": "ดาวน์โหลด CSV",
    "Language": "ภาษา",
    "none": "ไม่มี",
    "Yes": "ใช่",
    "No": "ไม่",
    # dashboard
    "Devices online": "อุปกรณ์ออนไลน์",
    "Devices offline": "อุปกรณ์ออฟไลน์",
    "Taps today": "การแตะบัตรวันนี้",
    "Points today": "คะแนนที่ได้วันนี้",
    "Visitors today": "ผู้เข้าใช้วันนี้",
    "Latest taps": "การแตะบัตรล่าสุด",
    "Time": "เวลา",
    "Device": "อุปกรณ์",
    "Card": "บัตร",
    "Member": "สมาชิก",
    "Outcome": "ผลลัพธ์",
    "Points": "คะแนน",
    "State": "สถานะ",
    "Last seen": "ติดต่อล่าสุด",
    "Outbox": "คิวค้างส่ง",
    "Reader": "เครื่องอ่านบัตร",
    "Location": "ที่ตั้ง",
    "Kind": "ประเภท",
    "Direction": "ทิศทาง",
    "Activity": "กิจกรรม",
    "online": "ออนไลน์",
    "offline": "ออฟไลน์",
    "unknown": "ไม่ทราบ",
    "No taps yet.": "ยังไม่มีการแตะบัตร",
    "No devices yet.": "ยังไม่มีอุปกรณ์",
    "Updated": "ปรับปรุงเมื่อ",
    "credited": "ได้คะแนน",
    "limit_reached": "ได้คะแนนแล้ววันนี้",
    "no_activity": "ไม่มีกิจกรรม",
    "unknown_card": "ไม่พบบัตร",
    "card_blocked": "บัตรถูกระงับ",
    "card_not_genuine": "บัตรไม่ผ่านการตรวจสอบ",
    "expired": "หมดอายุ",
    "invalid": "ข้อมูลไม่ถูกต้อง",
    # devices
    "Add a device": "เพิ่มอุปกรณ์",
    "Device id": "รหัสอุปกรณ์",
    "Edit device": "แก้ไขอุปกรณ์",
    "Config revision": "รุ่นการตั้งค่า",
    "published": "ส่งถึงอุปกรณ์แล้ว",
    "waiting to publish": "รอส่งการตั้งค่า",
    "Status": "สถานะ",
    "Settings": "การตั้งค่า",
    "Device %(id)s added; its config is published to the device.": "เพิ่มอุปกรณ์ %(id)s แล้ว ส่งการตั้งค่าไปยังอุปกรณ์",
    "Device %(id)s saved; the device receives the new config within a few seconds.": "บันทึกอุปกรณ์ %(id)s แล้ว อุปกรณ์จะได้รับการตั้งค่าใหม่ภายในไม่กี่วินาที",
    "default": "ค่าเริ่มต้น",
    "in": "เข้า",
    "out": "ออก",
    "gate": "ประตู",
    "kiosk": "ตู้คีออสก์",
    "counter": "เคาน์เตอร์",
    "selfcheck": "เครื่องยืมหนังสือด้วยตนเอง",
    "allowlist": "ตามรายชื่อบัตร",
    "open": "เปิดให้ทุกบัตร",
    "closed": "ไม่เปิด",
    "auto": "อัตโนมัติ",
    "always-ok": "ถือว่าตรงเสมอ",
    "never-ok": "ถือว่าไม่ตรงเสมอ",
    "th": "ไทย",
    "en": "อังกฤษ",
    "Software": "ซอฟต์แวร์",
    "e.g. relay=17, green=22, red=27": "เช่น relay=17, green=22, red=27",
    "e.g. nfc:usb or serial:/dev/ttyAMA0": "เช่น nfc:usb หรือ serial:/dev/ttyAMA0",
    # members
    "Search by name, card UID or member id": "ค้นหาด้วยชื่อ หมายเลขบัตร หรือรหัสสมาชิก",
    "Enrol a member": "สมัครสมาชิกใหม่",
    "Name": "ชื่อ-สกุล",  # a person's; a thing's name has its own words ("Title", "Description")
    "Description": "คำอธิบาย",
    "Card UID": "หมายเลขบัตร (UID)",
    "Tier": "ประเภทบัตร",
    "Group": "กลุ่มผู้ใช้",
    # a member's group the programme's [terms.groups] no longer defines (the member page, its edit form)
    "%(group)s (no longer in the programme)": "%(group)s (ไม่มีในโปรแกรมแล้ว)",
    "Valid until": "ใช้ได้ถึง",
    "Balance": "คะแนนคงเหลือ",
    "Enrol": "สมัครสมาชิก",
    "No members found.": "ไม่พบสมาชิก",
    "Member %(id)s enrolled with %(points)s sign-up points.": "สมัครสมาชิก %(id)s แล้ว ได้รับ %(points)s คะแนนแรกเข้า",
    "Joining fee %(baht)s baht.": "ค่าสมัคร %(baht)s บาท",
    "Privilege card ID": "หมายเลขบัตรสิทธิพิเศษ",
    "Last modified": "แก้ไขล่าสุด",
    "Ledger": "รายการคะแนน",
    "No.": "ลำดับ",
    "Date-time": "วันที่-เวลา",
    "Type": "ประเภท",
    "Item": "รายการ",
    "Void": "ยกเลิก",
    "voided": "ยกเลิกแล้ว",
    "Older entries": "รายการก่อนหน้า",
    "Newest entries": "รายการล่าสุด",
    "Edit member": "แก้ไขข้อมูลสมาชิก",
    "active": "ใช้งานได้",
    "blocked": "ระงับ",
    "Member saved.": "บันทึกข้อมูลสมาชิกแล้ว",
    "Cards": "บัตร",
    "Replace lost card": "ออกบัตรใหม่แทนบัตรหาย",
    "New card UID": "หมายเลขบัตรใหม่",
    "Replacement fee: %(baht)s baht. The old card stops working.": "ค่าออกบัตรใหม่ %(baht)s บาท บัตรเดิมจะใช้ไม่ได้",
    "Card replaced; the old card is blocked and the fee recorded.": "ออกบัตรใหม่แล้ว บัตรเดิมถูกระงับและบันทึกค่าธรรมเนียมแล้ว",
    "Block card": "ระงับบัตร",
    "Reason": "เหตุผล",
    "Card %(uid)s blocked.": "ระงับบัตร %(uid)s แล้ว",
    "Credit points": "ให้คะแนน",
    "Partner shop": "ร้านค้าที่ร่วมรายการ",
    "Volunteer session / hours": "งานจิตอาสา / จำนวนชั่วโมง",
    "e.g. 2026-11-22 shelving 3 h": "เช่น 2569-11-22 จัดชั้นหนังสือ 3 ชม.",
    "Credit": "ให้คะแนน",
    "Credited %(points)s points for %(activity)s.": "ให้ %(points)s คะแนน สำหรับ %(activity)s แล้ว",
    "Already credited today: %(activity)s earns once per day.": "วันนี้ได้คะแนน %(activity)s ไปแล้ว (ได้วันละครั้ง)",
    "Transfer points": "โอนคะแนน",
    "To member (id or card)": "ถึงสมาชิก (รหัสหรือหมายเลขบัตร)",
    "Transfer": "โอน",
    "Transferred %(points)s points to member %(to)s.": "โอน %(points)s คะแนน ให้สมาชิก %(to)s แล้ว",
    "Redeem a reward": "แลกของรางวัล",
    "Reward": "ของรางวัล",
    "Points (fine discount, steps of %(step)s)": "คะแนน (ส่วนลดค่าปรับ ทีละ %(step)s)",
    "Units (days, hours, pieces)": "จำนวน (วัน ชั่วโมง ชิ้น)",
    "Redeem": "แลก",
    "Redeemed %(points)s points: %(reward)s.": "แลก %(points)s คะแนน: %(reward)s แล้ว",
    "Fees": "ค่าธรรมเนียม",
    "baht": "บาท",
    "joining": "ค่าสมัคร",
    "card_replacement": "ค่าออกบัตรใหม่",
    "Privileges now": "สิทธิปัจจุบัน",
    "Borrow": "ยืมหนังสือ",
    "books for": "เล่ม นาน",
    "Locker": "ตู้ฝากของ",
    "days": "วัน",
    "Study room": "ห้องค้นคว้ากลุ่ม",
    "hours per booking": "ชั่วโมงต่อครั้ง",
    "Fine discount up to": "ส่วนลดค่าปรับสูงสุด",
    "Void entry": "ยกเลิกรายการ",
    "Void this entry? A reversal entry is added; the original stays in the ledger.": "ยืนยันยกเลิกรายการนี้? ระบบจะเพิ่มรายการกลับรายการ โดยรายการเดิมยังคงอยู่",
    "Yes, void it": "ยืนยันยกเลิก",
    "Entry %(id)s voided.": "ยกเลิกรายการ %(id)s แล้ว",
    "Payment %(transaction)s reversed in the library system: the %(points)s points are back.": (
        "ยกเลิกการชำระ %(transaction)s ในระบบห้องสมุดแล้ว: คืน %(points)s คะแนนแล้ว"
    ),
    "This fine discount was paid in the library system (%(transaction)s, %(baht)s baht): it cannot be voided, "
    "the library system keeps the payment.": (
        "ส่วนลดค่าปรับนี้ชำระในระบบห้องสมุดแล้ว (%(transaction)s, %(baht)s บาท): ยกเลิกรายการไม่ได้ เพราะระบบห้องสมุดยังเก็บการชำระไว้"
    ),
    "This fine discount was sent to the library system (%(transaction)s) and has no answer yet: it is settled on "
    "the pending ILS payments page.": (
        "ส่วนลดค่าปรับนี้ส่งไปยังระบบห้องสมุดแล้ว (%(transaction)s) และยังไม่ได้คำตอบ: ปิดรายการได้ที่หน้าการชำระค่าปรับที่รอระบบห้องสมุด"
    ),
    "If the payment has been reversed in the library system, an account that works for every site gives the "
    "points back here.": "หากยกเลิกการชำระในระบบห้องสมุดแล้ว บัญชีที่ดูแลทุกสาขาคืนคะแนนได้ที่หน้านี้",
    "If staff have reversed the payment in the library system (the fine is owed there again), give the "
    "%(points)s points back:": "หากเจ้าหน้าที่ยกเลิกการชำระในระบบห้องสมุดแล้ว (ค่าปรับกลับมาค้างชำระ) คืน %(points)s คะแนน:",
    "Reversed in the library system: give the points back": "ยกเลิกในระบบห้องสมุดแล้ว: คืนคะแนน",
    "A reason is required.": "ต้องระบุเหตุผล",
    "Both legs of the transfer are reversed.": "รายการโอนทั้งสองฝั่งจะถูกยกเลิก",
    "Staff member": "เจ้าหน้าที่",
    "sign-up": "แรกเข้า",
    # events
    "Create an event": "สร้างกิจกรรม",
    "Event name": "ชื่อกิจกรรม",
    "Date": "วันที่",
    "Create": "สร้าง",
    "Event created.": "สร้างกิจกรรมแล้ว",
    "Upload registration list": "อัปโหลดรายชื่อผู้ลงทะเบียน",
    "CSV of card UIDs or member ids, one per line (a header row uid/card/member_id is allowed).": "ไฟล์ CSV ของหมายเลขบัตรหรือรหัสสมาชิก บรรทัดละหนึ่งรายการ (มีหัวตาราง uid/card/member_id ได้)",
    "Preview": "ตรวจสอบก่อน",
    "Preview — nothing is credited yet": "ตรวจสอบรายการ — ยังไม่มีการให้คะแนน",
    "Line": "บรรทัด",
    "Result": "ผล",
    "will be credited": "จะได้รับคะแนน",
    "already credited": "ได้รับคะแนนแล้ว",
    "error": "ผิดพลาด",
    "Credit %(n)s members": "ให้คะแนนสมาชิก %(n)s คน",
    "%(n)s credited, %(already)s already credited, %(errors)s errors.": "ให้คะแนน %(n)s คน, ได้รับแล้ว %(already)s คน, ผิดพลาด %(errors)s รายการ",
    "Uploads": "ไฟล์ที่อัปโหลด",
    "Credited members": "สมาชิกที่ได้คะแนน",
    "No events yet.": "ยังไม่มีกิจกรรม",
    "Choose a file.": "กรุณาเลือกไฟล์",
    "The file is not UTF-8 text.": "ไฟล์ไม่ใช่ข้อความ UTF-8",
    "At most %(mb)s MB.": "ขนาดไม่เกิน %(mb)s MB",
    "This list was already credited.": "รายชื่อนี้ให้คะแนนไปแล้ว",
    # reports
    "From": "ตั้งแต่",
    "To": "ถึง",
    "Show": "แสดง",
    "Semester": "ภาคการศึกษา",
    "Entries per day": "จำนวนการเข้าใช้รายวัน",
    "Entries per hour": "จำนวนการเข้าใช้รายชั่วโมง",
    "Top borrowers of the semester": "ผู้ยืมมากที่สุดประจำภาคการศึกษา",
    "Top library users of the semester": "ผู้เข้าใช้ห้องสมุดมากที่สุดประจำภาคการศึกษา",
    "Points earned and redeemed per activity": "คะแนนที่ได้และที่ใช้ตามกิจกรรม",
    "Members by segment": "สมาชิกตามกลุ่มผู้ใช้",
    "Kiosk feedback ratings": "คะแนนความพึงพอใจจากตู้คีออสก์",
    "Average": "เฉลี่ย",
    "ratings": "ครั้ง",
    "No data in this range.": "ไม่มีข้อมูลในช่วงนี้",
    # staff admin
    "Staff accounts": "บัญชีเจ้าหน้าที่",
    "Role": "บทบาท",
    "Add staff": "เพิ่มเจ้าหน้าที่",
    "Locked until": "ล็อกถึง",
    "Unlock": "ปลดล็อก",
    "Staff account %(name)s added.": "เพิ่มบัญชี %(name)s แล้ว",
    "API tokens": "โทเค็น API",
    "Label": "ชื่อโทเค็น",
    "Create API token": "สร้างโทเค็น API",
    "Copy this token now; it is not shown again:": "คัดลอกโทเค็นนี้ไว้ ระบบจะไม่แสดงอีก:",
    "Recent changes": "การเปลี่ยนแปลงล่าสุด",
    "Who": "ผู้ทำ",
    "What": "รายการ",
    "Target": "เป้าหมาย",
    "Details": "รายละเอียด",
    "admin": "ผู้ดูแลระบบ",
    "staff": "เจ้าหน้าที่",
    "Account unlocked.": "ปลดล็อกบัญชีแล้ว",
    "must change password": "ต้องเปลี่ยนรหัสผ่าน",
    "The new account must choose its own password at the first sign-in.": "บัญชีใหม่ต้องตั้งรหัสผ่านของตนเองเมื่อเข้าสู่ระบบครั้งแรก",
    "They must choose their own password at the first sign-in.": "ผู้ใช้ต้องตั้งรหัสผ่านของตนเองเมื่อเข้าสู่ระบบครั้งแรก",
    "Set a temporary password": "ตั้งรหัสผ่านชั่วคราว",
    "Temporary password": "รหัสผ่านชั่วคราว",
    "Temporary password again": "ยืนยันรหัสผ่านชั่วคราว",
    "Set temporary password": "ตั้งรหัสผ่านชั่วคราว",
    "The account must change it at its next sign-in; its open sessions are signed out and a lock-out is lifted. "
    "Your own password: the Account page.": "บัญชีนั้นต้องเปลี่ยนรหัสผ่านเมื่อเข้าสู่ระบบครั้งถัดไป เซสชันที่เปิดอยู่จะถูกออกจากระบบ และการล็อกบัญชีจะถูกปลด "
    "ส่วนรหัสผ่านของคุณเองเปลี่ยนได้ที่หน้าบัญชีผู้ใช้",
    "Temporary password set for %(name)s: they must change it at their next sign-in; "
    "their open sessions are signed out.": "ตั้งรหัสผ่านชั่วคราวให้ %(name)s แล้ว ผู้ใช้ต้องเปลี่ยนรหัสผ่านเมื่อเข้าสู่ระบบครั้งถัดไป "
    "และเซสชันที่เปิดอยู่ถูกออกจากระบบแล้ว",
    # account (own password)
    "Account": "บัญชีผู้ใช้",
    "An administrator chose the password of this account. Choose your own password to continue; "
    "the rest of the console opens after that.": "ผู้ดูแลระบบเป็นผู้กำหนดรหัสผ่านของบัญชีนี้ กรุณาตั้งรหัสผ่านของคุณเองเพื่อใช้งานต่อ "
    "หน้าอื่นๆ ของระบบจะเปิดได้หลังจากนั้น",
    "Last sign-in": "เข้าสู่ระบบล่าสุด",
    "Change password": "เปลี่ยนรหัสผ่าน",
    "Current password": "รหัสผ่านปัจจุบัน",
    "New password": "รหัสผ่านใหม่",
    "New password again": "ยืนยันรหัสผ่านใหม่",
    "At least %(n)s characters, different from the current password.": "อย่างน้อย %(n)s ตัวอักษร และต้องไม่ซ้ำกับรหัสผ่านปัจจุบัน",
    "The current password is wrong; the password was not changed.": "รหัสผ่านปัจจุบันไม่ถูกต้อง รหัสผ่านยังไม่ถูกเปลี่ยน",
    "%(reason)s — the password was not changed.": "%(reason)s — รหัสผ่านยังไม่ถูกเปลี่ยน",
    "Your password was changed. Other sessions of this account are signed out.": "เปลี่ยนรหัสผ่านแล้ว เซสชันอื่นของบัญชีนี้ถูกออกจากระบบแล้ว",
    # account errors (accounts.AccountError templates)
    "password must be at least %(n)s characters": "รหัสผ่านต้องมีอย่างน้อย %(n)s ตัวอักษร",
    "password must be at most %(n)s characters": "รหัสผ่านต้องมีไม่เกิน %(n)s ตัวอักษร",
    "the two new passwords differ": "รหัสผ่านใหม่ทั้งสองช่องไม่ตรงกัน",
    "the new password must differ from the current one": "รหัสผ่านใหม่ต้องไม่ซ้ำกับรหัสผ่านปัจจุบัน",
    "this account is disabled": "บัญชีนี้ถูกระงับการใช้งาน",
    "no staff account %(name)s": "ไม่พบบัญชีเจ้าหน้าที่ %(name)s",
    "choose an account": "กรุณาเลือกบัญชี",
    "the password was changed meanwhile; sign in again": "รหัสผ่านถูกเปลี่ยนไปในระหว่างนี้ กรุณาเข้าสู่ระบบใหม่",
    "change your own password on the Account page": "เปลี่ยนรหัสผ่านของคุณเองได้ที่หน้าบัญชีผู้ใช้",
    "username must be 2-32 characters: a-z, 0-9, '.', '_' or '-'": "ชื่อผู้ใช้ต้องยาว 2-32 ตัวอักษร ประกอบด้วย a-z, 0-9, '.', '_' หรือ '-'",
    "role must be one of %(roles)s, got %(role)r": "บทบาทต้องเป็น %(roles)s เท่านั้น (ได้รับ %(role)r)",
    "staff account %(name)s already exists": "มีบัญชีเจ้าหน้าที่ %(name)s อยู่แล้ว",
    # service errors (server.services ServiceError templates)
    "balance %(balance)s is less than %(points)s points": "คะแนนคงเหลือ %(balance)s คะแนน ไม่พอสำหรับ %(points)s คะแนน",
    "no member with id or card %(ref)r": "ไม่พบสมาชิกที่มีรหัสหรือหมายเลขบัตร %(ref)r",
    "name must be 1-200 characters": "ชื่อ-สกุลต้องยาว 1-200 ตัวอักษร",
    "tier must be one of %(tiers)s, got %(tier)r": "ประเภทบัตรต้องเป็น %(tiers)s เท่านั้น (ได้รับ %(tier)r)",
    "group must be one of %(groups)s, got %(group)r": "กลุ่มผู้ใช้ต้องเป็น %(groups)s เท่านั้น (ได้รับ %(group)r)",
    "not a date (YYYY-MM-DD): %(value)r": "วันที่ไม่ถูกต้อง ต้องอยู่ในรูปแบบ YYYY-MM-DD (ปี ค.ศ.): %(value)r",
    "card %(uid)s already belongs to a member": "บัตร %(uid)s ลงทะเบียนกับสมาชิกไว้แล้ว",
    "unknown member field(s): %(fields)s; known: %(known)s": "ไม่รู้จักช่องข้อมูลสมาชิก: %(fields)s (ที่ใช้ได้: %(known)s)",
    "status must be active or blocked": "สถานะต้องเป็น ใช้งานได้ (active) หรือ ระงับ (blocked)",
    "pin must be 4-8 digits": "PIN ต้องเป็นตัวเลข 4-8 หลัก",
    "card %(uid)s is already in use": "บัตร %(uid)s มีผู้ใช้อยู่แล้ว",
    "no card %(uid)s": "ไม่พบบัตร %(uid)s",
    "kind must be one of %(kinds)s, got %(kind)r": "ประเภทอุปกรณ์ต้องเป็น %(kinds)s เท่านั้น (ได้รับ %(kind)r)",
    "direction must be in or out, got %(direction)r": "ทิศทางต้องเป็น in (เข้า) หรือ out (ออก) (ได้รับ %(direction)r)",
    "unknown activity %(activity)r; known: %(known)s": "ไม่รู้จักกิจกรรม %(activity)r (ที่มี: %(known)s)",
    "unknown activity %(activity)r": "ไม่รู้จักกิจกรรม %(activity)r",
    "device %(id)s already exists": "มีอุปกรณ์ %(id)s อยู่แล้ว",
    "device id %(id)s is reserved: ids starting with %(prefix)s are the broker accounts of site bridges "
    "(privcard admin site bridge); choose another id": "รหัสอุปกรณ์ %(id)s สงวนไว้: รหัสที่ขึ้นต้นด้วย %(prefix)s "
    "เป็นบัญชีโบรกเกอร์ของสะพานเชื่อมสาขา (privcard admin site bridge) โปรดเลือกรหัสอื่น",
    "no device %(id)s": "ไม่พบอุปกรณ์ %(id)s",
    # device authority (server.services.devices.authorise, retire)
    "Retired": "เลิกใช้งานแล้ว",
    "Retire device": "เลิกใช้งานอุปกรณ์",
    "Retire": "เลิกใช้งาน",
    "Reactivate": "กลับมาใช้งาน",
    "Retire %(id)s?": "เลิกใช้งาน %(id)s ใช่หรือไม่?",
    "Retired since %(when)s: the server refuses everything this device sends.": "เลิกใช้งานตั้งแต่ %(when)s: เซิร์ฟเวอร์ปฏิเสธทุกข้อความจากอุปกรณ์นี้",
    "For a lost, stolen or replaced device: the server refuses its taps, queries and feedback, and its broker account is removed.": "สำหรับอุปกรณ์ที่หาย ถูกขโมย หรือเปลี่ยนเครื่อง: เซิร์ฟเวอร์จะปฏิเสธการแตะบัตร การสอบถาม และความคิดเห็นจากอุปกรณ์นี้ และลบบัญชีบนโบรกเกอร์ของอุปกรณ์",
    "Device %(id)s retired: the server refuses everything it sends.": "เลิกใช้งานอุปกรณ์ %(id)s แล้ว: เซิร์ฟเวอร์ปฏิเสธทุกข้อความจากอุปกรณ์นี้",
    "Device %(id)s is active again; issue it new broker credentials.": "อุปกรณ์ %(id)s กลับมาใช้งานแล้ว โปรดออกรหัสผ่านโบรกเกอร์ใหม่ให้อุปกรณ์",
    "Broker account files updated; reload Mosquitto to apply them.": "ปรับปรุงไฟล์บัญชีของโบรกเกอร์แล้ว โปรดสั่ง reload Mosquitto เพื่อให้มีผล",
    "On the broker host, run `privcard admin device acl` and reload Mosquitto to update %(id)s's account.": "ที่เครื่องโบรกเกอร์ ให้รันคำสั่ง `privcard admin device acl` แล้วสั่ง reload Mosquitto เพื่อปรับปรุงบัญชีของ %(id)s",
    "unknown device %(id)s": "ไม่รู้จักอุปกรณ์ %(id)s",
    "device %(id)s is retired": "อุปกรณ์ %(id)s เลิกใช้งานแล้ว",
    "device %(id)s is already retired": "อุปกรณ์ %(id)s เลิกใช้งานไปแล้ว",
    "device %(id)s is not retired": "อุปกรณ์ %(id)s ยังไม่ได้เลิกใช้งาน",
    "a %(kind)s may not send %(topic)s": "อุปกรณ์ประเภท %(kind)s ส่ง %(topic)s ไม่ได้",
    "sign-up points are credited by member add": "คะแนนแรกเข้าให้เมื่อสมัครสมาชิกเท่านั้น",
    "cannot award points in the future": "ให้คะแนนสำหรับเวลาในอนาคตไม่ได้",
    "%(activity)s is earned only while its campaign runs": "กิจกรรม %(activity)s ได้คะแนนเฉพาะในช่วงเวลาของแคมเปญ",
    "unknown partner shop %(shop)r; known: %(known)s": "ไม่พบร้านค้า %(shop)r ในรายชื่อร้านค้าที่ร่วมรายการ (ที่มี: %(known)s)",
    "member %(id)s is blocked": "สมาชิก %(id)s ถูกระงับ",
    "member %(id)s's membership expired on %(day)s": "สมาชิกภาพของสมาชิก %(id)s หมดอายุแล้วเมื่อ %(day)s",
    "member %(id)s's membership expired on %(day)s: the points wait for the renewal": "สมาชิกภาพของสมาชิก %(id)s หมดอายุแล้วเมื่อ %(day)s คะแนนจะใช้ได้อีกเมื่อต่ออายุสมาชิก",
    "not a time (ISO-8601, e.g. 2026-11-22T10:00+07:00): %(text)r": "เวลาไม่ถูกต้อง ต้องอยู่ในรูปแบบ ISO-8601 เช่น 2026-11-22T10:00+07:00: %(text)r",
    "a reason is required to void an entry": "ต้องระบุเหตุผลในการยกเลิกรายการ",
    "no ledger entry %(id)s": "ไม่พบรายการคะแนน %(id)s",
    "entry %(id)s is itself a void": "รายการ %(id)s เป็นรายการยกเลิก จึงยกเลิกซ้ำไม่ได้",
    "entry %(id)s is already voided": "รายการ %(id)s ถูกยกเลิกไปแล้ว",
    "entry %(id)s is a fine discount the library system has not answered yet (%(transaction)s): "
    "it is settled by its answer, or by ils resolve": "รายการ %(id)s เป็นส่วนลดค่าปรับที่ระบบห้องสมุดยังไม่ตอบ (%(transaction)s): "
    "จะปิดรายการเมื่อระบบห้องสมุดตอบ หรือด้วยคำสั่ง ils resolve",
    "entry %(id)s is a fine discount paid in the library system (%(transaction)s): its points come back only "
    "when staff reverse the payment there (ils reversed)": "รายการ %(id)s "
    "เป็นส่วนลดค่าปรับที่ชำระในระบบห้องสมุดแล้ว (%(transaction)s): คืนคะแนนได้เมื่อเจ้าหน้าที่ยกเลิกการชำระในระบบห้องสมุดแล้วเท่านั้น "
    "(ils reversed)",
    "points to transfer must be a positive whole number": "จำนวนคะแนนที่โอนต้องเป็นจำนวนเต็มที่มากกว่าศูนย์",
    "cannot transfer points to the same member": "โอนคะแนนให้สมาชิกคนเดิมไม่ได้",
    "unknown reward %(reward)r; known: %(known)s": "ไม่พบของรางวัล %(reward)r (ที่มี: %(known)s)",
    "%(reward)s needs --points (a multiple of %(step)s)": "%(reward)s ต้องระบุจำนวนคะแนน (ทีละ %(step)s คะแนน)",
    "units must be 1-1000": "จำนวนต้องอยู่ระหว่าง 1-1000",
    "%(reward)s costs %(cost)s points for %(units)s unit(s), not %(points)s": "%(reward)s จำนวน %(units)s หน่วย ใช้ %(cost)s คะแนน ไม่ใช่ %(points)s คะแนน",
    "%(activity)s is not credited from attendance lists": "กิจกรรม %(activity)s ไม่ได้ให้คะแนนจากรายชื่อผู้ลงทะเบียน",
    "%(activity)s (%(name)s) is retired: it earns no points any more": (
        "กิจกรรม %(activity)s (%(name)s) เลิกใช้แล้ว: ไม่ได้รับคะแนนอีกต่อไป"
    ),
    "%(activity)s (%(name)s) was retired while this list was being previewed: it earns no points any more": (
        "กิจกรรม %(activity)s (%(name)s) ถูกเลิกใช้ระหว่างตรวจรายชื่อนี้: ไม่ได้รับคะแนนอีกต่อไป"
    ),
    "%(activity)s (%(name)s) was retired while this list was being credited: "
    "%(credited)s row(s) credited before stay credited; the rest were not credited": (
        "กิจกรรม %(activity)s (%(name)s) ถูกเลิกใช้ระหว่างให้คะแนนตามรายชื่อนี้: "
        "%(credited)s แถวที่ให้คะแนนไปก่อนแล้วยังคงอยู่ แถวที่เหลือไม่ได้รับคะแนน"
    ),
    "site %(site)s has no activity %(activity)s": "สาขา %(site)s ไม่มีกิจกรรม %(activity)s",
    "an event name of 1-120 characters is required": "ต้องระบุชื่อกิจกรรม ยาว 1-120 ตัวอักษร",
    "member %(id)s is listed twice": "สมาชิก %(id)s มีชื่อซ้ำในรายชื่อ",
    "card %(card)s is blocked": "บัตร %(card)s ถูกระงับ",
    "attendance file is larger than 5 MB": "ไฟล์รายชื่อมีขนาดใหญ่เกิน 5 MB",
    "attendance file is not valid CSV (line %(line)s): %(error)s": "ไฟล์รายชื่อไม่ใช่ CSV ที่ถูกต้อง (บรรทัด %(line)s): %(error)s",
    "header has no uid/card/member_id/patron_id column: %(header)s": "หัวตารางไม่มีคอลัมน์ uid/card/member_id/patron_id: %(header)s",
    "empty card/member cell": "ไม่มีหมายเลขบัตรหรือรหัสสมาชิกในบรรทัดนี้",
    # ... passed on from broker.contract and server.domain.rules (their errors' templates)
    "ndef must be a URI of 1-%(max)s printable ASCII characters without spaces": "ndef ต้องเป็น URI ยาว 1-%(max)s ตัวอักษร ASCII ที่พิมพ์ได้ ไม่มีช่องว่าง",
    "uid must be a string, got %(type)s": "หมายเลขบัตรต้องเป็นข้อความ (ได้รับ %(type)s)",
    "uid %(uid)s is all zeros: a failed read, not a card": "UID %(uid)s เป็นศูนย์ทั้งหมด: เป็นการอ่านบัตรที่ล้มเหลว ไม่ใช่บัตร",
    "uid must be 4-10 bytes of hex (8-20 hex digits), got %(uid)s": "หมายเลขบัตรต้องเป็นเลขฐานสิบหก 8-20 หลัก (4-10 ไบต์) (ได้รับ %(uid)s)",
    "%(activity)s needs an item (event, shop or session)": "%(activity)s ต้องระบุรายการ (ชื่อกิจกรรม ร้านค้า หรือรอบงาน)",
    "fine discounts are redeemed in steps of %(step)s points": "ส่วนลดค่าปรับแลกได้ทีละ %(step)s คะแนน",
    "at most %(max)s points can be redeemed as a fine discount": "แลกเป็นส่วนลดค่าปรับได้สูงสุด %(max)s คะแนน",
    # ... passed on from broker.settings (a device setting, named by its path)
    "settings must be an object, got %(value)r": "การตั้งค่าต้องเป็นออบเจ็กต์ (ได้รับ %(value)r)",
    "%(path)s is not a setting of a %(kind)s; known: %(known)s": "%(path)s ไม่ใช่การตั้งค่าของอุปกรณ์ประเภท %(kind)s (ที่มี: %(known)s)",
    "%(path)s is set by the programme for every device, not per device": "%(path)s กำหนดโดยโครงการสำหรับทุกอุปกรณ์ ตั้งค่ารายอุปกรณ์ไม่ได้",
    "%(path)s is not a programme-wide setting": "%(path)s ไม่ใช่การตั้งค่าระดับโครงการ",
    "%(path)s must be a whole number from %(lo)s to %(hi)s, got %(value)r": "%(path)s ต้องเป็นจำนวนเต็มตั้งแต่ %(lo)s ถึง %(hi)s (ได้รับ %(value)r)",
    "%(path)s must be a number from %(lo)s to %(hi)s, got %(value)r": "%(path)s ต้องเป็นตัวเลขตั้งแต่ %(lo)s ถึง %(hi)s (ได้รับ %(value)r)",
    "%(path)s must be one of %(options)s, got %(value)r": "%(path)s ต้องเป็น %(options)s เท่านั้น (ได้รับ %(value)r)",
    "%(path)s must be text of 1 to %(max)s printable characters, got %(value)r": "%(path)s ต้องเป็นข้อความที่พิมพ์ได้ยาว 1 ถึง %(max)s ตัวอักษร (ได้รับ %(value)r)",
    "%(path)s must be a BCM pin number from %(lo)s to %(hi)s or null, got %(value)r": "%(path)s ต้องเป็นหมายเลขขา BCM ตั้งแต่ %(lo)s ถึง %(hi)s หรือ null (ได้รับ %(value)r)",
    "%(path)s must be a BCM pin number from %(lo)s to %(hi)s, got %(value)r": "%(path)s ต้องเป็นหมายเลขขา BCM ตั้งแต่ %(lo)s ถึง %(hi)s (ได้รับ %(value)r)",
    "%(path)s must be an object of pin numbers, got %(value)r": "%(path)s ต้องเป็นออบเจ็กต์ของหมายเลขขา (ได้รับ %(value)r)",
    "%(path)s is not a pin setting; known: %(known)s": "%(path)s ไม่ใช่การตั้งค่าขา GPIO (ที่มี: %(known)s)",
    "%(path)s must be true or false, got %(value)r": "%(path)s ต้องเป็น true หรือ false (ได้รับ %(value)r)",
    "%(path)s must be three pins [red, green, blue], got %(value)r": "%(path)s ต้องเป็นขาสามขา [แดง, เขียว, น้ำเงิน] (ได้รับ %(value)r)",
    "%(path)s: rgb replaces the green, red and amber LEDs; set %(name)s to null": "%(path)s: rgb ใช้แทนไฟ LED สีเขียว แดง และเหลือง กรุณาตั้ง %(name)s เป็น null",
    "%(path)s: GPIO%(pin)s is already used for %(other)s": "%(path)s: GPIO%(pin)s ถูกใช้กับ %(other)s แล้ว",
    "%(path)s must be an object with th, en and timezone, got %(value)r": "%(path)s ต้องเป็นออบเจ็กต์ที่มี th, en และ timezone (ได้รับ %(value)r)",
    "%(path)s must be an object of weekdays, got %(value)r": "%(path)s ต้องเป็นออบเจ็กต์ของวันในสัปดาห์ (ได้รับ %(value)r)",
    "%(path)s is not a weekday; known: %(known)s": "%(path)s ไม่ใช่วันในสัปดาห์ (ที่มี: %(known)s)",
    "%(path)s must be HH:MM-HH:MM or closed, got %(value)r": "%(path)s ต้องอยู่ในรูปแบบ HH:MM-HH:MM หรือ closed (ได้รับ %(value)r)",
    # ... raised by the console and the API themselves
    "%(field)s must be a number, got %(value)r": "%(field)s ต้องเป็นตัวเลข (ได้รับ %(value)r)",
    "pins: not valid JSON": "ขา GPIO: ไม่ใช่ JSON ที่ถูกต้อง",
    "pins must be name=number pairs": "ขา GPIO ต้องเขียนเป็นคู่ ชื่อ=หมายเลข",
    "pins: write name=number, got %(part)r": "ขา GPIO: ให้เขียนเป็น ชื่อ=หมายเลข (ได้รับ %(part)r)",
    "activity must be one of %(activities)s": "กิจกรรมต้องเป็น %(activities)s เท่านั้น",
    "date must be YYYY-MM-DD": "วันที่ต้องอยู่ในรูปแบบ YYYY-MM-DD",
    "dates must be YYYY-MM-DD": "วันที่ต้องอยู่ในรูปแบบ YYYY-MM-DD",
    "report dates must lie between %(first)s and %(last)s, got %(day)s": (
        "วันที่ของรายงานต้องอยู่ระหว่าง %(first)s ถึง %(last)s แต่ได้รับ %(day)s"
    ),
    "Devices with doubtful tap times": "อุปกรณ์ที่เวลาการแตะบัตรน่าสงสัย",
    "an event in the future cannot be credited yet": "กิจกรรมที่ยังไม่ถึงวันจัดยังให้คะแนนไม่ได้",
    "%(activity)s is not credited at the counter": "กิจกรรม %(activity)s ไม่ได้ให้คะแนนที่เคาน์เตอร์",
    "send a JSON object body with Content-Type: application/json": "กรุณาส่งข้อมูลเป็นออบเจ็กต์ JSON พร้อม Content-Type: application/json",
    "unknown field(s): %(fields)s": "ไม่รู้จักช่องข้อมูล: %(fields)s",
    "no report %(name)s; known: %(known)s": "ไม่พบรายงาน %(name)s (ที่มี: %(known)s)",
    "from/to must be YYYY-MM-DD": "from/to ต้องอยู่ในรูปแบบ YYYY-MM-DD",
    # attendance imports as background jobs (server.services.attendance, server.web.jobs)
    "%(done)s of %(total)s rows": "%(done)s จาก %(total)s แถว",
    "At most %(rows)s rows.": "ไม่เกิน %(rows)s แถว",
    "Checking the list…": "กำลังตรวจรายชื่อ…",
    "Crediting the list…": "กำลังให้คะแนนตามรายชื่อ…",
    "Crediting started: this page shows its progress.": "เริ่มให้คะแนนแล้ว ดูความคืบหน้าได้ที่หน้านี้",
    "Gates keep working meanwhile. This page refreshes itself; you may leave it and come back.": (
        "ประตูยังทำงานตามปกติระหว่างนี้ หน้านี้จะปรับปรุงเอง ออกจากหน้านี้แล้วกลับมาดูภายหลังได้"
    ),
    "Showing %(shown)s of %(total)s rows: the first rows and the first errors; the counts above are complete.": (
        "แสดง %(shown)s จาก %(total)s แถว (แถวแรก ๆ และข้อผิดพลาดแรก ๆ) ส่วนจำนวนด้านบนนับครบทุกแถว"
    ),
    "The import stopped": "การนำเข้าหยุดลง",
    "This list is being credited.": "รายชื่อนี้กำลังให้คะแนนอยู่",
    "attendance file has more than %(limit)s rows; split it into lists of at most %(limit)s rows": (
        "ไฟล์รายชื่อมีเกิน %(limit)s แถว กรุณาแบ่งเป็นไฟล์ละไม่เกิน %(limit)s แถว"
    ),
    "%(n)s attendance import(s) already running for the %(role)s role (at most %(limit)s at once); "
    "try again when it has finished": (
        "มีการนำเข้ารายชื่อของบทบาท %(role)s ทำงานอยู่ %(n)s รายการ (พร้อมกันได้ไม่เกิน %(limit)s) กรุณาลองใหม่เมื่อรายการเดิมเสร็จแล้ว"
    ),
    "no import job %(id)s": "ไม่พบงานนำเข้า %(id)s",
    "the import stopped on an unexpected error (%(error)s)": "การนำเข้าหยุดเพราะข้อผิดพลาดที่ไม่คาดคิด (%(error)s)",
    "csv must be a string": "csv ต้องเป็นข้อความ",
    "wait must be a number of seconds from 0 to 30": "wait ต้องเป็นจำนวนวินาที 0 ถึง 30",
    # careless input refused (issue 11)
    "a date more than %(days)s days ago cannot be credited (%(day)s)": ("ให้คะแนนย้อนหลังเกิน %(days)s วันไม่ได้ (%(day)s)"),
    "a name must contain at least one visible character": "ชื่อต้องมีตัวอักษรที่มองเห็นได้อย่างน้อยหนึ่งตัว",
    "a name must not contain control characters": "ชื่อต้องไม่มีอักขระควบคุม",
    "e-mail must be an address like name@example.org of at most 254 characters": (
        "อีเมลต้องอยู่ในรูปแบบ name@example.org และยาวไม่เกิน 254 ตัวอักษร"
    ),
    "points must be a whole number, got %(points)r": "คะแนนต้องเป็นจำนวนเต็ม (ได้รับ %(points)r)",
    # genuine cards: NTAG 424 DNA Secure Unique NFC (issue 15)
    "Genuine cards": "บัตรของแท้",
    "Active cards secured with NTAG 424 DNA: %(n)s; still identified by UID only (can be copied): %(m)s.": (
        "บัตรที่ใช้งานและป้องกันด้วย NTAG 424 DNA: %(n)s ใบ; ยังระบุด้วย UID อย่างเดียว (ถูกคัดลอกได้): %(m)s ใบ"
    ),
    "Suspected clones": "บัตรที่สงสัยว่าถูกคัดลอก",
    "The card's read counter went backwards: a recorded URL or a copied card was tapped.": (
        "ตัวนับการอ่านของบัตรลดลง: มีการแตะด้วย URL ที่ถูกบันทึกไว้หรือบัตรที่ถูกคัดลอก"
    ),
    "Since": "ตั้งแต่",
    "card %(uid)s is not a 7-byte UID: NTAG 424 DNA cards have 7-byte UIDs": (
        "บัตร %(uid)s ไม่ใช่ UID ขนาด 7 ไบต์: บัตร NTAG 424 DNA มี UID 7 ไบต์"
    ),
    "give both --meta-key and --file-key, or neither (keys diversified from the master key)": (
        "ต้องระบุทั้ง --meta-key และ --file-key หรือไม่ระบุเลย (ใช้กุญแจที่สร้างจากกุญแจหลัก)"
    ),
    "no card key file: give --card-keys PATH or set PRIVCARD_CARD_KEYS": (
        "ไม่มีไฟล์กุญแจบัตร: ระบุ --card-keys PATH หรือตั้งค่า PRIVCARD_CARD_KEYS"
    ),
    "%(option)s must be 32 hex digits (an AES-128 key)": "%(option)s ต้องเป็นเลขฐานสิบหก 32 หลัก (กุญแจ AES-128)",
    "the card key file has no kek (key-encryption key): imported keys cannot be stored": (
        "ไฟล์กุญแจบัตรไม่มี kek (กุญแจเข้ารหัสกุญแจ): เก็บกุญแจที่นำเข้าไม่ได้"
    ),
    "the card key file has no master key: give --meta-key and --file-key": (
        "ไฟล์กุญแจบัตรไม่มีกุญแจหลัก: ระบุ --meta-key และ --file-key"
    ),
    # the library system (ILS) on the console: member panel, patron id, fine-discount outcome, pending payments
    "Library patron ID": "รหัสผู้ใช้ห้องสมุด",
    "the barcode or student number the library system knows": "บาร์โค้ดหรือรหัสนักศึกษาที่ระบบห้องสมุดใช้",
    "Library system (ILS)": "ระบบห้องสมุด (ILS)",
    "library system not reachable": "ระบบห้องสมุดไม่ตอบสนอง",
    "Points and taps are not affected; a fine discount redeemed now stays pending until the library system answers.": (
        "คะแนนและการแตะบัตรใช้ได้ตามปกติ ส่วนลดค่าปรับที่แลกตอนนี้จะรอดำเนินการจนกว่าระบบห้องสมุดจะตอบกลับ"
    ),
    "Patron": "ผู้ใช้บริการ",
    "valid": "ใช้ได้",
    "not valid": "ใช้ไม่ได้",
    "Fines owed": "ค่าปรับค้างชำระ",
    "On loan": "กำลังยืม",
    "Overdue": "เกินกำหนดส่ง",
    "Borrowing": "การยืม",
    "allowed": "ยืมได้",
    "The library system says": "ข้อความจากระบบห้องสมุด",
    "The library system says: %(message)s": "ข้อความจากระบบห้องสมุด: %(message)s",
    "may not borrow": "ระงับสิทธิการยืม",
    "may not renew": "ระงับสิทธิการยืมต่อ",
    "may not recall": "ระงับสิทธิการเรียกคืน",
    "may not place holds": "ระงับสิทธิการจอง",
    "card reported lost": "แจ้งบัตรหาย",
    "too many items on loan": "ยืมเกินจำนวนที่กำหนด",
    "too many items overdue": "มีรายการเกินกำหนดส่งมากเกินไป",
    "too many renewals": "ยืมต่อมากเกินไป",
    "too many claims of items returned": "แจ้งว่าคืนแล้วมากเกินไป",
    "too many items lost": "ทำหนังสือหายมากเกินไป",
    "excessive outstanding fines": "ค่าปรับค้างชำระเกินกำหนด",
    "excessive outstanding fees": "ค่าธรรมเนียมค้างชำระเกินกำหนด",
    "recall overdue": "เกินกำหนดส่งคืนตามที่เรียกคืน",
    "too many items billed": "มีรายการที่ถูกเรียกเก็บเงินมากเกินไป",
    "The library system confirmed the payment (%(transaction)s).": "ระบบห้องสมุดยืนยันการชำระแล้ว (%(transaction)s)",
    "The library system refused the payment (%(transaction)s); the points were given back.": (
        "ระบบห้องสมุดปฏิเสธการชำระ (%(transaction)s) คืนคะแนนให้แล้ว"
    ),
    "The library system did not answer: the payment (%(transaction)s) is pending and will be sent again until it is settled.": (
        "ระบบห้องสมุดไม่ตอบกลับ การชำระ (%(transaction)s) รอดำเนินการ และจะส่งซ้ำจนกว่าจะเสร็จสิ้น"
    ),
    "ILS payments": "ชำระผ่าน ILS",
    "Pending ILS payments": "การชำระค่าปรับที่รอระบบห้องสมุด",
    "Fine discounts redeemed here and sent to the library system as Fee Paid, with no answer yet. The server settles them in the background: it first asks the library system for the patron's fines — down by the payment, it was made; unchanged, it is sent again with the same transaction id (BK). When the fines changed some other way, the payment waits here: check the patron's account in the library system, then mark it paid or not paid.": (
        "ส่วนลดค่าปรับที่แลกแล้วและส่งไปยังระบบห้องสมุด (Fee Paid) แต่ยังไม่ได้รับคำตอบ "
        "เซิร์ฟเวอร์จะดำเนินการเองเป็นระยะ: ถามยอดค่าปรับของผู้ใช้จากระบบห้องสมุดก่อน — ถ้าลดลงเท่ายอดที่ชำระ แสดงว่าชำระแล้ว "
        "ถ้าไม่เปลี่ยน จะส่งซ้ำด้วยรหัสรายการ (BK) เดิม ถ้ายอดเปลี่ยนไปด้วยเหตุอื่น รายการจะรออยู่ที่นี่: "
        "ตรวจสอบบัญชีของผู้ใช้ในระบบห้องสมุด แล้วระบุว่าชำระแล้วหรือไม่ได้ชำระ"
    ),
    "In the library system": "ในระบบห้องสมุด",
    "Paid": "ชำระแล้ว",
    "Not paid": "ไม่ได้ชำระ",
    "Mark %(transaction)s paid in the library system?": "ยืนยันว่า %(transaction)s ชำระในระบบห้องสมุดแล้ว?",
    "Mark %(transaction)s not paid and give the %(points)s points back?": "ยืนยันว่า %(transaction)s ไม่ได้ชำระ และคืน %(points)s คะแนน?",
    "Payment %(transaction)s marked paid in the library system.": "บันทึกแล้วว่า %(transaction)s ชำระในระบบห้องสมุดแล้ว",
    "Payment %(transaction)s marked not paid: the points are given back.": "บันทึกแล้วว่า %(transaction)s ไม่ได้ชำระ คืนคะแนนให้แล้ว",
    "Transaction (BK)": "รหัสรายการ (BK)",
    "Attempts": "จำนวนครั้งที่ส่ง",
    "Last error": "ข้อผิดพลาดล่าสุด",
    "No payment is pending: the library system has answered every one.": "ไม่มีรายการรอดำเนินการ ระบบห้องสมุดตอบกลับครบทุกรายการแล้ว",
    "Settle now": "ดำเนินการตอนนี้",
    "no library system (ILS) is configured": "ยังไม่ได้ตั้งค่าระบบห้องสมุด (ILS)",
    "No payment was pending.": "ไม่มีรายการที่รอดำเนินการ",
    "Sent again: %(confirmed)s confirmed, %(refused)s refused (points given back), %(pending)s still pending.": (
        "ส่งซ้ำแล้ว: ยืนยัน %(confirmed)s รายการ ปฏิเสธ %(refused)s รายการ (คืนคะแนนแล้ว) ยังรอ %(pending)s รายการ"
    ),
    # the library system link (issue 12: server.services.ils, members' patron_id)
    "library system not reachable: %(detail)s": "ติดต่อระบบห้องสมุดไม่ได้: %(detail)s",
    "no library system is configured ([ils] url in the config, --ils or PRIVCARD_ILS)": (
        "ยังไม่ได้ตั้งค่าระบบห้องสมุด ([ils] url ในไฟล์ตั้งค่า, --ils หรือ PRIVCARD_ILS)"
    ),
    "a fine discount of %(baht)s baht is more than the fines the library system reports (%(fines)s baht)": (
        "ส่วนลดค่าปรับ %(baht)s บาท มากกว่าค่าปรับที่ระบบห้องสมุดแจ้ง (%(fines)s บาท)"
    ),
    "member %(id)s has no patron_id (member set %(id)s patron_id=...)": (
        "สมาชิก %(id)s ยังไม่มีรหัสผู้ใช้ห้องสมุด (member set %(id)s patron_id=...)"
    ),
    "member %(id)s's patron_id changed meanwhile; try again": ("รหัสผู้ใช้ห้องสมุดของสมาชิก %(id)s เพิ่งถูกเปลี่ยน กรุณาลองใหม่"),
    "no member with patron_id %(ref)r": "ไม่พบสมาชิกที่มีรหัสผู้ใช้ห้องสมุด %(ref)r",
    "patron_id %(patron)s already belongs to member %(id)s": "รหัสผู้ใช้ห้องสมุด %(patron)s เป็นของสมาชิก %(id)s แล้ว",
    "patron_id must be 1-64 printable characters without |, got %(value)r": (
        "รหัสผู้ใช้ห้องสมุดต้องเป็นอักขระที่พิมพ์ได้ 1-64 ตัว และไม่มี | ได้รับ %(value)r"
    ),
    "the library system does not know patron %(patron)s": "ระบบห้องสมุดไม่รู้จักผู้ใช้ %(patron)s",
    "no ILS payment %(transaction)s": "ไม่พบรายการชำระค่าปรับ %(transaction)s",
    "ILS payment %(transaction)s is being sent to the library system right now; try again in a minute": (
        "รายการชำระค่าปรับ %(transaction)s กำลังส่งไปยังระบบห้องสมุดอยู่ กรุณาลองใหม่ในอีกหนึ่งนาที"
    ),
    "ILS payment %(transaction)s is already %(status)s": "รายการชำระค่าปรับ %(transaction)s เป็น %(status)s แล้ว",
    "say why the payment was reversed: the reason is kept in the ledger and the audit log": (
        "กรุณาระบุเหตุผลที่ยกเลิกการชำระ: เหตุผลจะบันทึกไว้ในบัญชีคะแนนและบันทึกการใช้งาน"
    ),
    "the reason is too long (at most %(n)s characters)": "เหตุผลยาวเกินไป (ไม่เกิน %(n)s ตัวอักษร)",
    "ILS payment %(transaction)s has no answer yet: settle it by the library system's records "
    "(ils resolve) before it can be reversed": (
        "รายการชำระค่าปรับ %(transaction)s ยังไม่ได้คำตอบจากระบบห้องสมุด: "
        "ปิดรายการตามบันทึกของระบบห้องสมุด (ils resolve) ก่อนจึงจะยกเลิกได้"
    ),
    "reversed in the library system: %(transaction)s; the %(points)s points are back, balance %(balance)s": (
        "ยกเลิกการชำระในระบบห้องสมุดแล้ว: %(transaction)s คืน %(points)s คะแนนแล้ว คะแนนคงเหลือ %(balance)s คะแนน"
    ),
    # sites (issue 16)
    "Activities changed at this site": "กิจกรรมที่สาขานี้กำหนดเอง",
    "All my sites, combined": "ทุกสาขาของฉัน รวมกัน",
    "All sites, combined": "ทุกสาขา รวมกัน",
    "Closures": "วันปิดทำการ",
    "Edit sites": "แก้ไขสาขา",
    "Home site": "สาขาต้นสังกัด",
    "Opening hours": "เวลาเปิดทำการ",
    "Own rules": "กติกาเฉพาะสาขา",
    "Partner shops": "ร้านค้าพันธมิตร",
    "Programme administrator: every site": "ผู้ดูแลโครงการ: ทุกสาขา",
    "Site": "สาขา",
    "Sites": "สาขา",
    "Sites (none ticked: every site)": "สาขา (ไม่เลือก = ทุกสาขา)",
    "Sites are a section of the programme: add or change them in the programme's sites section.": "สาขาเป็นส่วนหนึ่งของโครงการ: เพิ่มหรือแก้ไขได้ที่ส่วน sites ของโครงการ",
    "Sites of %(name)s saved.": "บันทึกสาขาของ %(name)s แล้ว",
    "The programme's activities, unchanged.": "ใช้กิจกรรมของโครงการตามเดิม",
    "The programme's partner shops.": "ใช้ร้านค้าพันธมิตรของโครงการ",
    "This member's home site is not one of your sites: their details are changed there.": "สาขาต้นสังกัดของสมาชิกนี้ไม่ใช่สาขาของคุณ: แก้ไขข้อมูลสมาชิกได้ที่สาขาต้นสังกัด",
    "This site's reports": "รายงานของสาขานี้",
    "Time zone": "เขตเวลา",
    "Today's hours": "เวลาเปิดวันนี้",
    "Your sites": "สาขาของคุณ",
    "every site": "ทุกสาขา",
    "own partner shops": "มีร้านค้าพันธมิตรของตนเอง",
    "mon": "จันทร์",
    "tue": "อังคาร",
    "wed": "พุธ",
    "thu": "พฤหัสบดี",
    "fri": "ศุกร์",
    "sat": "เสาร์",
    "sun": "อาทิตย์",
    "unknown site %(site)r; known: %(known)s": "ไม่รู้จักสาขา %(site)r; สาขาที่มี: %(known)s",
    "site %(site)s is outside your sites": "สาขา %(site)s ไม่อยู่ในสาขาที่คุณดูแล",
    "%(day)s has not begun yet at site %(site)s: its entries cannot be credited yet": "ที่สาขา %(site)s ยังไม่ถึงวันที่ %(day)s จึงยังให้คะแนนรายการของวันนั้นไม่ได้",
    "no site %(code)s": "ไม่พบสาขา %(code)s",
    "my site, else the member's home site": "สาขาของฉัน หรือสาขาต้นสังกัดของสมาชิก",
    "privcard admin %(command)s needs the admin role; %(name)s is staff": "privcard admin %(command)s ต้องใช้บทบาทผู้ดูแลระบบ (admin); %(name)s เป็นเจ้าหน้าที่ (staff)",
    "privcard admin %(command)s is the whole programme's; %(name)s works for sites %(sites)s": "privcard admin %(command)s เป็นคำสั่งของทั้งโครงการ; %(name)s ดูแลเฉพาะสาขา %(sites)s",
    "use --as or --actor, not both": "ใช้ --as หรือ --actor อย่างใดอย่างหนึ่ง ไม่ใช่ทั้งสองอย่าง",
    "--server-account and --force are the programme administrator's": "--server-account และ --force ใช้ได้เฉพาะผู้ดูแลโครงการ",
    "no member %(ref)s": "ไม่พบสมาชิก %(ref)s",
    "no event %(id)s": "ไม่พบกิจกรรม %(id)s",
    "no event %(name)s": "ไม่พบกิจกรรม %(name)s",
    "no upload %(id)s": "ไม่พบรายชื่อที่อัปโหลด %(id)s",
    "the programme was not changed: site %(site)s is used by devices %(devices)s: "
    "move them to another site or retire them first": "ไม่ได้เปลี่ยนโปรแกรม: สาขา %(site)s ยังมีอุปกรณ์ %(devices)s ใช้อยู่ "
    "ย้ายอุปกรณ์ไปสาขาอื่นหรือเลิกใช้ก่อน",
    "no staff account %(id)s": "ไม่พบบัญชีเจ้าหน้าที่ %(id)s",
    # lifting a kiosk staff PIN lock-out (privcard admin staff unlock-pin, the Staff page)
    "member #%(id)s has no staff PIN lock-out": "สมาชิก #%(id)s ไม่ได้ถูกล็อก PIN เจ้าหน้าที่",
    "member #%(id)s has no staff PIN lock-out on %(device)s": "สมาชิก #%(id)s ไม่ได้ถูกล็อก PIN เจ้าหน้าที่ที่ %(device)s",
    "Kiosk staff PIN lock-outs": "การล็อก PIN เจ้าหน้าที่ที่ตู้คีออสก์",
    "Kiosk": "ตู้คีออสก์",
    "No staff card is locked out on a kiosk.": "ไม่มีบัตรเจ้าหน้าที่ถูกล็อกที่ตู้คีออสก์",
    "Staff PIN lock-out of member #%(id)s lifted on %(devices)s.": "ปลดล็อก PIN เจ้าหน้าที่ของสมาชิก #%(id)s ที่ %(devices)s แล้ว",
    # the JSON API's own refusals (server.web.auth.API_ERRORS), in "error_th"
    "sign in or send 'Authorization: Bearer <token>'": "กรุณาเข้าสู่ระบบ หรือส่ง 'Authorization: Bearer <token>'",
    "this account must change its password on the console's Account page first": "บัญชีนี้ต้องเปลี่ยนรหัสผ่านที่หน้าบัญชีของคอนโซลก่อน",
    "CSRF check failed: %(reason)s": "การตรวจสอบ CSRF ไม่ผ่าน: %(reason)s",
    "admin role required": "ต้องใช้บทบาทผู้ดูแลระบบ (admin)",
    "not found": "ไม่พบ",
    "request too large": "คำขอมีขนาดใหญ่เกินไป",
    "internal server error": "เกิดข้อผิดพลาดภายในเซิร์ฟเวอร์",
    "this is the whole programme's; your account works for some sites": "รายการนี้เป็นของทั้งโครงการ บัญชีของคุณดูแลเฉพาะบางสาขา",
    "bad request": "คำขอไม่ถูกต้อง",
    "unauthorized": "ยังไม่ได้ยืนยันตัวตน",
    "forbidden": "ไม่มีสิทธิ์",
    "method not allowed": "ไม่อนุญาตให้ใช้เมธอดนี้",
    "not acceptable": "ไม่สามารถตอบในรูปแบบที่ขอได้",
    "request timeout": "คำขอหมดเวลา",
    "conflict": "ข้อมูลขัดแย้งกัน",
    "gone": "ไม่มีอยู่แล้ว",
    "unsupported media type": "ไม่รองรับชนิดข้อมูลนี้",
    "too many requests": "คำขอมากเกินไป",
    "service unavailable": "บริการไม่พร้อมใช้งาน",
    "A staff card is locked out on a kiosk after 5 wrong PINs; unlock it here once you know who typed them.": "บัตรเจ้าหน้าที่จะถูกล็อกที่ตู้คีออสก์เมื่อใส่ PIN ผิด 5 ครั้ง ปลดล็อกได้ที่นี่เมื่อทราบแล้วว่าใครเป็นผู้ใส่",
    # configuration errors: the programme file, [ils] and [mail] (the command lines print the Thai under the English)
    "cannot write %(value)r as TOML": "เขียน %(value)r เป็น TOML ไม่ได้",
    "%(where)s must be an integer >= %(minimum)s, got %(value)r": "%(where)s ต้องเป็นจำนวนเต็มตั้งแต่ %(minimum)s ขึ้นไป (ได้รับ %(value)r)",
    "%(where)s must be a non-empty string, got %(value)r": "%(where)s ต้องเป็นข้อความที่ไม่ว่าง (ได้รับ %(value)r)",
    "%(where)s must be a table, got %(value)r": "%(where)s ต้องเป็นตาราง (table) (ได้รับ %(value)r)",
    "%(where)s must be a list (an array of tables), got %(value)r": "%(where)s ต้องเป็นรายการ (array of tables) (ได้รับ %(value)r)",
    "%(where)s must be 'HH:MM-HH:MM' or 'closed', got %(text)r": "%(where)s ต้องเป็น 'HH:MM-HH:MM' หรือ 'closed' (ได้รับ %(text)r)",
    "%(where)s: closing time after 24:00": "%(where)s: เวลาปิดเกิน 24:00",
    "%(where)s: closing %(closing)s is not after opening %(opening)s": "%(where)s: เวลาปิด %(closing)s ไม่ได้อยู่หลังเวลาเปิด %(opening)s",
    "%(where)s.levels must be a non-empty list": "%(where)s.levels ต้องเป็นรายการที่ไม่ว่าง",
    "%(w)s: activity codes are lower-case letters, digits and _, up to 40": "%(w)s: รหัสกิจกรรมต้องเป็นอักษรอังกฤษตัวเล็ก ตัวเลข และ _ ไม่เกิน 40 ตัว",
    "%(w)s must be a table": "%(w)s ต้องเป็นตาราง (table)",
    "%(w)s.limit must be one of %(options)s, got %(limit)r": "%(w)s.limit ต้องเป็นหนึ่งใน %(options)s (ได้รับ %(limit)r)",
    "%(w)s.direction must be in or out, got %(direction)r": "%(w)s.direction ต้องเป็น in (ประตูทางเข้า) หรือ out (ประตูทางออก) (ได้รับ %(direction)r)",
    "%(w)s.retired must be true or false, got %(retired)r": "%(w)s.retired ต้องเป็น true หรือ false (ได้รับ %(retired)r)",
    "%(w)s.scope must be one of %(options)s, got %(scope)r": "%(w)s.scope ต้องเป็นหนึ่งใน %(options)s (ได้รับ %(scope)r)",
    "%(w)s: unknown key(s) %(unknown)s": "%(w)s: ไม่รู้จักคีย์ %(unknown)s",
    "%(w)s.tolerance_s must be at most 86400 (one day), got %(tolerance)s": "%(w)s.tolerance_s ต้องไม่เกิน 86400 (หนึ่งวัน) (ได้รับ %(tolerance)s)",
    "%(w)s.otherwise must be one of %(options)s, got %(otherwise)r": "%(w)s.otherwise ต้องเป็นหนึ่งใน %(options)s (ได้รับ %(otherwise)r)",
    "unknown section(s) %(unknown)s; known: %(known)s": "ไม่รู้จักส่วน %(unknown)s (ที่มี: %(known)s)",
    "hours: unknown key(s) %(unknown)s; use mon..sun or default": "hours: ไม่รู้จักคีย์ %(unknown)s ใช้ mon..sun หรือ default",
    "rules.staff_pin_lockout_minutes must be at most %(max)s (a day), got %(value)r": "rules.staff_pin_lockout_minutes ต้องไม่เกิน %(max)s (หนึ่งวัน) (ได้รับ %(value)r)",
    "activities must be a table": "activities ต้องเป็นตาราง (table)",
    "tiers must define exactly silver and gold": "tiers ต้องกำหนด silver และ gold เท่านั้น",
    "privileges.basis must be one of %(options)s, got %(basis)r": "privileges.basis ต้องเป็นหนึ่งใน %(options)s (ได้รับ %(basis)r)",
    "feedback.book_request_points must be at most %(max)s, got %(value)r": "feedback.book_request_points ต้องไม่เกิน %(max)s (ได้รับ %(value)r)",
    "terms.default must be one of %(options)s, got %(default)r": "terms.default ต้องเป็นหนึ่งใน %(options)s (ได้รับ %(default)r)",
    "terms.on_expiry must be one of %(options)s, got %(on_expiry)r": "terms.on_expiry ต้องเป็นหนึ่งใน %(options)s (ได้รับ %(on_expiry)r)",
    "%(w)s.multiplier must be a number above 0 and at most 10, got %(mult)r": "%(w)s.multiplier ต้องเป็นตัวเลขมากกว่า 0 และไม่เกิน 10 (ได้รับ %(mult)r)",
    "%(w)s.groups must be a list of group codes, got %(groups)r": "%(w)s.groups ต้องเป็นรายการรหัสกลุ่ม (ได้รับ %(groups)r)",
    "%(where)s.shops must be a list of shop names": "%(where)s.shops ต้องเป็นรายการชื่อร้านค้า",
    "%(where)s.shops: a shop is listed twice": "%(where)s.shops: มีร้านค้าซ้ำกัน",
    "%(where)s must be a list of 'YYYY-MM-DD' dates, got %(value)r": "%(where)s ต้องเป็นรายการวันที่แบบ 'YYYY-MM-DD' (ได้รับ %(value)r)",
    "library.default_site must be a site code (A-Z, 0-9, _; up to 16), got %(default)r": "library.default_site ต้องเป็นรหัสสาขา (A-Z, 0-9, _ ไม่เกิน 16 ตัว) (ได้รับ %(default)r)",
    "library.default_site: no site %(default)r; known: %(known)s": "library.default_site: ไม่มีสาขา %(default)r (ที่มี: %(known)s)",
    "%(section)s: the text may only hold [%(section)s], it also holds %(other)s": "%(section)s: ข้อความต้องมีเฉพาะ [%(section)s] แต่มี %(other)s ด้วย",
    "unknown site %(code)r; known: %(known)s": "ไม่รู้จักสาขา %(code)r (ที่มี: %(known)s)",
    "%(where)s: unknown key(s) %(unknown)s; known: %(known)s": "%(where)s: ไม่รู้จักคีย์ %(unknown)s (ที่มี: %(known)s)",
    "%(w)s.points must increase (%(pts)s after %(last)s)": "%(w)s.points ต้องเพิ่มขึ้น (%(pts)s อยู่หลัง %(last)s)",
    "%(w)s.window must be 'before_close:MINUTES', got %(window)r": "%(w)s.window ต้องเป็น 'before_close:นาที' (ได้รับ %(window)r)",
    "%(w)s.%(key)s must be 'MM-DD', got %(value)r": "%(w)s.%(key)s ต้องเป็น 'MM-DD' (ได้รับ %(value)r)",
    "library.timezone: unknown time zone %(tzname)r": "library.timezone: ไม่รู้จักเขตเวลา %(tzname)r",
    "activities.%(needed)s is required": "ต้องมี activities.%(needed)s",
    "%(w)s: bad reward": "%(w)s: ของรางวัลไม่ถูกต้อง",
    "%(w)s needs points or step_points": "%(w)s ต้องมี points หรือ step_points",
    "%(w)s: a group code is 1-8 letters, digits or _": "%(w)s: รหัสกลุ่มต้องเป็นตัวอักษร ตัวเลข หรือ _ จำนวน 1-8 ตัว",
    "%(w)s.term must be one of %(options)s, got %(term)r": "%(w)s.term ต้องเป็นหนึ่งใน %(options)s (ได้รับ %(term)r)",
    "%(w)s.points.%(act)s: unknown activity; known: %(known)s": "%(w)s.points.%(act)s: ไม่รู้จักกิจกรรมนี้ (ที่มี: %(known)s)",
    "%(w)s.groups: unknown group %(g)r; known: %(known)s": "%(w)s.groups: ไม่รู้จักกลุ่ม %(g)r (ที่มี: %(known)s)",
    "%(where)s.aliases.%(old)s must name a shop in %(where)s.shops, got %(new)r": "%(where)s.aliases.%(old)s ต้องเป็นชื่อร้านใน %(where)s.shops (ได้รับ %(new)r)",
    "%(where)s.aliases.%(old)s is itself a shop's name": "%(where)s.aliases.%(old)s เป็นชื่อร้านค้าอยู่แล้ว",
    "config file not found: %(path)s": "ไม่พบไฟล์การตั้งค่า: %(path)s",
    "%(path)s: not valid TOML: %(why)s": "%(path)s: ไม่ใช่ TOML ที่ถูกต้อง: %(why)s",
    "%(w)s: a site code is upper-case letters, digits and _, up to 16, starting with a letter": "%(w)s: รหัสสาขาต้องเป็นอักษรอังกฤษตัวใหญ่ ตัวเลข และ _ ไม่เกิน 16 ตัว ขึ้นต้นด้วยตัวอักษร",
    "%(section)s: not valid TOML: %(why)s": "%(section)s: ไม่ใช่ TOML ที่ถูกต้อง: %(why)s",
    "unknown activity %(code)r; known: %(known)s": "ไม่รู้จักกิจกรรม %(code)r (ที่มี: %(known)s)",
    "%(w)s.%(kind)s must be one of %(options)s, got %(value)r": "%(w)s.%(kind)s ต้องเป็นหนึ่งใน %(options)s (ได้รับ %(value)r)",
    "%(where)s[%(i)s] must be a 'YYYY-MM-DD' date, got %(text)r": "%(where)s[%(i)s] ต้องเป็นวันที่แบบ 'YYYY-MM-DD' (ได้รับ %(text)r)",
    "%(where)s: %(minutes)s minutes before closing is outside the opening hours of %(day)s (%(hours)s)": "%(where)s: %(minutes)s นาทีก่อนปิดอยู่นอกเวลาเปิดของ%(day)s (%(hours)s)",
    "%(w)s.timezone: unknown time zone %(tzname)r": "%(w)s.timezone: ไม่รู้จักเขตเวลา %(tzname)r",
    "ils.%(key)s must be a whole number, got %(value)r": "ils.%(key)s ต้องเป็นจำนวนเต็ม (ได้รับ %(value)r)",
    "ils.%(key)s must be a number, got %(value)r": "ils.%(key)s ต้องเป็นตัวเลข (ได้รับ %(value)r)",
    "ils.%(key)s must be between %(lo)s and %(hi)s, got %(value)r": "ils.%(key)s ต้องอยู่ระหว่าง %(lo)s ถึง %(hi)s (ได้รับ %(value)r)",
    'ils.%(key)s must be two digits as a string (e.g. "%(default)s"), got %(value)r': 'ils.%(key)s ต้องเป็นตัวเลขสองหลักในรูปข้อความ (เช่น "%(default)s") (ได้รับ %(value)r)',
    "ils.url must be a sip2:// or sip2s:// URL": "ils.url ต้องเป็น URL แบบ sip2:// หรือ sip2s://",
    "ils.url: scheme must be sip2 or sip2s, got %(got)r": "ils.url: scheme ต้องเป็น sip2 หรือ sip2s (ได้รับ %(got)r)",
    "ils.url: no host": "ils.url: ไม่มีชื่อโฮสต์",
    "ils.url: give the SIP login as LOGIN:PASSWORD@host": "ils.url: ใส่บัญชี SIP เป็น LOGIN:PASSWORD@host",
    "ils.url: unknown parameter(s) %(unknown)s; known: institution, location": "ils.url: ไม่รู้จักพารามิเตอร์ %(unknown)s (ที่มี: institution, location)",
    "ils.url: institution= is required (the SIP2 AO field, e.g. ?institution=WU)": "ils.url: ต้องมี institution= (ช่อง AO ของ SIP2 เช่น ?institution=WU)",
    "[ils] must be a table": "[ils] ต้องเป็นตาราง (table)",
    "ils: unknown key(s) %(unknown)s; known: %(known)s": "ils: ไม่รู้จักคีย์ %(unknown)s (ที่มี: %(known)s)",
    "ils.error_detection must be true or false, got %(detect)r": "ils.error_detection ต้องเป็น true หรือ false (ได้รับ %(detect)r)",
    'ils.currency must be a 3-letter code such as "THB", got %(currency)r': 'ils.currency ต้องเป็นรหัส 3 ตัวอักษร เช่น "THB" (ได้รับ %(currency)r)',
    "ils.categories must map tier names to category codes (strings)": "ils.categories ต้องจับคู่ชื่อระดับบัตรกับรหัสประเภทสมาชิก (ข้อความ)",
    "ils.tls_ca: no such file %(path)r": "ils.tls_ca: ไม่พบไฟล์ %(path)r",
    "ils must be a table ([ils])": "ils ต้องเป็นตาราง ([ils])",
    "ils.url: the port is not a number 1-65535": "ils.url: พอร์ตไม่ใช่ตัวเลข 1-65535",
    "ils.url is required when [ils] is given (or pass --ils / PRIVCARD_ILS)": "ต้องมี ils.url เมื่อมี [ils] (หรือใช้ --ils / PRIVCARD_ILS)",
    'ils.encoding: unknown encoding %(encoding)r (use "utf-8" or "cp850")': 'ils.encoding: ไม่รู้จักการเข้ารหัส %(encoding)r (ใช้ "utf-8" หรือ "cp850")',
    "ils.%(key)s must be a string": "ils.%(key)s ต้องเป็นข้อความ",
    "mail.%(key)s must be a whole number, got %(value)r": "mail.%(key)s ต้องเป็นจำนวนเต็ม (ได้รับ %(value)r)",
    "mail.%(key)s must be a number, got %(value)r": "mail.%(key)s ต้องเป็นตัวเลข (ได้รับ %(value)r)",
    "mail.%(key)s must be between %(lo)s and %(hi)s, got %(value)r": "mail.%(key)s ต้องอยู่ระหว่าง %(lo)s ถึง %(hi)s (ได้รับ %(value)r)",
    "mail.url: scheme must be smtp or smtps, got %(got)r": "mail.url: scheme ต้องเป็น smtp หรือ smtps (ได้รับ %(got)r)",
    "mail.url: no host": "mail.url: ไม่มีชื่อโฮสต์",
    "mail.url: unknown parameter(s) %(unknown)s; known: starttls": "mail.url: ไม่รู้จักพารามิเตอร์ %(unknown)s (ที่มี: starttls)",
    "mail.url: starttls must be 1 or 0, got %(starttls)r": "mail.url: starttls ต้องเป็น 1 หรือ 0 (ได้รับ %(starttls)r)",
    "mail.url: smtps:// is TLS from the start; starttls=1 is for smtp://": "mail.url: smtps:// ใช้ TLS ตั้งแต่ต้น starttls=1 ใช้กับ smtp:// เท่านั้น",
    "mail.url: give the login as USER:PASSWORD@host": "mail.url: ใส่บัญชีเป็น USER:PASSWORD@host",
    "mail must be a table ([mail])": "mail ต้องเป็นตาราง ([mail])",
    "mail: unknown key(s) %(unknown)s; known: %(known)s": "mail: ไม่รู้จักคีย์ %(unknown)s (ที่มี: %(known)s)",
    "mail.url must be an smtp:// or smtps:// URL": "mail.url ต้องเป็น URL แบบ smtp:// หรือ smtps://",
    'mail.from must be an address such as "Library <privcard@example.org>", got %(sender)r': 'mail.from ต้องเป็นที่อยู่อีเมล เช่น "Library <privcard@example.org>" (ได้รับ %(sender)r)',
    "mail.public_url must be an http(s):// URL, got %(public)r": "mail.public_url ต้องเป็น URL แบบ http(s):// (ได้รับ %(public)r)",
    "mail.url: the port is not a number 1-65535": "mail.url: พอร์ตไม่ใช่ตัวเลข 1-65535",
    "rules.import_files_keep_days must be at most %(max)s (ten years), got %(value)r": "rules.import_files_keep_days ต้องไม่เกิน %(max)s (สิบปี) (ได้รับ %(value)r)",
    # the codes a configuration error names, in words (server.domain.config: WEEKDAY_NAMES, CHOICE_WORDS)
    "Monday": "วันจันทร์",
    "Tuesday": "วันอังคาร",
    "Wednesday": "วันพุธ",
    "Thursday": "วันพฤหัสบดี",
    "Friday": "วันศุกร์",
    "Saturday": "วันเสาร์",
    "Sunday": "วันอาทิตย์",
    "only once": "ได้ครั้งเดียว",
    "once a day": "วันละครั้ง",
    "once a day per item": "วันละครั้งต่อรายการ",
    "no limit": "ไม่จำกัด",
    "the limit across every site": "จำกัดรวมทุกสาขา",
    "the limit at each site": "จำกัดแยกแต่ละสาขา",
    "back to the device's last offline period": "ย้อนหลังได้ถึงช่วงที่อุปกรณ์ออฟไลน์ครั้งล่าสุด",
    "back as far as max_tap_age_days": "ย้อนหลังได้ถึง max_tap_age_days",
    "only tolerance_s back": "ย้อนหลังได้เพียง tolerance_s",
    "counted at the time the server received it": "นับตามเวลาที่เซิร์ฟเวอร์ได้รับ",
    "the tap is refused": "ปฏิเสธการแตะบัตร",
    "points earned in the term": "คะแนนที่ได้รับในภาค/ปีการศึกษา",
    "the balance": "คะแนนคงเหลือ",
    "ends with the semester": "สิ้นสุดเมื่อจบภาคการศึกษา",
    "ends with the academic year": "สิ้นสุดเมื่อจบปีการศึกษา",
    "ends on a date staff type": "สิ้นสุดตามวันที่เจ้าหน้าที่กำหนด",
    "never ends": "ไม่มีวันหมดอายุ",
    "the points are kept": "คงคะแนนไว้",
    "the balance goes to 0": "ตัดคะแนนคงเหลือเป็น 0",
    "points multiplied": "คูณคะแนน",
    "bonus points": "คะแนนโบนัส",
    "a one-off activity": "กิจกรรมพิเศษครั้งเดียว",
    # campaign errors (server/domain/campaigns.py): the console's campaign form, and a programme
    # change a running campaign would no longer fit ("campaign %(code)s: %(why)s")
    "%(where)s must be 'YYYY-MM-DD HH:MM', got %(value)r": "%(where)s ต้องเป็น 'YYYY-MM-DD HH:MM' (ปี ค.ศ.) (ได้รับ %(value)r)",
    "%(where)s: bad entry %(item)r": "%(where)s: รายการไม่ถูกต้อง %(item)r",
    "%(where)s: unknown %(item)r; known: %(known)s": "%(where)s: ไม่รู้จัก %(item)r (ที่มี: %(known)s)",
    "code: lower-case letters, digits and _, up to 40, got %(code)r": "code: ต้องเป็นอักษรอังกฤษตัวเล็ก ตัวเลข และ _ ไม่เกิน 40 ตัว (ได้รับ %(code)r)",
    "kind must be one of %(options)s, got %(kind)r": "kind ต้องเป็นหนึ่งใน %(options)s (ได้รับ %(kind)r)",
    "th/en: a label of at most 200 characters": "th/en: ชื่อต้องยาวไม่เกิน 200 ตัวอักษร",
    "ends (%(ends)s) is before starts (%(starts)s)": "เวลาสิ้นสุด ends (%(ends)s) อยู่ก่อนเวลาเริ่ม starts (%(starts)s)",
    "code: %(code)r is already an activity of the programme": "code: %(code)r เป็นกิจกรรมของโครงการอยู่แล้ว",
    "limit must be one of %(options)s, got %(limit)r": "limit ต้องเป็นหนึ่งใน %(options)s (ได้รับ %(limit)r)",
    "multiplier must be a number from 1.01 to 10 (two decimals), got %(text)r": "multiplier ต้องเป็นตัวเลขตั้งแต่ 1.01 ถึง 10 (ทศนิยมไม่เกินสองตำแหน่ง) (ได้รับ %(text)r)",
    "%(where)s must be a whole number, got %(value)r": "%(where)s ต้องเป็นจำนวนเต็ม (ได้รับ %(value)r)",
    "%(where)s must be from %(lo)s to %(hi)s, got %(n)s": "%(where)s ต้องอยู่ระหว่าง %(lo)s ถึง %(hi)s (ได้รับ %(n)s)",
    "campaign %(code)s: %(why)s": "แคมเปญ %(code)s: %(why)s",
    # the command lines' own refusals (privcard admin prints the Thai under the English)
    "expected KEY=VALUE, got %(item)r": "ต้องเป็น KEY=VALUE (ได้รับ %(item)r)",
    "cannot read %(file)s: %(error)s": "อ่าน %(file)s ไม่ได้: %(error)s",
    "a device is called %(user)s, the name of the site's bridge account": "มีอุปกรณ์ชื่อ %(user)s ซึ่งเป็นชื่อบัญชี bridge ของสาขา",
}


#: the English of the codes templates show through ``_()`` (a tap's outcome, an activity's limit):
#: English is otherwise the source text itself, but a code with an underscore is not English
EN = {
    "limit_reached": "already credited today",
    "no_activity": "no activity",
    "unknown_card": "unknown card",
    "card_blocked": "card blocked",
    "card_not_genuine": "card not genuine",
    "per_day": "once a day",
    "per_item_per_day": "once a day per item",
}


#: a stored value's Thai beside it: ``values["name__th"]`` is ``values["name"]`` in a Thai message
TH_SUFFIX = "__th"


def localize(template: str, values: dict | None, lang: str) -> str:
    """A refusal's ``template`` in ``lang`` with its ``values``, each shown in that language too.

    A date reads ``21/1/2559`` in Thai (Buddhist era), a date-time its local minute
    (``7/12/2569 10:00``); a value that is itself a message (``template`` and ``values``,
    e.g. the ``why`` of "the programme was not changed: %(why)s") is translated the same
    way. In English every value stays its own text (``str``), as in the English message.
    """
    text = TH.get(template, template) if lang == "th" else template
    if not values:
        return text
    shown = {k: _value(v, lang) for k, v in values.items()}  # not translate(): a value may be named ``text``
    if lang == "th":  # a stored name in both languages: ``name`` and its Thai ``name__th`` (Words, kept as JSON)
        shown.update({k[: -len(TH_SUFFIX)]: v for k, v in values.items() if k.endswith(TH_SUFFIX)})
    return text % shown


def _value(value, lang: str):
    inner = getattr(value, "template", None)
    if isinstance(inner, str):
        return localize(inner, getattr(value, "values", None), lang)
    if lang != "th":
        return value
    th_words = getattr(value, "th_words", None)  # programme data named in both languages (errors.Words)
    if isinstance(th_words, str):
        return th_words
    if isinstance(value, datetime):
        return fmt_minute(value, lang, value.tzinfo)
    if isinstance(value, date):
        return fmt_date(value, lang)
    return value


def thai(template: str | None, values: dict | None = None) -> str | None:
    """A template in Thai with its values (:func:`localize`), or None when :data:`TH` lacks it."""
    if template is None or template not in TH:
        return None
    try:
        return localize(template, values, "th")
    except (KeyError, TypeError, ValueError):
        return None


def thai_of(exc: Exception) -> str | None:
    """An error's Thai, when it carries a ``template`` the catalogue has (the command lines print it
    under the English, ``--json`` as ``error_th``; the API as ``error_th``)."""
    return thai(getattr(exc, "template", None), getattr(exc, "values", None))


def translate(text: str, lang: str, **values) -> str:
    """``text`` in ``lang`` with ``%(name)s`` values filled in (a code in :data:`EN` by its English)."""
    out = TH.get(text, text) if lang == "th" else EN.get(text, text)
    return out % values if values else out


def fmt_datetime(when: datetime | None, lang: str, tz) -> str:
    """A local date-time: ``21/1/2559 11:14:10`` in Thai (B.E.), ``2016-01-21 11:14:10`` in English."""
    if when is None:
        return "—"
    local = when.astimezone(tz)
    if lang == "th":
        return f"{local.day}/{local.month}/{local.year + BE_OFFSET} {local:%H:%M:%S}"
    return f"{local:%Y-%m-%d %H:%M:%S}"


def fmt_minute(when: datetime | str | None, lang: str, tz) -> str:
    """A local date and minute (a campaign's start or end): ``7/12/2569 00:00`` in Thai (B.E.), ``2026-12-07 00:00``."""
    if when is None or when == "":
        return "—"
    if isinstance(when, str):
        when = datetime.fromisoformat(when)
    local = when.astimezone(tz) if when.tzinfo else when
    if lang == "th":
        return f"{local.day}/{local.month}/{local.year + BE_OFFSET} {local:%H:%M}"
    return f"{local:%Y-%m-%d %H:%M}"


def fmt_date(day: date | None, lang: str) -> str:
    """A date: ``21/1/2559`` in Thai (B.E.), ``2016-01-21`` in English."""
    if day is None:
        return "—"
    if isinstance(day, str):
        day = date.fromisoformat(day)
    if lang == "th":
        return f"{day.day}/{day.month}/{day.year + BE_OFFSET}"
    return day.isoformat()


#: how an entry came about (the "type" column of the pilot's member screen)
SOURCE_LABELS = {
    "tap": {"th": "แตะบัตร", "en": "Card tap"},
    "checkout": {"th": "ยืมที่เครื่องยืมด้วยตนเอง", "en": "Self-check checkout"},
    "admin": {"th": "เคาน์เตอร์", "en": "Counter"},
    "import": {"th": "รายชื่อกิจกรรม", "en": "Event list"},
    "signup": {"th": "สมัครสมาชิก", "en": "Sign-up"},
    "transfer": {"th": "โอนคะแนน", "en": "Transfer"},
    "redeem": {"th": "แลกคะแนน", "en": "Redeem"},
    "void": {"th": "ยกเลิกรายการ", "en": "Void"},
    # membership terms and tiers (issue 13)
    "tier": {"th": "ประเภทบัตร", "en": "Card type"},
    "term": {"th": "สิ้นสุดสมาชิกภาพ", "en": "Term end"},
    "feedback": {"th": "ความคิดเห็น/คำขอซื้อหนังสือ", "en": "Feedback (book request)"},
    "prize": {"th": "รางวัล", "en": "Prize"},
}


#: membership terms, points at expiry, the privilege basis (the console's terms and member pages)
TERM_WORDS = {
    "semester": {"th": "สิ้นสุดเมื่อจบภาคการศึกษา", "en": "ends with the semester"},
    "academic_year": {"th": "สิ้นสุดเมื่อจบปีการศึกษา", "en": "ends with the academic year"},
    "date": {"th": "สิ้นสุดตามวันที่เจ้าหน้าที่กำหนด (สิ้นสุดการจ้างงาน)", "en": "ends on a date staff type (employment end)"},
    "none": {"th": "ไม่มีวันหมดอายุ", "en": "does not end"},
    "keep": {"th": "คงคะแนนไว้", "en": "kept"},
    "forfeit": {"th": "คะแนนสิ้นสุด (ตัดยอดเป็น 0)", "en": "forfeited (balance to 0)"},
    "earned_in_term": {"th": "คะแนนที่ได้รับในภาค/ปีการศึกษานี้", "en": "points earned in the term"},
    "balance": {"th": "คะแนนคงเหลือ", "en": "the balance"},
}


#: labels of the ledger entries that are not programme activities
ENTRY_LABELS = {
    "redeem": {"th": "แลกคะแนน", "en": "Redeemed"},
    "transfer_in": {"th": "รับโอนคะแนน", "en": "Transfer in"},
    "transfer_out": {"th": "โอนคะแนน", "en": "Transfer out"},
    "adjust": {"th": "ปรับปรุงคะแนน", "en": "Adjustment"},
    # membership terms and tiers (issue 13)
    "tier": {"th": "เปลี่ยนประเภทบัตร", "en": "Card type changed"},
    "forfeit": {"th": "คะแนนสิ้นสุดตามอายุสมาชิก", "en": "Points forfeited at term end"},
    "prize": {"th": "รางวัลจากการจับรางวัล/จัดอันดับ", "en": "Prize (draw or ranking)"},
    # the feedback desk (issue 14): points pledged by a book-purchase request
    "book_request": {"th": "คะแนนสนับสนุนคำขอซื้อหนังสือ", "en": "Points pledged for a book request"},
}


#: a card reader's state as a device reports it (``status.reader``: hardware.readers' states)
READER_STATES = {
    "ok": {"th": "ทำงานปกติ", "en": "working"},
    "reopening": {"th": "กำลังเชื่อมต่อเครื่องอ่านบัตรใหม่", "en": "reconnecting"},
    "closed": {"th": "ปิดอยู่", "en": "closed"},
}

#: an activity's gate direction, as the programme page says it
DIRECTION_WORDS = {
    "in": {"th": "ประตูทางเข้า", "en": "entrance"},
    "out": {"th": "ประตูทางออก", "en": "exit"},
}

#: what a programme version changed (``ProgrammeVersion.section``): a section, "import" or "seed"
VERSION_REASONS = {
    "seed": {"th": "ไฟล์เริ่มต้น (ตอนติดตั้ง)", "en": "Start-up file"},
    "import": {"th": "นำเข้าไฟล์โครงการ", "en": "Programme file uploaded"},
    "library": {"th": "ข้อมูลห้องสมุด", "en": "Library"},
    "hours": {"th": "เวลาเปิด-ปิดและวันหยุด", "en": "Opening hours and closures"},
    "sites": {"th": "สาขา", "en": "Sites"},
    "rules": {"th": "กฎการให้คะแนน", "en": "Rules"},
    "semesters": {"th": "ภาคการศึกษา", "en": "Semesters"},
    "terms": {"th": "อายุสมาชิก", "en": "Membership terms"},
    "tiers": {"th": "ประเภทบัตร", "en": "Card types"},
    "activities": {"th": "กิจกรรม", "en": "Activities"},
    "partners": {"th": "ร้านค้าที่ร่วมรายการ", "en": "Partner shops"},
    "privileges": {"th": "สิทธิประโยชน์", "en": "Privileges"},
    "rewards": {"th": "ของรางวัลและการแลกคะแนน", "en": "Rewards"},
    "ils": {"th": "ระบบห้องสมุด (ILS)", "en": "Library system (ILS)"},
    "mail": {"th": "อีเมลถึงสมาชิก", "en": "E-mail to members"},
    "feedback": {"th": "ความคิดเห็น", "en": "Feedback"},
}

#: the keys of an audit row's detail, as the Staff page's log names them (others show as they are)
AUDIT_KEYS = {
    "name": {"th": "ชื่อ", "en": "name"},
    "card": {"th": "บัตร", "en": "card"},
    "tier": {"th": "ประเภทบัตร", "en": "card type"},
    "old": {"th": "เดิม", "en": "was"},
    "new": {"th": "ใหม่", "en": "now"},
    "was": {"th": "เดิม", "en": "was"},
    "reason": {"th": "เหตุผล", "en": "reason"},
    "basis": {"th": "เกณฑ์", "en": "basis"},
    "kind": {"th": "ประเภท", "en": "kind"},
    "activity": {"th": "กิจกรรม", "en": "activity"},
    "activities": {"th": "กิจกรรม", "en": "activities"},
    "day": {"th": "วันที่", "en": "date"},
    "at": {"th": "เวลา", "en": "at"},
    "until": {"th": "ถึงวันที่", "en": "until"},
    "lapse_cleared": {"th": "ล้างเครื่องหมายหมดอายุ (เดิม)", "en": "lapse mark cleared (was)"},
    "section": {"th": "หมวด", "en": "section"},
    "changes": {"th": "การเปลี่ยนแปลง", "en": "changes"},
    "points": {"th": "คะแนน", "en": "points"},
    "to": {"th": "ถึงสมาชิก", "en": "to member"},
    "member": {"th": "สมาชิก", "en": "member"},
    "site": {"th": "สาขา", "en": "site"},
    "home_site": {"th": "สาขาหลัก", "en": "home site"},
    "sites": {"th": "สาขา", "en": "sites"},
    "reward": {"th": "ของรางวัล", "en": "reward"},
    "prize": {"th": "รางวัล", "en": "prize"},
    "winners": {"th": "ผู้ได้รับรางวัล", "en": "winners"},
    "eligible": {"th": "ผู้มีสิทธิ์", "en": "eligible"},
    "ranking": {"th": "การจัดอันดับ", "en": "ranking"},
    "term": {"th": "ภาคการศึกษา", "en": "term"},
    "outcome": {"th": "ผล", "en": "outcome"},
    "error": {"th": "ข้อผิดพลาด", "en": "error"},
    "method": {"th": "วิธีเข้าสู่ระบบ", "en": "method"},
    "source": {"th": "ที่มา", "en": "from"},
    "locked": {"th": "ล็อก", "en": "locked"},
    "set": {"th": "ตั้งค่า", "en": "set"},
    "reversals": {"th": "รายการกลับรายการ", "en": "reversal entries"},
    "role": {"th": "บทบาท", "en": "role"},
    "label": {"th": "ชื่อโทเค็น", "en": "label"},
    "direction": {"th": "ทิศทาง", "en": "direction"},
    "location": {"th": "ที่ตั้ง", "en": "location"},
    "email": {"th": "อีเมล", "en": "e-mail"},
    "patron_id": {"th": "รหัสสมาชิกห้องสมุด", "en": "library patron ID"},
    "valid_until": {"th": "ใช้ได้ถึง", "en": "valid until"},
    "status": {"th": "สถานะ", "en": "status"},
    "group": {"th": "กลุ่ม", "en": "group"},
    "assignee": {"th": "ผู้รับผิดชอบ", "en": "assignee"},
    "decision": {"th": "ผลการพิจารณา", "en": "decision"},
    "refund": {"th": "คืนคะแนน", "en": "refund"},
    "given_back_by_void": {"th": "คืนคะแนนแล้วโดยการยกเลิกรายการ", "en": "given back already by the void"},
    "delivery": {"th": "การส่งคำตอบ", "en": "delivery"},
    "action_taken": {"th": "การดำเนินการ", "en": "action taken"},
    "segment": {"th": "กลุ่มเป้าหมาย", "en": "segment"},
    "counts": {"th": "จำนวน", "en": "counts"},
    "keys": {"th": "กุญแจ", "en": "keys"},
    "seed": {"th": "ค่าเริ่มสุ่ม", "en": "seed"},
    "commitment": {"th": "ค่ายืนยันล่วงหน้า", "en": "commitment"},
    "filters": {"th": "เงื่อนไข", "en": "filters"},
    "spec": {"th": "รายละเอียด", "en": "settings"},
    "must_change_password": {"th": "ต้องเปลี่ยนรหัสผ่าน", "en": "must change password"},
    "item": {"th": "รายการ", "en": "item"},
    "entry": {"th": "รายการคะแนน", "en": "entry"},
    "baht": {"th": "บาท", "en": "baht"},
    "dry_run": {"th": "ตรวจสอบอย่างเดียว", "en": "check only"},
    "rows": {"th": "จำนวนแถว", "en": "rows"},
    # not "กิจกรรม", the activity's word (an import's row names both): as the events page heads its
    # event column, "Event name" beside "Activity"
    "event": {"th": "ชื่อกิจกรรม", "en": "event"},
}


#: the keys of programme.toml as the audit log names a change's path (``activities.late_stay.points``:
#: "Activities › Reading … › points"); a key not here is shown as it is in the file
PROGRAMME_KEYS = {
    "points": {"th": "คะแนน", "en": "points"},
    "limit": {"th": "ข้อจำกัด", "en": "limit"},
    "window": {"th": "ช่วงเวลา", "en": "window"},
    "direction": {"th": "ทิศทาง", "en": "gate"},
    "th": {"th": "ชื่อภาษาไทย", "en": "Thai name"},
    "en": {"th": "ชื่อภาษาอังกฤษ", "en": "English name"},
    "name_th": {"th": "ชื่อภาษาไทย", "en": "Thai name"},
    "name_en": {"th": "ชื่อภาษาอังกฤษ", "en": "English name"},
    "retired": {"th": "เลิกใช้งาน", "en": "retired"},
    "timezone": {"th": "เขตเวลา", "en": "time zone"},
    "closures": {"th": "วันปิดทำการ", "en": "closures"},
    "hours": {"th": "เวลาเปิดทำการ", "en": "opening hours"},
    "multiplier": {"th": "ตัวคูณ", "en": "multiplier"},
    "earned_at": {"th": "เลื่อนประเภทบัตรเมื่อได้คะแนนในภาคครบ", "en": "promoted at points earned"},
    "groups": {"th": "กลุ่มผู้ใช้", "en": "groups"},
    "term": {"th": "อายุสมาชิก", "en": "term"},
    "renewal_fee_baht": {"th": "ค่าต่ออายุสมาชิก (บาท)", "en": "renewal fee (baht)"},
    "on_expiry": {"th": "คะแนนเมื่อหมดอายุสมาชิก", "en": "points at term end"},
    "signup_fee_baht": {"th": "ค่าสมัครสมาชิก (บาท)", "en": "joining fee (baht)"},
    "card_replacement_fee_baht": {"th": "ค่าทำบัตรใหม่ (บาท)", "en": "card replacement fee (baht)"},
    "borrow": {"th": "การยืม", "en": "borrowing"},
    "fine_discount": {"th": "ส่วนลดค่าปรับ", "en": "fine discount"},
    "locker": {"th": "ตู้ฝากของ", "en": "locker"},
    "study_room": {"th": "ห้องค้นคว้ากลุ่ม", "en": "study room"},
    "normal": {"th": "ระดับพื้นฐาน", "en": "base level"},
    "levels": {"th": "ระดับตามคะแนน", "en": "levels"},
    "books": {"th": "จำนวนเล่ม", "en": "books"},
    "loan_days": {"th": "จำนวนวันยืม", "en": "loan days"},
    "step_points": {"th": "คะแนนต่อขั้น", "en": "points per step"},
    "step_baht": {"th": "บาทต่อขั้น", "en": "baht per step"},
    "max_points": {"th": "คะแนนสูงสุด", "en": "most points"},
    "shops": {"th": "ร้านค้า", "en": "shops"},
    "aliases": {"th": "ชื่อเดิมที่ยังรับ", "en": "older names"},
    "book_request_points": {"th": "คะแนนที่ใช้ต่อคำขอซื้อหนังสือ", "en": "points per book request"},
    "basis": {"th": "เกณฑ์ระดับสิทธิ์", "en": "privilege basis"},
}

#: what an audit row records (``Audit.action``), as the Staff page's log says it; every code
#: the service layer and the console write has one (tests/unit/test_audit_actions.py finds them)
AUDIT_ACTIONS = {
    # members and cards
    "member.add": {"th": "สมัครสมาชิก", "en": "Member enrolled"},
    "member.set": {"th": "แก้ไขข้อมูลสมาชิก", "en": "Member details changed"},
    "member.contact": {"th": "แก้ไขข้อมูลติดต่อและการรับข่าวสาร", "en": "Contact details and consent changed"},
    "member.tier": {"th": "เปลี่ยนประเภทบัตร", "en": "Card type changed"},
    "member.renew": {"th": "ต่ออายุสมาชิก", "en": "Membership renewed"},
    "term.close": {"th": "สิ้นสุดอายุสมาชิกตามรอบ", "en": "Memberships ended at term end"},
    "card.replace": {"th": "เปลี่ยนบัตรใหม่แทนบัตรเดิม", "en": "Card replaced"},
    "card.block": {"th": "ระงับบัตร", "en": "Card blocked"},
    "card.secure": {"th": "ลงทะเบียนบัตรแท้ (NTAG 424 DNA)", "en": "Card registered as genuine (NTAG 424 DNA)"},
    "card.keys_shown": {"th": "แสดงกุญแจของบัตร", "en": "Card keys shown"},
    "card.not_genuine": {"th": "บัตรไม่ผ่านการตรวจสอบบัตรแท้", "en": "Card failed the genuine-card check"},
    # points
    "points.award": {"th": "ให้คะแนนที่เคาน์เตอร์", "en": "Points credited at the counter"},
    "points.import": {"th": "ให้คะแนนตามรายชื่อกิจกรรม", "en": "Points credited from an event list"},
    "points.redeem": {"th": "แลกคะแนน", "en": "Points redeemed"},
    "points.transfer": {"th": "โอนคะแนน", "en": "Points transferred"},
    "points.void": {"th": "ยกเลิกรายการคะแนน", "en": "Entry voided"},
    "event.add": {"th": "เพิ่มกิจกรรม", "en": "Event added"},
    "import.start": {"th": "เริ่มนำเข้ารายชื่อผู้เข้าร่วมกิจกรรม", "en": "Event list import started"},
    "checkout.unknown_patron": {
        "th": "ยืมที่เครื่องยืมด้วยตนเองโดยผู้ที่ไม่ใช่สมาชิก",
        "en": "Self-check checkout by someone who is not a member",
    },
    # the programme, campaigns, draws
    "programme.change": {"th": "เปลี่ยนแปลงโครงการ", "en": "Programme changed"},
    "campaign.add": {"th": "เพิ่มแคมเปญ", "en": "Campaign added"},
    "campaign.end": {"th": "สิ้นสุดแคมเปญ", "en": "Campaign ended"},
    "draw.create": {"th": "บันทึกการจับรางวัล", "en": "Prize draw recorded"},
    "draw.run": {"th": "จับรางวัล", "en": "Prize draw run"},
    "draw.award": {"th": "มอบรางวัล", "en": "Prizes awarded"},
    "ranking.record": {"th": "บันทึกผลการจัดอันดับ", "en": "Ranking recorded"},
    # devices
    "device.add": {"th": "เพิ่มอุปกรณ์", "en": "Device added"},
    "device.set": {"th": "แก้ไขอุปกรณ์", "en": "Device changed"},
    "device.credentials": {"th": "สร้างบัญชีอุปกรณ์ในโบรกเกอร์", "en": "Device's broker account made"},
    "device.retire": {"th": "เลิกใช้งานอุปกรณ์", "en": "Device retired"},
    "device.reactivate": {"th": "เปิดใช้งานอุปกรณ์อีกครั้ง", "en": "Device reactivated"},
    "device.refused": {"th": "ปฏิเสธข้อมูลที่อุปกรณ์ส่งมา", "en": "Message from a device refused"},
    # staff cards at kiosks
    "staff.unlock": {"th": "เปิดหน้าจอเจ้าหน้าที่ที่ตู้บริการ", "en": "Staff screen opened at a kiosk"},
    "staff.pin_wrong": {"th": "PIN เจ้าหน้าที่ไม่ถูกต้อง", "en": "Wrong staff PIN"},
    "staff.pin_locked": {"th": "บัตรเจ้าหน้าที่ถูกล็อกที่ตู้บริการ", "en": "Staff card locked out at a kiosk"},
    "staff.pin_refused": {"th": "ปฏิเสธบัตรเจ้าหน้าที่", "en": "Staff card refused"},
    "staff.pin_cleared": {"th": "ปลดล็อกบัตรเจ้าหน้าที่ที่ตู้บริการ", "en": "Staff card lock-out lifted"},
    # staff accounts
    "staff.add": {"th": "เพิ่มบัญชีเจ้าหน้าที่", "en": "Staff account added"},
    "staff.set": {"th": "แก้ไขบัญชีเจ้าหน้าที่", "en": "Staff account changed"},
    "staff.sites": {"th": "กำหนดสาขาของเจ้าหน้าที่", "en": "Staff account's sites set"},
    "staff.login": {"th": "เข้าสู่ระบบ", "en": "Signed in"},
    "staff.login_failed": {"th": "รหัสผ่านไม่ถูกต้อง (เข้าสู่ระบบ)", "en": "Wrong password at sign-in"},
    "staff.password": {"th": "เปลี่ยนรหัสผ่าน", "en": "Password changed"},
    "staff.password_failed": {"th": "รหัสผ่านปัจจุบันไม่ถูกต้อง", "en": "Wrong current password"},
    "staff.token": {"th": "สร้างโทเค็น API", "en": "API token created"},
    "staff.token_revoked": {"th": "เพิกถอนโทเค็น API", "en": "API token revoked"},
    # the patron's own page, messages, feedback
    "patron.pin": {"th": "ตั้งหรือล้าง PIN ของสมาชิก", "en": "Member's PIN set or cleared"},
    "patron.signin": {"th": "สมาชิกเข้าสู่ระบบ", "en": "Member signed in"},
    "patron.signin_failed": {"th": "สมาชิกเข้าสู่ระบบไม่สำเร็จ", "en": "Member's sign-in failed"},
    "patron.signin_refused": {"th": "ปฏิเสธการเข้าสู่ระบบ (ล็อกอยู่)", "en": "Member's sign-in refused (locked)"},
    "patron.link_sent": {"th": "ส่งลิงก์เข้าสู่ระบบทางอีเมล", "en": "Sign-in link e-mailed"},
    "patron.link_refused": {"th": "ไม่ส่งลิงก์เข้าสู่ระบบ (ขอบ่อยเกินไป)", "en": "Sign-in link refused (too many)"},
    "messages.segment": {"th": "ส่งข้อความถึงกลุ่มสมาชิก", "en": "Message sent to a group of members"},
    "messages.unsubscribe": {"th": "ยกเลิกรับข่าวสาร", "en": "Unsubscribed"},
    "feedback.submit": {"th": "รับความคิดเห็น", "en": "Feedback received"},
    "feedback.assign": {"th": "มอบหมายความคิดเห็น", "en": "Feedback assigned"},
    "feedback.status": {"th": "เปลี่ยนสถานะความคิดเห็น", "en": "Feedback status changed"},
    "feedback.answer": {"th": "ตอบความคิดเห็น", "en": "Feedback answered"},
    "feedback.decide": {"th": "พิจารณาคำขอซื้อหนังสือ", "en": "Book request decided"},
    # the library system (ILS)
    "ils.patron": {"th": "ขอข้อมูลสมาชิกจากระบบห้องสมุด", "en": "Patron looked up in the library system"},
    "ils.pin_check": {"th": "ตรวจ PIN กับระบบห้องสมุด", "en": "PIN checked with the library system"},
    "ils.fee_paid": {"th": "ชำระค่าปรับในระบบห้องสมุด", "en": "Fine paid in the library system"},
}

#: who made an audit row when it is not a person or a device (``Audit.actor``)
ACTOR_WORDS = {
    "system": {"th": "ระบบ", "en": "system"},
    "server": {"th": "เซิร์ฟเวอร์", "en": "server"},
    "server:daily": {"th": "เซิร์ฟเวอร์ (งานประจำวัน)", "en": "server (daily jobs)"},
    "feedback": {"th": "โต๊ะรับความคิดเห็น", "en": "feedback desk"},
    "cli": {"th": "บรรทัดคำสั่ง", "en": "command line"},
    "device": {"th": "อุปกรณ์", "en": "a device"},
    "patron:unsubscribe": {"th": "ลิงก์ยกเลิกรับข่าวสาร", "en": "unsubscribe link"},
    "patron:-": {"th": "หน้าของสมาชิก", "en": "member's page"},
    "demo": {"th": "ข้อมูลสาธิต", "en": "demo data"},
    "seed": {"th": "ข้อมูลตัวอย่าง", "en": "sample data"},
    "bench": {"th": "การทดสอบประสิทธิภาพ", "en": "benchmark"},
}


def entry_label(activity: str) -> dict:
    """The ``{"th", "en"}`` label of a non-activity entry (its code when there is none)."""
    return ENTRY_LABELS.get(activity, {"th": activity, "en": activity})


def void_label(label: dict) -> dict:
    """The label of a void of an entry labelled ``label``."""
    return {"th": f"ยกเลิก: {label['th']}", "en": f"Void: {label['en']}"}


def _fold_in(table: dict[str, str]) -> None:
    """Add a part's own Thai strings to :data:`TH` (a string TH already has keeps its Thai)."""
    for source, thai in table.items():
        TH.setdefault(source, thai)


# --------------------------------------------------------------------------- the programme edited live, campaigns, draws
#
# Issue 13 (items 4-6): server/web/programme.py, its templates, server/services/programme.py
# and draws.py. Kept as one block so it merges beside the other parts' strings.
TH_PROGRAMME = {
    "%(id)s is a ranking, not a draw": "%(id)s เป็นการจัดอันดับ ไม่ใช่การจับรางวัล",
    "%(n)s bonus points": "โบนัส %(n)s คะแนน",
    "Activities": "กิจกรรมที่ได้คะแนน",
    "Activities (none ticked: all)": "กิจกรรม (ไม่เลือก = ทุกกิจกรรม)",
    "Add a campaign": "เพิ่มแคมเปญ",
    "Add or change an activity": "เพิ่มหรือแก้ไขกิจกรรม",
    "Add the campaign": "เพิ่มแคมเปญ",
    "Algorithm": "อัลกอริทึม",
    "An activity with ledger entries is never deleted: retire it, and its entries keep their name.": "กิจกรรมที่มีรายการคะแนนแล้วจะไม่ถูกลบ ให้เลิกใช้แทน รายการเดิมยังคงชื่อกิจกรรมไว้",
    "Anyone can recompute it: privcard admin draw verify ID, or the steps in docs/rules.md.": "ทุกคนคำนวณซ้ำได้: privcard admin draw verify ID หรือตามขั้นตอนใน docs/rules.md",
    "Award the prizes": "มอบรางวัล",
    "Bonus (+N points)": "โบนัส (+N คะแนน)",
    "Bonus N": "โบนัส N",
    "Bring back": "นำกลับมาใช้",
    "Campaign": "แคมเปญ",
    "Campaign %(code)s added.": "เพิ่มแคมเปญ %(code)s แล้ว",
    "Campaign %(code)s ended.": "สิ้นสุดแคมเปญ %(code)s แล้ว",
    "Campaigns": "แคมเปญ",
    "Changes apply to the next tap on every server, without a restart.": "การเปลี่ยนแปลงมีผลกับการแตะบัตรครั้งถัดไปในทุกเซิร์ฟเวอร์ โดยไม่ต้องเริ่มระบบใหม่",
    "Checked: %(n)s changes, nothing saved.": "ตรวจสอบแล้ว: จะเปลี่ยนแปลง %(n)s รายการ ยังไม่ได้บันทึก",
    "Code": "รหัส",
    "Download programme.toml": "ดาวน์โหลด programme.toml",
    "Draw %(id)s recorded with its seed; run it when ready.": "บันทึกการจับรางวัล %(id)s พร้อมค่าเริ่มต้นสุ่ม (seed) แล้ว จับรางวัลได้เมื่อพร้อม",
    "Draw %(id)s run.": "จับรางวัล %(id)s แล้ว",
    "Draws": "จับรางวัล",
    "Each change's old and new values are in the audit log.": "ค่าเดิมและค่าใหม่ของทุกการเปลี่ยนแปลงอยู่ในบันทึกการตรวจสอบ",
    "Eligible members": "สมาชิกที่มีสิทธิ์",
    "End now": "สิ้นสุดทันที",
    "English name": "ชื่อภาษาอังกฤษ",
    "Export and import": "ส่งออกและนำเข้า",
    "Filters": "เงื่อนไข",
    "For": "สำหรับ",
    "From (library time)": "ตั้งแต่ (เวลาห้องสมุด)",
    "Gate direction": "ทิศทางประตู",
    "Gives": "ให้",
    "Groups (none ticked: all)": "กลุ่ม (ไม่เลือก = ทุกกลุ่ม)",
    "How to check it": "วิธีตรวจสอบ",
    "In force: the start-up file (no change stored yet)": "ใช้อยู่: ไฟล์ตอนเริ่มระบบ (ยังไม่มีการเปลี่ยนแปลง)",
    "Limit": "ข้อจำกัด",
    "MISMATCH": "ไม่ตรงกัน",
    "Minimum points": "คะแนนขั้นต่ำ",
    "Most active users": "ผู้ใช้บริการมากที่สุด",
    "Multiplier (points × k)": "ตัวคูณ (คะแนน × k)",
    "Multiplier k": "ตัวคูณ k",
    "New draw": "การจับรางวัลใหม่",
    "Title": "ชื่อรายการ",
    "Draw name": "ชื่อการจับรางวัล",
    "Ranking name": "ชื่อการจัดอันดับ",
    "No campaigns yet.": "ยังไม่มีแคมเปญ",
    "No change stored yet.": "ยังไม่มีการเปลี่ยนแปลง",
    "No draws yet.": "ยังไม่มีการจับรางวัล",
    "Nobody was eligible.": "ไม่มีผู้มีสิทธิ์",
    "Nobody yet.": "ยังไม่มี",
    "Not run yet.": "ยังไม่ได้จับรางวัล",
    "Nothing changed.": "ไม่มีการเปลี่ยนแปลง",
    "One-off activity": "กิจกรรมพิเศษครั้งเดียว",
    "Only check (save nothing)": "ตรวจสอบอย่างเดียว (ไม่บันทึก)",
    "Opening hours and closures (holidays), rules, semesters, tiers, partner shops, privileges, rewards and prices: each section is edited as TOML and checked before it is saved; an error names the field.": "เวลาเปิดปิดและวันหยุด กฎ ภาคการศึกษา ระดับบัตร ร้านค้าที่ร่วมรายการ สิทธิพิเศษ ของรางวัลและราคา: แก้ไขแต่ละส่วนเป็น TOML และตรวจสอบก่อนบันทึก ข้อผิดพลาดจะระบุชื่อช่อง",
    "Other sections": "ส่วนอื่น ๆ",
    "Overlapping campaigns: only the largest multiplier counts, and every bonus is added. A tap still earns at most once.": "แคมเปญที่ซ้อนกัน: ใช้ตัวคูณที่มากที่สุดเพียงตัวเดียว และบวกโบนัสทุกรายการ การแตะบัตรหนึ่งครั้งยังได้คะแนนไม่เกินหนึ่งครั้ง",
    "Points given": "คะแนนที่ให้",
    "Prize": "รางวัล",
    "Prize draws and rankings": "การจับรางวัลและการจัดอันดับ",
    "Prize: bonus points": "รางวัล: คะแนนโบนัส",
    "Prizes of %(id)s awarded.": "มอบรางวัลของ %(id)s แล้ว",
    "Programme": "โครงการ",
    "Programme version %(version)s is in force (%(n)s changes).": "โครงการฉบับที่ %(version)s มีผลแล้ว (เปลี่ยนแปลง %(n)s รายการ)",
    "Ranking": "การจัดอันดับ",
    "Recomputed": "คำนวณซ้ำ",
    "Record the draw and its seed": "บันทึกการจับรางวัลและค่าเริ่มต้นสุ่ม",
    "Record the ranking's winners": "บันทึกผู้ชนะตามอันดับ",
    "Run the draw": "จับรางวัล",
    "Save the activity": "บันทึกกิจกรรม",
    "Save the section": "บันทึกส่วนนี้",
    "Seed": "ค่าเริ่มต้นสุ่ม (seed)",
    "Seed SHA-256 (recorded before the draw)": "SHA-256 ของ seed (บันทึกก่อนจับรางวัล)",
    "Term (points earned in it count)": "ภาคการศึกษา (นับคะแนนที่ได้ในภาคนั้น)",
    "Thai name": "ชื่อภาษาไทย",
    "The seed is generated and recorded when the draw is created; until the draw is run only its SHA-256 is shown.": "ระบบสร้างและบันทึก seed เมื่อสร้างการจับรางวัล ก่อนจับรางวัลจะแสดงเพียง SHA-256 ของ seed",
    "Tickets": "จำนวนสิทธิ์",
    "Tiers (none ticked: all)": "ระดับบัตร (ไม่เลือก = ทุกระดับ)",
    "To, last minute included": "ถึง (รวมนาทีสุดท้าย)",
    "Top": "อันดับแรก",
    "Top borrowers": "ผู้ยืมมากที่สุด",
    "Upload a programme file": "อัปโหลดไฟล์โครงการ",
    "Version": "ฉบับ",
    "Version in force: %(v)s": "ฉบับที่ใช้อยู่: %(v)s",
    "Versions": "ฉบับต่าง ๆ",
    "When": "เมื่อ",
    "Window": "ช่วงเวลา",
    "Window: minutes before closing (empty: any time)": "ช่วงเวลา: กี่นาทีก่อนปิด (เว้นว่าง = ทุกเวลา)",
    "Winners": "ผู้ได้รับรางวัล",
    "a campaign %(code)r exists already": "มีแคมเปญ %(code)r อยู่แล้ว",
    "a draw needs a name (up to 200 characters)": "การจับรางวัลต้องมีชื่อ (ไม่เกิน 200 ตัวอักษร)",
    "a prize is bonus points or a reward, not both": "รางวัลเป็นคะแนนโบนัสหรือของรางวัลอย่างใดอย่างหนึ่ง",
    "all": "ทั้งหมด",
    "all activities": "ทุกกิจกรรม",
    "campaign %(code)s has ended already": "แคมเปญ %(code)s สิ้นสุดแล้ว",
    "choose a TOML file of at most %(kb)s KB": "เลือกไฟล์ TOML ขนาดไม่เกิน %(kb)s KB",
    "draw %(id)s has been awarded already": "การจับรางวัล %(id)s มอบรางวัลแล้ว",
    "draw %(id)s has been run already": "การจับรางวัล %(id)s จับไปแล้ว",
    "draw %(id)s has no prize": "การจับรางวัล %(id)s ไม่มีรางวัล",
    "draw %(id)s has not been run": "การจับรางวัล %(id)s ยังไม่ได้จับ",
    "ended early": "สิ้นสุดก่อนกำหนด",
    "min_points must be a whole number >= 0": "คะแนนขั้นต่ำต้องเป็นจำนวนเต็มไม่น้อยกว่า 0",
    "no activity %(code)r": "ไม่พบกิจกรรม %(code)r",
    "no campaign %(code)r": "ไม่พบแคมเปญ %(code)r",
    "no draw %(id)r": "ไม่พบการจับรางวัล %(id)r",
    "no term %(term)r; semesters are %(names)s": "ไม่พบภาคการศึกษา %(term)r ภาคการศึกษาที่มี: %(names)s",
    "not valid TOML: %(why)s": "ไม่ใช่ TOML ที่ถูกต้อง: %(why)s",
    "one per 100 points earned": "1 สิทธิ์ต่อ 100 คะแนนที่ได้",
    "one per 50 points earned": "1 สิทธิ์ต่อ 50 คะแนนที่ได้",
    "one per member": "1 สิทธิ์ต่อสมาชิก",
    "only a draw that has been run can be verified": "ตรวจสอบได้เฉพาะการจับรางวัลที่จับแล้ว",
    "or a reward": "หรือของรางวัล",
    "prize points must be 1-100000": "คะแนนรางวัลต้องอยู่ระหว่าง 1-100000",
    "published when the draw is run": "เปิดเผยเมื่อจับรางวัล",
    "ranking must be one of %(kinds)s": "การจัดอันดับต้องเป็นหนึ่งใน %(kinds)s",
    "same winners": "ผู้ชนะตรงกัน",
    "term must be SEMESTER/YEAR (Buddhist era), e.g. %(example)s": "ภาคการศึกษาต้องอยู่ในรูป ภาค/ปี พ.ศ. เช่น %(example)s",
    "the campaign was not added: %(why)s": "ไม่ได้เพิ่มแคมเปญ: %(why)s",
    "the file is not UTF-8 text": "ไฟล์ไม่ใช่ข้อความ UTF-8",
    "the programme was not changed: %(why)s": "ไม่ได้เปลี่ยนโครงการ: %(why)s",
    "the programme was not changed: activities.%(code)s has ledger entries: retire it instead": "ไม่ได้เปลี่ยนโครงการ: activities.%(code)s มีรายการคะแนนแล้ว ให้เลิกใช้แทนการลบ",
    "top must be 1-1000": "จำนวนอันดับต้องอยู่ระหว่าง 1-1000",
    "unknown section %(section)r; known: %(known)s": "ไม่รู้จักส่วน %(section)r ส่วนที่มี: %(known)s",
    "winners must be 1-1000": "จำนวนผู้ได้รับรางวัลต้องอยู่ระหว่าง 1-1000",
    "Points given by each campaign": "คะแนนที่แต่ละแคมเปญให้",
    # values shown through _(): states and kinds
    "running": "กำลังดำเนินการ",
    "scheduled": "ตั้งเวลาไว้",
    "ended": "สิ้นสุดแล้ว",
    "draw": "จับรางวัล",
    "ranking": "จัดอันดับ",
    "created": "สร้างแล้ว",
    "run": "จับแล้ว",
    "awarded": "มอบรางวัลแล้ว",
    "once": "ครั้งเดียว",
    "per_day": "วันละครั้ง",
    "per_item_per_day": "วันละครั้งต่อรายการ",
    "unlimited": "ไม่จำกัด",
    # a draw's own input errors (server/domain/draws.py's DrawError)
    "bad eligible entry %(entry)r": "รายชื่อผู้มีสิทธิ์มีรายการไม่ถูกต้อง %(entry)r",
    "member %(member)s is listed twice": "สมาชิก %(member)s อยู่ในรายชื่อสองครั้ง",
    "the seed must be 64 lower-case hex digits": "seed ต้องเป็นเลขฐานสิบหก (อักษรตัวเล็ก) 64 หลัก",
    "winners must be a whole number >= 1, got %(winners)r": "จำนวนผู้ได้รับรางวัลต้องเป็นจำนวนเต็มตั้งแต่ 1 ขึ้นไป (ได้รับ %(winners)r)",
    "tickets must be 'one' or 'per_points:N', got %(rule)r": "tickets ต้องเป็น 'one' (คนละหนึ่งสิทธิ์) หรือ 'per_points:N' (หนึ่งสิทธิ์ต่อ N คะแนน) (ได้รับ %(rule)r)",
}
_fold_in(TH_PROGRAMME)


# --------------------------------------------------------------------------- the feedback desk (issue 14)
#
# server/web/feedback.py, its templates, server/services/feedback.py, the reports. One block
# so it merges beside the other parts' strings.

#: the desk's words shown through label(): categories, channels, statuses, decisions, channels back
FEEDBACK_WORDS = {
    "category": {
        "complaint": {"th": "ข้อร้องเรียน", "en": "Complaint"},
        "suggestion": {"th": "ข้อเสนอแนะ", "en": "Suggestion"},
        "compliment": {"th": "คำชมเชย", "en": "Compliment"},
        "question": {"th": "คำถาม", "en": "Question"},
        "book_request": {"th": "เสนอซื้อหนังสือ", "en": "Book-purchase request"},
    },
    "channel": {
        "kiosk": {"th": "ตู้คีออสก์", "en": "Kiosk"},
        "patron_page": {"th": "หน้าของสมาชิก", "en": "Patron page"},
        "counter": {"th": "เคาน์เตอร์", "en": "Counter"},
        "email": {"th": "อีเมล", "en": "E-mail"},
        "phone": {"th": "โทรศัพท์", "en": "Phone"},
    },
    "status": {
        "new": {"th": "ใหม่", "en": "New"},
        "in_progress": {"th": "กำลังดำเนินการ", "en": "In progress"},
        "answered": {"th": "ตอบแล้ว", "en": "Answered"},
        "closed": {"th": "ปิดแล้ว", "en": "Closed"},
    },
    "move": {
        "in_progress": {"th": "เริ่มดำเนินการ", "en": "Start working on it"},
        "closed": {"th": "ปิดเรื่อง", "en": "Close"},
    },
    "decision": {
        "bought": {"th": "จัดซื้อแล้ว (คะแนนถูกใช้)", "en": "Bought (points kept)"},
        "declined": {"th": "ไม่จัดซื้อ (คืนคะแนน)", "en": "Declined (points given back)"},
    },
    "back": {
        "email": {
            "th": "คำตอบจะส่งถึงสมาชิกทางอีเมล และแสดงในหน้าของสมาชิก",
            "en": "The answer goes to the patron by e-mail and shows on their own page.",
        },
        "page": {
            "th": "สมาชิกไม่มีอีเมล: คำตอบจะแสดงในหน้าของสมาชิก",
            "en": "The patron has no e-mail address: the answer shows on their own page.",
        },
        "none": {
            "th": "ไม่ระบุตัวตน (ส่งจากตู้คีออสก์โดยไม่แตะบัตร หรือผู้ใช้บริการที่เคาน์เตอร์/โทรศัพท์ไม่ได้แจ้งบัตร) จึงไม่มีช่องทางส่งคำตอบกลับถึงผู้ใช้บริการ คำตอบและการดำเนินการจะถูกเก็บไว้สำหรับรายงาน",
            "en": "Anonymous (kiosk feedback without a card, or a counter or phone patron who gave none): there is no channel back to the patron. The answer and the action taken are kept for the reports.",
        },
    },
    "delivery": {
        "email": {"th": "ส่งทางอีเมลแล้ว", "en": "sent by e-mail"},
        "page": {"th": "แสดงในหน้าของสมาชิก", "en": "shown on the patron's page"},
        "none": {"th": "ไม่มีช่องทางตอบกลับ", "en": "no channel back"},
    },
}

TH_FEEDBACK = {
    # the console's pages
    "Feedback": "ความคิดเห็น",
    "Status": "สถานะ",
    "Category": "ประเภท",
    "Channel": "ช่องทาง",
    "Assigned to": "ผู้รับผิดชอบ",
    "anyone": "ทุกคน",
    "nobody": "ยังไม่มอบหมาย",
    "Show": "แสดง",
    "Received": "วันที่รับ",
    "Age": "ค้างมา",
    "%(n)s min": "%(n)s นาที",
    "%(n)s h": "%(n)s ชม.",
    "%(n)s days": "%(n)s วัน",
    "%(n)s points pledged": "สนับสนุน %(n)s คะแนน",
    "anonymous": "ไม่ระบุตัวตน",
    "No feedback matches.": "ไม่มีความคิดเห็นตามเงื่อนไข",
    "Record feedback taken at the counter, by e-mail or by phone": "บันทึกความคิดเห็นที่รับทางเคาน์เตอร์ อีเมล หรือโทรศัพท์",
    "Member (id or card, empty: anonymous)": "สมาชิก (รหัสหรือเลขบัตร เว้นว่าง: ไม่ระบุตัวตน)",
    "Satisfaction 1-5 (optional)": "ความพึงพอใจ 1-5 (ไม่บังคับ)",
    "What the patron said (at most %(n)s characters)": "ข้อความของผู้ใช้บริการ (ไม่เกิน %(n)s ตัวอักษร)",
    "A book-purchase request backed with %(n)s points (taken now, given back if the library declines)": (
        "คำขอซื้อหนังสือโดยใช้คะแนนสนับสนุน %(n)s คะแนน (หักทันที คืนให้หากห้องสมุดไม่จัดซื้อ)"
    ),
    "Record": "บันทึก",
    "Back to the queue": "กลับไปที่รายการ",
    "recorded by": "บันทึกโดย",
    "Satisfaction": "ความพึงพอใจ",
    "Points pledged": "คะแนนที่สนับสนุน",
    "not decided yet": "ยังไม่ได้ตัดสินใจ",
    "points given back (entry %(id)s)": "คืนคะแนนแล้ว (รายการ %(id)s)",
    "points given back": "คืนคะแนนแล้ว",
    "Answer": "คำตอบ",
    "Action taken": "การดำเนินการ",
    "Work on it": "ดำเนินการ",
    "Assign": "มอบหมาย",
    "Answer to the patron (at most %(n)s characters)": "คำตอบถึงผู้ใช้บริการ (ไม่เกิน %(n)s ตัวอักษร)",
    "Decision on the request": "ผลการพิจารณาคำขอ",
    "not yet": "ยังไม่พิจารณา",
    "Send the answer": "ส่งคำตอบ",
    "This feedback is closed.": "ความคิดเห็นนี้ปิดแล้ว",
    "Feedback %(id)s recorded.": "บันทึกความคิดเห็น %(id)s แล้ว",
    "Feedback %(id)s assigned.": "มอบหมายความคิดเห็น %(id)s แล้ว",
    "Feedback %(id)s updated.": "ปรับสถานะความคิดเห็น %(id)s แล้ว",
    "Feedback %(id)s answered.": "ตอบความคิดเห็น %(id)s แล้ว",
    # the patron's own page: "My feedback"
    "Thank you: the library has your message (no. %(id)s).": "ขอบคุณค่ะ ห้องสมุดได้รับข้อความของท่านแล้ว (เลขที่ %(id)s)",
    "About": "เรื่อง",
    "Your message (at most %(n)s characters)": "ข้อความของท่าน (ไม่เกิน %(n)s ตัวอักษร)",
    "For a book request: back it with %(n)s of my points (given back if the library does not buy it)": (
        "สำหรับคำขอซื้อหนังสือ: ใช้คะแนนของฉัน %(n)s คะแนนสนับสนุน (คืนให้หากห้องสมุดไม่จัดซื้อ)"
    ),
    "Send to the library": "ส่งถึงห้องสมุด",
    "The library's answer": "คำตอบจากห้องสมุด",
    "You have not written to the library yet.": "ท่านยังไม่เคยส่งความคิดเห็นถึงห้องสมุด",
    # reports
    "Feedback by category and channel": "ความคิดเห็นตามประเภทและช่องทาง",
    "Time to the first answer": "ระยะเวลาถึงคำตอบแรก",
    "Satisfaction per month": "ความพึงพอใจรายเดือน",
    # the service's refusals
    "channel must be one of %(known)s, got %(channel)r": "ช่องทางต้องเป็นหนึ่งใน %(known)s ได้รับ %(channel)r",
    "rating must be 1-5, got %(rating)r": "คะแนนความพึงพอใจต้องอยู่ระหว่าง 1-5 ได้รับ %(rating)r",
    "only a book-purchase request can pledge points": "เฉพาะคำขอซื้อหนังสือเท่านั้นที่ใช้คะแนนสนับสนุนได้",
    "book-purchase requests pledge no points in this programme": "โครงการนี้ไม่ได้กำหนดคะแนนสนับสนุนคำขอซื้อหนังสือ",
    "a request that pledges points needs a member": "คำขอที่ใช้คะแนนสนับสนุนต้องระบุสมาชิก",
    "no feedback %(id)r": "ไม่พบความคิดเห็น %(id)r",
    "status must be one of %(known)s, got %(status)r": "สถานะต้องเป็นหนึ่งใน %(known)s ได้รับ %(status)r",
    "feedback %(id)s is closed": "ความคิดเห็น %(id)s ปิดแล้ว",
    "no active staff account %(name)r": "ไม่พบบัญชีเจ้าหน้าที่ที่ใช้งานอยู่ %(name)r",
    "feedback %(id)s is answered by writing the answer": "ความคิดเห็น %(id)s จะเป็น 'ตอบแล้ว' เมื่อเขียนคำตอบเท่านั้น",
    "feedback %(id)s cannot go from %(old)s to %(new)s": "ความคิดเห็น %(id)s เปลี่ยนจาก %(old)s เป็น %(new)s ไม่ได้",
    "feedback %(id)s changed meanwhile; try again": "ความคิดเห็น %(id)s เพิ่งถูกเปลี่ยน กรุณาลองใหม่",
    "decision must be one of %(known)s, got %(decision)r": "ผลการพิจารณาต้องเป็นหนึ่งใน %(known)s ได้รับ %(decision)r",
    "feedback %(id)s is not a book-purchase request": "ความคิดเห็น %(id)s ไม่ใช่คำขอซื้อหนังสือ",
    "feedback %(id)s was %(decision)s already": "ความคิดเห็น %(id)s ได้รับการพิจารณาแล้ว (%(decision)s)",
    # the bus contract's text rules (the same for a kiosk's message and a typed one)
    "category must be one of %(known)s, got %(category)r": "ประเภทต้องเป็นหนึ่งใน %(known)s ได้รับ %(category)r",
    "text must be a string, got %(type)s": "ข้อความต้องเป็นตัวอักษร ได้รับ %(type)s",
    "the feedback text is empty": "ยังไม่ได้พิมพ์ข้อความ",
    "the feedback text is %(length)s characters; the limit is %(max)s": "ข้อความยาว %(length)s ตัวอักษร เกินกำหนด %(max)s ตัวอักษร",
    "the feedback text holds a control character (U+%(code)s)": "ข้อความมีอักขระควบคุม (U+%(code)s)",
}
_fold_in(TH_FEEDBACK)


# --------------------------------------------------------------------------- the patron's own page
#
# Issue 14 (item 1): server/web/patron.py, templates patron_*.html, server/services/patrons.py,
# and the counter PIN on the console's member page. One block so it merges beside the others.
TH_PATRON = {
    "%(needed)s more points": "อีก %(needed)s คะแนน",
    "%(points)s points would pay these fines at the counter or a kiosk.": "ใช้ %(points)s คะแนนชำระค่าปรับนี้ได้ที่เคาน์เตอร์หรือตู้คีออส",
    "A PIN is set. The patron signs in at /me with their card number and this PIN.": "ตั้งรหัส PIN แล้ว สมาชิกเข้าสู่ระบบที่ /me ด้วยหมายเลขบัตรและรหัสนี้",
    "A monthly statement of my points": "สรุปคะแนนของฉันทุกเดือน",
    "All history (last 100)": "ประวัติทั้งหมด (100 รายการล่าสุด)",
    "Back to sign-in": "กลับไปหน้าเข้าสู่ระบบ",
    "Borrow %(books)s books for %(loan)s": "ยืมหนังสือได้ %(books)s เล่ม นาน %(loan)s",
    "By points earned in %(term)s. You can hide yourself from rankings under Messages.": "จัดอันดับตามคะแนนที่ได้รับในภาค %(term)s ซ่อนชื่อของคุณจากการจัดอันดับได้ที่เมนูการแจ้งเตือน",
    "Check your e-mail": "โปรดตรวจอีเมลของคุณ",
    "E-mail": "อีเมล",
    "Earn points this term to appear in the ranking.": "สะสมคะแนนในภาคนี้เพื่อขึ้นอันดับ",
    "Earned this term (%(term)s): %(points)s points": "ได้รับในภาค/ปีการศึกษานี้ (%(term)s): %(points)s คะแนน",
    "Fine discount: up to %(baht)s baht": "ส่วนลดค่าปรับ: สูงสุด %(baht)s บาท",
    "Fines owed: %(baht)s baht": "ค่าปรับค้างชำระ: %(baht)s บาท",
    "Hello, %(name)s": "สวัสดี %(name)s",
    "History": "ประวัติ",
    "If this card number has an e-mail address with the library, a sign-in link is on its way. It works once, for %(minutes)s minutes.": "หากบัตรหมายเลขนี้มีอีเมลในระบบห้องสมุด เราได้ส่งลิงก์เข้าสู่ระบบไปแล้ว ลิงก์ใช้ได้ครั้งเดียว ภายใน %(minutes)s นาที",
    "Items on loan: %(n)s · overdue: %(m)s": "หนังสือที่ยืมอยู่: %(n)s เล่ม · เกินกำหนด: %(m)s เล่ม",
    "Language of messages": "ภาษาของข้อความ",
    "Latest": "ล่าสุด",
    "Library account": "บัญชีห้องสมุด",
    "Library card number": "หมายเลขบัตรห้องสมุด",
    "Library system not reachable; fines cannot be shown now.": "ติดต่อระบบห้องสมุดไม่ได้ จึงแสดงค่าปรับไม่ได้ในขณะนี้",
    "Locker: %(days)s days": "ตู้ฝากของ: %(days)s วัน",
    "Member until %(day)s": "เป็นสมาชิกถึง %(day)s",
    "Membership ended on %(day)s": "สมาชิกภาพสิ้นสุดเมื่อ %(day)s",
    "Messages": "การแจ้งเตือน",
    "Messages from the library": "ข้อความจากห้องสมุด",
    "My feedback": "ความคิดเห็นของฉัน",
    "My privilege card": "บัตรสิทธิพิเศษของฉัน",
    "My privileges now": "สิทธิพิเศษของฉันตอนนี้",
    "My ranking this term": "อันดับของฉันในภาคนี้",
    "New PIN (4-12 digits)": "รหัส PIN ใหม่ (ตัวเลข 4-12 หลัก)",
    "News about my account (a new level, rights ending, prizes, answers to my feedback)": "ข่าวเกี่ยวกับบัญชีของฉัน (ได้ระดับใหม่ สิทธิใกล้หมด รางวัล คำตอบความคิดเห็นของฉัน)",
    "News and promotions from the library": "ข่าวสารและโปรโมชันจากห้องสมุด",
    "No PIN is set.": "ยังไม่ได้ตั้งรหัส PIN",
    "No PIN? Get a sign-in link by e-mail": "ไม่มีรหัส PIN? รับลิงก์เข้าสู่ระบบทางอีเมล",
    "No e-mail? Ask staff at the counter to check your address or to set a PIN for you.": "ไม่ได้รับอีเมล? ขอให้เจ้าหน้าที่ที่เคาน์เตอร์ตรวจสอบอีเมลของคุณ หรือตั้งรหัส PIN ให้",
    "No fines owed.": "ไม่มีค่าปรับค้างชำระ",
    "No promotion is running for you right now.": "ขณะนี้ยังไม่มีโปรโมชันสำหรับคุณ",
    "Nothing yet.": "ยังไม่มีรายการ",
    "Overview": "ภาพรวม",
    "PIN": "รหัส PIN",
    "PIN for the patron page": "รหัส PIN สำหรับหน้าของสมาชิก",
    "PIN removed.": "ลบรหัส PIN แล้ว",
    "PIN set; the member's open sessions on their page ended.": "ตั้งรหัส PIN แล้ว การเข้าสู่ระบบที่เปิดค้างไว้ของสมาชิกสิ้นสุดลง",
    "Phone": "โทรศัพท์",
    "Progress to the next level": "ความคืบหน้าสู่ระดับถัดไป",
    "Promotions now": "โปรโมชันตอนนี้",
    "Rankings": "การจัดอันดับ",
    "Remove PIN": "ลบรหัส PIN",
    "Saved.": "บันทึกแล้ว",
    "Send me": "ส่งให้ฉัน",
    "Send me a link": "ส่งลิงก์ให้ฉัน",
    "Set PIN": "ตั้งรหัส PIN",
    "Show me in the library's rankings and my place on this page": "แสดงชื่อฉันในการจัดอันดับของห้องสมุดและอันดับของฉันในหน้านี้",
    "Sign in to your privilege card page": "เข้าสู่หน้าบัตรสิทธิพิเศษของคุณ",
    "Sign in with your card number and PIN": "เข้าสู่ระบบด้วยหมายเลขบัตรและรหัส PIN",
    "Sign-in links are sent whatever you choose here.": "ลิงก์เข้าสู่ระบบจะส่งให้เสมอ ไม่ว่าจะเลือกอย่างไรที่นี่",
    "Soon you can send the library a suggestion, a complaint or a book request here, and read its answers.": "เร็ว ๆ นี้ คุณจะส่งข้อเสนอแนะ ข้อร้องเรียน หรือขอให้ห้องสมุดซื้อหนังสือได้ที่นี่ และอ่านคำตอบได้",
    "Study room: %(hours)s hours per booking": "ห้องค้นคว้า: %(hours)s ชั่วโมงต่อการจอง",
    "The card number or PIN is wrong.": "หมายเลขบัตรหรือรหัส PIN ไม่ถูกต้อง",
    "The form expired; nothing was changed. Please try again.": "แบบฟอร์มหมดอายุ ไม่มีการเปลี่ยนแปลงใด ๆ โปรดลองอีกครั้ง",
    "The library system does not let you borrow at the moment; please ask at the counter.": "ระบบห้องสมุดยังไม่ให้คุณยืมในขณะนี้ โปรดติดต่อเคาน์เตอร์",
    "The library system is not reachable, so your PIN cannot be checked now. Try again later, or ask for a sign-in link by e-mail below.": "ติดต่อระบบห้องสมุดไม่ได้ จึงตรวจรหัส PIN ไม่ได้ในขณะนี้ โปรดลองใหม่ภายหลัง หรือขอลิงก์เข้าสู่ระบบทางอีเมลด้านล่าง",
    "The server is busy; try again in a few seconds.": "ระบบไม่ว่าง โปรดลองใหม่ในอีกสักครู่",
    "This link signs you in once. Press the button to continue.": "ลิงก์นี้ใช้เข้าสู่ระบบได้ครั้งเดียว กดปุ่มเพื่อดำเนินการต่อ",
    "This member's PIN is checked by the library system; a PIN set here is not used while the library system is linked.": "รหัส PIN ของสมาชิกคนนี้ตรวจโดยระบบห้องสมุด รหัสที่ตั้งที่นี่จะไม่ถูกใช้ขณะเชื่อมต่อกับระบบห้องสมุด",
    "This sign-in link has been used or has expired. Ask for a new one.": "ลิงก์เข้าสู่ระบบนี้ถูกใช้แล้วหรือหมดอายุ โปรดขอลิงก์ใหม่",
    "Too many failed attempts from this connection; try again in %(minutes)s minutes.": "ลองผิดหลายครั้งเกินไปจากการเชื่อมต่อนี้ โปรดลองใหม่ในอีก %(minutes)s นาที",
    "Too many wrong PINs: signing in with this card is locked until %(until)s.": "ใส่รหัส PIN ผิดหลายครั้งเกินไป บัตรนี้ถูกล็อกการเข้าสู่ระบบถึง %(until)s",
    "Use the PIN of the library system (the one you use for the library catalogue). If your card has no library account, use the PIN staff set for you at the counter.": "ใช้รหัส PIN ของระบบห้องสมุด (รหัสเดียวกับที่ใช้ในระบบสืบค้นของห้องสมุด) หากบัตรของคุณไม่มีบัญชีห้องสมุด ให้ใช้รหัสที่เจ้าหน้าที่ตั้งให้ที่เคาน์เตอร์",
    "Use the PIN staff set for you at the counter.": "ใช้รหัส PIN ที่เจ้าหน้าที่ตั้งให้ที่เคาน์เตอร์",
    "We send a link to the e-mail address the library has for you. It works once, for %(minutes)s minutes.": "เราจะส่งลิงก์ไปยังอีเมลของคุณที่ห้องสมุดมีอยู่ ลิงก์ใช้ได้ครั้งเดียว ภายใน %(minutes)s นาที",
    "You are signed out.": "ออกจากระบบแล้ว",
    "You have reached the highest level.": "คุณได้ระดับสูงสุดแล้ว",
    "Your last %(n)s entries, newest first. Balance now: %(points)s points.": "%(n)s รายการล่าสุด เรียงจากใหม่ไปเก่า คะแนนคงเหลือตอนนี้ %(points)s คะแนน",
    "Your level follows the points you earned this term; spending points does not lower it.": "ระดับของคุณคิดจากคะแนนที่ได้รับในภาคนี้ การใช้คะแนนไม่ทำให้ระดับลดลง",
    "Your level follows your balance.": "ระดับของคุณคิดจากคะแนนคงเหลือ",
    "a patron PIN must be 4-12 digits": "รหัส PIN ของสมาชิกต้องเป็นตัวเลข 4-12 หลัก",
    "cancelled": "ยกเลิกแล้ว",
    "messages are not set up on this server": "เซิร์ฟเวอร์นี้ยังไม่ได้ตั้งค่าการส่งข้อความ",
    "of %(n)s members": "จากสมาชิก %(n)s คน",
    "points": "คะแนน",
    "the card number or PIN is wrong, or sign-in is locked for a while": "หมายเลขบัตรหรือรหัส PIN ไม่ถูกต้อง หรือการเข้าสู่ระบบถูกล็อกชั่วคราว",
    "too many failed sign-ins; try again in %(seconds)s seconds": "เข้าสู่ระบบไม่สำเร็จหลายครั้งเกินไป โปรดลองใหม่ในอีก %(seconds)s วินาที",
    "unlock: %(what)s": "จะได้: %(what)s",
    "until %(day)s": "ถึง %(day)s",
}
_fold_in(TH_PATRON)


# --------------------------------------------------------------------------- privcard admin's setup errors
#
# The database (server/store.py), the card key file (server/sun.py), the broker's password file,
# ACL and site bridges (server/broker_accounts.py; broker/mosquitto/'s own errors have their Thai in
# broker/mosquitto/thai.py, folded in below, which privcard setup shares): privcard admin prints the
# Thai line under the English one, --json gives error_th. One block so it merges beside the others.
TH_ADMIN_SETUP = {
    # the database
    "database %(key)s version %(version)s is newer than this privcard (%(known)s)": "ฐานข้อมูล %(key)s รุ่น %(version)s ใหม่กว่าที่ privcard นี้รองรับ (%(known)s)",
    "unsupported database URL %(url)r; use sqlite:///PATH or postgresql://USER@HOST/DB": "ไม่รองรับ URL ฐานข้อมูล %(url)r ใช้ sqlite:///PATH หรือ postgresql://USER@HOST/DB",
    "bad port %(port)r in database URL %(url)s": "พอร์ต %(port)r ใน URL ฐานข้อมูล %(url)s ไม่ถูกต้อง",
    "empty host in database URL %(url)s": "URL ฐานข้อมูล %(url)s มีชื่อเครื่องที่ว่างอยู่",
    "cannot open database %(url)s: %(error)s": "เปิดฐานข้อมูล %(url)s ไม่ได้: %(error)s",
    # the card key file
    "%(name)s must be 32 hex digits (an AES-128 key)": "%(name)s ต้องเป็นเลขฐานสิบหก 32 หลัก (กุญแจ AES-128)",
    "card key file %(path)s: %(kind)s: %(error)s": "ไฟล์กุญแจบัตร %(path)s: %(kind)s: %(error)s",
    "card key file %(path)s is readable by others: chmod 600 it": "ไฟล์กุญแจบัตร %(path)s ผู้อื่นอ่านได้: ใช้ chmod 600",
    "card key file %(path)s: expected keys master and/or kek, got %(keys)s": "ไฟล์กุญแจบัตร %(path)s: ต้องมีกุญแจ master และ/หรือ kek (ได้รับ %(keys)s)",
    "card key file %(path)s: %(name)s must be a string of 32 hex digits": "ไฟล์กุญแจบัตร %(path)s: %(name)s ต้องเป็นข้อความเลขฐานสิบหก 32 หลัก",
    "no key-encryption key (kek) in the card key file: cannot store per-card keys": "ไฟล์กุญแจบัตรไม่มีกุญแจเข้ารหัสกุญแจ (kek) จึงเก็บกุญแจเฉพาะบัตรไม่ได้",
    # the broker's password file and ACL
    "no device %(id)s; register it first (privcard admin device add %(id)s ...) or pass --force": "ไม่พบอุปกรณ์ %(id)s ลงทะเบียนก่อน (privcard admin device add %(id)s ...) หรือระบุ --force",
    # site bridges
    "cannot write the site broker's files in %(out)s: %(error)s": "เขียนไฟล์ของโบรกเกอร์สาขาใน %(out)s ไม่ได้: %(error)s",
    "cannot read the central broker's CA %(path)s (%(error)s): give --central-ca FILE": "อ่าน CA ของโบรกเกอร์กลาง %(path)s ไม่ได้ (%(error)s): ระบุ --central-ca FILE",
    "%(path)s is not a PEM certificate: give the central broker's CA with --central-ca": "%(path)s ไม่ใช่ใบรับรองแบบ PEM: ระบุ CA ของโบรกเกอร์กลางด้วย --central-ca",
    # the console's start (server/web/__init__.py) and privcard admin staff (server/web/staff_admin.py)
    "--http must be HOST:PORT, got %(addr)r": "--http ต้องเป็น HOST:PORT (ได้รับ %(addr)r)",
    "PRIVCARD_WEB_PUBLIC_URL must be an http:// or https:// address, got %(url)r": "PRIVCARD_WEB_PUBLIC_URL ต้องเป็นที่อยู่แบบ http:// หรือ https:// (ได้รับ %(url)r)",
    # privcard server --http on a port another program holds (server/main.py)
    "the web console cannot listen on %(addr)s: %(error)s (ss -ltnp names the program that holds it: stop it, or give --http a free HOST:PORT; for the service, PRIVCARD_SERVER_ARGS in /etc/privcard/server.env)": "เว็บคอนโซลเปิดรับการเชื่อมต่อที่ %(addr)s ไม่ได้: %(error)s (ดูโปรแกรมที่ใช้พอร์ตนี้อยู่ด้วย ss -ltnp แล้วหยุดโปรแกรมนั้น หรือระบุ --http HOST:PORT ที่ว่าง สำหรับบริการ systemd แก้ค่า PRIVCARD_SERVER_ARGS ใน /etc/privcard/server.env)",
    "passwords differ": "รหัสผ่านที่พิมพ์สองครั้งไม่ตรงกัน",
    "%(command)s: run it as privcard admin": "%(command)s: ต้องสั่งผ่าน privcard admin",
}
_fold_in(TH_ADMIN_SETUP)
_fold_in(broker_thai.TH)


# --------------------------------------------------------------------------- privcard demo
#
# server/demo.py: what stops the demo before it runs (a port taken, a broker out of reach, a gate
# process that stopped); printed English then Thai, exit code 1. Its database error is the store's.
TH_DEMO = {
    "the web console cannot listen on %(addr)s: %(error)s (give --http HOST:PORT with a free port, or --http '' for no console)": "เว็บคอนโซลเปิดรับการเชื่อมต่อที่ %(addr)s ไม่ได้: %(error)s (ระบุ --http HOST:PORT ที่ว่าง หรือ --http '' เพื่อไม่เปิดคอนโซล)",
    "--mqtt is not a broker URL: %(error)s": "--mqtt ไม่ใช่ URL ของโบรกเกอร์: %(error)s",
    "cannot reach the MQTT broker at %(address)s (--mqtt): %(error)s": "ติดต่อโบรกเกอร์ MQTT ที่ %(address)s (--mqtt) ไม่ได้: %(error)s",
    "the embedded MQTT broker did not start: %(error)s": "โบรกเกอร์ MQTT ในตัวไม่เริ่มทำงาน: %(error)s",
    "gate %(id)s could not start: %(path)s: %(error)s": "เริ่มเกต %(id)s ไม่ได้: %(path)s: %(error)s",
    "gate %(id)s stopped at start (exit code %(code)s): see %(log)s": "เกต %(id)s หยุดทำงานตั้งแต่เริ่ม (รหัสออก %(code)s): ดู %(log)s",
}
_fold_in(TH_DEMO)


# --------------------------------------------------------------------------- privcard admin's human output
#
# server/admin.py, programme_cli.py, feedback_cli.py, messages_cli.py (through server/cli_support.py):
# a confirmation or summary prints its English line, then its Thai line; a listing prints its rows
# once under one header line naming the columns "English/ไทย" (the console's column words above are
# reused). --json is unchanged. One block so it merges beside the other parts' strings.
TH_ADMIN_CLI = {
    # the columns of the listings (those the console has keep its Thai)
    "At": "เวลา",
    "Note": "หมายเหตุ",
    "Term": "อายุสมาชิก",
    "Joining today: until": "สมัครวันนี้ ใช้ได้ถึง",
    "Multiplier": "ตัวคูณ",
    "Groups": "กลุ่มผู้ใช้",
    "Promotion at (points earned)": "เลื่อนประเภทเมื่อได้คะแนนถึง",
    "Suspected card": "บัตรที่สงสัยว่าถูกคัดลอก",
    "Suspected since": "สงสัยตั้งแต่",
    "Default site": "สาขาหลัก",
    "Hours (Monday)": "เวลาเปิด (วันจันทร์)",
    "Transaction": "รหัสรายการ",
    "Entry": "เลขที่รายการ",
    "Site name": "ชื่อสาขา",
    "Group name": "ชื่อกลุ่ม",
    "Title": "ชื่อรายการ",
    "Baht": "บาท",
    "Last message": "ข้อความล่าสุด",
    "Month": "เดือน",
    "Average satisfaction": "ความพึงพอใจเฉลี่ย",
    "Number of ratings": "จำนวนผู้ให้คะแนน",
    "Assignee": "ผู้รับผิดชอบ",
    "Batch": "ชุดข้อความ",
    "Deliveries": "การส่ง",
    "Template": "แม่แบบ",
    "Queued (UTC)": "เวลาเข้าคิว (UTC)",
    "By": "โดย",
    "Section": "ส่วน",
    "Setting": "ค่าที่ตั้ง",
    "Old value": "ค่าเดิม",
    "New value": "ค่าใหม่",
    "Starts": "เริ่ม",
    "Ends": "สิ้นสุด",
    "Entries": "จำนวนรายการ",
    "Draw": "การจับรางวัล",
    "Rank": "อันดับ",
    "Score": "คะแนน",
    # device show, site show: labels of one thing's summary, and words in it
    "Value": "ค่า",
    "Source": "ที่มา",
    "set here": "ตั้งที่อุปกรณ์นี้",
    "programme": "จากโครงการ",
    "not published": "ไม่ได้ส่งให้อุปกรณ์",
    "Reported at": "รายงานเมื่อ",
    "Uptime (seconds)": "ทำงานต่อเนื่อง (วินาที)",
    "Clock synchronised": "นาฬิกาตรง",
    "Allow-list version": "รุ่นรายชื่อบัตรสำหรับออฟไลน์",
    "Oldest tap waiting": "การแตะบัตรที่ค้างส่งเก่าสุด",
    "Device error": "ข้อผิดพลาดของอุปกรณ์",
    "no": "ไม่",
    # short words in rows
    "never": "ไม่เคย",
    "queued": "เข้าคิว",
    "yes": "ใช่",
    "points pledged": "คะแนนที่สนับสนุน",
    "decision": "ผลการพิจารณา",
    "given back by entry": "คืนคะแนนโดยรายการ",
    "answer": "คำตอบ",
    "action taken": "สิ่งที่ห้องสมุดดำเนินการ",
    "by category": "ตามประเภท",
    "by channel": "ตามช่องทาง",
    "(segment text)": "(ข้อความของกลุ่ม)",
    "key 1 (SDM meta read)": "กุญแจ 1 (SDM meta read)",
    "key 2 (SDM file read)": "กุญแจ 2 (SDM file read)",
    "NOT VALID": "ใช้ไม่ได้",
    "BLOCKED": "ถูกระงับ",
    "not blocked": "ไม่ถูกระงับ",
    # nothing to list
    "no members": "ไม่มีสมาชิก",
    "no devices": "ไม่มีอุปกรณ์",
    "no sites": "ไม่มีสาขา",
    "no entries": "ไม่มีรายการ",
    "no pending payments": "ไม่มีการชำระเงินที่รอระบบห้องสมุดยืนยัน",
    "no feedback": "ไม่มีความคิดเห็น",
    "no messages": "ไม่มีข้อความ",
    "no segment messages": "ไม่มีข้อความถึงกลุ่มสมาชิก",
    "no campaigns": "ไม่มีแคมเปญ",
    "no draws": "ไม่มีการจับรางวัล",
    "no stored version: the start-up file is in force": "ยังไม่มีฉบับที่บันทึกไว้: ใช้ไฟล์โครงการที่โหลดตอนเริ่มระบบ",
    # members, terms, cards
    "enrolled member #%(id)s %(name)s: %(points)s points": "สมัครสมาชิก #%(id)s %(name)s แล้ว: %(points)s คะแนน",
    "updated member #%(id)s": "แก้ไขข้อมูลสมาชิก #%(id)s แล้ว",
    "renewed member #%(id)s until %(until)s; fee %(fee)s baht recorded": "ต่ออายุสมาชิก #%(id)s ถึง %(until)s แล้ว บันทึกค่าธรรมเนียม %(fee)s บาท",
    "member #%(id)s is now %(tier)s": "สมาชิก #%(id)s ประเภทบัตรเป็น %(tier)s แล้ว",
    "would lapse %(n)s member(s) whose term ended before %(date)s (points: %(on_expiry)s)": "สมาชิกที่จะหมดอายุ %(n)s คน (สมาชิกภาพสิ้นสุดก่อน %(date)s คะแนน: %(on_expiry)s) ยังไม่ได้เปลี่ยนแปลงข้อมูล",
    "lapsed %(n)s member(s) whose term ended before %(date)s (points: %(on_expiry)s)": "สมาชิกหมดอายุแล้ว %(n)s คน (สมาชิกภาพสิ้นสุดก่อน %(date)s คะแนน: %(on_expiry)s)",
    "would put back %(n)s tier(s) won by points in an earlier term: the new term has begun": "ประเภทบัตรที่ได้จากคะแนนในภาค/ปีการศึกษาก่อนจะกลับเป็นประเภทเดิม %(n)s คน เพราะเริ่มภาค/ปีการศึกษาใหม่แล้ว ยังไม่ได้เปลี่ยนแปลงข้อมูล",
    "put back %(n)s tier(s) won by points in an earlier term: the new term has begun": "ประเภทบัตรที่ได้จากคะแนนในภาค/ปีการศึกษาก่อนกลับเป็นประเภทเดิมแล้ว %(n)s คน เพราะเริ่มภาค/ปีการศึกษาใหม่แล้ว",
    "today %(today)s: semester %(semester)s, academic year %(year)s; renewal fee %(fee)s baht; points at expiry: %(on_expiry)s; privileges follow: %(basis)s": "วันนี้ %(today)s: ภาคการศึกษา %(semester)s ปีการศึกษา %(year)s ค่าต่ออายุ %(fee)s บาท คะแนนเมื่อหมดอายุ: %(on_expiry)s สิทธิพิเศษคิดจาก: %(basis)s",
    "member #%(id)s now uses card %(card)s; old card(s) blocked; fee %(fee)s baht recorded": "สมาชิก #%(id)s ใช้บัตร %(card)s แล้ว ระงับบัตรเดิมแล้ว บันทึกค่าธรรมเนียม %(fee)s บาท",
    "card %(uid)s blocked": "ระงับบัตร %(uid)s แล้ว",
    "card %(uid)s now requires Secure Unique NFC (imported keys)": "บัตร %(uid)s ต้องใช้ Secure Unique NFC ตั้งแต่นี้ไป (กุญแจที่นำเข้า)",
    "card %(uid)s now requires Secure Unique NFC (keys diversified from the master key)": "บัตร %(uid)s ต้องใช้ Secure Unique NFC ตั้งแต่นี้ไป (กุญแจที่สร้างจากกุญแจหลัก)",
    "card %(uid)s: its SDM keys (secrets: do not paste them into tickets or chats)": "บัตร %(uid)s: กุญแจ SDM ของบัตร (เป็นความลับ: อย่าคัดลอกไปใส่ในระบบแจ้งปัญหาหรือแชต)",
    "secured %(secured)s, UID-only %(uid_only)s (active cards)": "บัตรที่ใช้งานอยู่: ป้องกันการคัดลอกแล้ว %(secured)s ใบ ใช้ UID อย่างเดียว %(uid_only)s ใบ",
    # devices
    "added %(kind)s %(id)s": "เพิ่มอุปกรณ์ %(id)s (%(kind)s) แล้ว",
    "updated %(id)s (revision %(revision)s); the server publishes its config within a second": "แก้ไขอุปกรณ์ %(id)s แล้ว (ครั้งที่ %(revision)s) เซิร์ฟเวอร์จะส่งการตั้งค่าให้อุปกรณ์ภายในหนึ่งวินาที",
    # points
    "credited: %(points)+d points, balance %(balance)s": "ได้รับ %(points)+d คะแนน คะแนนคงเหลือ %(balance)s คะแนน",
    "%(outcome)s: no points, balance %(balance)s": "ไม่ได้รับคะแนน (%(outcome)s) คะแนนคงเหลือ %(balance)s คะแนน",
    "voided entry %(entry)s: %(points)+d points, member #%(member)s balance %(balance)s": "ยกเลิกรายการ %(entry)s แล้ว: %(points)+d คะแนน สมาชิก #%(member)s คะแนนคงเหลือ %(balance)s คะแนน",
    "moved %(points)s points from #%(source)s (now %(source_balance)s) to #%(target)s (now %(target_balance)s)": "โอน %(points)s คะแนนจาก #%(source)s (คงเหลือ %(source_balance)s) ให้ #%(target)s (คงเหลือ %(target_balance)s) แล้ว",
    "redeemed %(points)s points for %(reward)s (%(baht)s baht); balance %(balance)s": "แลก %(points)s คะแนนเป็น%(reward)s (%(baht)s บาท) แล้ว คะแนนคงเหลือ %(balance)s คะแนน",
    "redeemed %(points)s points for %(reward)s (%(units)s unit(s)); balance %(balance)s": "แลก %(points)s คะแนนเป็น%(reward)s (%(units)s หน่วย) แล้ว คะแนนคงเหลือ %(balance)s คะแนน",
    "paid in the library system: %(transaction)s (%(message)s)": "ชำระในระบบห้องสมุดแล้ว: %(transaction)s (%(message)s)",
    "not paid: %(transaction)s (%(message)s)": "ไม่ได้ชำระ: %(transaction)s (%(message)s)",
    "PENDING in the library system: %(transaction)s (%(message)s); the points stay held until it answers (ils settle)": "รอระบบห้องสมุดยืนยัน: %(transaction)s (%(message)s) คะแนนถูกกันไว้จนกว่าระบบจะตอบ (ils settle)",
    "NOT redeemed: the library system refused %(transaction)s: %(message)s; the %(points)s points are back, balance %(balance)s": "แลกคะแนนไม่สำเร็จ: ระบบห้องสมุดปฏิเสธ %(transaction)s: %(message)s คืน %(points)s คะแนนแล้ว คะแนนคงเหลือ %(balance)s คะแนน",
    # the library system
    "patron %(patron)s: %(valid)s, fines %(fines).2f baht, %(charged)s charged, %(overdue)s overdue, %(blocked)s; flags: %(flags)s": "ผู้ใช้บริการ %(patron)s: %(valid)s ค่าปรับ %(fines).2f บาท ยืมอยู่ %(charged)s รายการ เกินกำหนด %(overdue)s รายการ %(blocked)s สถานะพิเศษ: %(flags)s",
    "ILS says: %(message)s": "ระบบห้องสมุดแจ้งว่า: %(message)s",
    # import-attendance: its progress (stderr) and summary
    "resuming job %(job)s after line %(line)s": "ทำงาน %(job)s ต่อจากบรรทัดที่ %(line)s",
    "job %(job)s: %(done)s/%(total)s rows, %(credited)s would be credited, %(already)s already, %(errors)s errors": "งาน %(job)s: %(done)s/%(total)s แถว จะได้คะแนน %(credited)s ได้คะแนนไปแล้ว %(already)s ผิดพลาด %(errors)s",
    "job %(job)s: %(done)s/%(total)s rows, %(credited)s credited, %(already)s already, %(errors)s errors": "งาน %(job)s: %(done)s/%(total)s แถว ได้คะแนน %(credited)s ได้คะแนนไปแล้ว %(already)s ผิดพลาด %(errors)s",
    "deleted the lists of %(n)s old finished import(s)": "ลบรายชื่อของการนำเข้าเก่าที่เสร็จแล้ว %(n)s รายการ",
    "would credit %(credited)s, already credited %(already)s, errors %(errors)s": "จะได้คะแนน %(credited)s ได้คะแนนไปแล้ว %(already)s ผิดพลาด %(errors)s",
    "credited %(credited)s, already credited %(already)s, errors %(errors)s": "ได้คะแนน %(credited)s ได้คะแนนไปแล้ว %(already)s ผิดพลาด %(errors)s",
    "  ... and %(n)s more errors (not listed)": "  ... และข้อผิดพลาดอีก %(n)s รายการ (ไม่ได้แสดง)",
    # the programme, campaigns, draws, rankings
    "wrote version %(version)s to %(file)s": "เขียนโครงการฉบับที่ %(version)s ลงใน %(file)s แล้ว",
    "would change %(n)s setting(s); nothing changed yet": "จะเปลี่ยน %(n)s รายการ (ยังไม่ได้เปลี่ยนแปลง)",
    "version %(version)s: %(n)s change(s)": "ฉบับที่ %(version)s: เปลี่ยน %(n)s รายการ",
    "added campaign %(code)s: %(gives)s, from %(starts)s to %(ends)s": "เพิ่มแคมเปญ %(code)s แล้ว: %(gives)s ตั้งแต่ %(starts)s ถึง %(ends)s",
    "ended campaign %(code)s: it gave %(points)s points in %(entries)s entries": "สิ้นสุดแคมเปญ %(code)s แล้ว: ให้ไป %(points)s คะแนน ใน %(entries)s รายการ",
    "recorded draw #%(id)s %(name)s; its seed is published when it is run": "บันทึกการจับรางวัล #%(id)s %(name)s แล้ว ค่า seed จะเปิดเผยเมื่อจับรางวัล",
    "ran draw #%(id)s: %(n)s winner(s)": "จับรางวัล #%(id)s แล้ว: ผู้ได้รับรางวัล %(n)s คน",
    "gave the prize of draw #%(id)s to its winners": "มอบรางวัลของการจับรางวัล #%(id)s ให้ผู้ได้รับรางวัลแล้ว",
    "draw %(id)s: verified: winners %(winners)s, recomputed %(recomputed)s": "การจับรางวัล %(id)s: ตรวจสอบแล้วถูกต้อง ผู้ได้รับรางวัล %(winners)s คำนวณซ้ำได้ %(recomputed)s",
    "draw %(id)s: MISMATCH: winners %(winners)s, recomputed %(recomputed)s": "การจับรางวัล %(id)s: ไม่ตรงกัน ผู้ได้รับรางวัล %(winners)s คำนวณซ้ำได้ %(recomputed)s",
    "recorded ranking #%(id)s": "บันทึกการจัดอันดับ #%(id)s แล้ว",
    # the feedback desk
    "recorded feedback %(id)s": "บันทึกความคิดเห็น %(id)s แล้ว",
    "feedback %(id)s assigned to %(assignee)s": "มอบหมายความคิดเห็น %(id)s ให้ %(assignee)s แล้ว",
    "feedback %(id)s assigned to nobody": "ความคิดเห็น %(id)s ไม่มีผู้รับผิดชอบแล้ว",
    "answered feedback %(id)s": "ตอบความคิดเห็น %(id)s แล้ว",
    "feedback %(id)s is now %(status)s": "ความคิดเห็น %(id)s อยู่ในสถานะ%(status)sแล้ว",
    "recorded the decision on feedback %(id)s": "บันทึกผลการพิจารณาความคิดเห็น %(id)s แล้ว",
    "no channel back: anonymous kiosk feedback cannot be answered to the patron": "ไม่มีช่องทางตอบกลับ: ความคิดเห็นแบบไม่ระบุตัวตนจากตู้คีออสก์ตอบกลับถึงผู้ใช้บริการไม่ได้",
    "feedback %(start)s .. %(end)s: %(total)s written": "ความคิดเห็นตั้งแต่ %(start)s ถึง %(end)s: %(total)s รายการ",
    "first answer: %(answered)s answered, median %(median)s h, p90 %(p90)s h": "การตอบครั้งแรก: ตอบแล้ว %(answered)s รายการ ค่ามัธยฐาน %(median)s ชั่วโมง p90 %(p90)s ชั่วโมง",
    # messages to patrons
    "%(members)s member(s): %(recipients)s will receive it, %(opted_out)s opted out, %(no_address)s without an address": "สมาชิก %(members)s คน: จะได้รับ %(recipients)s คน ไม่ประสงค์รับ %(opted_out)s คน ไม่มีที่อยู่อีเมล %(no_address)s คน",
    "segment message %(batch)s: %(total)s member(s); %(counts)s": "ข้อความถึงกลุ่ม %(batch)s: สมาชิก %(total)s คน %(counts)s",
    "import failed": "นำเข้าไม่สำเร็จ",
    # privcard admin staff (server/web/staff_admin.py)
    "staff account %(name)s (%(role)s) created": "สร้างบัญชีเจ้าหน้าที่ %(name)s (%(role)s) แล้ว",
    "staff account %(name)s (%(role)s) created with a temporary password": "สร้างบัญชีเจ้าหน้าที่ %(name)s (%(role)s) แล้ว ด้วยรหัสผ่านชั่วคราว",
    "%(name)s works for %(sites)s": "%(name)s ทำงานให้สาขา %(sites)s",
    "%(name)s works for every site": "%(name)s ทำงานให้ทุกสาขา",
    "password of %(name)s changed": "เปลี่ยนรหัสผ่านของ %(name)s แล้ว",
    "password of %(name)s changed (temporary: must be changed at the next sign-in)": "เปลี่ยนรหัสผ่านของ %(name)s แล้ว (ชั่วคราว: ต้องเปลี่ยนเมื่อเข้าสู่ระบบครั้งถัดไป)",
    "%(name)s is now %(role)s": "%(name)s มีบทบาทเป็น %(role)s แล้ว",
    "%(name)s disabled": "ระงับบัญชี %(name)s แล้ว",
    "%(name)s enabled": "เปิดใช้บัญชี %(name)s แล้ว",
    "%(name)s unlocked": "ปลดล็อกบัญชี %(name)s แล้ว",
    "card %(card)s on %(device)s: unlocked": "บัตร %(card)s ที่ %(device)s: ปลดล็อกแล้ว",
    "card %(card)s on %(device)s: %(n)s wrong PIN(s) forgotten": "บัตร %(card)s ที่ %(device)s: ล้างการใส่ PIN ผิด %(n)s ครั้งแล้ว",
    "no staff PIN lock-outs": "ไม่มีบัตรเจ้าหน้าที่ที่ถูกล็อกเพราะใส่ PIN ผิด",
    # privcard admin staff list / tokens: their headers and values (cli_support.table, code_word)
    "no staff accounts": "ยังไม่มีบัญชีเจ้าหน้าที่",
    "no API tokens": "ไม่มีโทเค็น API",
    "disabled": "ระงับการใช้งาน",
    "Token": "โทเค็น",
    "token %(id)s of %(name)s expires %(when)s UTC": "โทเค็น %(id)s ของ %(name)s หมดอายุ %(when)s UTC",
    "token %(id)s of %(name)s revoked": "เพิกถอนโทเค็น %(id)s ของ %(name)s แล้ว",
    # Mosquitto accounts and ACLs (server/broker_accounts.py)
    "retired %(id)s: the server refuses it now; password entry removed from %(file)s; ACL %(acl)s rewritten": "ปลดระวาง %(id)s แล้ว: เซิร์ฟเวอร์ไม่รับอุปกรณ์นี้อีก ลบรหัสผ่านออกจาก %(file)s แล้ว เขียน ACL %(acl)s ใหม่แล้ว",
    "retired %(id)s: the server refuses it now; password entry was not in %(file)s; ACL %(acl)s rewritten": "ปลดระวาง %(id)s แล้ว: เซิร์ฟเวอร์ไม่รับอุปกรณ์นี้อีก ไม่มีรหัสผ่านของอุปกรณ์นี้ใน %(file)s เขียน ACL %(acl)s ใหม่แล้ว",
    "reload Mosquitto so it takes effect: %(command)s": "โหลด Mosquitto ใหม่เพื่อให้มีผล: %(command)s",
    "%(id)s is active again; give it a password: privcard admin device credentials %(id)s": "%(id)s กลับมาใช้งานได้แล้ว ให้ตั้งรหัสผ่าน: privcard admin device credentials %(id)s",
    "%(acl)s: %(n)s active device(s); retired devices' passwords removed: %(removed)s": "%(acl)s: อุปกรณ์ที่ใช้งาน %(n)s เครื่อง ลบรหัสผ่านของอุปกรณ์ที่ปลดระวางแล้ว: %(removed)s",
    "none": "ไม่มี",
    "server account": "บัญชีของเซิร์ฟเวอร์",
    "device %(id)s": "อุปกรณ์ %(id)s",
    "%(who)s: password entry replaced in %(file)s": "%(who)s: แทนที่รหัสผ่านใน %(file)s แล้ว",
    "%(who)s: password entry added in %(file)s": "%(who)s: เพิ่มรหัสผ่านใน %(file)s แล้ว",
    "env file for the systemd unit (%(path)s, mode 0600; add the other settings, e.g. %(example)s):": "ไฟล์ env สำหรับ systemd unit (%(path)s สิทธิ์ 0600 เพิ่มค่าอื่น ๆ เช่น %(example)s):",
    "site %(site)s: bridge account %(user)s kept in %(file)s": "สาขา %(site)s: คงบัญชี bridge %(user)s ไว้ใน %(file)s",
    "site %(site)s: bridge account %(user)s written in %(file)s": "สาขา %(site)s: เขียนบัญชี bridge %(user)s ลงใน %(file)s แล้ว",
    "central ACL %(acl)s: %(user)s may publish only the topics of %(n)s device(s)": "ACL ของโบรกเกอร์กลาง %(acl)s: %(user)s ส่งข้อความได้เฉพาะหัวข้อของอุปกรณ์ %(n)s เครื่อง",
    "site broker files in %(out)s: mosquitto.conf (holds the bridge password), acl, passwd": "ไฟล์ของโบรกเกอร์สาขาอยู่ใน %(out)s: mosquitto.conf (มีรหัสผ่าน bridge), acl, passwd",
    "new device accounts: %(ids)s (env files in %(dir)s)": "บัญชีอุปกรณ์ใหม่: %(ids)s (ไฟล์ env อยู่ใน %(dir)s)",
    "on the site broker: copy mosquitto.conf to /etc/mosquitto/conf.d/privcard.conf, acl and passwd to /etc/mosquitto/privcard/, the central CA to %(ca)s, and the site's own ca.pem/server.pem/server.key; then on both brokers: %(command)s": "ที่โบรกเกอร์สาขา: คัดลอก mosquitto.conf ไปที่ /etc/mosquitto/conf.d/privcard.conf คัดลอก acl และ passwd ไปที่ /etc/mosquitto/privcard/ คัดลอก CA กลางไปที่ %(ca)s และคัดลอก ca.pem/server.pem/server.key ของสาขาเอง แล้วที่โบรกเกอร์ทั้งสองแห่ง: %(command)s",
    "or copy the bundle %(bundle)s (it holds the passwords) to the site broker's machine and run there: sudo privcard setup site-broker --bundle %(name)s --host SITE-BROKER-NAME": "หรือคัดลอกชุดไฟล์ %(bundle)s (มีรหัสผ่าน) ไปยังเครื่องโบรกเกอร์สาขา แล้วรันที่นั่น: sudo privcard setup site-broker --bundle %(name)s --host SITE-BROKER-NAME",
}
_fold_in(TH_ADMIN_CLI)


# --------------------------------------------------------------------------- codes the console says in words
#
# server/web/labels.py: an activity's window, the device page's taps, a ranking's scores, the
# programme's change counts.
TH_CONSOLE_WORDS = {
    "the last %(minutes)s minutes before closing": "%(minutes)s นาทีสุดท้ายก่อนปิดทำการ",
    "any time": "ทุกเวลา",
    "Programme version %(version)s is in force (1 change).": "โครงการฉบับที่ %(version)s มีผลแล้ว (เปลี่ยนแปลง 1 รายการ)",
    "Checked: 1 change, nothing saved.": "ตรวจสอบแล้ว: จะเปลี่ยนแปลง 1 รายการ ยังไม่ได้บันทึก",
    "Tapped at (the device's clock)": "เวลาที่แตะบัตร (ตามนาฬิกาของอุปกรณ์)",
    "received %(when)s": "เซิร์ฟเวอร์ได้รับเมื่อ %(when)s",
    "%(n)s points earned": "ได้รับ %(n)s คะแนน",
    "%(n)s days with a loan": "ยืม %(n)s วัน",
    "member %(id)s": "สมาชิก %(id)s",
    # the audit log's "Who" (labels.actor_name)
    "%(name)s (command line)": "%(name)s (บรรทัดคำสั่ง)",
    "command line (%(login)s)": "บรรทัดคำสั่ง (%(login)s)",
    "member's page (%(source)s)": "หน้าของสมาชิก (%(source)s)",
    # a prize draw's page: who it counts, why each member is on its list
    "one per %(n)s points earned": "1 สิทธิ์ต่อ %(n)s คะแนนที่ได้",
    "the current semester": "ภาคการศึกษาปัจจุบัน",
    "1 ticket": "1 สิทธิ์",
    "%(n)s tickets": "%(n)s สิทธิ์",
    "As recorded (JSON)": "ตามที่บันทึกไว้ (JSON)",
    "%(n)s members": "%(n)s คน",
    # the programme page's section tabs: a title, and the table it is in programme.toml
    "In programme.toml: %(table)s": "ในไฟล์ programme.toml: %(table)s",
    # the audit log's "Target" (labels.audit_target): what the id names, the id kept beside it
    "entry %(id)s": "รายการ %(id)s",
    "Programme version %(version)s": "โครงการฉบับที่ %(version)s",
    "Feedback %(id)s": "ความคิดเห็น %(id)s",
    "Message %(id)s": "ข้อความ %(id)s",
    # the ids in an audit row's detail (labels.audit_pairs): by name, the id kept beside it
    "API token": "โทเค็น API",
    # the device form saved with nothing changed (views.device): no audit row, no new config
    "Device %(id)s: nothing changed.": "อุปกรณ์ %(id)s: ไม่มีการเปลี่ยนแปลง",
    "token %(id)s": "โทเค็น %(id)s",
    "and %(n)s more": "และอีก %(n)s",
    # a device's audit detail (labels._device_pairs): a setting's value with its unit
    "%(n)s ms": "%(n)s มิลลิวินาที",
    "%(n)s s": "%(n)s วินาที",
}
_fold_in(TH_CONSOLE_WORDS)
