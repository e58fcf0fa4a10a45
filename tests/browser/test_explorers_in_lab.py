"""The explorers in JupyterLab: sliders and dropdowns move the readout the way theory says.

The explorers run in a small notebook written here into the server's folder, so these
tests do not depend on where the course notebooks show them. Screenshots of both
explorers go to ``test-artifacts/``.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

import initcourse
from initcourse.explorers.depth import MAX_DEPTH
from initcourse.explorers.residual import ResidualExplorer
from initcourse.propagation.regimes import classify_regime, combined_regime

from .conftest import ARTIFACTS
from .jupyterlab import WIDGET_FAILURES, notebook_of

pytestmark = pytest.mark.browser

UPDATE_TIMEOUT = 30_000  # ms for the kernel to recompute an explorer after a control moves

FAN_IN = ".initcourse-fan-in-explorer"
DEPTH = ".initcourse-depth-explorer"
RESIDUAL = ".initcourse-residual-explorer"

CELLS = [
    "import initcourse",
    'initcourse.fan_in_explorer(fan_in=64, fan_out=64, initializer="lecun_normal", seed=0)',
    'initcourse.depth_explorer(activation="relu", initializer="lecun_normal", depth=50,'
    " width=256, seed=0)",
    'initcourse.residual_explorer(initializer="he_normal", activation="relu", depth=32,'
    ' norm="none", scale="1", branch_end="drawn", seed=0)',
]


@pytest.fixture(scope="module")
def explorers(lab_page, lab_server):
    """The shared JupyterLab tab with a notebook that shows both explorers, run once."""
    with notebook_of(lab_page, lab_server, "explorers", CELLS) as lab:
        yield lab


def control(box, kind: str, name: str):
    """The ipywidgets control of class ``widget-<kind>`` labelled ``name`` inside ``box``."""
    label = box.page.locator(".widget-label", has_text=re.compile(rf"^\s*{name}\s*$"))
    return box.locator(f".widget-{kind}").filter(has=label)


def slider_value(slider) -> int:
    return int(slider.locator(".widget-readout").inner_text().strip())


def press(slider, *keys: str) -> int:
    """Focus the slider's handle, press ``keys`` one by one; returns the value it shows."""
    handle = slider.locator(".noUi-handle")
    handle.focus()
    for key in keys:
        handle.press(key)
    return slider_value(slider)


def theory_regime(initializer: str, activation: str, depth: int, width: int) -> str:
    """The regime that mean-field theory predicts, with the explorer's definition."""
    forward, backward = initcourse.predicted_stats(initializer, activation, depth, width)
    return combined_regime(
        classify_regime(forward), classify_regime(backward[::-1])
    )


# A fingerprint of what the explorer's figure shows: a loaded <img> or a <canvas> with
# more than one colour on it, at least 100 px on each side; null while there is none.
_FIGURE = """(selector) => {
    const box = document.querySelector(selector);
    if (!box) return null;
    const parts = [];
    for (const node of box.querySelectorAll('img, canvas')) {
        const rect = node.getBoundingClientRect();
        if (rect.width < 100 || rect.height < 100) continue;
        if (node.tagName === 'IMG') {
            if (node.complete && node.naturalWidth > 0) parts.push(node.src);
            continue;
        }
        const pixels = node.getContext('2d').getImageData(0, 0, node.width, node.height).data;
        let hash = 2166136261, painted = false;
        for (let i = 0; i < pixels.length; i += 4) {
            painted = painted || pixels[i] !== pixels[0] || pixels[i + 1] !== pixels[1]
                || pixels[i + 2] !== pixels[2] || pixels[i + 3] !== pixels[3];
            hash = Math.imul(hash ^ (pixels[i] + 7 * pixels[i + 1] + 31 * pixels[i + 2]), 16777619);
        }
        if (painted) parts.push(`${node.width}x${node.height}:${hash >>> 0}`);
    }
    return parts.length ? parts.join(' ') : null;
}"""

_FIGURE_CHANGED = f"""([selector, before]) => {{
    const now = ({_FIGURE})(selector);
    return now !== null && now !== before ? now : null;
}}"""


def figure(page, selector: str, name: str) -> str:
    """Wait until the explorer's figure is drawn; returns its fingerprint."""
    try:
        return page.wait_for_function(_FIGURE, arg=selector, timeout=UPDATE_TIMEOUT).json_value()
    except PlaywrightTimeout:
        raise AssertionError(
            f"the {name}'s figure is not drawn: no image or painted canvas of size > 100 px "
            f"in {selector} after {UPDATE_TIMEOUT / 1000:.0f} s"
        ) from None


def figure_changed(page, selector: str, name: str, before: str) -> str:
    """Wait until the explorer's figure shows something else than ``before``."""
    try:
        return page.wait_for_function(
            _FIGURE_CHANGED, arg=[selector, before], timeout=UPDATE_TIMEOUT
        ).json_value()
    except PlaywrightTimeout:
        shown = "is blank" if page.evaluate(_FIGURE, selector) is None else "did not change"
        raise AssertionError(
            f"the {name}'s figure {shown} {UPDATE_TIMEOUT / 1000:.0f} s after its readout "
            "changed"
        ) from None


def settled_screenshot(page, selector: str, name: str, path) -> None:
    """Screenshot the explorer once its figure has stopped changing (no placeholder left)."""
    last = figure(page, selector, name)
    for _ in range(20):
        page.wait_for_timeout(300)
        now = figure(page, selector, name)
        if now == last:
            break
        last = now
    box = page.locator(selector)
    text = box.inner_text()
    assert not any(placeholder in text for placeholder in WIDGET_FAILURES), text
    box.screenshot(path=str(path))


def test_lab_has_the_widget_extensions(lab_page):
    """The widget manager (every explorer) and ipympl (their interactive figures) are
    installed and running in the page."""
    page_config = lab_page.evaluate(
        "() => JSON.parse(document.getElementById('jupyter-config-data').textContent)"
    )
    extensions = {extension["name"] for extension in page_config["federated_extensions"]}
    assert {"@jupyter-widgets/jupyterlab-manager", "jupyter-matplotlib"} <= extensions
    for plugin in ("@jupyter-widgets/jupyterlab-manager:plugin", "matplotlib-jupyter:main"):
        assert lab_page.evaluate("(id) => window.jupyterapp.isPluginActivated(id)", plugin), plugin


def test_fan_in_explorer(explorers):
    box = explorers.page.locator(FAN_IN)
    readout = box.locator(".initcourse-readout")
    fan_in = control(box, "slider", "fan_in")
    fan_out = slider_value(control(box, "slider", "fan_out"))

    def shows_theory(initializer: str, fan_in_value: int) -> None:
        theory = initcourse.expected_std(initializer, fan_in_value, fan_out)
        expect(readout).to_contain_text(f"theory {theory:.4f}", timeout=UPDATE_TIMEOUT)
        measured = float(re.search(r"std measured ([0-9.]+)", readout.inner_text()).group(1))
        # fan_in * fan_out >= 4096 weights: the sample std is within a few % of theory.
        assert measured == pytest.approx(theory, rel=0.1), readout.inner_text()

    page, name = explorers.page, "fan-in explorer"
    shows_theory("lecun_normal", slider_value(fan_in))
    drawn = figure(page, FAN_IN, name)

    start = slider_value(fan_in)
    moved = press(fan_in, "ArrowRight", "ArrowRight")
    assert moved > start
    shows_theory("lecun_normal", moved)
    expect(readout).to_contain_text(f"1/√{moved}")
    drawn = figure_changed(page, FAN_IN, name, drawn)

    control(box, "dropdown", "initializer").locator("select").select_option("he_normal")
    shows_theory("he_normal", moved)
    figure_changed(page, FAN_IN, name, drawn)

    settled_screenshot(page, FAN_IN, name, ARTIFACTS / "fan_in_explorer.png")


def test_depth_explorer(explorers):
    box = explorers.page.locator(DEPTH)
    readout = box.locator(".initcourse-readout")
    depth = control(box, "slider", "depth")
    width = slider_value(control(box, "slider", "width"))

    def shows_regime(initializer: str, depth_value: int) -> str:
        regime = theory_regime(initializer, "relu", depth_value, width)
        expect(readout).to_have_text(re.compile(rf"^\s*{regime} ·"), timeout=UPDATE_TIMEOUT)
        expect(readout).to_contain_text(f"layer {depth_value} / layer 1")
        return regime

    page, name = explorers.page, "depth explorer"
    # LeCun halves the variance at every ReLU layer: deep stacks vanish, shallow ones hold.
    assert shows_regime("lecun_normal", slider_value(depth)) == "vanishing"
    drawn = figure(page, DEPTH, name)

    shallow = press(depth, "Home", "ArrowRight", "ArrowRight", "ArrowRight", "ArrowRight")
    assert shallow == 5
    assert shows_regime("lecun_normal", shallow) == "stable"
    drawn = figure_changed(page, DEPTH, name, drawn)

    deep = press(depth, "End")
    assert deep == MAX_DEPTH
    assert shows_regime("lecun_normal", deep) == "vanishing"
    drawn = figure_changed(page, DEPTH, name, drawn)

    # He doubles the variance to make up for ReLU: stable at any depth.
    control(box, "dropdown", "initializer").locator("select").select_option("he_normal")
    assert shows_regime("he_normal", deep) == "stable"
    figure_changed(page, DEPTH, name, drawn)

    settled_screenshot(page, DEPTH, name, ARTIFACTS / "depth_explorer.png")


def residual_regime(**values) -> str:
    """The regime the residual explorer computes for ``values``, computed here."""
    probe = ResidualExplorer(canvas="image", **values)
    try:
        return probe.regime
    finally:
        probe.close()


def test_residual_explorer(explorers):
    box = explorers.page.locator(RESIDUAL)
    readout = box.locator(".initcourse-readout")
    depth = control(box, "slider", "depth")
    values = {"initializer": "he_normal", "activation": "relu", "depth": 32, "norm": "none",
              "scale": "1", "branch_end": "drawn", "seed": 0}

    def shows(**changes) -> str:
        values.update(changes)
        regime = residual_regime(**values)
        expect(readout).to_have_text(re.compile(rf"^\s*{regime} ·"), timeout=UPDATE_TIMEOUT)
        expect(readout).to_contain_text(f"over {values['depth']} blocks")
        return regime

    page, name = explorers.page, "residual explorer"
    # He's rule triples the stream's variance per block without a norm.
    assert shows() == "exploding"
    drawn = figure(page, RESIDUAL, name)

    deep = press(depth, "End")
    assert deep == MAX_DEPTH
    assert shows(depth=deep) == "exploding"
    drawn = figure_changed(page, RESIDUAL, name, drawn)

    # Post-LN renormalizes the stream after every block.
    control(box, "dropdown", "norm").locator("select").select_option("post-LN")
    assert shows(norm="post-LN") == "stable"
    drawn = figure_changed(page, RESIDUAL, name, drawn)

    # Back to no norm, with the branch's last kernel at zero: every block is the identity.
    control(box, "dropdown", "norm").locator("select").select_option("none")
    control(box, "dropdown", "branch's last kernel").locator("select").select_option("zero")
    assert shows(norm="none", branch_end="zero") == "stable"
    expect(readout).to_contain_text("stream std ×1 over")
    figure_changed(page, RESIDUAL, name, drawn)

    settled_screenshot(page, RESIDUAL, name, ARTIFACTS / "residual_explorer.png")


# The explorer's controls (the rows above its figure: ipympl's interactive canvas, which keeps
# the keyboard focus once it has it, is left out and named in the test's docstring).
_FOCUSABLES = """(selector) => {
    const box = document.querySelector(selector);
    const all = [...box.querySelectorAll('select, input, button, textarea, [contenteditable="true"], '
        + '[tabindex]:not([tabindex="-1"])')].filter((el) => !el.disabled && el.offsetParent !== null
        && !el.closest('.jupyter-matplotlib, .widget-image'));
    window.__focusables = all;
    return all.length;
}"""


@pytest.mark.parametrize("selector", [FAN_IN, DEPTH, RESIDUAL])
def test_the_explorer_works_from_the_keyboard(explorers, selector):
    """In JupyterLab too: Tab walks the explorer's controls in order, Page Up/Down move its
    first slider, and the readout (a role=status region) follows. Not covered: ipympl's
    interactive figure below the controls takes the focus on the next Tab and keeps it (its
    canvas handles the keys itself), which the classroom page's still image does not."""
    page = explorers.page
    box = page.locator(selector)
    box.scroll_into_view_if_needed()
    count = page.evaluate(_FOCUSABLES, selector)
    page.evaluate("() => window.__focusables[0].focus()")
    order = [page.evaluate("() => window.__focusables.indexOf(document.activeElement)")]
    for _ in range(count - 1):
        page.keyboard.press("Tab")
        order.append(page.evaluate("() => window.__focusables.indexOf(document.activeElement)"))
    assert order == list(range(count)), f"{selector}: Tab visited {order}"
    readout = box.locator(".initcourse-readout")
    assert box.locator(".initcourse-readout [role=status]").count() == 1
    handle = box.locator(".widget-slider .noUi-handle").first
    handle.focus()
    at_end = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
    for key in ("PageDown", "PageUp") if at_end else ("PageUp", "PageDown"):
        before = readout.inner_text()
        page.keyboard.press(key)
        expect(readout).not_to_have_text(before, timeout=UPDATE_TIMEOUT)
