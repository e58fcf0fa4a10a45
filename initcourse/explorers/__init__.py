"""The course's interactive explorers, one module each, over the numbers of the other rooms.

- :mod:`~initcourse.explorers.fan_in`: one kernel's weights against the theory, and the std
  against fan_in (:func:`fan_in_explorer`);
- :mod:`~initcourse.explorers.depth`: the std of activations and gradients through ``depth``
  layers, and the regime (:func:`depth_explorer`);
- :mod:`~initcourse.explorers.phase`: order, the edge of chaos and chaos (:func:`phase_explorer`);
- :mod:`~initcourse.explorers.training`: initializers trained side by side (:func:`training_explorer`);
- :mod:`~initcourse.explorers.residual`: a residual stack's stream and gradient, block by block,
  with or without norms and scaled or zero-started branches (:func:`residual_explorer`);
- :mod:`~initcourse.explorers.demo`: the classroom demo page;
- :mod:`~initcourse.explorers.base`, :mod:`~initcourse.explorers.view`,
  :mod:`~initcourse.explorers.controls`: what they share (the :class:`Explorer` base class, the
  figure view, the strict controls).

Each control is an attribute named in the course's vocabulary; setting its ``value`` (or
several with ``.set``) updates ``readout`` at once, and bad values raise::

    ex = initcourse.fan_in_explorer()
    ex.fan_in.value = 256
    ex.set(initializer="he_normal", seed=3)

The constructors are reached through the face (``initcourse.fan_in_explorer``): this package
loads nothing itself, so one explorer does not load the others' dependencies.
"""
