"""Freed memory goes back to the OS: after a compilation, a check, and a dropped explorer.

Each test runs in a fresh process and first leaves about 300 MiB of freed heap, as a long
session does: a freed 16 MiB block raises glibc's mmap threshold, so the 1 MiB arrays that
follow come from the heap, and freeing them returns nothing to the OS until a release.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc",
                                reason="malloc_trim is glibc's")

PRELUDE = """
import gc
import numpy as np
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
def fragment():
    big = np.ones(2**21); del big
    blocks = [np.ones(2**17) for _ in range(300)]
    return blocks
"""


def handed_back(code: str) -> list[float]:
    """The MiB figures ``code`` prints (after the prelude), in a fresh process."""
    out = subprocess.run([sys.executable, "-c", PRELUDE + code], capture_output=True, text=True,
                         env={**os.environ, "JAX_PLATFORMS": "cpu"})
    assert out.returncode == 0, out.stderr
    return [float(v) for v in out.stdout.split()]


def test_release_memory_hands_freed_heap_back_to_the_os():
    (freed,) = handed_back("""
from initcourse.memory import release_memory
blocks = fragment(); top = blocks[-1]; del blocks
before = rss(); release_memory(); print(before - rss())
""")
    assert freed > 200  # of the 299 MiB freed, in MiB


def test_a_compilation_inside_releasing_hands_the_freed_heap_back_and_a_cached_call_does_not():
    compiled, cached = handed_back("""
import jax, jax.numpy as jnp
from initcourse.memory import releasing
double = jax.jit(lambda x: x * 2)
for _ in range(2):  # the first call compiles, the second finds the program compiled
    blocks = fragment(); top = blocks[-1]; del blocks
    before = rss()
    with releasing():
        double(jnp.ones(3)).block_until_ready()
    print(before - rss())
    del top; gc.collect()
""")
    assert compiled > 200
    assert cached < 50  # no compilation: no release, no 10-70 ms spent on one


def test_a_check_hands_back_what_its_calls_freed():
    (freed,) = handed_back("""
import jax, jax.numpy as jnp
from flax import linen as nn
import initcourse
class Layer(nn.Module):  # the exercise, as a learner writes it
    features: int
    @nn.compact
    def __call__(self, x):
        return nn.Dense(self.features, kernel_init=nn.initializers.lecun_normal())(x)
def solve(seed, x, features):
    model, x = Layer(int(features)), jnp.asarray(x, jnp.float32)
    return model.apply(model.init(jax.random.PRNGKey(int(seed)), x), x)
initcourse.check(solve)  # compiles the hidden cases' shapes
blocks = fragment(); top = blocks[-1]; del blocks
before = rss(); report = initcourse.check(solve); print(before - rss())
assert report.passed, report.mistakes
""")
    assert freed > 200


def test_a_garbage_collected_explorer_hands_its_memory_back():
    # An explorer in a reference cycle is freed by the collector, after its finalizer ran:
    # the release comes when that collection ends.
    freed, = handed_back("""
import initcourse
explorer = initcourse.fan_in_explorer(canvas="image")
big = np.ones(2**21); del big
explorer.payload = [np.ones(2**17) for _ in range(300)]  # what it holds: 300 MiB of heap
top = explorer.payload[-1]  # the heap's top stays in use, as in a long session
explorer.cycle = explorer
del explorer
before = rss(); gc.collect(); print(before - rss())
""")
    assert freed > 200
