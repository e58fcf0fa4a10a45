"""Collection rules shared by the unit tests and nbval."""

import os

# Tests and the notebooks' kernels run JAX on the CPU (the kernel inherits this).
os.environ.setdefault("JAX_PLATFORMS", "cpu")

# Sample notebooks used as test inputs (broken notebooks, submissions to grade) are data,
# not part of the course: nbval must not collect them.
collect_ignore_glob = ["tests/fixtures/*", "tests/*/fixtures/*", ".venv/*", "build/*"]
