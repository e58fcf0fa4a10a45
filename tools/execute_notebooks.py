"""Execute notebooks top to bottom in a fresh kernel and store their outputs.

    python tools/execute_notebooks.py notebooks/03_signal_propagation.ipynb ...

This is how the committed outputs are made (``make notebooks``): one run after a
restart, execution counts 1, 2, 3, ..., JAX on the CPU, and clean metadata (no widget
state and no widget views that would point at models of a kernel that is gone, no
per-machine kernel details). A notebook that fails to execute is left
untouched and the error is reported.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

KERNEL_METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


# What honestly varies from machine to machine or run to run, rewritten in stored tracebacks
# and text (the same things tests/nbval_sanitize.cfg masks for the comparison).
_REWRITES = [
    (re.compile(r"/[^\s'\"]*/site-packages/"), ".../site-packages/"),
    (re.compile(r"/tmp/ipykernel_\d+/\d+\.py"), "<ipykernel-cell>"),
    (re.compile(r" at 0x[0-9a-fA-F]+"), " at 0x…"),
]


def _rewrite(text: str) -> str:
    for pattern, replacement in _REWRITES:
        text = pattern.sub(replacement, text)
    return text


def _merge_streams(outputs) -> list:
    """One stream output per run of consecutive prints to the same stream."""
    merged = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (output.output_type == "stream" and previous is not None
                and previous.output_type == "stream" and previous.name == output.name):
            previous.text += output.text
        else:
            merged.append(output)
    return merged


def clean(nb) -> None:
    nb.metadata = nbformat.from_dict(dict(KERNEL_METADATA))
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("collapsed", None)
        cell.metadata.pop("scrolled", None)
        if cell.cell_type == "code":
            cell.outputs = _merge_streams(cell.outputs)
            for output in cell.outputs:
                if output.output_type == "error":
                    output.evalue = _rewrite(output.evalue)
                    output.traceback = [_rewrite(line) for line in output.traceback]
                output.get("metadata", {}).pop("execution", None)
                # Widget views point at models that exist only in a running kernel (their
                # state is not saved), so a stored view would show "model not found" until the
                # cell runs. The still picture and text stored beside it show instead.
                if WIDGET_VIEW in output.get("data", {}) and len(output["data"]) > 1:
                    del output["data"][WIDGET_VIEW]


RAISES = "raises-exception"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _mark_intended_errors(nb) -> None:
    """Cells marked ``# NBVAL_RAISES_EXCEPTION`` demonstrate an error on purpose. nbval reads
    the comment; JupyterLab's Run All and nbclient read the ``raises-exception`` tag and go on
    past such a cell, so the committed file carries both."""
    for cell in nb.cells:
        if cell.cell_type == "code" and "NBVAL_RAISES_EXCEPTION" in cell.source:
            tags = cell.metadata.setdefault("tags", [])
            if RAISES not in tags:
                tags.append(RAISES)


def execute(path: Path, timeout: int = 300) -> float:
    nb = nbformat.read(path, as_version=4)
    _mark_intended_errors(nb)
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    clean(nb)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return elapsed


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    failed = 0
    for arg in argv:
        path = Path(arg)
        try:
            elapsed = execute(path)
        except CellExecutionError as exc:
            failed += 1
            print(f"FAILED {path}: {str(exc).splitlines()[-1] if str(exc) else exc}", file=sys.stderr)
            continue
        print(f"executed {path} in {elapsed:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
