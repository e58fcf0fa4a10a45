"""The model audit: ``audit(model, *inputs)`` checks the initialization of any Flax model,
Linen or NNX, layer by layer, from one forward and one backward pass.

- :mod:`~initcourse.audit.linen` and :mod:`~initcourse.audit.nnx` find the layers
  (``nn.intercept_methods``; the NNX module graph), :mod:`~initcourse.audit.record` keeps
  their tensors from the one jitted pass (and taps the gradient at each output), and
  :mod:`~initcourse.audit.moments` takes the statistics from them in NumPy on the host;
- :mod:`~initcourse.audit.fan_in` computes the fan-in ``variance_scaling`` counts and the
  fan-in the layer sums over;
- :mod:`~initcourse.audit.findings` names what is wrong; :mod:`~initcourse.audit.report`
  shows it as text or an HTML table.
"""

from __future__ import annotations

import sys
import types

from initcourse.audit.core import BlockRecord, LayerRecord, audit
from initcourse.audit.findings import AuditFinding
from initcourse.audit.report import AuditReport

__all__ = ["AuditFinding", "AuditReport", "BlockRecord", "LayerRecord", "audit"]


class _CallableModule(types.ModuleType):
    """This module, callable as :func:`audit`: ``initcourse.audit`` names both the room and
    the function, and once ``import initcourse.audit`` has run the package attribute is
    this module; calling it must still audit."""

    def __call__(self, model, *inputs, **options):
        return audit(model, *inputs, **options)


sys.modules[__name__].__class__ = _CallableModule
