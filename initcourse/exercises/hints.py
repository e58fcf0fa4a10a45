"""Hints and answer keys of the three exercises, as a learner asks for them in the notebook:
:func:`hint` gives a stronger hint each time it is called, :func:`show_solution` the
answer key's source, ready to paste.

The answer keys (:mod:`initcourse.solver`) are imported when a solution is shown, never
when this module is imported: grading replaces them by a stub in the submission's process.
"""

from __future__ import annotations

import importlib
import inspect

from initcourse import _validate
from initcourse.exercises.block import feedback as block_feedback
from initcourse.exercises.dense import feedback as dense_feedback
from initcourse.exercises.dense.grader import check_api
from initcourse.exercises.initializer import feedback as initializer_feedback
from initcourse.exercises.report import Hint, Solution

__all__ = ["hint", "show_solution"]

#: The next hint each exercise gives (a session's progress: hint() goes one stronger).
_next_hint = {1: 1, 2: 1, 3: 1}


def _hints(exercise: int):
    return {1: dense_feedback, 2: initializer_feedback, 3: block_feedback}[exercise].HINTS


def _exercise(exercise) -> int:
    if exercise not in (1, 2, 3) or isinstance(exercise, bool):
        raise ValueError(f"exercise must be 1 (solve), 2 (lecun_normal_init) or 3 "
                         f"(init_block); received {exercise!r}")
    return exercise


def hint(level=None, *, exercise=1) -> Hint:
    """The next hint of ``exercise`` (1: ``solve``, 2: ``lecun_normal_init``, 3:
    ``init_block``), or hint
    number ``level`` (1 to 3), gentle to strong."""
    exercise = _exercise(exercise)
    hints = _hints(exercise)
    if level is None:
        level = _next_hint[exercise]
    else:
        level = _validate.integral("level", level, minimum=1, maximum=len(hints))
    _next_hint[exercise] = min(level + 1, len(hints))
    text, code = hints[level - 1]
    suffix = "" if exercise == 1 else f"exercise={exercise}"
    return Hint(level, len(hints), text, code,
                solution_call=f"initcourse.show_solution({suffix})",
                hint_call=f"initcourse.hint({suffix})")


_CHECKS = "\nfrom initcourse.arguments import {}  # clear errors for bad arguments\n"
_IMPORTS = {
    "linen": "import jax\nfrom flax import linen as nn\n" + _CHECKS.format("solve_arguments"),
    "nnx": "import jax\nfrom flax import nnx\n" + _CHECKS.format("solve_arguments"),
    2: "import math\n\nimport jax\nimport jax.numpy as jnp\n"
       + _CHECKS.format("initializer_arguments"),
    3: "import math\n\nimport jax\nimport jax.numpy as jnp\nfrom flax import linen as nn\n"
       + _CHECKS.format("block_arguments"),
}


def show_solution(*, exercise=1, api: str = "linen") -> Solution:
    """The answer key's source, with the imports it needs, ready to paste into a cell:
    exercise 1's ``LecunDense`` and ``solve`` (``api="linen"``) or ``solve_nnx``
    (``api="nnx"``), exercise 2's ``lecun_normal_init``, or exercise 3's ``Block`` (with
    its attention and MLP) and ``init_block``."""
    exercise, api = _exercise(exercise), check_api(api)
    solver = importlib.import_module("initcourse.solver")
    if exercise == 2:
        parts = [_IMPORTS[2], inspect.getsource(solver.lecun_normal_init)]
    elif exercise == 3:
        parts = [_IMPORTS[3], "GPT2_STD = 0.02", *(inspect.getsource(getattr(solver, name)) for name in
                 ("gpt2_proj_init", "CausalSelfAttention", "MLP", "Block", "init_block"))]
    elif api == "linen":
        parts = [_IMPORTS["linen"], inspect.getsource(solver.LecunDense),
                 inspect.getsource(solver.solve)]
    else:
        parts = [_IMPORTS["nnx"], inspect.getsource(solver.solve_nnx)]
    return Solution("\n\n\n".join(part.strip("\n") for part in parts) + "\n")
