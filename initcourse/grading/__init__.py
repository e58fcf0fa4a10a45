"""``python -m initcourse grade``: grading submitted notebooks, isolated and unforgeable.

- :mod:`~initcourse.grading.cli`: the command (arguments, parallel jobs, progress, Ctrl-C).
- :mod:`~initcourse.grading.grade`: one notebook: its cells in a process of its own, the
  exercise checks here on proxies of its functions.
- :mod:`~initcourse.grading.runner`: that process, seen from here, and the proxies.
- :mod:`~initcourse.grading.child`: that process, seen from inside.
- :mod:`~initcourse.grading.protocol`: the messages between the two.
- :mod:`~initcourse.grading.sandbox`: the bubblewrap sandbox and the resource limits.
- :mod:`~initcourse.grading.report`: the CSV report and the terminal table.
"""
