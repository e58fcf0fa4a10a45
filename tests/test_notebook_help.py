"""A cell run out of order gets a plain-language explanation, and the learner's code stays."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]


def _run(sources, tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    client = NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    return nb


def test_the_course_kernel_loads_the_extension():
    config = (ROOT / "tools" / "ipython_kernel_config.py").read_text()
    assert "initcourse.notebook_help" in config
    import sys

    installed = Path(sys.prefix) / "etc" / "ipython" / "ipython_kernel_config.py"
    assert installed.exists(), "run `make install`: it enables the out-of-order help"
    assert installed.read_text() == config


def test_a_cell_run_before_its_definitions_explains_itself(tmp_path):
    # The learner runs the second cell of a notebook before the first.
    nb = _run(["print(f'{LAYER_WIDTH * 2}')", "LAYER_WIDTH = 64", "print(LAYER_WIDTH * 2)"],
              tmp_path)
    first = nb.cells[0].outputs
    errors = [o for o in first if o.output_type == "error"]
    assert errors and errors[0].ename == "NameError", "the real error is still shown"
    text = "".join(o.get("text", "") for o in first if o.output_type == "stream")
    assert "`LAYER_WIDTH` is not defined in this kernel yet" in text
    assert "Run All Above Selected Cell" in text
    # The code is untouched and runs once its definitions have run.
    assert nb.cells[0].source == "print(f'{LAYER_WIDTH * 2}')"
    assert nb.cells[2].outputs[0].text == "128\n"


def test_other_errors_are_left_alone(tmp_path):
    nb = _run(["1 / 0"], tmp_path)
    outputs = nb.cells[0].outputs
    assert [o.output_type for o in outputs] == ["error"]
    assert outputs[0].ename == "ZeroDivisionError"


def test_execution_still_stops_at_the_error(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("undefined_name"), nbformat.v4.new_code_cell("1")]
    client = NotebookClient(nb, timeout=60, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    with pytest.raises(CellExecutionError, match="NameError"):
        client.execute()


def test_the_course_kernel_keeps_compiled_programs_for_the_next_kernel(tmp_path, monkeypatch):
    # The kernel (started from this environment, as JupyterLab and nbval start it) stores
    # what it compiles; a second kernel finds it there instead of compiling again.
    cache = tmp_path / "jax-cache"
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(cache))  # a learner's own choice wins
    source = ("import jax, jax.numpy as jnp\n"
              "from jax import monitoring\n"
              "hits = []\n"
              "monitoring.register_event_listener("
              "lambda event, **kw: hits.append(event) if 'cache_hits' in event else None)\n"
              "print(float(jax.jit(lambda v: jnp.tanh(v) * 3.25)(jnp.ones(7)).sum()), len(hits))")
    first = _run([source], tmp_path).cells[0].outputs[0].text
    assert any(cache.rglob("*")), "the first kernel stored its compiled program"
    second = _run([source], tmp_path).cells[0].outputs[0].text
    assert first.split()[0] == second.split()[0]
    assert first.split()[1] == "0" and int(second.split()[1]) >= 1, (first, second)


def test_an_empty_cache_setting_turns_the_cache_off(tmp_path, monkeypatch):
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", "")
    nb = _run(["import os, jax, jax.numpy as jnp\n"
               "jax.jit(lambda v: v + 1)(jnp.ones(3)).block_until_ready()\n"
               "print(repr(jax.config.jax_compilation_cache_dir))"], tmp_path)
    assert nb.cells[0].outputs[0].text.strip() in ("''", "None")
