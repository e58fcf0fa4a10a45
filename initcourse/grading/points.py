"""Points: what each exercise is worth, and the partial-credit rule.

The rule, as the README states it to students:

- a check that passes gets the exercise's full points;
- otherwise the points are shared out over the hidden cases: ``points x right / cases``,
  where a case is right when the check verified its output against the answer key (rounded
  to 0.01). A check that failed although every case's output was right (the mistake is in
  *how*: a fixed key, a call of the answer key or of Flax's own layer) counts one case as
  wrong, so a failed exercise never gets full points;
- a submission whose function never ran through the check (the notebook could not be read,
  defines no function, a cell ran out of time or memory before the function existed)
  gets 0: there is no verified output to give credit for.
"""

from __future__ import annotations

import math
import re

#: The exercises by number: the function a notebook defines for each.
EXERCISES = {1: "solve", 2: "lecun_normal_init", 3: "init_block"}
NUMBERS = {name: number for number, name in EXERCISES.items()}
#: Points of each exercise unless ``--points`` says otherwise.
DEFAULT_POINTS = 10.0
POINTS_MAX = 1000.0


def parse_points(text: str | None, exercises=tuple(EXERCISES)) -> dict[int, float]:
    """``"1=10,2=10,3=20"`` -> ``{1: 10.0, 2: 10.0, 3: 20.0}`` for ``exercises`` (numbers);
    an exercise not named keeps :data:`DEFAULT_POINTS`. Raises ValueError naming the part
    of ``--points`` that is wrong."""
    points = {number: DEFAULT_POINTS for number in exercises}
    if text is None:
        return points
    seen = set()
    parts = [part.strip() for part in str(text).split(",")]
    if not any(parts):
        raise ValueError(f"--points must look like 1=10,2=10,3=10; received {text!r}")
    for part in parts:
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not re.fullmatch("[0-9]+", key) or int(key) not in EXERCISES:
            raise ValueError(f"--points: {part!r} must be EXERCISE=POINTS with EXERCISE 1, 2 or "
                             f"3 (like 1=10,2=10,3=10); received {text!r}")
        number = int(key)
        if number in seen:
            raise ValueError(f"--points names exercise {number} twice; received {text!r}")
        seen.add(number)
        try:
            amount = float(value)
        except ValueError:
            amount = math.nan
        if not (math.isfinite(amount) and 0 <= amount <= POINTS_MAX):
            raise ValueError(f"--points: exercise {number}'s points must be a number from 0 to "
                             f"{POINTS_MAX:g}; received {value!r}")
        if number not in points:
            raise ValueError(f"--points names exercise {number}, which --exercises leaves out; "
                             f"received {text!r}")
        points[number] = amount
    return points


def parse_exercises(text: str | None) -> tuple[int, ...]:
    """``"1,3"`` -> ``(1, 3)``; None -> every exercise. Raises ValueError naming the part."""
    if text is None:
        return tuple(EXERCISES)
    numbers = []
    for part in str(text).split(","):
        part = part.strip()
        if not re.fullmatch("[0-9]+", part) or int(part) not in EXERCISES:
            raise ValueError(f"--exercises must list exercise numbers from 1, 2, 3 (like 1,3); "
                             f"received {text!r}")
        if int(part) in numbers:
            raise ValueError(f"--exercises names exercise {part} twice; received {text!r}")
        numbers.append(int(part))
    return tuple(sorted(numbers))


def score(grade, max_score: float) -> float:
    """The points a :class:`~initcourse.grading.report.Grade` row earns (the rule above)."""
    if grade.exercise not in NUMBERS or max_score <= 0:
        return 0.0
    if grade.passed:
        return float(max_score)
    if grade.cases <= 0:
        return 0.0
    right = min(grade.right, grade.cases - 1)
    return round(max_score * right / grade.cases, 2)


def show(value: float) -> str:
    """A score as the files write it: ``10``, ``7.5``, ``3.33``."""
    return f"{value:.2f}".rstrip("0").rstrip(".")
