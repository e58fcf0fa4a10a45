"""The explorers' building blocks: strict controls, the in-place figure view, and an
explorer's life: closed when its cell is re-run, freed when nothing refers to it."""

from __future__ import annotations

import gc
import io
import os
import re
import sys
import textwrap
import weakref

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import ipywidgets  # noqa: E402
import numpy as np  # noqa: E402
import PIL.Image  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from initcourse import DepthExplorer, FanInExplorer  # noqa: E402
from initcourse.explorers import controls  # noqa: E402
from initcourse.explorers.base import Explorer  # noqa: E402
from initcourse.explorers.view import FigureView  # noqa: E402
from initcourse.figures import log_limits, nice_up  # noqa: E402


def registered_widgets() -> dict:
    """ipywidgets' registry of open widgets (what keeps an unclosed widget alive)."""
    return ipywidgets.widgets.widget._instances


class Line(Explorer):
    """The smallest explorer: a line of a chosen slope (the module docstring's pattern)."""

    controls = ("slope",)
    css = "test-line-explorer"

    def __init__(self, slope=1, *, canvas="image"):
        self.slope = controls.IntSlider(value=slope, min=-3, max=3, description="slope")
        self.figure = Figure(figsize=(3, 2))
        (self.line,) = self.figure.subplots().plot([], [])
        self.cache = np.zeros(1000)  # stands for a subclass's cached arrays
        self.assemble([self.slope], canvas=canvas, animated=[self.line])

    def compute(self, slope):
        return slope

    def draw(self, slope):
        self.line.set_data([0, 1], [0, slope])
        return "fixed axes"

    def describe(self, slope):
        return f"slope {slope}"


def test_a_minimal_explorer_draws_and_reads_out():
    ex = Line()
    assert ex.readout == "slope 1" and repr(ex) == "Line(slope=1): slope 1"
    ex.slope.value = -2
    assert ex.readout == "slope -2"
    assert ex.view.widget.value[:2] == b"\xff\xd8"  # a JPEG
    assert "test-line-explorer" in ex.widget._dom_classes
    with pytest.raises(ValueError, match=re.escape("slope must be <= 3; received 4")):
        ex.set(slope=4)
    assert ex.readout == "slope -2"


@pytest.mark.parametrize(
    ("make", "value", "error", "message"),
    [
        (lambda: controls.IntSlider(value=5, min=1, max=10, description="depth"), 11,
         ValueError, "depth must be <= 10; received 11"),
        (lambda: controls.IntText(value=5, min=0, max=10, description="seed"), 2.5,
         ValueError, "seed must be a whole number"),
        (lambda: controls.IntText(value=5, min=0, max=10, description="seed"), None,
         TypeError, "seed must be a real number; received None"),
        (lambda: controls.Dropdown(options=("a", "b"), value="a", description="act"), "c",
         ValueError, "act must be one of 'a', 'b'; received 'c'"),
        (lambda: controls.LadderSlider("width", 16, (16, 32), minimum=16, maximum=32,
                                       off_ladder=False), 20,
         ValueError, "width must be one of 16, 32; received 20"),
    ],
)
def test_controls_raise_naming_themselves(make, value, error, message):
    control = make()
    before = control.value
    with pytest.raises(error, match=re.escape(message)):
        control.value = value
    with pytest.raises(error, match=re.escape(message)):
        control.check(value)
    assert control.value == before


def test_ladder_slider_takes_an_off_ladder_value_when_allowed():
    slider = controls.LadderSlider("fan_in", 4, (1, 4, 16), minimum=1, maximum=16)
    seen = []
    slider.observe(lambda change: seen.append(change["new"]), names="value")
    slider.value = 7
    assert slider.value == 7 and slider.options == (1, 4, 7, 16) and seen == [7]
    with pytest.raises(ValueError, match="fan_in must be <= 16"):
        controls.LadderSlider("fan_in", 17, (1, 4, 16), minimum=1, maximum=16)


def test_figure_view_draws_fully_only_for_a_new_key():
    figure = Figure(figsize=(3, 2))
    (line,) = figure.subplots().plot([0, 1], [0, 1])
    view = FigureView(figure, "image", [line])
    view.refresh("a")
    view.refresh("a")
    view.refresh("b")
    view.refresh("a")
    assert view.full_draws == 2
    with pytest.raises(ValueError, match="canvas must be one of"):
        FigureView(figure, "svg", [line])


def test_the_ipympl_view_sends_every_frame_whole():
    # A difference frame can be applied as a whole one by a busy front end (a blank figure
    # until the next move); a blit, a full draw and an unchanged frame all go out whole.
    figure = Figure(figsize=(3, 2))
    (line,) = figure.subplots().plot([0, 1], [0, 1])
    view = FigureView(figure, "ipympl", [line])
    sent = []
    view.widget.send_binary = lambda data: sent.append((view.widget._image_mode, data))
    view.refresh("a")
    line.set_ydata([1, 0])
    view.refresh("a")  # blit
    view.refresh("a")  # the same picture again
    view.refresh("b")  # full draw
    assert [mode for mode, _ in sent] == ["full"] * 4
    assert sent[1][1] != sent[0][1] and sent[2][1] == sent[1][1]
    shown = np.asarray(PIL.Image.open(io.BytesIO(sent[3][1])).convert("RGBA"))
    np.testing.assert_array_equal(shown, np.asarray(figure.canvas.buffer_rgba()))
    # A figure with see-through parts goes out with its alpha channel.
    figure.patch.set_alpha(0.0)
    view.refresh("c")
    shown = PIL.Image.open(io.BytesIO(sent[-1][1]))
    assert shown.mode == "RGBA" and sent[-1][0] == "full"
    np.testing.assert_array_equal(np.asarray(shown), np.asarray(figure.canvas.buffer_rgba()))


def test_axis_helpers():
    assert [nice_up(v) for v in (0.9, 1.2, 4.1, 6.5, 80)] == [1.0, 1.5, 5.0, 7.0, 100.0]
    assert log_limits([1.0, 1.0]) == (0.1, 10.0)
    assert log_limits([0.0, np.nan]) == (1e-3, 10.0)


def _live(cls) -> list:
    gc.collect()
    return [o for o in gc.get_objects() if type(o) is cls and not o.closed]


@pytest.mark.parametrize("make", [lambda: FanInExplorer(canvas="image"),
                                  lambda: DepthExplorer(width=16, depth=5, canvas="image")])
def test_dropped_explorers_are_freed(make):
    # What 30 re-runs of `ex = depth_explorer()` do in a script: each new one replaces the last.
    gc.collect()  # explorers earlier tests dropped are closed now, not during the count
    ex = make()
    widgets_one = len(registered_widgets())
    refs = [weakref.ref(ex)]
    for _ in range(29):
        ex = make()
        refs.append(weakref.ref(ex))
    gc.collect()
    assert sum(ref() is not None for ref in refs) == 1
    assert len(_live(type(ex))) == 1
    assert len(registered_widgets()) <= widgets_one


def test_a_closed_explorer_keeps_only_its_values_and_says_so():
    ex = Line(slope=2)
    registered = len(registered_widgets())
    ex.close()
    # slope, its style, image, readout, box, and their layouts
    assert registered - len(registered_widgets()) == 10
    assert ex.closed and ex.values() == {"slope": 2}
    assert repr(ex) == "Line(slope=2) (closed): slope 2"
    assert not hasattr(ex, "figure") and not hasattr(ex, "cache")
    with pytest.raises(RuntimeError, match="was closed"):
        ex.set(slope=1)
    assert ex._repr_mimebundle_() == {"text/plain": repr(ex)}


def test_rerunning_a_cell_in_a_real_kernel_closes_what_its_last_run_built():
    # A real IPython kernel, sent what JupyterLab sends: the cell's id with each execution.
    jupyter_client = pytest.importorskip("jupyter_client")
    km = jupyter_client.KernelManager(kernel_name="python3")
    km.kernel_cmd = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    env = dict(os.environ, JAX_PLATFORMS="cpu", MPLBACKEND="Agg")
    km.start_kernel(env=env)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)

        def run(code: str, cell_id: str) -> str:
            msg = kc.session.msg("execute_request", {
                "code": textwrap.dedent(code), "silent": False, "store_history": True,
                "user_expressions": {}, "allow_stdin": False, "stop_on_error": True,
            }, metadata={"cellId": cell_id})
            kc.shell_channel.send(msg)
            out = []
            while True:
                reply = kc.get_iopub_msg(timeout=120)
                if reply["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
                    continue
                if reply["msg_type"] == "stream" and reply["content"]["name"] == "stdout":
                    out.append(reply["content"]["text"])
                if reply["msg_type"] == "error":
                    raise AssertionError("\n".join(reply["content"]["traceback"]))
                if reply["msg_type"] == "status" and reply["content"]["execution_state"] == "idle":
                    return "".join(out)

        run("import gc, ipywidgets, initcourse\n"
            "from initcourse.explorers.base import Explorer", "setup")
        count = ("gc.collect(); print(sum(isinstance(o, Explorer) and not o.closed "
                 "for o in gc.get_objects()), len(ipywidgets.widgets.widget._instances))")
        run("initcourse.depth_explorer(width=16, depth=5, canvas='image')", "cell-a")
        first = run(count, "count")
        for _ in range(5):
            run("initcourse.depth_explorer(width=16, depth=5, canvas='image')", "cell-a")
        # Out[n] keeps every result; the earlier ones are closed, so their widgets are gone.
        assert run(count, "count") == first
        # Another cell's explorer is left alone.
        run("ex = initcourse.fan_in_explorer(canvas='image')", "cell-b")
        run("initcourse.depth_explorer(width=16, depth=5, canvas='image')", "cell-a")
        live, _ = run(count, "count").split()
        assert live == "2"
        assert run("print(ex.closed, ex.readout[:12])", "check") == "False std measured\n"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
