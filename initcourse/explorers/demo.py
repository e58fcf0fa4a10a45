"""The classroom demo page: the explorers without code, in a classroom or a projector look.

``notebooks/demo.ipynb`` builds the page that ``make demo`` serves with Voilà::

    demo = Demo()     # the look switch; "?look=projector" in the page's address starts there
    fan_in = demo.add(initcourse.fan_in_explorer, fan_in=64)   # an explorer, on this page

The **projector** look zooms the whole Voilà page (text, controls, readouts) by
:data:`PROJECTOR_ZOOM` and renders each explorer's figure at that many times more pixels,
shown at the same place in the layout: type, lines and markers grow by the same factor
and stay sharp, the layout and the Okabe–Ito colours do not change. Nothing here touches
matplotlib's global settings; each figure's own ``dpi`` is what changes.

The page's figures are still pictures re-rendered by the kernel (``canvas="image"``): the
demo controls their pixels, and nothing depends on a plotting extension in the browser.
"""

from __future__ import annotations

import html
import io
import os
import urllib.parse

import ipywidgets as widgets

from initcourse import _validate

__all__ = ["LOOKS", "PROJECTOR_ZOOM", "Demo", "look_from_query"]

#: The page's looks: ``"classroom"`` (as in JupyterLab) and ``"projector"``.
LOOKS = ("classroom", "projector")

#: How much larger the projector look shows everything: at 1.4, a 1280-pixel-wide
#: projector still fits an explorer's 840-pixel figure and its two sliders side by side.
PROJECTOR_ZOOM = 1.4

# The projector look's CSS. `zoom` scales every length (fixed widget widths included), so
# the layout is kept. It applies to the block inside Voilà's #rendered_cells, whose width
# Voilà's layout (Lumino) sets in pixels from the window: zooming the body instead would
# leave that width unzoomed and push the page off the right edge. Rows of controls wrap
# rather than overflow on a narrow projector.
_PROJECTOR_CSS = f"""<style>
#rendered_cells > div {{ zoom: {PROJECTOR_ZOOM}; }}
.initcourse-demo-explorer .widget-hbox {{ flex-wrap: wrap; }}
</style>"""


def look_from_query(query: str) -> tuple[str, str]:
    """The look asked for by a page address's query string, and a note about it.

    ``"token=…&look=projector"`` gives ``("projector", "")``; no ``look`` gives
    ``("classroom", "")``; an unknown look gives ``("classroom", <a note naming it>)``:
    a typo in an address shows a message on the page instead of failing it.
    """
    values = urllib.parse.parse_qs(query).get("look", [])
    if not values:
        return "classroom", ""
    asked = values[-1]
    if asked in LOOKS:
        return asked, ""
    return "classroom", (
        f"look={asked!r} in the page's address is not a look; showing 'classroom' "
        f"(the looks are {', '.join(LOOKS)})"
    )


class Demo:
    """The demo page's look switch, and the explorers it restyles.

    Arguments:
        look: ``"classroom"`` or ``"projector"``; by default the ``look`` parameter of the
            page's address (Voilà gives it to the kernel as ``QUERY_STRING``), else
            ``"classroom"``.

    ``.look`` is the switch (a ``ToggleButtons``; set its ``value`` from Python too);
    ``.explorers`` lists what :meth:`add` made; ``.style`` holds the look's page CSS and
    ``.note`` a message about the address's ``look`` (both ``HTML`` widgets). Show the
    switch by ending a cell with the ``Demo``.
    """

    def __init__(self, look: str | None = None):
        note = ""
        if look is None:
            look, note = look_from_query(os.environ.get("QUERY_STRING", ""))
        look = _validate.choice("look", look, LOOKS)
        self.explorers: list = []
        self._dpi: list[float] = []  # each explorer's figure dpi in the classroom look
        self.look = widgets.ToggleButtons(
            options=LOOKS, value=look, description="look", style={"description_width": "initial"},
            tooltips=["as in JupyterLab", f"everything {PROJECTOR_ZOOM}× larger, for a room"],
        )
        self.look.add_class("initcourse-demo-look")
        self.style = widgets.HTML()
        self.note = widgets.HTML(f"<b>{html.escape(note)}</b>" if note else "")
        self.note.add_class("initcourse-demo-note")
        self.widget = widgets.VBox([widgets.HBox([self.look, self.style]), self.note])
        self.look.observe(self._on_look, names="value")
        self._apply()

    def add(self, factory, **values):
        """Make an explorer for the page: ``factory(canvas="image", **values)``, in the
        current look; returns it (end a cell with it to show it). Its widget carries the
        CSS classes ``initcourse-demo-explorer`` and ``initcourse-demo-<factory's name>``."""
        explorer = factory(canvas="image", **values)
        explorer.widget.add_class("initcourse-demo-explorer")
        explorer.widget.add_class(f"initcourse-demo-{getattr(factory, '__name__', 'explorer')}")
        self.explorers.append(explorer)
        self._dpi.append(explorer.figure.dpi)
        self._restyle(explorer, self._dpi[-1])
        return explorer

    @property
    def zoom(self) -> float:
        """How much larger the current look shows everything (1 in the classroom look)."""
        return PROJECTOR_ZOOM if self.look.value == "projector" else 1.0

    def _on_look(self, change) -> None:
        self._apply()

    def _apply(self) -> None:
        self.style.value = _PROJECTOR_CSS if self.look.value == "projector" else ""
        for explorer, dpi in zip(self.explorers, self._dpi, strict=True):
            self._restyle(explorer, dpi)

    def _restyle(self, explorer, dpi: float) -> None:
        """Render ``explorer``'s figure at the current look's resolution, as it is now.

        A full draw of the figure (the explorer's view caches it and paints the moving
        parts on it, as after any full draw) and its picture sent again: nothing is
        recomputed, so a trained run or a moved control stays as it was.
        """
        figure = explorer.figure
        figure.set_dpi(dpi * self.zoom)
        (image,) = _images(explorer.widget) or [None]
        if image is None:
            raise TypeError(f"{type(explorer).__name__} shows no picture (ipywidgets.Image): "
                            "the demo needs explorers made with canvas='image'")
        # The picture keeps its place in the layout (its classroom size in CSS pixels): the
        # page's zoom enlarges it, and its extra pixels keep it sharp.
        image.layout.width = f"{round(figure.get_figwidth() * dpi)}px"
        if getattr(explorer, "running", False):
            return  # a training thread draws the next frame, at the new resolution
        figure.canvas.draw()
        image.value = _jpeg(figure)

    def __repr__(self) -> str:
        return f"Demo(look={self.look.value!r}, explorers={len(self.explorers)})"

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        data = self.widget._repr_mimebundle_(**kwargs) or {}
        data["text/plain"] = repr(self)
        return data


def _jpeg(figure) -> bytes:
    """The figure's canvas as last drawn, as JPEG bytes (the explorers' own settings:
    quality 92, no chroma subsampling)."""
    from PIL import Image

    canvas = figure.canvas
    rgba = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba())
    buffer = io.BytesIO()
    rgba.convert("RGB").save(buffer, format="jpeg", quality=92, subsampling=0)
    return buffer.getvalue()


def _images(widget) -> list:
    """Every ``ipywidgets.Image`` in ``widget`` and the boxes inside it."""
    if isinstance(widget, widgets.Image):
        return [widget]
    return [image for child in getattr(widget, "children", ()) for image in _images(child)]
