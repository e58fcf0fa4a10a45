"""Every notebook of the course runs in JupyterLab without showing a learner an error, and
axe-core (WCAG 2 A/AA) finds no serious or critical violation in what the course puts on the
page (its prose and its cells' outputs, explorers included). JupyterLab's own findings, its
image renderer's dropping of the figures' alt text and ipywidgets' unnamed slider handles
(tests/browser/axe.py says why they are not the course's) are printed by rule and written to
test-artifacts/axe-lab.txt."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .axe import audit
from .conftest import ARTIFACTS, NOTEBOOKS
from .jupyterlab import problems

pytestmark = pytest.mark.browser

BROKEN = Path(__file__).parent / "fixtures" / "broken.ipynb"
COURSE = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def run_and_check(lab, name: str) -> list[str]:
    """Run All on ``name`` (relative to the server root) and list what went wrong; a
    screenshot of the page is kept when something did."""
    screenshot = ARTIFACTS / f"{Path(name).stem}-problems.png"
    screenshot.unlink(missing_ok=True)  # from an earlier run
    cells = lab.run_notebook(name)
    # The markers are read from the copy that ran, not from notebooks/, which may have
    # changed since the server started.
    found = problems(lab.server.root / name, cells)
    if found:
        if found[0].startswith("cell "):
            lab.scroll_to_cell(int(found[0].split()[1]))
        lab.screenshot(screenshot)
    return found


@pytest.mark.parametrize("path", COURSE, ids=[path.name for path in COURSE])
def test_notebook_runs_without_errors(lab, path):
    found = run_and_check(lab, path.name)
    assert not found, f"{path.name} after Run All in JupyterLab:\n" + "\n".join(found)
    serious, _ = audit(lab.page, f"lab: {path.name}", known=("aria-input-field-name", "image-alt"))
    assert not serious, "axe finds serious or critical violations in the course's content:\n" + (
        "\n".join(serious))


def test_course_has_notebooks():
    assert COURSE, f"no notebooks matching [0-9][0-9]_*.ipynb in {NOTEBOOKS}"


def test_check_catches_a_broken_notebook(lab, lab_server):
    folder = lab_server.root / "_browser_tests"
    folder.mkdir(exist_ok=True)
    shutil.copy(BROKEN, folder / BROKEN.name)

    found = run_and_check(lab, f"_browser_tests/{BROKEN.name}")

    by_cell = {int(line.split()[1]): line for line in found}
    assert sorted(by_cell) == [2, 4, 5], found  # cell 3 raises on purpose: not reported
    assert "shows 'Error displaying widget" in by_cell[2]
    assert "shows an error: ZeroDivisionError: division by zero" in by_cell[4]
    assert by_cell[5].endswith("did not run")
