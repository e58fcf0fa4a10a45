"""Drive JupyterLab in the browser the way a learner does, and read what the page shows.

:class:`Lab` opens a notebook, presses Run All and waits for the kernel; :func:`problems`
turns what the page shows into a list of findings, one line each (empty: all good).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

# ipywidgets' placeholders for a view that never rendered.
WIDGET_LOADING = "Loading widget"
WIDGET_FAILURES = (WIDGET_LOADING, "Error displaying widget")

NOTEBOOK_TIMEOUT = 150  # seconds for Run All of one notebook, kernel start included
WIDGET_TIMEOUT = 20  # seconds for widget views to replace their "Loading widget…" placeholder

_OPEN = """async (path) => {
    const app = window.jupyterapp;
    const panel = await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
    await panel.context.ready;
    await panel.sessionContext.ready;
    app.shell.activateById(panel.id);
    window.__initcourse = {panel, run: null};
    return panel.id;
}"""

_KERNEL_IDLE = """() => {
    const kernel = window.__initcourse.panel.sessionContext.session?.kernel;
    return kernel != null && kernel.status === 'idle';
}"""

_RUN_ALL = """() => {
    const state = window.__initcourse;
    window.jupyterapp.shell.activateById(state.panel.id);
    state.run = {done: false, error: null};
    window.jupyterapp.commands.execute('notebook:run-all-cells').then(
        () => { state.run.done = true; },
        (error) => { state.run.done = true; state.run.error = String(error); },
    );
}"""

# The kernel goes idle for a moment between two cells, and Run All's promise can settle
# before the last queued cells have run: done means every code cell has run and the kernel
# is idle, or (cells aborted after an error) the kernel has stayed idle for a few seconds.
_RUN_DONE = """() => {
    const state = window.__initcourse;
    const kernel = state.panel.sessionContext.session?.kernel;
    if (!state.run.done || kernel == null || kernel.status !== 'idle') {
        state.run.idleSince = null;
        return false;
    }
    const cells = state.panel.content.widgets.filter((cell) => cell.model.type === 'code');
    const allRan = cells.every((cell) => cell.model.executionCount != null
        || cell.model.sharedModel.getSource().trim() === '');
    if (allRan) return true;
    state.run.idleSince = state.run.idleSince ?? Date.now();
    return Date.now() - state.run.idleSince > 4000;
}"""

_WIDGETS_SETTLED = """(placeholder) => ![...window.__initcourse.panel.node.querySelectorAll(
    '.jp-OutputArea')].some((area) => area.innerText.includes(placeholder))"""

# JupyterLab 4 renders a traceback with the same MIME type as stderr text, so the error
# outputs are found in the cell's output model, then read from the page where they show.
_CELLS = """() => window.__initcourse.panel.content.widgets.map((cell, index) => {
    const report = {index, type: cell.model.type};
    if (cell.model.type !== 'code') return report;
    const area = cell.node.querySelector('.jp-OutputArea');
    const shown = area ? [...area.querySelectorAll(':scope > .jp-OutputArea-child')] : [];
    const outputs = cell.model.outputs.toJSON();
    report.source = cell.model.sharedModel.getSource();
    report.executionCount = cell.model.executionCount;
    report.errors = outputs.flatMap((output, i) => output.output_type !== 'error' ? [] : [
        shown[i] ? shown[i].innerText : `${output.ename}: ${output.evalue} (not shown)`
    ]);
    report.outputText = area ? area.innerText : '';
    return report;
})"""

_CLOSE = """async () => {
    const state = window.__initcourse;
    if (!state) return;
    window.__initcourse = null;
    await state.panel.sessionContext.shutdown();
    state.panel.dispose();
}"""


class Lab:
    """One JupyterLab page, reused for every notebook (one notebook open at a time)."""

    def __init__(self, page, server):
        self.page = page
        self.server = server

    def run_notebook(self, path: str, timeout: float = NOTEBOOK_TIMEOUT) -> list[dict]:
        """Open ``path`` (relative to the server root), Run All, wait for the kernel to go
        idle and the widgets to render; returns one report per cell, in notebook order."""
        self.open(path)
        self.run_all(timeout)
        return self.cells()

    def open(self, path: str, timeout: float = NOTEBOOK_TIMEOUT) -> None:
        self.page.evaluate(_OPEN, path)
        self.page.wait_for_function(_KERNEL_IDLE, timeout=timeout * 1000, polling=200)

    def run_all(self, timeout: float = NOTEBOOK_TIMEOUT) -> None:
        self.page.evaluate(_RUN_ALL)
        self.page.wait_for_function(_RUN_DONE, timeout=timeout * 1000, polling=250)
        try:
            self.page.wait_for_function(
                _WIDGETS_SETTLED, arg=WIDGET_LOADING, timeout=WIDGET_TIMEOUT * 1000
            )
        except Exception:  # noqa: BLE001 - a placeholder that stays is reported by problems()
            pass

    def cells(self) -> list[dict]:
        return self.page.evaluate(_CELLS)

    def close(self) -> None:
        """Shut the open notebook's kernel down and close its tab without saving."""
        self.page.evaluate(_CLOSE)

    def scroll_to_cell(self, index: int) -> None:
        self.page.evaluate(
            "(i) => window.__initcourse.panel.content.widgets[i]?.node.scrollIntoView()", index
        )

    def screenshot(self, path: Path, selector: str | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        target = self.page.locator(selector).first if selector else self.page
        target.screenshot(path=str(path))


def allowed_errors(notebook_path: Path) -> set[int]:
    """Indices of the cells that raise on purpose: marked ``# NBVAL_RAISES_EXCEPTION`` or
    tagged ``raises-exception`` (the two markers nbval accepts)."""
    notebook = nbformat.read(notebook_path, as_version=4)
    allowed = set()
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        comments = (line.strip() for line in cell.source.splitlines())
        marked = any(
            line.startswith("#") and line.lstrip("#").strip() == "NBVAL_RAISES_EXCEPTION"
            for line in comments
        )
        if marked or "raises-exception" in cell.metadata.get("tags", []):
            allowed.add(index)
    return allowed


def problems(notebook_path: Path, cells: list[dict]) -> list[str]:
    """What a learner would see go wrong after Run All, one line per finding.

    Arguments:
        notebook_path: the ``.ipynb`` file that was run (read for its cell markers).
        cells: the page's report from :meth:`Lab.run_notebook`, one entry per cell.
    """
    notebook = nbformat.read(notebook_path, as_version=4)
    if len(cells) != len(notebook.cells):
        return [f"the page shows {len(cells)} cells, the file has {len(notebook.cells)}"]
    allowed = allowed_errors(notebook_path)
    found = []
    stopped_at = None  # the last cell that raised: Run All stops there unless it is tagged
    for cell in cells:
        if cell["type"] != "code" or not cell["source"].strip():
            continue
        index = cell["index"]
        where = f"cell {index} ({cell['source'].strip().splitlines()[0][:60]!r})"
        if cell["executionCount"] is None:
            found.append(f"{where} did not run")
            if stopped_at is not None and stopped_at in allowed:
                found.append(
                    f"Run All stopped at cell {stopped_at}, which raises on purpose: JupyterLab "
                    "runs on past an error only in a cell tagged 'raises-exception' (nbval reads "
                    "the '# NBVAL_RAISES_EXCEPTION' comment, JupyterLab reads the tag)"
                )
            stopped_at = None
        if cell["errors"]:
            stopped_at = index
        if cell["errors"] and index not in allowed:
            last_line = cell["errors"][0].strip().splitlines()[-1]
            found.append(f"{where} shows an error: {last_line}")
        for placeholder in WIDGET_FAILURES:
            if placeholder in cell["outputText"]:
                line = next(ln for ln in cell["outputText"].splitlines() if placeholder in ln)
                found.append(f"{where} shows {line.strip()!r}")
    return found


@contextlib.contextmanager
def notebook_of(page, server, name: str, cells: list[str]):
    """A notebook ``_browser_tests/<name>.ipynb`` of ``cells``, written into the server's
    folder and run once (Run All, no problems); yields its :class:`Lab`, closed after."""
    path = server.root / "_browser_tests" / f"{name}.ipynb"
    path.parent.mkdir(exist_ok=True)
    notebook = new_notebook(cells=[new_code_cell(source) for source in cells])
    notebook.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python",
                                       "name": "python3"}
    nbformat.write(notebook, path)
    lab = Lab(page, server)
    try:
        found = problems(path, lab.run_notebook(str(path.relative_to(server.root))))
        assert not found, f"{name}.ipynb after Run All:\n" + "\n".join(found)
        yield lab
    finally:
        lab.close()
