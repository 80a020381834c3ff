"""Fixtures for the kiosk UI tests: a private Xvfb display and a broker per module.

Xvfb missing is a failure with the install command, never a skip.
"""

from __future__ import annotations

import pytest

from tests.ui.harness import XVFB_MISSING, Xvfb


@pytest.fixture(scope="module")
def xvfb():
    """One virtual display for the module's kiosk processes."""
    try:
        display = Xvfb().start()
    except RuntimeError as exc:
        pytest.fail(str(exc) if "Xvfb" in str(exc) else f"{XVFB_MISSING} ({exc})", pytrace=False)
    try:
        yield display
    finally:
        display.stop()
