"""The console serves the Thai font the kiosk ships: one copy in git, served by both.

``server/web/static/fonts/*`` are git symlinks to ``kiosk/fonts/*``; a wheel build
copies the files themselves (checked by hand with ``pip wheel .``, see docs/kiosk.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FILES = ("Loma.ttf", "Loma-Bold.ttf", "LICENSE-Loma.txt")


@pytest.mark.parametrize("name", FILES)
def test_the_console_serves_the_kiosks_font_file(app, name):
    served = app.test_client().get(f"/static/fonts/{name}")
    assert served.status_code == 200
    assert served.data == (REPO / "kiosk" / "fonts" / name).read_bytes()


@pytest.mark.parametrize("name", FILES)
def test_the_server_font_is_a_link_to_the_kiosk_copy_not_a_second_copy(name):
    link = REPO / "server" / "web" / "static" / "fonts" / name
    assert link.is_symlink() and link.resolve() == (REPO / "kiosk" / "fonts" / name).resolve()
