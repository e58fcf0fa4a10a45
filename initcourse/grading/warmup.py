"""Compile once, here, what every submission's process would otherwise compile again.

JAX compiles each operation for each new input shape; a fresh process per submission would
pay that for every hidden input (about half a second each on a busy machine). Before
grading, :func:`prepare` runs each exercise's check on its answer key in this process with
JAX's persistent compilation cache writing to a temporary folder; the submissions' processes
then read that folder (read-only inside the sandbox) and load the compiled code instead.
The cache is then switched off here: this process never reads what a submission could touch.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import os


def cache_settings(folder: str, *, write: bool) -> dict:
    """JAX settings that read (and, with ``write``, fill) the compilation cache ``folder``."""
    return {"jax_compilation_cache_dir": folder,
            "jax_persistent_cache_min_compile_time_secs": 0.0 if write else 1e9,
            "jax_persistent_cache_min_entry_size_bytes": 0}


def prepare(folder: str, seed: int) -> None:
    """Fill the cache ``folder`` with what the checks of run ``seed`` compile."""
    import jax

    import initcourse
    from initcourse import solver

    for key, value in cache_settings(folder, write=True).items():
        jax.config.update(key, value)
    try:
        keys = (("check", getattr(solver, "solve", None)),
                ("check_initializer", getattr(solver, "lecun_normal_init", None)),
                ("check_block", getattr(solver, "init_block", None)))
        for check_name, reference in keys:
            check = getattr(initcourse, check_name, None)
            if check is None or reference is None:
                continue
            kwargs = {"seed": seed} if "seed" in inspect.signature(check).parameters else {}
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    check(reference, **kwargs)
            except Exception:  # noqa: BLE001 - only speed is lost: the children compile
                pass
    finally:
        jax.config.update("jax_enable_compilation_cache", False)
    # Readable by the submissions' processes (which run as another user when grading as root).
    for root, _dirs, files in os.walk(folder):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)
