"""Configuration errors — the programme file, ``[ils]`` and ``[mail]`` — carry their Thai, as the
device settings' errors do: each keeps its English template and values apart, ``privcard admin``
and ``privcard server`` print the Thai line under the English one, ``--json`` gives ``error_th``.
The real entry points, in this process, on real files.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
from pathlib import Path

import pytest

from broker.mosquitto import thai as broker_thai
from install import thai as install_thai
from server import catalogue
from server import main as server_main
from server.domain import campaigns, config
from server.domain.config import ConfigError, build, default_raw
from server.ils.config import IlsConfigError
from server.ils.config import build as ils_build
from server.messages.config import MailConfigError
from server.messages.config import build as mail_build
from tests.helpers import admin_here

ROOT = Path(__file__).resolve().parents[2]
RAISERS = {
    "server/domain/config.py": {"ConfigError", "error"},  # ``error``: read_section's, for [ils] and [mail]
    "server/ils/config.py": {"IlsConfigError"},
    "server/messages/config.py": {"MailConfigError"},
    "server/domain/campaigns.py": {"ConfigError"},  # the campaign form's
    "server/domain/draws.py": {"DrawError"},  # a draw's input (privcard admin draw create, the console)
    # privcard admin's setup: the database, the card key file, the broker's files and site bridges
    "server/store.py": {"StoreError"},
    "server/sun.py": {"CardKeyError"},
    "server/broker_accounts.py": {"BridgeError", "ServiceError", "NotFound"},
    "broker/mosquitto/access.py": {"AccessError", "error"},  # ``error``: without_section's, Access or Bridge
    "broker/mosquitto/credentials.py": {"CredentialsError"},
    "broker/mosquitto/bridge.py": {"BridgeError"},
    "broker/mosquitto/certs.py": {"CertError"},  # privcard setup's private CA
    "server/web/__init__.py": {"WebStartError"},  # --http, PRIVCARD_WEB_PUBLIC_URL
    "server/main.py": {"WebStartError"},  # privcard server --http on a port another program holds
    "server/web/staff_admin.py": {"ServiceError"},
    "server/demo.py": {"DemoError"},  # a port taken, a broker out of reach, a gate that stopped
    # privcard setup (install imports no role: its own table, install.thai)
    "install/plan.py": {"SetupError", "Text"},
    "install/roles.py": {"SetupError", "Text"},
    "install/setup.py": {"SetupError", "Text"},
}


def _table(rel: str):
    """Where a module's Thai lives: install's own table, the broker's errors' (which both the server's
    catalogue and install's fold in), else the server's catalogue."""
    if rel.startswith("install/"):
        return install_thai.TH, install_thai.thai
    if rel.startswith("broker/mosquitto/"):
        return broker_thai.TH, catalogue.thai
    return catalogue.TH, catalogue.thai


def _passed_on(node) -> bool:
    """A template chosen at run time (_number's ``template``) or passed on (``exc.template``)."""
    return (isinstance(node, ast.Name) and node.id == "template") or (
        isinstance(node, ast.Attribute) and node.attr == "template"
    )


def _templates():
    """(where, template, keyword names) of every error these modules raise with a literal template."""
    for rel, names in RAISERS.items():
        for node in ast.walk(ast.parse((ROOT / rel).read_text())):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            first = node.args[0]
            if name in names and not _passed_on(first):  # _number's: below
                assert isinstance(first, ast.Constant), f"{rel}:{node.lineno}: not a literal template (an f-string?)"
                yield f"{rel}:{node.lineno}", first.value, {k.arg for k in node.keywords}


def test_every_config_error_is_a_template_with_its_thai():
    found = list(_templates())
    assert len(found) > 150  # the scan sees every module's raises
    assert {where.split(":")[0] for where, *_ in found} == set(RAISERS)
    # the two templates chosen at run time (a whole number or a number)
    found += [
        ("server/_number", f"{s}.%(key)s must be a {w}number, got %(value)r", {"key", "value"})
        for s in ("ils", "mail")
        for w in ("", "whole ")
    ]
    for where, template, keywords in found:
        table, thai = _table(where)
        placeholders = set(re.findall(r"%\((\w+)\)", template))
        assert placeholders == keywords, where
        assert template in table, f"{where}: no Thai for {template!r}"
        assert set(re.findall(r"%\((\w+)\)", table[template])) == placeholders, where
        assert thai(template, dict.fromkeys(keywords, "x")) is not None, where  # it formats


def test_every_code_a_refusal_names_in_words_has_its_thai():
    """A weekday and each setting's choices are named in words (server.domain.config): each has its Thai,
    and the words cover every choice the checks offer."""
    assert set(config.CHOICE_WORDS["limit"]) == set(config.LIMITS)
    assert set(config.CHOICE_WORDS["scope"]) == set(config.SCOPES)
    assert set(config.CHOICE_WORDS["backdating"]) == set(config.BACKDATE_LIMITS)
    assert set(config.CHOICE_WORDS["otherwise"]) == set(config.BACKDATE_OTHERWISE)
    assert set(config.CHOICE_WORDS["basis"]) == set(config.PRIVILEGE_BASES)
    assert set(config.CHOICE_WORDS["term"]) == set(config.TERM_RULES)
    assert set(config.CHOICE_WORDS["on_expiry"]) == set(config.ON_EXPIRY)
    assert set(config.CHOICE_WORDS["campaign"]) == set(campaigns.KINDS)
    words = [*config.WEEKDAY_NAMES, *(w for kind in config.CHOICE_WORDS.values() for w in kind.values())]
    for english in words:
        assert english in catalogue.TH, f"no Thai for {english!r}"
    assert [catalogue.localize(str(config.weekday_name(i)), None, "th") for i in (0, 6)] == ["วันจันทร์", "วันอาทิตย์"]


def test_the_broker_errors_thai_is_the_same_for_privcard_admin_and_privcard_setup():
    for template, thai in broker_thai.TH.items():
        assert catalogue.TH[template] == install_thai.TH[template] == thai, template


def test_the_errors_keep_english_and_give_thai():
    raw = default_raw()
    raw["rules"]["staff_pin_lockout_minutes"] = 5000
    with pytest.raises(ConfigError) as prog:
        build(raw)
    assert str(prog.value) == "rules.staff_pin_lockout_minutes must be at most 1440 (a day), got 5000"
    assert catalogue.thai_of(prog.value) == "rules.staff_pin_lockout_minutes ต้องไม่เกิน 1440 (หนึ่งวัน) (ได้รับ 5000)"
    with pytest.raises(IlsConfigError) as ils:
        ils_build({"currency": "baht"}, "sip2://u:p@ils.example.org:6001?institution=WU")
    assert str(ils.value) == "ils.currency must be a 3-letter code such as \"THB\", got 'baht'"
    assert catalogue.thai_of(ils.value) == "ils.currency ต้องเป็นรหัส 3 ตัวอักษร เช่น \"THB\" (ได้รับ 'baht')"
    with pytest.raises(MailConfigError) as mail:
        mail_build({"retry_first_s": "soon"}, "smtp://relay.example.org")
    assert str(mail.value) == "mail.retry_first_s must be a number, got 'soon'"
    assert catalogue.thai_of(mail.value) == "mail.retry_first_s ต้องเป็นตัวเลข (ได้รับ 'soon')"


def _admin(tmp_path, *argv) -> tuple[int, dict | None, str]:
    code, data, lines = admin_here("--db", f"sqlite:///{tmp_path}/x.db", "--json", *argv)
    return code, data, "".join(f"{line}\n" for line in lines)


@pytest.mark.parametrize(
    ("toml", "english", "thai"),
    [
        (
            '[mail]\nurl = "smtp://h:notaport"\n',
            "mail.url: the port is not a number 1-65535",
            "mail.url: พอร์ตไม่ใช่ตัวเลข 1-65535",
        ),
        (
            '[ils]\nurl = "sip2://u:p@ils.example.org"\n',
            "ils.url: institution= is required (the SIP2 AO field, e.g. ?institution=WU)",
            "ils.url: ต้องมี institution= (ช่อง AO ของ SIP2 เช่น ?institution=WU)",
        ),
        (
            '[library]\ntimezone = "Mars/Olympus"\n',
            "library.timezone: unknown time zone 'Mars/Olympus'",
            "library.timezone: ไม่รู้จักเขตเวลา 'Mars/Olympus'",
        ),
        ("[rules\n", ": not valid TOML: ", ": ไม่ใช่ TOML ที่ถูกต้อง: "),
        # a code the refusal names is said in words in each language: the weekday, a setting's choices
        (
            '[hours]\nmon = "08:00-08:20"\n',
            "activities.late_stay.window: 30 minutes before closing is outside the opening hours of Monday (08:00-08:20)",
            "activities.late_stay.window: 30 นาทีก่อนปิดอยู่นอกเวลาเปิดของวันจันทร์ (08:00-08:20)",
        ),
        (
            '[sites.B]\nname_th = "สาขา"\nname_en = "Branch"\nhours = { sun = "09:00-09:10" }\n',
            "sites.B.hours.sun: 30 minutes before closing is outside the opening hours of Sunday (09:00-09:10)",
            "sites.B.hours.sun: 30 นาทีก่อนปิดอยู่นอกเวลาเปิดของวันอาทิตย์ (09:00-09:10)",
        ),
        (
            '[activities.entry]\nscope = "room"\n',
            "activities.entry.scope must be one of programme (the limit across every site), "
            "site (the limit at each site), got 'room'",
            "activities.entry.scope ต้องเป็นหนึ่งใน programme (จำกัดรวมทุกสาขา), site (จำกัดแยกแต่ละสาขา) (ได้รับ 'room')",
        ),
        (
            '[terms]\non_expiry = "burn"\n',
            "terms.on_expiry must be one of keep (the points are kept), forfeit (the balance goes to 0), got 'burn'",
            "terms.on_expiry ต้องเป็นหนึ่งใน keep (คงคะแนนไว้), forfeit (ตัดคะแนนคงเหลือเป็น 0) (ได้รับ 'burn')",
        ),
    ],
)
def test_privcard_admin_prints_a_config_error_in_english_then_thai(tmp_path, toml, english, thai):
    conf = tmp_path / "library.toml"
    conf.write_text(toml, encoding="utf-8")
    code, out, err = _admin(tmp_path, "--config", str(conf), "member", "list")
    assert code == 1
    assert english in out["error"] and thai in out["error_th"]
    lines = err.splitlines()
    assert english in lines[0] and thai in lines[1] and all(x.startswith("privcard admin: ") for x in lines)


def test_a_missing_programme_file_is_said_in_thai_too(tmp_path):
    code, out, _err = _admin(tmp_path, "--config", str(tmp_path / "nowhere.toml"), "member", "list")
    assert code == 1 and out["error"].startswith("config file not found: ")
    assert out["error_th"] == f"ไม่พบไฟล์การตั้งค่า: {tmp_path / 'nowhere.toml'}"


def test_privcard_server_prints_the_thai_line_too(tmp_path):
    conf = tmp_path / "library.toml"
    conf.write_text('[mail]\nfrom = "nobody"\n', encoding="utf-8")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = server_main.main(
            ["--db", f"sqlite:///{tmp_path}/x.db", "--mqtt", "mqtt://127.0.0.1:1", "--config", str(conf)]
        )
    assert code == 1
    assert err.getvalue().splitlines()[-2:] == [
        "privcard server: mail.from must be an address such as \"Library <privcard@example.org>\", got 'nobody'",
        "privcard server: mail.from ต้องเป็นที่อยู่อีเมล เช่น \"Library <privcard@example.org>\" (ได้รับ 'nobody')",
    ]
