"""The phase explorer in JupyterLab: its sliders and menu move the readout the way the theory says.

The explorer runs in a small notebook written here into the server's folder. A screenshot
goes to ``test-artifacts/phase_explorer.png``.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from initcourse.meanfield import maps as mf

from .conftest import ARTIFACTS
from .jupyterlab import notebook_of
from .test_explorers_in_lab import UPDATE_TIMEOUT, control, figure, figure_changed, settled_screenshot

pytestmark = pytest.mark.browser

PHASE = ".initcourse-phase-explorer"

CELLS = [
    "import initcourse",
    'initcourse.phase_explorer(activation="tanh", sigma_w2=1.0, sigma_b2=0.05, depth=30, seed=0)',
]


@pytest.fixture(scope="module")
def phase_lab(lab_page, lab_server):
    """The shared JupyterLab tab with a notebook that shows the phase explorer, run once."""
    with notebook_of(lab_page, lab_server, "phase", CELLS) as lab:
        yield lab


def float_value(slider) -> float:
    return float(slider.locator(".widget-readout").inner_text().strip())


def press_key(slider, key: str) -> float:
    handle = slider.locator(".noUi-handle")
    handle.focus()
    handle.press(key)
    return float_value(slider)


def test_phase_explorer(phase_lab):
    page, name = phase_lab.page, "phase explorer"
    box = page.locator(PHASE)
    readout = box.locator(".initcourse-readout")
    sigma_w2 = control(box, "slider", "sigma_w2")
    sigma_b2 = control(box, "slider", "sigma_b2")

    def shows(phase: str, w2: float, b2: float, activation: str = "tanh") -> None:
        if phase == "exploding":
            expect(readout).to_have_text(re.compile(r"^\s*exploding · "), timeout=UPDATE_TIMEOUT)
            return
        chi1 = mf.chi1(activation, w2, b2)
        expect(readout).to_have_text(re.compile(rf"^\s*{phase} · chi1 {chi1:.3f} · "),
                                     timeout=UPDATE_TIMEOUT)

    # LeCun with a small bias: ordered, chi1 = 0.759 (TOOLING's figure).
    assert float_value(sigma_w2) == pytest.approx(1.0)
    shows("ordered", 1.0, 0.05)
    expect(readout).to_contain_text("chi1 0.759")
    drawn = figure(page, PHASE, name)

    # The far end of the sigma_w2 slider is deep in the chaotic phase.
    w2 = press_key(sigma_w2, "End")
    assert w2 == pytest.approx(5.0)
    assert mf.phase("tanh", w2, 0.05) == "chaotic"
    shows("chaotic", w2, 0.05)
    drawn = figure_changed(page, PHASE, name, drawn)

    # No bias: still chaotic at 5; at the slider's lower end (0.5) ordered, q* = 0.
    b2 = press_key(sigma_b2, "Home")
    assert b2 == 0.0
    shows("chaotic", w2, 0.0)
    w2 = press_key(sigma_w2, "Home")
    assert w2 == pytest.approx(0.5)
    shows("ordered", w2, 0.0)
    drawn = figure_changed(page, PHASE, name, drawn)

    # ReLU beyond sigma_w2 = 2 with a bias: the length explodes.
    press_key(sigma_w2, "End")
    press_key(sigma_b2, "End")
    control(box, "dropdown", "activation").locator("select").select_option("relu")
    shows("exploding", 5.0, 0.5, "relu")
    figure_changed(page, PHASE, name, drawn)

    settled_screenshot(page, PHASE, name, ARTIFACTS / "phase_explorer.png")
