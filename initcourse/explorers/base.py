"""The base class of every explorer.

:class:`Explorer` wires controls (:mod:`initcourse.explorers.controls`) to a figure shown by a
:class:`~initcourse.explorers.view.FigureView` and a one-line readout. A new explorer is
written like this::

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
        def draw(self, state):      # update the animated artists; return a scene naming
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
import html
import weakref
from collections import OrderedDict

import ipywidgets as widgets

from initcourse.explorers.view import FigureView
from initcourse.figures import alt_text, style
from initcourse.memory import release_after_collection, release_memory, releasing

__all__ = ["MAX_DEPTH", "SPANS", "Explorer", "kept", "layer_span"]

#: The deepest stack the depth and phase explorers offer.
MAX_DEPTH = 100
#: The layer axis of a depth figure spans one of these: a few cached pictures serve
#: every depth up to :data:`MAX_DEPTH`.
SPANS = (10, 25, 50, MAX_DEPTH)


def layer_span(depth: int) -> int:
    """The shortest of :data:`SPANS` that holds ``depth`` layers."""
    return next(span for span in SPANS if depth <= span)


def kept(cache: OrderedDict, name, make, keep: int):
    """``cache[name]``, made by ``make()`` if missing; ``cache`` keeps the ``keep`` most
    recently used entries (an explorer's caches are bounded this way)."""
    if name not in cache:
        cache[name] = make()
        while len(cache) > keep:
            cache.popitem(last=False)
    cache.move_to_end(name)
    return cache[name]


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
    release_after_collection()  # the explorer's figure and caches are freed after this


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
    docstring (``compute`` -> ``.state``; ``draw`` returns the :class:`FigureView` scene)."""

    controls: tuple[str, ...] = ()
    css = ""
    #: The readout's type size (a CSS length).
    readout_size = "1.25em"

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
        with releasing():  # a move that compiles hands back what the compiler freed
            self.state = state = self.compute(**self.values())
        self._show(state)

    def _show(self, state) -> None:
        """Draw ``state``, refresh the view and the readout."""
        with style():
            scene = self.draw(state)
        self.view.refresh(scene)
        self._readout = self.describe(state)
        # role="status": a screen reader announces each new readout, the figure's live text.
        self._readout_widget.value = (
            f'<div role="status" aria-live="polite" style="font-size: {self.readout_size}; '
            f'font-family: monospace; padding: 4px 0">{html.escape(self._readout)}</div>'
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
        # Its text alternative: the figure's data in words, then the readout.
        return data, {"image/png": {"alt": f"{alt_text(self.figure)} Readout: {self._readout}"}}
