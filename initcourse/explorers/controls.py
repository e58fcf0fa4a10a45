"""Widget controls that raise instead of clamping: the explorers' sliders, boxes and menus.

ipywidgets clamps an out-of-range value and truncates a float without a word; these
controls raise, naming the control (its ``description``) and showing the value received:
``depth.value = 101`` raises ``ValueError: depth must be <= 100; received 101``. Every
control has ``check(value)``: the value it would accept, or the error it would raise.
"""

from __future__ import annotations

import ipywidgets as widgets
import traitlets

from initcourse import _validate

__all__ = ["STYLE", "WIDE", "Dropdown", "FloatSlider", "IntSlider", "IntText", "LadderSlider",
           "NotNone", "seed_box"]

#: The explorers' label width, as ``style=`` for a control.
STYLE = {"description_width": "90px"}
#: The explorers' slider width, as ``layout=`` for a control (a dict: each control gets
#: its own ``Layout`` widget, closed with it).
WIDE = {"width": "440px"}


class NotNone(traitlets.Any):
    """A ``traitlets.Any`` that refuses None (``Any(allow_none=False)`` does not: traitlets
    keeps the class's ``allow_none = True`` and skips validation for None)."""

    allow_none = False


class _Strict(traitlets.HasTraits):
    """A control whose ``value`` is validated by its ``check``."""

    @traitlets.validate("value")
    def _validate_value(self, proposal):
        return self.check(proposal.value)


class _StrictInt(_Strict):
    """Integer widgets: ``value`` must be a whole number within ``[min, max]``."""

    value = NotNone(0, help="Int value").tag(sync=True)

    def check(self, value) -> int:
        """``value`` as an int, or the error the control would raise."""
        return _validate.integral(self.description, value, minimum=self.min, maximum=self.max)


class IntSlider(_StrictInt, widgets.IntSlider):
    """An ``ipywidgets.IntSlider`` that raises on out-of-range or non-integral values."""


class IntText(_StrictInt, widgets.BoundedIntText):
    """An ``ipywidgets.BoundedIntText`` that raises on out-of-range or non-integral values."""


def seed_box(seed) -> IntText:
    """The explorers' seed control: 0 to 2**32 - 1, the course's seed range (check ``seed``
    with ``_validate.seed`` before building other widgets: they would be left open)."""
    return IntText(value=seed, min=_validate.SEED_RANGE[0], max=_validate.SEED_RANGE[1],
                   description="seed", style=STYLE, layout={"width": "200px"})


class FloatSlider(_Strict, widgets.FloatSlider):
    """An ``ipywidgets.FloatSlider`` that raises on values outside ``[min, max]``."""

    value = NotNone(0.0, help="Float value").tag(sync=True)

    def check(self, value) -> float:
        """``value`` as a float, or the error the control would raise."""
        return self.check_value(self.description, value, self.min, self.max)

    @staticmethod
    def check_value(name: str, value, low: float, high: float) -> float:
        """``value`` as a float in ``[low, high]``, else an error naming ``name``."""
        return _validate.real(name, value, minimum=low, maximum=high)


class Dropdown(_Strict, widgets.Dropdown):
    """An ``ipywidgets.Dropdown`` of strings whose errors name the control and list the options."""

    value = NotNone(help="Selected value")

    def check(self, value) -> str:
        """``value`` if it is one of the options, else the error the control would raise."""
        return _validate.choice(self.description, value, self._options_values)


class LadderSlider(widgets.SelectionSlider):
    """A slider named ``name`` over the log-spaced numbers of ``ladder`` (dragging and the
    arrow keys step through them), for ranges like 1 to 4096: whole numbers, or with
    ``real`` positive reals (learning rates). With ``off_ladder``, setting ``value`` from
    Python accepts any number in ``[minimum, maximum]``, adding it to the ladder; without,
    only the ladder's values (a clear error lists them).
    """

    value = NotNone(help="Selected value")

    def __init__(self, name: str, value, ladder, *, minimum, maximum, off_ladder: bool = True,
                 real: bool = False, **kwargs):
        self._bounds = (minimum, maximum)
        self._ladder = tuple(ladder)
        self._off_ladder, self._real = off_ladder, real
        value = self._check(name, value)
        super().__init__(options=self._rungs(value), value=value, description=name, **kwargs)

    @property
    def min(self):
        return self._bounds[0]

    @property
    def max(self):
        return self._bounds[1]

    def _rungs(self, value) -> tuple:
        return tuple(sorted(set(self._ladder) | {value}))

    def check(self, value):
        """``value`` as an int (a float with ``real``), or the error the control would raise."""
        return self._check(self.description, value)

    def _check(self, name: str, value):
        low, high = self._bounds
        if self._real:
            value = _validate.positive_real(name, value)
            if not low <= value <= high:
                raise ValueError(f"{name} must be in [{low:g}, {high:g}]; received {value!r}")
        else:
            value = _validate.integral(name, value, minimum=low, maximum=high)
        if not self._off_ladder and value not in self._ladder:
            raise ValueError(
                f"{name} must be one of {', '.join(map(str, self._ladder))}; received {value!r}"
            )
        return value

    @traitlets.validate("value")
    def _validate_value(self, proposal):
        value = self.check(proposal.value)
        if value not in self._options_values:
            # Swap in the ladder plus this value without the options observer, which would
            # reset the selection to the first option (ipywidgets has no public way).
            rungs = self._rungs(value)
            self._options_full = tuple((str(v), v) for v in rungs)
            self._trait_values["options"] = rungs
            self.set_trait("_options_labels", tuple(str(v) for v in rungs))
            self._options_values = rungs
        return value
