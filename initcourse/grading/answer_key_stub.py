"""What ``initcourse.solver`` is while a submission is graded: the answer keys are not there.

``python -m initcourse grade`` puts this file in place of ``initcourse/solver.py`` in each
submission's process (bound over the file inside the sandbox, and served by an import hook
in every case), so ``import initcourse`` still works there, but using any answer key
(``initcourse.solve``, ``LecunDense``, the keys of exercises 2 and 3, any name of the module) raises
:class:`AnswerKeyUnavailable`: a notebook that calls the answer key gets an error, not a pass.
"""


class AnswerKeyUnavailable(RuntimeError):
    """The answer keys of the course cannot be used while grading."""


def _message(name: str) -> str:
    return (f"initcourse.{name} (an answer key) is not available while grading: the grade "
            "comes from your own code")


class _Unavailable:
    """Stands for an answer key: calling it, reading from it or subclassing it raises."""

    def __init__(self, name: str):
        object.__setattr__(self, "_name", name)

    def __call__(self, *args, **kwargs):
        raise AnswerKeyUnavailable(_message(self._name))

    def __getattr__(self, attr):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        raise AnswerKeyUnavailable(_message(f"{self._name}.{attr}"))

    def __mro_entries__(self, bases):
        raise AnswerKeyUnavailable(_message(self._name))

    def __repr__(self) -> str:
        return f"<initcourse.{self._name}: not available while grading>"


def __getattr__(name: str):
    if name.startswith("__") and name.endswith("__"):
        raise AttributeError(name)
    return _Unavailable(name)
