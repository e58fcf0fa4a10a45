"""A figure redrawn in place, and the base class of every explorer.

:class:`FigureView` shows a matplotlib ``Figure`` as a widget and redraws only the
artists that change: an interactive ipympl canvas in a Jupyter kernel that has ipympl,
else Agg renders it into an ``ipywidgets.Image`` (a JPEG: fast to encode).
:class:`Explorer` wires controls (:mod:`initcourse.controls`) to a figure (a :class:`FigureView`)
and a one-line readout. A new explorer is written like this::

    class SlopeExplorer(Explorer):
        controls = ("slope",)              # the names of the control attributes
        css = "initcourse-slope-explorer"  # a CSS class on the explorer's box

        def __init__(self, slope=1, *, canvas="auto"):
            self.slope = controls.IntSlider(value=slope, min=-3, max=3, description="slope")
            self.figure = Figure(figsize=(8.4, 3.8))  # never pyplot: nothing global
            (self.line,) = self.figure.subplots().plot([], [])
            self.assemble([self.slope], canvas=canvas, animated=[self.line])

        def compute(self, slope):   # the controls' values -> a state (numbers only)
            return slope
        def draw(self, state):      # update the animated artists; return a key naming
            self.line.set_data([0, 1], [0, state]); return "fixed axes"  # the rest
        def describe(self, state):  # the readout, one line of plain text
            return f"slope {state}"

**Freed when its cell is re-run.** Re-running a notebook cell closes the explorers its
previous run built (JupyterLab sends the cell's id): :meth:`Explorer.close` closes their
widgets and drops every attribute (keep caches in attributes). An explorer nothing refers
to is closed when it is garbage-collected (observers hold it weakly).
"""

from __future__ import annotations

import base64
import functools
import html
import io
import weakref
from collections import OrderedDict

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from initcourse import _validate
from initcourse.figures import log_limits, nice_up, style  # the axis helpers, for explorers
from initcourse.propagation import release_memory

__all__ = ["CANVASES", "Explorer", "FigureView", "kept", "log_limits", "nice_up"]

#: The figure views: ``"auto"`` picks ipympl in a kernel that has it, else ``"image"``.
CANVASES = ("auto", "ipympl", "image")


def _ipympl_in_kernel() -> bool:
    from IPython import get_ipython

    try:
        import ipympl.backend_nbagg  # noqa: F401
    except ImportError:
        return False
    return getattr(get_ipython(), "kernel", None) is not None


@functools.cache
def _full_frame_canvas():
    """ipympl's canvas widget, sending every frame whole.

    ipympl sends a frame as a message and whether it is whole or a difference to the last
    one as widget state, which the front end applies later; on a busy machine it can apply
    a difference as a whole frame: the canvas is cleared and only the changed pixels (or,
    for an unchanged frame, none) are drawn, and the figure stays blank until the next
    move. A whole frame cannot be misapplied; it costs about as much to encode."""
    from ipympl.backend_nbagg import Canvas

    class FullFrameCanvas(Canvas):
        def get_diff_image(self):
            self._force_full = True
            return super().get_diff_image()

    return FullFrameCanvas


def kept(cache: OrderedDict, key, make, keep: int):
    """``cache[key]``, made by ``make()`` if missing; ``cache`` keeps the ``keep`` most
    recently used entries (an explorer's caches are bounded this way)."""
    if key not in cache:
        cache[key] = make()
        while len(cache) > keep:
            cache.popitem(last=False)
    cache.move_to_end(key)
    return cache[key]


class FigureView:
    """Shows a matplotlib ``Figure`` (not registered with pyplot) as a widget (``.widget``)
    on a ``canvas`` of ``CANVASES``, and redraws it in place.

    Redraws blit: the ``animated`` artists are drawn over a cached picture of everything
    else, one picture per ``key`` given to :meth:`refresh` for that static part (its axis
    limits, say). Only a new key costs a full draw; at most ``KEEP`` pictures (about 2 MB
    each) are kept.
    """

    KEEP = 24

    def __init__(self, figure: Figure, canvas: str, animated):
        canvas = _validate.choice("canvas", canvas, CANVASES)
        if canvas == "auto":
            canvas = "ipympl" if _ipympl_in_kernel() else "image"
        self.kind = canvas
        self.figure = figure
        self.animated = list(animated)
        for artist in self.animated:
            artist.set_animated(True)
        self._backgrounds: OrderedDict = OrderedDict()
        self._key = None
        #: Full draws so far (a benchmark resets and reads it).
        self.full_draws = 0
        if canvas == "ipympl":
            from ipympl.backend_nbagg import FigureManager

            view = _full_frame_canvas()(figure)
            FigureManager(view, 0)
            view.header_visible = False
            view.footer_visible = False
            view.resizable = False
            # ipympl keeps a copy of every image in the widget state until a front end
            # connects, and stores it without its "data:" prefix, which breaks the first
            # view; the front end asks for a fresh image anyway when it connects.
            view.syncing_data_url = False
            self.widget = view
        else:
            FigureCanvasAgg(figure)
            self.widget = widgets.Image(format="jpeg", layout=widgets.Layout(max_width="100%"))
        figure.canvas.mpl_connect("draw_event", self._on_draw)

    def _full_key(self):
        return (self._key, self.figure.dpi, self.figure.canvas.get_width_height())

    def _on_draw(self, event) -> None:
        # Any full draw (ours, or one the ipympl front end asks for): keep the static
        # picture, then paint the animated artists over it.
        self.full_draws += 1
        self._backgrounds[self._full_key()] = self.figure.canvas.copy_from_bbox(self.figure.bbox)
        while len(self._backgrounds) > self.KEEP:
            self._backgrounds.popitem(last=False)
        self._paint()

    def _paint(self) -> None:
        for artist in self.animated:
            self.figure.draw_artist(artist)

    def refresh(self, key) -> None:
        """Show the figure's current state; ``key`` (hashable) names its static part."""
        self._key = key
        canvas = self.figure.canvas
        background = self._backgrounds.get(self._full_key())
        if background is None:
            canvas.draw()  # draw_event: caches the background, paints the artists
        else:
            self._backgrounds.move_to_end(self._full_key())
            canvas.restore_region(background)
            self._paint()
            if self.kind == "ipympl":
                canvas.blit(self.figure.bbox)
        if self.kind == "image":
            self.widget.value = self.jpeg()

    def jpeg(self) -> bytes:
        """The canvas as last drawn, as JPEG bytes (quality 92, no chroma subsampling: five
        times faster than PNG, no visible loss on lines and text)."""
        from PIL import Image

        canvas = self.figure.canvas
        rgba = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba())
        buffer = io.BytesIO()
        rgba.convert("RGB").save(buffer, format="jpeg", quality=92, subsampling=0)
        return buffer.getvalue()

    def png(self) -> bytes:
        """The canvas as last drawn, as PNG bytes (no redraw)."""
        from matplotlib.image import imsave

        buffer = io.BytesIO()
        imsave(buffer, np.asarray(self.figure.canvas.buffer_rgba()), format="png")
        return buffer.getvalue()


# Explorers built by each notebook cell's latest run: cell id -> (execution count, weak
# references). One entry per notebook cell that has built an explorer; nothing else.
_BUILT_BY_CELL: dict[str, tuple[int, list[weakref.ref]]] = {}


def _running_cell() -> tuple[str, int] | None:
    """``(cell id, execution count)`` of the notebook cell running now, or None (a kernel
    driven without cell ids: nbval, a console)."""
    from IPython import get_ipython

    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    if kernel is None or not hasattr(kernel, "get_parent"):
        return None
    cell_id = (kernel.get_parent().get("metadata") or {}).get("cellId")
    if not isinstance(cell_id, str):
        return None
    return cell_id, shell.execution_count


def _close_widgets(items) -> None:
    for widget in items:
        widget.close()


def _weak_observer(method):
    """An observer that calls ``method`` while its object lives, and holds it weakly."""
    ref = weakref.WeakMethod(method)

    def observe(change) -> None:
        target = ref()
        if target is not None:
            target(change)

    return observe


def _widget_tree(root) -> list:
    """``root``, its children and theirs, and the widgets each holds (layout, style, and an
    ipympl canvas's toolbar)."""
    found, stack = [], [root]
    while stack:
        widget = stack.pop()
        found.append(widget)
        stack.extend(getattr(widget, "children", ()))
        for part in ("layout", "style", "toolbar"):
            held = getattr(widget, part, None)
            if isinstance(held, widgets.Widget):
                stack.append(held)
    return found


class Explorer:
    """Controls, a figure updated in place and a readout: the pattern is in the module
    docstring (``compute`` -> ``.state``; ``draw`` returns the :class:`FigureView` key)."""

    controls: tuple[str, ...] = ()
    css = ""

    def assemble(self, rows, *, canvas: str, animated) -> None:
        """Lay out ``rows`` (widgets) above the figure and the readout; draw the first state."""
        release_memory()  # what explorers dropped before this one left behind
        self._batching = False
        self._closed = False
        self._readout = ""
        self.view = FigureView(self.figure, canvas, animated)
        self._readout_widget = widgets.HTML()
        self._readout_widget.add_class("initcourse-readout")
        self.widget = widgets.VBox([*rows, self.view.widget, self._readout_widget])
        if self.css:
            self.widget.add_class(self.css)
        observer = _weak_observer(self._on_change)
        for name in self.controls:
            getattr(self, name).observe(observer, names="value")
        # Close the widgets once this explorer is gone (nothing refers to it any more).
        self._finalizer = weakref.finalize(self, _close_widgets, _widget_tree(self.widget))
        self._update()
        self._adopt()

    def _adopt(self) -> None:
        """Close what the previous run of the running notebook cell built."""
        cell = _running_cell()
        if cell is None:
            return
        cell_id, count = cell
        previous_count, built = _BUILT_BY_CELL.get(cell_id, (count, []))
        if previous_count != count:
            for ref in built:
                explorer = ref()
                if explorer is not None:
                    explorer.close()
            built = []
        built = [ref for ref in built if ref() is not None] + [weakref.ref(self)]
        _BUILT_BY_CELL[cell_id] = (count, built)

    @property
    def readout(self) -> str:
        """The current readout, as plain text."""
        return self._readout

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    def values(self) -> dict:
        """The controls' current values, by name."""
        if self._closed:
            return dict(self._last_values)
        return {name: getattr(self, name).value for name in self.controls}

    def set(self, **values) -> None:
        """Set several controls at once (one update). Every value is checked first: an
        unknown control or a bad value raises and nothing changes."""
        if self._closed:
            raise RuntimeError(
                f"this {type(self).__name__} was closed (its cell was re-run, or close() was "
                "called); use the explorer the cell built last"
            )
        unknown = [name for name in values if name not in self.controls]
        if unknown:
            raise TypeError(
                f"{type(self).__name__} has no control {unknown[0]!r}; "
                f"its controls are {', '.join(self.controls)}"
            )
        checked = {name: getattr(self, name).check(v) for name, v in values.items()}
        self._batching = True
        try:
            for name, value in checked.items():
                getattr(self, name).value = value
        finally:
            self._batching = False
        self._update()

    def close(self) -> None:
        """Close the widgets and drop every attribute (figure, state, caches) but the
        controls' last values and the readout. Re-running the cell that built it calls this."""
        if self._closed:
            return
        self._last_values = self.values()
        self._finalizer()
        keep = {"_readout", "_last_values", "_closed", "_finalizer"}
        for name in [n for n in vars(self) if n not in keep]:
            delattr(self, name)
        self._closed = True
        release_memory()

    def _on_change(self, change) -> None:
        if not self._batching:
            self._update()

    def _update(self) -> None:
        self.state = state = self.compute(**self.values())
        with style():
            key = self.draw(state)
        self.view.refresh(key)
        self._readout = self.describe(state)
        self._readout_widget.value = (
            '<div style="font-size: 1.25em; font-family: monospace; padding: 4px 0">'
            f"{html.escape(self._readout)}</div>"
        )

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={value!r}" for name, value in self.values().items())
        closed = " (closed)" if self._closed else ""
        return f"{type(self).__name__}({args}){closed}: {self._readout}"

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        if self._closed:
            return {"text/plain": repr(self)}
        data = self.widget._repr_mimebundle_(**kwargs) or {}
        # A still picture of the figure, shown where the live widget is not (a notebook
        # opened before its cells run, a static viewer): the front end prefers the widget.
        data["image/png"] = base64.b64encode(self.view.png()).decode("ascii")
        data["text/plain"] = repr(self)
        return data
