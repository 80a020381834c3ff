"""``privcard setup``'s refusals in Thai: every error and refusal it prints, English then Thai.

install runs on any role and imports no role (import-linter's ``install-no-roles``), so it
cannot use ``server.catalogue``; it keeps its own small table instead, as ``privcard doctor``
keeps its checks' Thai beside them. The errors of the broker's files it passes on (a bad site
bundle, a device id, the private CA) are said with ``broker.mosquitto.thai``, the table
``server.catalogue`` folds in too, so those strings exist once. A test keeps every template
install raises in :data:`TH`.

Like ``privcard admin``: the English line, then the same prefix and the Thai line::

    privcard setup: NORTH.bundle: bundle: device id bridge-x is reserved
    privcard setup: NORTH.bundle: ชุดไฟล์: รหัสอุปกรณ์ bridge-x สงวนไว้
"""

from __future__ import annotations

import sys

from broker.mosquitto import thai as broker_thai

TH = {
    # privcard setup itself (install/setup.py)
    "run as root (sudo), or with --dry-run to see what it would do": "ต้องรันด้วยสิทธิ์ root (sudo) หรือใช้ --dry-run เพื่อดูว่าจะเปลี่ยนอะไรบ้าง",
    "kept %(n)s edited file(s): %(files)s (--force replaces them)": "คงไฟล์ที่มีการแก้ไขไว้ %(n)s ไฟล์: %(files)s (--force จะเขียนทับ)",
    "this machine has no %(role)s role yet: run privcard setup %(role)s first": "เครื่องนี้ยังไม่ได้เป็น %(role)s: รัน privcard setup %(role)s ก่อน",
    "%(version)s failed its health check: %(why)s": "%(version)s ไม่ผ่านการตรวจสุขภาพ: %(why)s",
    "rolled back to %(version)s (serving)": "ย้อนกลับไปใช้ %(version)s แล้ว (ให้บริการได้)",
    "rolled back to %(version)s (NOT serving: %(why)s)": "ย้อนกลับไปใช้ %(version)s แล้ว (ยังให้บริการไม่ได้: %(why)s)",
    "%(unit)s did not start (journalctl -u %(unit)s)": "%(unit)s ไม่เริ่มทำงาน (journalctl -u %(unit)s)",
    "%(unit)s is %(state)s (journalctl -u %(unit)s)": "%(unit)s อยู่ในสถานะ %(state)s (journalctl -u %(unit)s)",
    "%(unit)s restarted by itself after the upgrade (journalctl -u %(unit)s)": "%(unit)s เริ่มใหม่เองหลังการอัปเกรด (journalctl -u %(unit)s)",
    "privcard setup device-credentials ID": "ต้องระบุรหัสอุปกรณ์: privcard setup device-credentials ID",
    "run this on the server, after privcard setup server": "ให้รันคำสั่งนี้บนเซิร์ฟเวอร์ หลังจาก privcard setup server",
    "cannot register %(id)s: %(output)s": "ลงทะเบียน %(id)s ไม่ได้: %(output)s",
    "cannot issue credentials: %(output)s": "ออกรหัสผ่านโบรกเกอร์ไม่ได้: %(output)s",
    # the change engine (install/plan.py)
    "cannot read %(path)s: %(error)s; move it away to start over": "อ่าน %(path)s ไม่ได้: %(error)s ย้ายไฟล์ออกไปเพื่อเริ่มใหม่",
    "%(command)s failed (%(code)s):\n%(output)s": "%(command)s ทำงานไม่สำเร็จ (%(code)s):\n%(output)s",
    "kept %(path)s: edited since setup wrote it (or not written by setup); re-run with --force to replace it": "คง %(path)s ไว้: มีการแก้ไขหลังจาก setup เขียน (หรือ setup ไม่ได้เขียน) รันอีกครั้งด้วย --force เพื่อเขียนทับ",
    # what each role puts on the machine (install/roles.py)
    "%(wheel)s is not a privcard wheel (privcard-VERSION-py3-none-any.whl)": "%(wheel)s ไม่ใช่ไฟล์ wheel ของ privcard (privcard-VERSION-py3-none-any.whl)",
    "no wheel to install: give --wheel privcard-VERSION-py3-none-any.whl (setup could not tell which wheel it was installed from)": "ไม่มีไฟล์ wheel ให้ติดตั้ง: ระบุ --wheel privcard-VERSION-py3-none-any.whl (setup ไม่ทราบว่าติดตั้งมาจาก wheel ใด)",
    "cannot read %(path)s (%(option)s): %(error)s": "อ่าน %(path)s (%(option)s) ไม่ได้: %(error)s",
    "this machine is a site broker: the server (and the central broker) run on another machine": "เครื่องนี้เป็นโบรกเกอร์สาขา: เซิร์ฟเวอร์ (และโบรกเกอร์กลาง) ต้องอยู่บนเครื่องอื่น",
    "the server role is not installed here: pip install 'privcard[server]'": "เครื่องนี้ไม่ได้ติดตั้งส่วนเซิร์ฟเวอร์: pip install 'privcard[server]'",
    "give --cert, --key and --ca together (or none: setup makes a private CA)": "ระบุ --cert --key และ --ca พร้อมกัน (หรือไม่ระบุเลย แล้ว setup จะสร้าง CA ส่วนตัวให้)",
    "%(pem)s does not name %(hosts)s": "%(pem)s ไม่มีชื่อ %(hosts)s",
    "%(pem)s or %(key)s is missing": "ไม่พบ %(pem)s หรือ %(key)s",
    "%(reissue)s, and re-issuing it needs the key of the CA that made %(ca)s (%(ca_key)s, the copy you kept offline): put it back and run setup again; or give --cert --key --ca; or remove %(ca)s too for a new CA (then every device needs the new ca.pem)": "%(reissue)s และการออกใบรับรองใหม่ต้องใช้กุญแจของ CA ที่ออก %(ca)s (%(ca_key)s ซึ่งเป็นสำเนาที่เก็บไว้นอกเครื่อง): นำกลับมาวางแล้วรัน setup อีกครั้ง หรือระบุ --cert --key --ca หรือลบ %(ca)s ด้วยเพื่อสร้าง CA ใหม่ (แล้วทุกอุปกรณ์ต้องได้ ca.pem ใหม่)",
    "openssl is needed to make the certificates: apt-get install openssl": "ต้องมี openssl จึงจะสร้างใบรับรองได้: apt-get install openssl",
    "privcard setup %(role)s needs --device-id ID (the id registered on the server)": "privcard setup %(role)s ต้องระบุ --device-id ID (รหัสที่ลงทะเบียนไว้บนเซิร์ฟเวอร์)",
    "give --mqtt 'mqtts://ID:PASSWORD@BROKER:8883?ca=/etc/privcard/ca.pem' (printed by `privcard setup device-credentials ID` on the server)": "ระบุ --mqtt 'mqtts://ID:PASSWORD@BROKER:8883?ca=/etc/privcard/ca.pem' (ได้จาก `privcard setup device-credentials ID` บนเซิร์ฟเวอร์)",
    "this machine is a privcard server (the centre): a site broker runs on a machine of its own": "เครื่องนี้เป็นเซิร์ฟเวอร์ privcard (ส่วนกลาง): โบรกเกอร์สาขาต้องอยู่บนเครื่องของตนเอง",
    "cannot read the bundle %(path)s: %(error)s": "อ่านชุดไฟล์ %(path)s ไม่ได้: %(error)s",
    "privcard setup site-broker needs --bundle FILE: on the central server, privcard admin site bridge SITE --central HOST:PORT --bundle FILE writes it": "privcard setup site-broker ต้องระบุ --bundle FILE: สร้างได้บนเซิร์ฟเวอร์กลางด้วย privcard admin site bridge SITE --central HOST:PORT --bundle FILE",
    "%(source)s: %(why)s": "%(source)s: %(why)s",
}
for _source, _thai in broker_thai.TH.items():
    TH.setdefault(_source, _thai)


class Text:
    """A text to print in both languages: an English ``template`` and its ``values`` (a value may be a Text)."""

    def __init__(self, template: str, **values):
        self.template, self.values = template, values

    def __str__(self) -> str:
        return self.template % self.values if self.values else self.template


def thai(template: str | None, values: dict | None = None) -> str | None:
    """``template`` in Thai with its values (a value that carries a template is said in Thai too),
    or None when :data:`TH` lacks it."""
    if template is None or template not in TH:
        return None
    if not values:
        return TH[template]
    try:
        return TH[template] % {k: _value(v) for k, v in values.items()}
    except (KeyError, TypeError, ValueError):
        return None


def _value(value):
    inner = getattr(value, "template", None)
    if isinstance(inner, str):
        return thai(inner, getattr(value, "values", None)) or str(value)
    return value


def thai_of(said) -> str | None:
    """The Thai of an error or :class:`Text` that carries a ``template`` :data:`TH` has."""
    return thai(getattr(said, "template", None), getattr(said, "values", None))


def say(prefix: str, said, file=None) -> None:
    """Print ``prefix: English`` and, when there is one, ``prefix: Thai`` (stderr by default)."""
    out = file or sys.stderr
    print(f"{prefix}: {said}", file=out, flush=True)
    if th := thai_of(said):
        print(f"{prefix}: {th}", file=out, flush=True)
