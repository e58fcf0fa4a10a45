"""The training explorer in JupyterLab, in Chromium: Train trains (the curves and the
progress bar move while it runs), Stop stops it, and the readout says so.

The explorer runs in a small notebook written here into the server's folder. A
screenshot goes to ``test-artifacts/training_explorer.png``.
"""

from __future__ import annotations

import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from playwright.sync_api import expect

from .conftest import ARTIFACTS
from .jupyterlab import WIDGET_FAILURES, Lab, problems
from .test_explorers_in_lab import figure, figure_changed

pytestmark = pytest.mark.browser

BOX = ".initcourse-training-explorer"
TRAIN_TIMEOUT = 120_000  # ms: the first chunk compiles the training program on a busy machine

CELLS = [
    "import initcourse",
    # Many steps of a small net: training is still running when Stop is pressed.
    'initcourse.training_explorer(initializers=("he_normal", "glorot_normal"), depth=4, width=32,'
    " steps=2000, learning_rate=0.01)",
]


@pytest.fixture(scope="module")
def explorer_lab(lab_page, lab_server):
    path = lab_server.root / "_browser_tests" / "training.ipynb"
    path.parent.mkdir(exist_ok=True)
    notebook = new_notebook(cells=[new_code_cell(source) for source in CELLS])
    notebook.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python",
                                       "name": "python3"}
    nbformat.write(notebook, path)
    lab = Lab(lab_page, lab_server)
    try:
        found = problems(path, lab.run_notebook(str(path.relative_to(lab_server.root))))
        assert not found, "the training explorer's notebook after Run All:\n" + "\n".join(found)
        yield lab
    finally:
        lab.close()


def _step(readout) -> int:
    found = re.search(r"step (\d+)", readout.inner_text())
    return int(found.group(1)) if found else -1


def test_train_draws_the_curves_and_stop_stops(explorer_lab):
    page = explorer_lab.page
    box = page.locator(BOX)
    readout = box.locator(".initcourse-readout")
    train = box.locator(".initcourse-train")
    stop = box.locator(".initcourse-stop")
    expect(readout).to_contain_text("press Train", timeout=30_000)
    expect(stop).to_be_disabled()
    before = figure(page, BOX, "training explorer")

    train.click()
    # The readout moves step by step while the runs train: the kernel keeps answering.
    expect(readout).to_contain_text(re.compile(r"step \d+ of 2000"), timeout=TRAIN_TIMEOUT)
    first = _step(readout)
    drawn = figure_changed(page, BOX, "training explorer", before)
    expect(train).to_be_disabled()
    page.wait_for_function(
        """([selector, first]) => {
            const text = document.querySelector(selector + ' .initcourse-readout').innerText;
            const found = text.match(/step (\\d+) of 2000/);
            return found && Number(found[1]) > first;
        }""", arg=[BOX, first], timeout=TRAIN_TIMEOUT)
    figure_changed(page, BOX, "training explorer", drawn)
    progress = box.locator(".widget-inline-hbox .progress-bar, .widget-progress .progress-bar").first
    assert progress.count() == 1

    stop.click()
    expect(readout).to_contain_text(re.compile(r"^\s*stopped at step \d+ ·"), timeout=TRAIN_TIMEOUT)
    stopped = _step(readout)
    assert 0 < stopped < 2000, readout.inner_text()
    expect(readout).to_contain_text("he_normal: loss")
    expect(readout).to_contain_text("test accuracy")
    expect(train).to_be_enabled()
    expect(stop).to_be_disabled()
    # Stopped means stopped: the readout does not move any more.
    page.wait_for_timeout(2000)
    assert _step(readout) == stopped
    text = box.inner_text()
    assert not any(placeholder in text for placeholder in WIDGET_FAILURES), text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    box.screenshot(path=str(ARTIFACTS / "training_explorer.png"))
