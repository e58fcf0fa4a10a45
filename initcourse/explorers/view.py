"""A matplotlib ``Figure`` shown as a widget and redrawn in place (:class:`FigureView`).

An interactive ipympl canvas in a Jupyter kernel that has ipympl, else Agg renders the
figure into an ``ipywidgets.Image`` (a JPEG: fast to encode). Redraws blit: only the
artists that change are drawn, over a cached picture of the rest.
"""

from __future__ import annotations

import functools
import io
from collections import OrderedDict

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from initcourse import _validate

__all__ = ["CANVASES", "FigureView"]

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
    a difference as a whole frame: the canvas is cleared, only the changed pixels (for an
    unchanged frame, none) are drawn, and the figure stays blank until the next move. A
    whole frame cannot be misapplied, and as RGB at zlib level 1 it costs no more to encode
    than ipympl's difference frames."""
    from ipympl.backend_nbagg import Canvas
    from PIL import Image

    class FullFrameCanvas(Canvas):
        def get_diff_image(self):
            if not self._png_is_old:
                return None
            pixels = np.asarray(self.get_renderer().buffer_rgba())
            self.set_image_mode("full")
            self._png_is_old = self._force_full = False
            self._last_buff = pixels.view(np.uint32).squeeze(2).copy()  # ipympl reads it
            opaque = bool(pixels[..., 3].min() == 255)
            with io.BytesIO() as png:
                Image.fromarray(pixels[..., :3] if opaque else pixels).save(
                    png, format="png", compress_level=1)
                return png.getvalue()

    return FullFrameCanvas


class FigureView:
    """Shows a matplotlib ``Figure`` (not registered with pyplot) as a widget (``.widget``)
    on a ``canvas`` of ``CANVASES``, and redraws it in place.

    Redraws blit: the ``animated`` artists are drawn over a cached picture of everything
    else, one picture per ``scene`` given to :meth:`refresh` for that static part (its axis
    limits, say). Only a new scene costs a full draw; at most ``KEEP`` pictures (about 2 MB
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
        self._scene = None
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

    def _picture(self):
        return (self._scene, self.figure.dpi, self.figure.canvas.get_width_height())

    def _on_draw(self, event) -> None:
        # Any full draw (ours, or one the ipympl front end asks for): keep the static
        # picture, then paint the animated artists over it.
        self.full_draws += 1
        self._backgrounds[self._picture()] = self.figure.canvas.copy_from_bbox(self.figure.bbox)
        while len(self._backgrounds) > self.KEEP:
            self._backgrounds.popitem(last=False)
        self._paint()

    def _paint(self) -> None:
        for artist in self.animated:
            self.figure.draw_artist(artist)

    def refresh(self, scene) -> None:
        """Show the figure's current state; ``scene`` (hashable) names its static part."""
        self._scene = scene
        canvas = self.figure.canvas
        background = self._backgrounds.get(self._picture())
        if background is None:
            canvas.draw()  # draw_event: caches the background, paints the artists
        else:
            self._backgrounds.move_to_end(self._picture())
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
