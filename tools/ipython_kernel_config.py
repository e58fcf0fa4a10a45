# Installed by `make install` into .venv/etc/ipython/: the configuration of every kernel the
# course's environment starts (JupyterLab, Voilà, nbval).
import os
import sys

c = get_config()  # noqa: F821

# A cell run out of order (a NameError) is explained in plain language.
# See initcourse/notebook_help.py.
c.InteractiveShellApp.extensions = ["initcourse.notebook_help"]

# XLA programs compiled by one kernel are kept on disk and reused by the next one: restarting
# a kernel, re-running a notebook, or the next notebook that builds the same network starts
# without compiling again. The cache belongs to this environment (.venv/var/cache/jax; a few
# MB for the whole course) and is set before JAX is imported; a JAX_COMPILATION_CACHE_DIR of
# your own wins, and JAX_COMPILATION_CACHE_DIR= (empty) turns the cache off.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      os.path.join(sys.prefix, "var", "cache", "jax"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "-1")
