"""The graded exercises: each in a room of its own, over what their checks share.

- :mod:`~initcourse.exercises.dense`: exercise 1, a Dense layer's ``solve`` (:func:`check`);
- :mod:`~initcourse.exercises.initializer`: exercise 2, ``lecun_normal_init`` written by
  hand (:func:`check_initializer`);
- :mod:`~initcourse.exercises.caller`: how a check calls the learner's code (time limits,
  a runaway call stopped); :mod:`~initcourse.exercises.report`: findings, hints and the
  report both checks show.

The checks are reached through the face (``initcourse.check``); this package loads nothing
itself.
"""
