"""An IPython extension for the course's kernel: plain-language help when a cell is run out
of order.

Running a cell before the cell that defines one of its names raises ``NameError``. The
traceback stays as it is; below it the learner reads what happened and how to recover.
Nothing is re-run or changed: the learner's code is untouched.

``make install`` enables it for the course's virtual environment (through
``.venv/etc/ipython/ipython_kernel_config.py``); elsewhere, ``%load_ext initcourse.notebook_help``.
"""

from __future__ import annotations

import re

HELP = (
    "initcourse: {name} is not defined in this kernel yet. If a cell above defines it, that "
    "cell has not run since the kernel started: run the cells above this one first "
    "(Run > Run All Above Selected Cell), or start over with Kernel > Restart Kernel and Run "
    "All Cells. Your code is unchanged."
)


def _missing_name(error: NameError) -> str:
    name = getattr(error, "name", None)
    if not name:
        found = re.search(r"name '([^']+)' is not defined", str(error))
        name = found.group(1) if found else None
    return f"`{name}`" if name else "a name this cell uses"


def _explain_name_error(shell, etype, value, tb, tb_offset=None):
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
    print(HELP.format(name=_missing_name(value)))


def load_ipython_extension(shell) -> None:
    shell.set_custom_exc((NameError,), _explain_name_error)


def unload_ipython_extension(shell) -> None:
    shell.set_custom_exc((), None)
