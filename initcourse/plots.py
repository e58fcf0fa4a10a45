"""Shared look of the course's figures: a colour-blind-safe palette, large type.

Nothing here changes matplotlib's global settings on import; use :func:`style` as a
context manager (or :func:`figure`, which applies it) around figure creation.
"""

from __future__ import annotations

import contextlib

import matplotlib.pyplot as plt

#: Okabe & Ito's colour-blind-safe palette (Color Universal Design).
PALETTE = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
}

#: Palette order for series.
CYCLE = [PALETTE[c] for c in ("blue", "orange", "green", "vermillion", "purple", "sky", "black")]

#: Type sizes that stay readable on a projector at the back of a room.
RC = {
    "figure.dpi": 100,
    "font.size": 13,
    "axes.titlesize": 15,
    "axes.labelsize": 14,
    "xtick.labelsize": 12,
    "ytick.labelsize": 12,
    "legend.fontsize": 12,
    "lines.linewidth": 2.2,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": plt.cycler(color=CYCLE),
    "axes.spines.top": False,
    "axes.spines.right": False,
}


@contextlib.contextmanager
def style():
    """Apply the course's figure style inside a ``with`` block."""
    with plt.rc_context(RC):
        yield


def figure(nrows: int = 1, ncols: int = 1, *, width: float = 10.0, height: float = 4.5, **kwargs):
    """``plt.subplots`` in the course's style; returns ``(fig, axes)``."""
    with style():
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), **kwargs)
    return fig, axes
