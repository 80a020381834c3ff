"""The ``privcard`` dispatcher (broker/dispatcher.py): commands found through entry points, offered
only when their role is installed, refused in one line when it is not."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest

from broker import dispatcher
from tests.brokers import python_env

ROLE_PACKAGES = {"server", "gate", "kiosk", "hardware", "kivy", "peewee", "flask", "amqtt", "nfc", "gpiozero"}


@pytest.fixture
def fake_dist(monkeypatch):
    """Requires-Dist of a made-up distribution, swapped in for privcard's."""

    def install(lines):
        monkeypatch.setattr(dispatcher, "_requires", lambda name: list(lines))
        dispatcher.missing_requirements.cache_clear()

    yield install
    dispatcher.missing_requirements.cache_clear()


def command(name: str, value: str) -> dispatcher.Command:
    return dispatcher.Command(name, metadata.EntryPoint(name=name, value=value, group=dispatcher.GROUP))


def test_all_roles_registered_through_the_entry_point_group():
    assert set(dispatcher.commands()) == {
        "server",
        "admin",
        "demo",
        "bench",
        "broker",
        "gate",
        "sip2-proxy",
        "kiosk",
    } | {
        "setup",
        "doctor",
    }
    assert dispatcher.commands()["sip2-proxy"].extras == ("gate",)
    assert dispatcher.commands()["gate"].extras == ("gate",)
    # installing and checking a machine works on every role: no extra
    assert dispatcher.commands()["setup"].extras == () and dispatcher.commands()["doctor"].extras == ()


def test_help_lists_installed_commands_with_one_line_each_and_imports_no_role():
    code = (
        "import sys; from broker import dispatcher; rc = dispatcher.main(['--help']); "
        f"print('IMPORTED', sorted(m for m in sys.modules if m.split('.')[0] in {sorted(ROLE_PACKAGES)!r})); "
        "sys.exit(rc)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=python_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    assert "IMPORTED []" in out.stdout
    lines = {line.split()[0]: line for line in out.stdout.splitlines() if line.startswith("  ")}
    # dev install: all roles, and setup/doctor (any role)
    assert set(lines) == {
        "server",
        "admin",
        "demo",
        "bench",
        "broker",
        "gate",
        "sip2-proxy",
        "kiosk",
        "setup",
        "doctor",
    }
    assert "run a gate or counter controller" in lines["gate"]
    assert "``" not in out.stdout


def test_marker_for_another_platform_is_not_required(fake_dist):
    fake_dist(
        [
            'no-such-package-privcard-test>=1; sys_platform == "no-such-os" and extra == "gate"',
            'paho-mqtt>=2; extra == "gate"',
        ]
    )
    assert dispatcher.missing_requirements("privcard", "gate") == ()


def test_missing_or_too_old_requirement_makes_the_role_absent(fake_dist):
    fake_dist(
        [
            'no-such-package-privcard-test; extra == "ghost"',
            'paho-mqtt>=999; extra == "ghost"',
            'paho-mqtt; extra == "other"',
        ]
    )
    assert dispatcher.missing_requirements("privcard", "ghost") == ("no-such-package-privcard-test", "paho-mqtt>=999")
    assert dispatcher.missing_requirements("privcard", "other") == ()


def test_an_extra_naming_other_extras_is_followed(fake_dist):
    fake_dist(['privcard[ghost]; extra == "all"', 'no-such-package-privcard-test; extra == "ghost"'])
    assert dispatcher.missing_requirements("privcard", "all") == ("no-such-package-privcard-test",)


def test_command_of_a_role_not_installed_is_hidden_and_refused_before_import(fake_dist, monkeypatch, capsys):
    fake_dist(['no-such-package-privcard-test; extra == "ghost"'])
    cmds = {
        "ghost": command("ghost", "no_such_module_privcard_test:main [ghost]"),
        "here": command("here", "broker.embedded:main"),
    }
    monkeypatch.setattr(dispatcher, "commands", lambda: cmds)
    assert dispatcher.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "  here " in out and "  ghost" not in out and "roles not installed here: ghost" in out
    # the module does not exist: importing it would end in the "dependency is missing" error, status 1
    assert dispatcher.main(["ghost", "--help"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "privcard ghost: the 'ghost' role is not installed on this machine; "
        "install it with: pip install 'privcard[ghost]'"
    )


def test_unknown_command_and_version(capsys):
    assert dispatcher.main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err
    assert dispatcher.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == metadata.version("privcard")
