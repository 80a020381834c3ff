"""The Thai of ``broker.mosquitto``'s errors: the password file, the ACL, site bridges, certificates.

Each error keeps its English template and values apart (:class:`broker.contract.TemplatedError`);
this table says them in Thai. Two commands print them, and neither may import the other's
package: ``privcard admin`` (``server.catalogue`` folds this table in) and ``privcard setup``
(``install.thai`` does). So the Thai lives with the errors, in the bottom layer both import,
once. A test keeps every template these modules raise in this table.
"""

from __future__ import annotations

TH = {
    # a device's account name (broker.contract.check_device_id, passed on by credentials and bridge)
    "device id must be 1-64 characters of A-Z a-z 0-9 _ -, got %(device_id)s": "รหัสอุปกรณ์ต้องยาว 1-64 ตัวอักษร ประกอบด้วย A-Z a-z 0-9 _ - (ได้รับ %(device_id)s)",
    # the password file and the ACL (credentials.py, access.py)
    "unknown device kind %(kind)r; known: %(known)s": "ไม่รู้จักประเภทอุปกรณ์ %(kind)r (ที่มี: %(known)s)",
    "the ACL file has the BEGIN marker of the %(what)s section but no END marker": "ไฟล์ ACL มีเครื่องหมาย BEGIN ของส่วน %(what)s แต่ไม่มีเครื่องหมาย END",
    "cannot write ACL file %(path)s: %(error)s": "เขียนไฟล์ ACL %(path)s ไม่ได้: %(error)s",
    "cannot read password file %(path)s: %(error)s": "อ่านไฟล์รหัสผ่าน %(path)s ไม่ได้: %(error)s",
    "%(path)s line %(line)s is not username:hash": "%(path)s บรรทัดที่ %(line)s ไม่ใช่รูปแบบ username:hash",
    "cannot write password file %(path)s: %(error)s": "เขียนไฟล์รหัสผ่าน %(path)s ไม่ได้: %(error)s",
    "broker URL must be mqtt[s]://host[:port][?ca=...], got %(url)r": "URL ของโบรกเกอร์ต้องเป็น mqtt[s]://host[:port][?ca=...] (ได้รับ %(url)r)",
    "%(user)r is the server's account; a device cannot use it": "%(user)r เป็นบัญชีของเซิร์ฟเวอร์ อุปกรณ์ใช้ไม่ได้",
    # site bridges (bridge.py)
    "site code must be 1-16 of A-Z, 0-9, _ starting with a letter, got %(site)r": "รหัสสาขาต้องยาว 1-16 ตัว ประกอบด้วย A-Z 0-9 _ และขึ้นต้นด้วยตัวอักษร (ได้รับ %(site)r)",
    "device %(id)s: unknown kind %(kind)r": "อุปกรณ์ %(id)s: ไม่รู้จักประเภท %(kind)r",
    "--central must be HOST:PORT (the central broker's TLS listener), got %(address)r": "--central ต้องเป็น HOST:PORT (พอร์ต TLS ของโบรกเกอร์กลาง) (ได้รับ %(address)r)",
    "protocol must be one of %(known)s, got %(protocol)r": "protocol ต้องเป็นหนึ่งใน %(known)s (ได้รับ %(protocol)r)",
    "the bridge password must be non-empty and without spaces": "รหัสผ่านของบริดจ์ต้องไม่ว่างและไม่มีช่องว่าง",
    "%(what)s: the password must be a non-empty string without spaces": "%(what)s: รหัสผ่านต้องเป็นข้อความที่ไม่ว่างและไม่มีช่องว่าง",
    "not a site bridge bundle (not JSON: %(error)s)": "ไม่ใช่ชุดไฟล์บริดจ์ของสาขา (ไม่ใช่ JSON: %(error)s)",
    'not a site bridge bundle (no "format": "%(format)s")': 'ไม่ใช่ชุดไฟล์บริดจ์ของสาขา (ไม่มี "format": "%(format)s")',
    "bundle version %(version)r: this privcard reads version %(reads)s": "ชุดไฟล์รุ่น %(version)r: privcard นี้อ่านได้เฉพาะรุ่น %(reads)s",
    "bundle: protocol %(protocol)r is not one of %(known)s": "ชุดไฟล์: protocol %(protocol)r ไม่ใช่หนึ่งใน %(known)s",
    "bundle: central_ca is not a PEM certificate (the CA of the central broker)": "ชุดไฟล์: central_ca ไม่ใช่ใบรับรองแบบ PEM (CA ของโบรกเกอร์กลาง)",
    "bundle: devices must be an object (device id -> kind and password)": "ชุดไฟล์: devices ต้องเป็นออบเจกต์ (รหัสอุปกรณ์ -> ประเภทและรหัสผ่าน)",
    "bundle: %(why)s": "ชุดไฟล์: %(why)s",
    "bundle: device id %(id)s is reserved": "ชุดไฟล์: รหัสอุปกรณ์ %(id)s สงวนไว้",
    "bundle: device %(id)s has no known kind (%(known)s)": "ชุดไฟล์: อุปกรณ์ %(id)s ไม่มีประเภทที่รู้จัก (%(known)s)",
    # the private CA (certs.py)
    "the openssl command is needed to make certificates (apt-get install openssl)": "ต้องมีคำสั่ง openssl จึงจะสร้างใบรับรองได้ (apt-get install openssl)",
    "openssl %(command)s failed: %(error)s": "openssl %(command)s ทำงานไม่สำเร็จ: %(error)s",
    "give at least one host name or address for the broker certificate": "ระบุชื่อเครื่องหรือที่อยู่อย่างน้อยหนึ่งรายการสำหรับใบรับรองของโบรกเกอร์",
}
