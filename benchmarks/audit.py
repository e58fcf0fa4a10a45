"""Benchmark of initcourse.audit: its wall time against one bare jitted forward and backward
pass of the same model (compile included on both sides: an audit is a one-shot call, and so
is a model's first jitted step).

    python benchmarks/audit.py [--blocks 24] [--d-model 64] [--repeats 3]

Prints the audits and the times, and ends with the summary line
    audit: transformer_ratio=<ratio> conv_ratio=<ratio> transformer_s=<s> conv_s=<s>
        transformer_first_s=<s> conv_first_s=<s>
The ratios are medians over the repeats, each audit after a bare pass whose ``model.init``
(outside its timing) has compiled the init's random draws; ``*_first_s`` is the model's
first audit in the process, before any bare pass (the init's draws compiled then).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from initcourse.audit import audit  # noqa: E402

normal = nn.initializers.normal


class Block(nn.Module):
    """A GPT-2 block (pre-LN, normal(0.02), c_proj 0.02/sqrt(2 n_layer))."""

    n_layer: int

    @nn.compact
    def __call__(self, x):
        c, proj = x.shape[-1], normal(0.02 / math.sqrt(2 * self.n_layer))
        x = x + nn.MultiHeadDotProductAttention(4, kernel_init=normal(0.02), out_kernel_init=proj,
                                                name="attn")(nn.LayerNorm()(x))
        h = nn.gelu(nn.Dense(4 * c, kernel_init=normal(0.02), name="c_fc")(nn.LayerNorm()(x)))
        return x + nn.Dense(c, kernel_init=proj, name="c_proj")(h)


class Transformer(nn.Module):
    n_layer: int = 24
    d_model: int = 64

    @nn.compact
    def __call__(self, tokens):
        x = nn.Embed(256, self.d_model, embedding_init=normal(0.02), name="wte")(tokens)
        for i in range(self.n_layer):
            x = Block(self.n_layer, name=f"h_{i}")(x)
        return nn.Dense(256, kernel_init=normal(0.02), name="lm_head")(nn.LayerNorm()(x))


class ConvBlock(nn.Module):
    @nn.compact
    def __call__(self, x):
        he = nn.initializers.he_normal()
        h = nn.relu(nn.BatchNorm(use_running_average=False)(nn.Conv(x.shape[-1], (3, 3),
                                                                    kernel_init=he)(x)))
        h = nn.BatchNorm(use_running_average=False, scale_init=nn.initializers.zeros)(
            nn.Conv(x.shape[-1], (3, 3), kernel_init=he)(h))
        return nn.relu(x + h)


class ResNet(nn.Module):
    """Stem, three stages of two residual blocks, strided convs between them."""

    @nn.compact
    def __call__(self, x):
        he = nn.initializers.he_normal()
        x = nn.relu(nn.Conv(16, (3, 3), kernel_init=he)(x))
        for stage, width in enumerate((16, 32, 64)):
            if stage:
                x = nn.relu(nn.Conv(width, (3, 3), strides=2, kernel_init=he)(x))
            for _ in range(2):
                x = ConvBlock()(x)
        return nn.Dense(10)(x.mean(axis=(1, 2)))


def bare_seconds(model, x) -> float:
    """A fresh jitted forward+backward (init outside), first call: compile and run."""
    variables = model.init(jax.random.key(0), x)
    others = [k for k in variables if k != "params"]

    def loss(params):
        out = model.apply({**variables, "params": params}, x, mutable=others)[0]
        return jnp.sum(out ** 2)

    start = time.perf_counter()
    jax.block_until_ready(jax.jit(jax.grad(loss))(variables["params"]))
    return time.perf_counter() - start


def audit_seconds(model, x):
    start = time.perf_counter()
    report = audit(model, x)
    return time.perf_counter() - start, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=24)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cases = {
        "transformer": (Transformer(args.blocks, args.d_model),
                        jax.random.randint(jax.random.key(0), (8, 32), 0, 256)),
        "conv": (ResNet(), jax.random.normal(jax.random.key(0), (16, 32, 32, 3))),
    }
    ratios, seconds, first = {}, {}, {}
    for name, (model, x) in cases.items():
        first[name] = audit_seconds(model, x)[0]
        bare, audited = [], []
        for _ in range(args.repeats):  # interleaved: the machine is shared
            bare.append(bare_seconds(model, x))
            took, report = audit_seconds(model, x)
            audited.append(took)
        print(report)
        b, a = statistics.median(bare), statistics.median(audited)
        print(f"{name}: {len(report.layers)} layer calls; audit {a:.2f} s, bare jitted "
              f"forward+backward (compile and run) {b:.2f} s = {a / b:.2f}x; the first audit "
              f"in the process {first[name]:.2f} s\n")
        ratios[name], seconds[name] = a / b, a
    print(f"audit: transformer_ratio={ratios['transformer']:.2f} conv_ratio={ratios['conv']:.2f} "
          f"transformer_s={seconds['transformer']:.1f} conv_s={seconds['conv']:.1f} "
          f"transformer_first_s={first['transformer']:.1f} conv_first_s={first['conv']:.1f}")


if __name__ == "__main__":
    jnp.zeros(())
    main()
