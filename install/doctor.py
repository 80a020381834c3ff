"""what breaks deployments, checked on this machine, with a fix each (privcard doctor [--json]).

One line per check: ``ok``/``FAIL``/``warn``, the check's name, what was found, and (on
failure) the fix. The roles come from setup's manifest (``/etc/privcard/setup-manifest.json``).
Exit status 1 when any check fails (``warn`` does not fail), so monitoring can run it.

Checks: time synchronised; the units active; broker reachable with this machine's
credentials (over TLS with the CA the device pins); the ACL lets a device publish its own
topics and nothing else; the TLS certificate valid and not near expiry; reader present
and readable; the GPIO pin factory; disk space and outbox size; the database reachable
and migrated (server); the server's background jobs not failing nor hung (the health file it
writes in its state directory); a site broker's bridge to the central broker connected (its
``$SYS/broker/connection/bridge-SITE/state``).

Every check's finding and fix is said in English, then `` — `` and Thai (:func:`both`), in the
text lines and in ``--json``'s ``detail`` and ``fix`` alike; a date in the Thai half is in the
Buddhist era. A check's ``name`` stays English: monitoring keys on it.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from broker.mosquitto import bridge
from broker.server_health import HEALTH_FILE as SERVER_HEALTH_FILE
from broker.server_health import clearly_hung_after_s, hung_after_s
from install import roles
from install.plan import load_manifest

CERT_WARN_DAYS = 30
OUTBOX_WARN_BYTES = 100 * 1024 * 1024
DISK_MIN_FREE = 200 * 1024 * 1024
BE_OFFSET = 543
#: ``systemctl is-active``'s answers, in Thai
UNIT_STATES_TH = {
    "active": "ทำงานอยู่",
    "inactive": "ไม่ได้ทำงาน",
    "failed": "ล้มเหลว",
    "activating": "กำลังเริ่มทำงาน",
    "deactivating": "กำลังหยุดทำงาน",
    "reloading": "กำลังโหลดค่าใหม่",
    "unknown": "ไม่ทราบสถานะ",
}


def both(english: str, thai: str) -> str:
    """One text in both languages, as every check says it: ``English — Thai``."""
    return f"{english} — {thai}"


def thai_date(openssl_end: str) -> str:
    """openssl's ``notAfter`` (``Dec  2 08:00:00 2027 GMT``) as a Thai date in the Buddhist era
    (``2/12/2570 08:00:00 GMT``); the text as it is when it does not read as one."""
    try:
        when = datetime.strptime(" ".join(openssl_end.split()), "%b %d %H:%M:%S %Y %Z")
    except ValueError:
        return openssl_end
    return f"{when.day}/{when.month}/{when.year + BE_OFFSET} {when:%H:%M:%S} GMT"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    warn: bool = False

    def line(self) -> str:
        tag = "ok  " if self.ok and not self.warn else ("warn" if self.ok else "FAIL")
        return f"{tag} {self.name}: {self.detail}" + (
            f" — fix (วิธีแก้): {self.fix}" if (self.fix and not self.ok) or self.warn else ""
        )


def _run(argv: list[str], timeout: float = 20) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(argv, 127, "", str(exc))


# --------------------------------------------------------------------------- time


class _Timex(ctypes.Structure):
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time_sec", ctypes.c_long),
        ("time_usec", ctypes.c_long),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("pad", ctypes.c_int * 11),
    ]


STA_UNSYNC = 0x40
TIME_ERROR = 5


def kernel_synchronised() -> bool:
    """The kernel's view (adjtimex): what ``timedatectl``'s NTPSynchronized reports."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    tx = _Timex()
    state = libc.adjtimex(ctypes.byref(tx))
    return state != TIME_ERROR and not tx.status & STA_UNSYNC and tx.maxerror < 16_000_000


def check_time() -> Check:
    services = [u for u in ("chrony.service", "systemd-timesyncd.service") if _active(u)]
    synced = kernel_synchronised()
    if not services:
        return Check(
            "time",
            False,
            both(
                "no time sync service is running (chrony, systemd-timesyncd)",
                "ไม่มีบริการตั้งเวลาทำงานอยู่ (chrony, systemd-timesyncd)",
            ),
            both(
                "systemctl enable --now systemd-timesyncd (taps carry clock_ok=false until the clock is synchronised)",
                "เปิดบริการตั้งเวลาด้วย systemctl enable --now systemd-timesyncd "
                "(การแตะบัตรจะมี clock_ok=false จนกว่านาฬิกาจะตรง)",
            ),
        )
    if not synced:
        return Check(
            "time",
            False,
            both(
                f"{services[0]} runs but the clock is not synchronised yet",
                f"{services[0]} ทำงานอยู่ แต่นาฬิกายังไม่ตรงกับเวลามาตรฐาน",
            ),
            both(
                "check the network and NTP= in /etc/systemd/timesyncd.conf.d/ (timedatectl timesync-status)",
                "ตรวจเครือข่ายและค่า NTP= ใน /etc/systemd/timesyncd.conf.d/ (timedatectl timesync-status)",
            ),
        )
    return Check("time", True, both(f"synchronised ({services[0]})", f"นาฬิกาตรงแล้ว ({services[0]})"))


def _active(unit: str) -> bool:
    return _run(["systemctl", "is-active", unit]).stdout.strip() == "active"


def check_units(settings: dict) -> list[Check]:
    out = []
    for unit in roles.units_of(settings):
        state = _run(["systemctl", "is-active", unit]).stdout.strip() or "unknown"
        out.append(
            Check(
                f"unit {unit}",
                state == "active",
                both(state, UNIT_STATES_TH.get(state, state)),
                both(
                    f"systemctl restart {unit}; journalctl -u {unit} -n 50",
                    f"เริ่ม {unit} ใหม่ด้วย systemctl restart แล้วดูบันทึกด้วย journalctl -u {unit} -n 50",
                ),
            )
        )
    return out


# --------------------------------------------------------------------------- broker


def _mqtt_probe(url: str, own_topic: str | None, other_topic: str | None, timeout: float = 8.0) -> dict:
    """Connect with ``url``'s credentials (MQTT v5); publish QoS 1 on ``own_topic`` and ``other_topic``."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    result: dict = {"connected": None, "pubacks": {}}
    done = threading.Event()
    acks = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="", protocol=mqtt.MQTTv5)
    if parts.username:
        client.username_pw_set(unquote(parts.username), unquote(parts.password or ""))
    if parts.scheme == "mqtts":
        client.tls_set(ca_certs=query.get("ca"))
    pending: dict[int, str] = {}

    def on_connect(c, userdata, flags, reason, props):
        result["connected"] = not reason.is_failure
        result["reason"] = str(reason)
        done.set()

    def on_publish(c, userdata, mid, reason, props):
        topic = pending.pop(mid, None)
        if topic:
            result["pubacks"][topic] = reason.value
        if not pending:
            acks.set()

    client.on_connect = on_connect
    client.on_publish = on_publish
    port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    try:
        client.connect(parts.hostname, port, keepalive=10)
    except Exception as exc:  # TLS verification, refused connection, name resolution
        return {"connected": False, "reason": f"{type(exc).__name__}: {exc}"}
    client.loop_start()
    try:
        if not done.wait(timeout) or not result["connected"]:
            result.setdefault("reason", "no answer from the broker")
            result["connected"] = False
            return result
        props = Properties(PacketTypes.PUBLISH)
        for topic in filter(None, (own_topic, other_topic)):
            info = client.publish(topic, b"{}", qos=1, properties=props)
            pending[info.mid] = topic
        if pending:
            acks.wait(timeout)
        return result
    finally:
        client.disconnect()
        client.loop_stop()


def check_broker(role: str, settings: dict, env: dict) -> list[Check]:
    url = env.get("PRIVCARD_MQTT")
    if not url:
        return [
            Check(
                "broker",
                False,
                both("no PRIVCARD_MQTT in the env file", "ไฟล์ env ไม่มีค่า PRIVCARD_MQTT"),
                both(f"privcard setup {role} --mqtt URL", f"รัน privcard setup {role} --mqtt URL"),
            )
        ]
    if role == "server":
        probe = _mqtt_probe(url, None, None)
        if probe["connected"]:
            where = f"{urlsplit(url).hostname}:{urlsplit(url).port}"
            return [
                Check(
                    "broker",
                    True,
                    both(f"privcard-server logs in at {where}", f"privcard-server เข้าสู่โบรกเกอร์ที่ {where} ได้"),
                )
            ]
        return [
            Check(
                "broker",
                False,
                both(f"privcard-server cannot log in: {probe['reason']}", "privcard-server เข้าสู่โบรกเกอร์ไม่ได้"),
                both(
                    "systemctl status mosquitto; privcard setup server (rewrites the server's account)",
                    "ตรวจว่า mosquitto ทำงานอยู่ (systemctl status mosquitto) แล้วรัน privcard setup server "
                    "อีกครั้ง (เขียนบัญชีของเซิร์ฟเวอร์ใหม่)",
                ),
            )
        ]
    device_id = settings["device_id"]
    own = f"privcard/dev/{device_id}/status"
    other = f"privcard/dev/{device_id}-doctor-probe/tap"
    probe = _mqtt_probe(url, own, other)
    where = f"{urlsplit(url).hostname}:{urlsplit(url).port or 8883}"
    if not probe["connected"]:
        reason = probe.get("reason", "")
        fix = both(
            f"ask the server for new credentials: privcard setup device-credentials {device_id}",
            f"ขอรหัสผ่านใหม่จากเซิร์ฟเวอร์: privcard setup device-credentials {device_id}",
        )
        if "CERTIFICATE" in reason.upper() or "SSL" in reason.upper():
            fix = both(
                "the broker's certificate does not verify with /etc/privcard/ca.pem: renew it on the server",
                "ใบรับรองของโบรกเกอร์ตรวจกับ /etc/privcard/ca.pem ไม่ผ่าน: ต่ออายุใบรับรองที่เซิร์ฟเวอร์",
            )
        detail = both(f"{device_id} cannot log in at {where}: {reason}", f"{device_id} เข้าสู่โบรกเกอร์ที่ {where} ไม่ได้")
        return [Check("broker", False, detail, fix)]
    scheme = urlsplit(url).scheme
    out = [
        Check(
            "broker",
            True,
            both(f"{device_id} logs in at {where} over {scheme}", f"{device_id} เข้าสู่โบรกเกอร์ที่ {where} ได้ ({scheme})"),
        )
    ]
    acks = probe.get("pubacks", {})
    own_ok = acks.get(own, 0x80) < 0x80  # 0, or 16 "no matching subscribers": accepted either way
    other_refused = acks.get(other, 0) >= 0x80
    if own_ok and other_refused:
        out.append(
            Check(
                "acl",
                True,
                both(
                    f"{device_id} may publish its own topics, not another device's",
                    f"{device_id} ส่งข้อมูลได้เฉพาะหัวข้อของตนเอง ไม่ใช่ของอุปกรณ์อื่น",
                ),
            )
        )
    else:
        out.append(
            Check(
                "acl",
                False,
                both(
                    f"own topic {'accepted' if own_ok else 'refused'}, another device's topic "
                    f"{'refused' if other_refused else 'ACCEPTED'}",
                    f"หัวข้อของตนเอง{'ส่งได้' if own_ok else 'ถูกปฏิเสธ'} "
                    f"หัวข้อของอุปกรณ์อื่น{'ถูกปฏิเสธ' if other_refused else 'ส่งได้ (ผิด)'}",
                ),
                both(
                    "on the server: privcard admin device acl && systemctl reload mosquitto",
                    "ที่เซิร์ฟเวอร์: สั่ง privcard admin device acl แล้ว systemctl reload mosquitto",
                ),
            )
        )
    return out


# --------------------------------------------------------------------------- site broker


def _bridge_state(url: str, topic: str, timeout: float = 6.0) -> dict:
    """Log in to the site broker with ``url`` and read the retained bridge state on ``topic``."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    parts = urlsplit(url)
    result: dict = {"connected": None, "state": None}
    connected, got = threading.Event(), threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="", protocol=mqtt.MQTTv5)
    client.username_pw_set(unquote(parts.username or ""), unquote(parts.password or ""))
    if parts.scheme == "mqtts":
        client.tls_set(ca_certs=parse_qs(parts.query).get("ca", [None])[-1])

    def on_connect(c, userdata, flags, reason, props):
        result["connected"] = not reason.is_failure
        result["reason"] = str(reason)
        if not reason.is_failure:
            c.subscribe(topic, qos=0)
        connected.set()

    def on_message(c, userdata, msg):
        result["state"] = msg.payload.decode("utf-8", "replace").strip()
        got.set()

    client.on_connect = on_connect
    client.on_message = on_message
    try:
        client.connect(parts.hostname, parts.port or 1883, keepalive=10)
    except Exception as exc:  # refused, name resolution, TLS
        return {"connected": False, "reason": f"{type(exc).__name__}: {exc}", "state": None}
    client.loop_start()
    try:
        if not connected.wait(timeout) or not result["connected"]:
            result["connected"] = False
            result.setdefault("reason", "no answer from the broker")
            return result
        got.wait(timeout)
        return result
    finally:
        client.disconnect()
        client.loop_stop()


def check_bridge(url: str, site: str, central: str, timeout: float = 6.0) -> Check:
    """Is the site broker's bridge to the central broker connected? (its retained ``$SYS`` state topic)"""
    account = bridge.username(site)
    probe = _bridge_state(url, bridge.state_topic(site), timeout)
    if not probe["connected"]:
        return Check(
            "bridge",
            False,
            f"cannot ask the site broker: {probe.get('reason')} — ถามสถานะจากโบรกเกอร์สาขาไม่ได้",
            "systemctl status mosquitto; sudo privcard setup site-broker (rewrites its accounts) — "
            "ตรวจว่า mosquitto ทำงานอยู่ แล้วรัน privcard setup site-broker อีกครั้ง",
        )
    if probe["state"] == "1":
        return Check(
            "bridge",
            True,
            f"connected to the central broker {central} as {account} — "
            f"เชื่อมต่อกับโบรกเกอร์กลาง {central} แล้ว (บัญชี {account})",
        )
    if probe["state"] == "0":
        detail = (
            f"NOT connected to the central broker {central} ({account}); taps wait in the site broker "
            f"and the gates' outboxes — ไม่ได้เชื่อมต่อกับโบรกเกอร์กลาง {central} "
            "การแตะบัตรรออยู่ที่โบรกเกอร์สาขาและในเครื่องอ่านบัตร"
        )
    else:
        detail = (
            f"no bridge state from the site broker (is the bridge in its config?) — "
            f"ไม่มีสถานะสะพานเชื่อมจากโบรกเกอร์สาขา ({account})"
        )
    return Check(
        "bridge",
        False,
        detail,
        f"check the network to {central} (nc -vz {central.replace(':', ' ')}) and the central broker's log "
        f"for {account}; then systemctl restart mosquitto — ตรวจเครือข่ายไปยัง {central} "
        f"และบันทึกของโบรกเกอร์กลาง แล้วสั่ง systemctl restart mosquitto",
    )


# --------------------------------------------------------------------------- certificates


def renew_fix(role: str) -> str:
    """How to renew the broker certificate that ``privcard setup ROLE`` made (English and Thai)."""
    return (
        f"sudo rm {roles.MOSQ}/server.pem && sudo privcard setup {role} (re-issues it from the same CA and "
        f"restarts Mosquitto; the devices' ca.pem stays valid) — ลบ server.pem แล้วรัน privcard setup {role} "
        "อีกครั้ง (ออกใบรับรองใหม่จาก CA เดิม อุปกรณ์ใช้ ca.pem เดิมได้)"
    )


#: the central broker's CA on a site broker (from the bundle)
CENTRAL_CA_FIX = (
    "renew the central broker's CA on the central server, then there privcard admin site bridge SITE --central "
    "HOST:PORT --bundle FILE and here sudo privcard setup site-broker --bundle FILE — ต่ออายุ CA ของโบรกเกอร์กลาง"
    "ที่เซิร์ฟเวอร์กลาง สร้าง bundle ใหม่ แล้วรัน privcard setup site-broker --bundle อีกครั้งที่เครื่องนี้"
)
#: a device's copy of its broker's CA
DEVICE_CA_FIX = (
    "copy the broker's new ca.pem here and run sudo privcard setup gate|kiosk --ca ca.pem — "
    "คัดลอก ca.pem ใหม่ของโบรกเกอร์มาที่เครื่องนี้ แล้วรัน privcard setup gate|kiosk --ca ca.pem"
)


def check_certificate(path: str, what: str, fix: str | None = None) -> Check:
    """Is the certificate there and valid? ``fix``: how to renew it (default: the server's broker certificate)."""
    fix = fix or renew_fix("server")
    if not os.path.exists(path):
        return Check(f"certificate {what}", False, f"{path} is missing — ไม่พบไฟล์ใบรับรอง", fix)
    if not shutil.which("openssl"):
        return Check(
            f"certificate {what}",
            True,
            both("openssl not installed: not checked", "ไม่ได้ติดตั้ง openssl จึงไม่ได้ตรวจ"),
            warn=True,
        )
    end = _run(["openssl", "x509", "-in", path, "-noout", "-enddate"]).stdout.strip().split("=", 1)[-1]
    if _run(["openssl", "x509", "-in", path, "-noout", "-checkend", "0"]).returncode != 0:
        return Check(
            f"certificate {what}", False, both(f"{path} expired ({end})", f"ใบรับรองหมดอายุแล้ว ({thai_date(end)})"), fix
        )
    soon = _run(["openssl", "x509", "-in", path, "-noout", "-checkend", str(CERT_WARN_DAYS * 86400)]).returncode
    if soon != 0:
        return Check(
            f"certificate {what}",
            True,
            both(f"{path} expires soon ({end})", f"ใบรับรองใกล้หมดอายุ ({thai_date(end)})"),
            fix,
            warn=True,
        )
    return Check(f"certificate {what}", True, both(f"valid until {end}", f"ใช้ได้ถึง {thai_date(end)}"))


# --------------------------------------------------------------------------- devices


def check_reader(spec: str) -> Check:
    kind, _, rest = spec.partition(":")
    target = rest.split("?", 1)[0]
    if kind in ("serial", "hid") and target.startswith("/"):
        if not os.path.exists(target):
            return Check(
                "reader",
                False,
                both(f"{target} is missing ({spec})", f"ไม่พบ {target} ({spec})"),
                both(
                    "plug the reader in; check the udev rules (udevadm info) and the --reader spec (docs/hardware.md)",
                    "เสียบเครื่องอ่านบัตร ตรวจกฎ udev (udevadm info) และค่า --reader (docs/hardware.md)",
                ),
            )
        if not _readable_by_privcard(target):
            return Check(
                "reader",
                False,
                both(f"{target} is not readable by {roles.USER}", f"ผู้ใช้ {roles.USER} อ่าน {target} ไม่ได้"),
                both("check 99-privcard-readers.rules", "ตรวจไฟล์กฎ 99-privcard-readers.rules"),
            )
        return Check("reader", True, both(f"{target} present and readable ({spec})", f"พบ {target} และอ่านได้ ({spec})"))
    if kind == "nfc" and target.startswith("usb"):
        ids = {"072f:2200", "04e6:5591", "04e6:5593", "04cc:2533", "054c:0193", "04cc:0531", "054c:02e1"}
        ids |= {"054c:06c1", "054c:06c3"}
        found = []
        for dev in Path("/sys/bus/usb/devices").glob("*"):
            try:
                vid = (dev / "idVendor").read_text().strip()
                pid = (dev / "idProduct").read_text().strip()
            except OSError:
                continue
            if f"{vid}:{pid}" in ids:
                found.append(f"{vid}:{pid}")
        if found:
            return Check(
                "reader", True, both(f"USB NFC reader {found[0]} present", f"พบเครื่องอ่าน NFC แบบ USB {found[0]}")
            )
        return Check(
            "reader",
            False,
            both("no supported USB NFC reader plugged in", "ไม่พบเครื่องอ่าน NFC แบบ USB ที่รองรับ"),
            both("plug the reader in (lsusb)", "เสียบเครื่องอ่านบัตร (ตรวจด้วย lsusb)"),
        )
    return Check(
        "reader", True, both(f"{spec}: nothing to check", f"{spec}: ไม่มีสิ่งที่ต้องตรวจ"), warn=kind not in ("stdin", "fake")
    )


def _readable_by_privcard(path: str) -> bool:
    import grp
    import pwd

    try:
        user = pwd.getpwnam(roles.USER)
    except KeyError:
        return os.access(path, os.R_OK)
    st = os.stat(path)
    groups = {g.gr_gid for g in grp.getgrall() if roles.USER in g.gr_mem} | {user.pw_gid}
    if st.st_uid == user.pw_uid:
        return bool(st.st_mode & 0o400)
    if st.st_gid in groups:
        return bool(st.st_mode & 0o040)
    return bool(st.st_mode & 0o004)


def check_gpio(env: dict) -> Check:
    factory = env.get("GPIOZERO_PIN_FACTORY")
    if factory == "mock":
        return Check(
            "gpio",
            True,
            both(
                "pin factory mock (no real GPIO: tests and benches)", "pin factory แบบจำลอง (ไม่มี GPIO จริง: สำหรับทดสอบ)"
            ),
        )
    python = f"{roles.VENV}/bin/python"
    code = "from gpiozero import Device; Device.ensure_pin_factory(); print(type(Device.pin_factory).__name__)"
    done = _run([python, "-c", code], timeout=30)
    if done.returncode == 0:
        factory = done.stdout.strip()
        return Check("gpio", True, both(f"pin factory {factory}", f"ใช้ pin factory {factory}"))
    last = (done.stderr.strip().splitlines() or ["?"])[-1]
    return Check(
        "gpio",
        False,
        both(f"no GPIO pin factory: {last}", "ไม่มี pin factory ของ GPIO"),
        both("apt-get install python3-lgpio (Raspberry Pi OS)", "ติดตั้ง python3-lgpio ด้วย apt-get (Raspberry Pi OS)"),
    )


def check_disk(state: str = roles.STATE) -> list[Check]:
    out = []
    try:
        usage = shutil.disk_usage(state)
    except OSError as exc:
        return [
            Check(
                "disk",
                False,
                both(f"{state}: {exc}", f"ใช้ {state} ไม่ได้"),
                both("privcard setup ROLE (creates it)", f"รัน privcard setup ROLE (สร้าง {state})"),
            )
        ]
    free = usage.free
    out.append(
        Check(
            "disk",
            free >= DISK_MIN_FREE,
            both(f"{free // 2**20} MiB free on {state}", f"{state} มีที่ว่าง {free // 2**20} MiB"),
            both(
                "free space: journalctl --vacuum-size=50M; old venvs in /opt/privcard/venvs",
                "เพิ่มที่ว่าง: journalctl --vacuum-size=50M และลบ venv เก่าใน /opt/privcard/venvs",
            ),
        )
    )
    outbox = sum(p.stat().st_size for p in Path(state).glob("**/*.db*") if p.is_file())
    if Path(state, "privcard.db").exists():
        return out  # the server's database: not an outbox
    out.append(
        Check(
            "outbox",
            True,
            both(f"{outbox // 1024} KiB", f"ข้อมูลรอส่ง {outbox // 1024} KiB"),
            both(
                "the gate cannot reach the server: check the broker check above",
                "เครื่องอ่านบัตรส่งข้อมูลถึงเซิร์ฟเวอร์ไม่ได้: ดูผลตรวจ broker ด้านบน",
            ),
            warn=outbox > OUTBOX_WARN_BYTES,
        )
    )
    return out


def check_database(db: str) -> Check:
    done = _run(
        [
            "runuser",
            "-u",
            roles.USER,
            "--",
            f"{roles.VENV}/bin/privcard",
            "admin",
            "device",
            "list",
            "--db",
            db,
            "--json",
        ]
    )
    where = _redact(db)
    if done.returncode == 0:
        return Check(
            "database",
            True,
            both(f"reachable, schema current ({where})", f"เชื่อมต่อได้ โครงสร้างฐานข้อมูลเป็นปัจจุบัน ({where})"),
        )
    return Check(
        "database",
        False,
        database_failure(where, done),
        both("check PRIVCARD_DB in /etc/privcard/server.env", "ตรวจค่า PRIVCARD_DB ใน /etc/privcard/server.env"),
    )


#: the server's background jobs (server/loops.py): what each does, and what stops while it fails
SERVER_JOBS = {
    "publisher": (
        "device configs and allow-list",
        "การส่งค่าตั้งและรายชื่อบัตรให้อุปกรณ์",
        "devices keep their last config and allow-list",
        "อุปกรณ์ยังใช้ค่าตั้งและรายชื่อบัตรชุดเดิม",
    ),
    "terms": (
        "daily term close",
        "การปิดภาคสมาชิกประจำวัน",
        "members whose term ended are not lapsed",
        "สมาชิกที่หมดอายุยังไม่ถูกปิดสภาพ",
    ),
    "messages": (
        "message triggers",
        "การสร้างข้อความแจ้งสมาชิก",
        "no new message is queued (levels, tiers, term endings, statements)",
        "ไม่มีการสร้างข้อความใหม่ (ระดับ ประเภทบัตร อายุสมาชิก สรุปรายเดือน)",
    ),
    "sender": (
        "mail sender",
        "การส่งอีเมลถึงสมาชิก",
        "queued messages are not sent",
        "ข้อความที่รอส่งยังไม่ถูกส่ง",
    ),
    "ils": (
        "ILS payments",
        "การชำระผ่านระบบห้องสมุด (ILS)",
        "pending ILS payments are not settled",
        "รายการชำระที่ค้างอยู่กับ ILS ยังไม่ถูกยืนยัน",
    ),
}


def _when(iso: str | None) -> tuple[str, str]:
    """An ISO UTC time from the health file, in English and as a Thai date in the Buddhist era."""
    try:
        when = datetime.fromisoformat(iso or "")
    except ValueError:
        return iso or "?", iso or "?"
    return f"{when:%Y-%m-%d %H:%M:%S} UTC", f"{when.day}/{when.month}/{when.year + BE_OFFSET} {when:%H:%M:%S} UTC"


def _hung(report: dict, h: dict, now: datetime) -> tuple[str, float, float, float, bool] | None:
    """(since when, seconds, long limit, hung limit, whether a round is known to be running) for a job
    whose round runs longer than it should (:func:`hung_after_s`), else None.

    A round the file shows running is measured from its start. A job the file shows between
    rounds is measured from its last round's end (or the server's start): its thread should
    have started the next round one interval later, so this also catches a round that started
    after the file was last written, and a server whose every job is stuck.
    """
    if h.get("state") == "stopped" or "round_started_at" not in h:  # a server from before these fields
        return None
    running = bool(h.get("round_started_at"))
    since = h.get("round_started_at") or h.get("round_finished_at") or report.get("started_at")
    try:
        when = datetime.fromisoformat(since or "")
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds, interval = (now - when).total_seconds(), h.get("interval_s")
    limit, hung_limit = hung_after_s(interval), clearly_hung_after_s(interval)
    return (since, seconds, limit, hung_limit, running) if seconds > limit else None


def _pid_alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except PermissionError:
        return True
    except (OSError, TypeError, ValueError):
        return False
    return True


def check_server_jobs(path: str, now: datetime | None = None) -> Check:
    """The server's background jobs, from the health file it keeps in its state directory (server/loops.py).

    A failing job does not stop taps (the server keeps crediting them and retries the job),
    so nothing else would show it: devices stop getting configs, mails stop, nobody notices.
    Nor does a hung one — a round that never returns — which is why the file carries each
    job's round times: this warns about a job whose round has run past its pace
    (:func:`hung_after_s`) and fails one that has run far past it (:func:`clearly_hung_after_s`:
    three times that), as a very large term close may legitimately take more than the first.
    """
    name = "server jobs"
    now = now or datetime.now(UTC)
    try:
        report = json.loads(Path(path).read_text())
        jobs = dict(report["jobs"])
    except (OSError, ValueError, KeyError, TypeError):
        report = None
    if report is None or not _pid_alive(report.get("pid")):
        return Check(
            name,
            True,
            both(f"no report from a running server in {path}", f"ไม่มีรายงานจากเซิร์ฟเวอร์ที่ทำงานอยู่ใน {path}"),
            both(
                "systemctl status privcard-server (the server writes it while it runs)",
                "ตรวจด้วย systemctl status privcard-server (เซิร์ฟเวอร์เขียนไฟล์นี้ขณะทำงาน)",
            ),
            warn=True,
        )
    overdue = {job: found for job, h in jobs.items() if (found := _hung(report, h, now))}
    hung = {job: found for job, found in overdue.items() if found[1] > found[3]}
    slow = {job: found for job, found in overdue.items() if job not in hung}
    bad = {job: h for job, h in jobs.items() if h.get("state") != "running" and job not in overdue}
    if not bad and not overdue:
        recovered = [(job, h) for job, h in jobs.items() if h.get("errors")]
        english = f"{', '.join(jobs)} running"
        thai = f"งานเบื้องหลัง {', '.join(jobs)} ทำงานปกติ"
        for job, h in recovered:
            en_at, th_at = _when(h.get("recovered_at"))
            english += f"; {job} failed {h['errors']} time(s), works again since {en_at}"
            thai += f" {job} ล้มเหลว {h['errors']} ครั้ง ทำงานได้อีกครั้งตั้งแต่ {th_at}"
        return Check(name, True, both(english, thai))
    english, thai, fixes_en, fixes_th = [], [], [], []
    for job, (since, seconds, limit, hung_limit, running) in overdue.items():
        what_en, what_th, effect_en, effect_th = SERVER_JOBS.get(job, (job, job, "", ""))
        en_at, th_at = _when(since)
        minutes, limit_min, hung_min = int(seconds // 60), int(limit // 60), int(hung_limit // 60)
        if job in slow:  # long, not yet clearly hung: a term close on a large membership may take this
            how_en = f"one round running since {en_at}" if running else f"no round ended since {en_at}"
            how_th = f"รอบการทำงานเดียวยังทำงานอยู่ตั้งแต่ {th_at}" if running else f"ไม่มีรอบการทำงานใดจบเลยตั้งแต่ {th_at}"
            english.append(
                f"{job} ({what_en}) runs long: {how_en}, {minutes} min (more than the {limit_min} min a round "
                f"of it normally takes; taken for hung after {hung_min} min); {effect_en}"
            )
            thai.append(
                f"งานเบื้องหลัง {job} ({what_th}) ใช้เวลานานผิดปกติ: {how_th} นาน {minutes} นาที "
                f"(เกิน {limit_min} นาทีที่รอบหนึ่งมักใช้ จะถือว่าค้างเมื่อเกิน {hung_min} นาที) {effect_th}"
            )
            continue
        if running:
            how_en, how_th = f"one round running since {en_at}", f"รอบการทำงานเดียวค้างอยู่ตั้งแต่ {th_at}"
        else:
            how_en, how_th = f"no round ended since {en_at}", f"ไม่มีรอบการทำงานใดจบเลยตั้งแต่ {th_at}"
        english.append(
            f"{job} ({what_en}) looks hung: {how_en}, {minutes} min (more than the {hung_min} min "
            f"a round of it may take); {effect_en}"
        )
        thai.append(
            f"งานเบื้องหลัง {job} ({what_th}) น่าจะค้าง: {how_th} นาน {minutes} นาที "
            f"(เกิน {hung_min} นาทีที่รอบหนึ่งควรใช้) {effect_th}"
        )
    if hung:
        named = ", ".join(hung)
        first_en, _ = _when(min(since for since, *_ in hung.values()))
        fixes_en.append(
            f"journalctl -u privcard-server --since '{first_en}' shows what {named} did last; "
            "systemctl restart privcard-server ends the hung round (taps wait the few seconds of the restart, "
            "none is lost)"
        )
        fixes_th.append(
            f"ดูบันทึกล่าสุดของ {named} ด้วย journalctl -u privcard-server --since '{first_en}' "
            "แล้วรีสตาร์ตด้วย systemctl restart privcard-server เพื่อยุติรอบที่ค้าง "
            "(การแตะบัตรรอเพียงไม่กี่วินาทีระหว่างรีสตาร์ต ไม่มีรายการใดสูญหาย)"
        )
    if slow:
        named = ", ".join(slow)
        first_en, _ = _when(min(since for since, *_ in slow.values()))
        fixes_en.append(
            f"a term close or the monthly statements on a large membership may take this long: "
            f"journalctl -u privcard-server --since '{first_en}' shows what {named} did last; "
            "if doctor calls it hung, systemctl restart privcard-server ends the round (taps wait the few "
            "seconds of the restart, none is lost)"
        )
        fixes_th.append(
            "การปิดภาคสมาชิกหรือสรุปรายเดือนของสมาชิกจำนวนมากอาจใช้เวลานานเท่านี้ "
            f"ดูบันทึกล่าสุดของ {named} ด้วย journalctl -u privcard-server --since '{first_en}' "
            "หากตรวจแล้วพบว่าค้าง ให้รีสตาร์ตด้วย systemctl restart privcard-server เพื่อยุติรอบนั้น "
            "(การแตะบัตรรอเพียงไม่กี่วินาทีระหว่างรีสตาร์ต ไม่มีรายการใดสูญหาย)"
        )
    for job, h in bad.items():
        what_en, what_th, effect_en, effect_th = SERVER_JOBS.get(job, (job, job, "", ""))
        error = h.get("last_error") or "?"
        if h.get("state") == "stopped":
            en_at, th_at = _when(h.get("last_error_at"))
            english.append(f"{job} ({what_en}) stopped at {en_at} on {error}; {effect_en}")
            thai.append(f"งานเบื้องหลัง {job} ({what_th}) หยุดทำงานเมื่อ {th_at} เพราะ {error} {effect_th}")
            continue
        en_at, th_at = _when(h.get("failing_since"))
        rounds = h.get("failing_rounds", 0)
        if h.get("intermittent"):  # failing on and off: some rounds work, and it has not gone a minute without failing
            last_en, last_th = _when(h.get("last_error_at"))
            english.append(
                f"{job} ({what_en}) failing since {en_at}, on and off: {rounds} failed round(s), the last at "
                f"{last_en}: {error}; {effect_en} at times"
            )
            thai.append(
                f"งานเบื้องหลัง {job} ({what_th}) ล้มเหลวเป็นระยะตั้งแต่ {th_at} รวม {rounds} รอบ "
                f"ครั้งล่าสุดเมื่อ {last_th}: {error} {effect_th}เป็นบางครั้ง"
            )
            continue
        english.append(f"{job} ({what_en}) failing since {en_at}, {rounds} round(s) in a row: {error}; {effect_en}")
        thai.append(f"งานเบื้องหลัง {job} ({what_th}) ล้มเหลวตั้งแต่ {th_at} ติดกัน {rounds} รอบ: {error} {effect_th}")
    english.append("taps are still credited")
    thai.append("การแตะบัตรยังได้คะแนนตามปกติ")
    if bad:
        stopped = any(h.get("state") == "stopped" for h in bad.values())
        jobs_named = ", ".join(bad)
        fixes_en.append(
            f"journalctl -u privcard-server | grep 'background job {next(iter(bad))}' shows the first failure's "
            "traceback; fix what it names (a row, a setting, a template) or report it: the job retries by itself"
            + ("; a stopped job runs again after systemctl restart privcard-server" if stopped else "")
        )
        fixes_th.append(
            f"ดูบันทึกข้อผิดพลาดครั้งแรกของ {jobs_named} ด้วย journalctl -u privcard-server | grep 'background job' "
            "แล้วแก้สิ่งที่ระบุ (ข้อมูล ค่าตั้ง หรือแม่แบบข้อความ) หรือแจ้งผู้พัฒนา งานจะลองใหม่เอง"
            + (" งานที่หยุดแล้วจะทำงานอีกครั้งหลัง systemctl restart privcard-server" if stopped else "")
        )
    failed = bool(bad or hung)  # a round only running long warns: it may be a large term close
    detail, fix = both("; ".join(english), " ".join(thai)), both("; ".join(fixes_en), " ".join(fixes_th))
    return Check(name, not failed, detail, fix, warn=not failed)


def database_failure(where: str, done: subprocess.CompletedProcess) -> str:
    """What ``privcard admin ... --json`` said: its ``error`` and ``error_th``, else its last line."""
    try:
        said = json.loads(done.stdout.strip().splitlines()[-1])
        english, thai = said["error"], said.get("error_th") or "เชื่อมต่อฐานข้อมูลไม่ได้"
    except (IndexError, ValueError, KeyError, TypeError):
        english = ((done.stderr or done.stdout).strip().splitlines() or ["?"])[-1]
        thai = "เชื่อมต่อฐานข้อมูลไม่ได้"
    return both(f"{where}: {english}", f"{where}: {thai}")


def _redact(url: str) -> str:
    p = urlsplit(url)
    return url.replace(f":{p.password}@", ":***@") if p.password else url


# --------------------------------------------------------------------------- main


def server_health_path(root: str, env: dict) -> str:
    """Where the server writes its jobs' health: ``PRIVCARD_HEALTH_FILE`` in its environment file, else
    the state directory (``server.loops.health_path_from_env``, which doctor may not import), under ``root``."""
    health = env.get("PRIVCARD_HEALTH_FILE") or str(Path(roles.STATE, SERVER_HEALTH_FILE))
    return str(Path(root, health.lstrip("/")))


def run_checks(root: str = "/") -> list[Check]:
    manifest = load_manifest(root)
    settings = manifest.get("settings", {})
    if not settings.get("roles"):
        return [
            Check(
                "setup",
                False,
                both("privcard setup has not run on this machine", "ยังไม่ได้รัน privcard setup บนเครื่องนี้"),
                both("sudo privcard setup ROLE", "รัน sudo privcard setup ROLE"),
            )
        ]
    checks = [check_time(), *check_units(settings)]
    for role in settings["roles"]:
        section = settings[role]
        env = roles.read_env(Path(section["env"]).read_text() if os.path.exists(section["env"]) else "")
        if role == "site-broker":
            checks.append(check_bridge(env.get("PRIVCARD_MQTT", ""), section["site"], section["central"]))
            checks.append(check_certificate(f"{roles.MOSQ}/server.pem", "site broker", renew_fix("site-broker")))
            checks.append(check_certificate(roles.CENTRAL_CA, "central CA", CENTRAL_CA_FIX))
            continue
        checks += check_broker(role, section, env)
        if role == "server":
            checks.append(check_certificate(f"{roles.MOSQ}/server.pem", "broker"))
            checks.append(check_database(section["db"]))
            checks.append(check_server_jobs(server_health_path(root, env)))
        else:
            ca = parse_qs(urlsplit(env.get("PRIVCARD_MQTT", "")).query).get("ca", [None])[-1]
            if ca:
                checks.append(check_certificate(ca, "CA", DEVICE_CA_FIX))
            checks.append(check_reader(section.get("reader", "")))
            checks.append(check_gpio(env))
    checks += check_disk()
    return checks


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="privcard doctor", description="Check this privcard machine; a fix for each problem."
    )
    p.add_argument("--json", action="store_true", help="machine-readable output (monitoring)")
    args = p.parse_args(argv)
    started = time.monotonic()
    checks = run_checks()
    failed = [c for c in checks if not c.ok]
    if args.json:
        print(
            json.dumps(
                {
                    "ok": not failed,
                    "checks": [asdict(c) for c in checks],
                    "seconds": round(time.monotonic() - started, 2),
                },
                ensure_ascii=False,
            )
        )
    else:
        for c in checks:
            print(c.line())
        print(summary(checks))
    return 1 if failed else 0


def summary(checks: list[Check]) -> str:
    """The last line: how many checks passed and which fail, in English and Thai."""
    failed = [c.name for c in checks if not c.ok]
    passed = f"{len(checks) - len(failed)}/{len(checks)}"
    return both(
        f"{passed} checks passed" + (f"; failing: {', '.join(failed)}" if failed else ""),
        f"ผ่าน {passed} รายการ" + (f" ไม่ผ่าน: {', '.join(failed)}" if failed else ""),
    )


if __name__ == "__main__":
    sys.exit(main())
