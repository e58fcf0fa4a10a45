"""How exercise 3's check reads a parameter tree: nanoGPT's layout for one ``d_model``, and
each parameter judged by its statistics against GPT-2's rule.

A kernel's std is judged within ``STD_TOLERANCE`` standard errors of its estimate (the
sample std of ``n`` normal draws has a relative standard error of ``1 / sqrt(2 n)``: 1.1% for
the smallest kernel the hidden cases draw, 64 x 64, a tolerance of 6.6%), its shape by the kurtosis (3 for a
normal; 1.8 for a uniform, 2.36 for a normal cut at 2 std, both more than six standard
errors away at 4,096 weights) and its mean.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from initcourse.exercises.report import Finding

GPT2_STD = 0.02
#: How many standard errors a measured std may be from the rule's.
STD_TOLERANCE = 6.0
KERNELS = ("attn/c_attn", "attn/c_proj", "mlp/c_fc", "mlp/c_proj")
PROJECTIONS = ("attn/c_proj", "mlp/c_proj")


def layout(d: int) -> dict[str, tuple[int, ...]]:
    """Every parameter's path (below ``params``) and shape for a block of width ``d``."""
    shapes = {}
    for norm in ("ln_1", "ln_2"):
        shapes[f"{norm}/scale"] = shapes[f"{norm}/bias"] = (d,)
    for path, (fan_in, fan_out) in zip(KERNELS, ((d, 3 * d), (d, d), (d, 4 * d), (4 * d, d)),
                                       strict=True):
        shapes[f"{path}/kernel"] = (fan_in, fan_out)
        shapes[f"{path}/bias"] = (fan_out,)
    return shapes


def target_std(path: str, n_layer: int) -> float:
    """GPT-2's std for the kernel at ``path`` (``"attn/c_proj"``, ...)."""
    return GPT2_STD / math.sqrt(2 * n_layer) if path in PROJECTIONS else GPT2_STD


def flatten(tree, prefix: str = "", limit: int = 64) -> dict:
    """``{"ln_1/scale": leaf, ...}`` of a nested mapping (``dict``, Flax's ``FrozenDict``);
    at most ``limit`` leaves are read."""
    out: dict = {}
    stack = [(prefix, tree)]
    while stack and len(out) <= limit:
        path, node = stack.pop()
        if isinstance(node, Mapping):
            stack.extend((f"{path}/{k}" if path else str(k), v) for k, v in node.items())
        else:
            out[path] = node
    return out


def params_of(value):
    """The ``params`` mapping of what ``init_block`` returned (``{"params": ...}``, as
    ``Block.init`` returns it, or the params themselves), or None if it is no mapping."""
    if not isinstance(value, Mapping):
        return None
    inner = value.get("params") if "params" in value else None
    return inner if isinstance(inner, Mapping) else value


@dataclass(frozen=True)
class KernelStats:
    n: int
    std: float
    mean: float
    kurtosis: float

    @classmethod
    def of(cls, w: np.ndarray) -> KernelStats:
        w = w.astype(np.float64).ravel()
        std = float(np.std(w))
        kurt = float(np.mean((w - w.mean()) ** 4) / std ** 4) if std > 0 else float("nan")
        return cls(w.size, std, float(np.mean(w)), kurt)

    def matches(self, std: float) -> bool:
        """Whether ``std`` is within the tolerance of the measured std."""
        return abs(self.std - std) <= STD_TOLERANCE * std / math.sqrt(2 * self.n)

    def normal(self) -> bool:
        """Kurtosis and mean of a normal centred at 0, within six standard errors."""
        return (abs(self.kurtosis - 3.0) <= STD_TOLERANCE * math.sqrt(24 / self.n)
                and abs(self.mean) <= STD_TOLERANCE * self.std / math.sqrt(self.n))


def _shape_name(stats: KernelStats) -> str:
    if abs(stats.mean) > STD_TOLERANCE * stats.std / math.sqrt(stats.n):
        return f"its mean is {stats.mean:.3g}, not 0"
    if abs(stats.kurtosis - 1.8) < 0.15:
        return f"kurtosis {stats.kurtosis:.2f}: a uniform distribution (a normal has 3)"
    if abs(stats.kurtosis - 2.36) < 0.2:
        return (f"kurtosis {stats.kurtosis:.2f}: a normal cut at 2 std, such as "
                "`truncated_normal` (a normal has 3)")
    return f"kurtosis {stats.kurtosis:.2f} (a normal has 3)"


def _cut_normal(stats: KernelStats, std: float) -> bool:
    """A normal of ``std`` cut at 2 std and not rescaled (Flax's ``truncated_normal(std)``):
    std 0.88 of the nominal one, kurtosis 2.36."""
    return stats.matches(std * 0.8796256610342398) and abs(stats.kurtosis - 2.36) < 0.2


_CUT = ("a normal cut at 2 std and not rescaled, as `truncated_normal({})` draws: its std is "
        "0.88 of {} (use `normal`)")


def _std_name(stats: KernelStats, fan_in: int, n_layer: int) -> str:
    """What a kernel's std looks like: a known scheme's, or a multiple of 0.02."""
    known = {"1/sqrt(fan_in) (`lecun_normal()`, `nn.Dense`'s default)": 1 / math.sqrt(fan_in),
             "0.02 x 0.88 (`truncated_normal(0.02)`: cut at 2 std, not rescaled)":
                 GPT2_STD * 0.8796256610342398,
             "0.02 / sqrt(n_layer)": GPT2_STD / math.sqrt(n_layer),
             "0.02 / (2 * n_layer)": GPT2_STD / (2 * n_layer),
             "0.02 / sqrt(2 * n_layer)": GPT2_STD / math.sqrt(2 * n_layer),
             "0.02": GPT2_STD}
    for name, std in known.items():
        if stats.matches(std):
            return f"std {stats.std:.4g} = {name}"
    return f"std {stats.std:.4g} = 0.02 x {stats.std / GPT2_STD:.3g}"


def judge(params, d: int, n_layer: int, call: str) -> tuple[list[Finding], dict]:
    """The findings for one case's ``params`` and the kernels read (path -> array)."""
    findings: list[Finding] = []
    want = layout(d)
    leaves = flatten(params, limit=4 * len(want))
    arrays, bad_shape = {}, []
    for path, leaf in sorted(leaves.items(), key=lambda item: (
            list(want).index(item[0]) if item[0] in want else len(want), item[0])):
        shape = tuple(int(n) for n in np.shape(leaf)) if hasattr(leaf, "shape") else None
        if path in want and shape == want[path]:
            arrays[path] = np.asarray(leaf)
        elif path in want and shape is None:
            bad_shape.append(f"{path} is a {type(leaf).__name__}, not an array")
        elif path in want:
            bad_shape.append(f"{path} has shape {shape}, expected {want[path]}")
    missing = sorted(set(want) - set(leaves))
    extra = sorted(set(leaves) - set(want))
    if missing or extra or bad_shape:
        parts = ([f"missing {', '.join(missing[:6])}"] if missing else []) + (
            [f"unexpected {', '.join(extra[:6])}"] if extra else []) + bad_shape[:4]
        findings.append(Finding("tree", f"`{call}`: " + "; ".join(parts)))
    floats = {}
    for path, a in arrays.items():
        if a.dtype != np.float32:
            findings.append(Finding("dtype", f"`{call}`: {path} is {a.dtype}"))
        try:
            values = a.astype(np.float64)
        except (TypeError, ValueError):
            continue
        if not np.all(np.isfinite(values)):
            findings.append(Finding("non-finite", f"`{call}`: {path}"))
            continue
        floats[path] = values
    findings += _judge_values(floats, want, n_layer, call)
    return findings, {p: v for p, v in floats.items() if p.endswith("/kernel")}


def _judge_values(floats: dict, want: dict, n_layer: int, call: str) -> list[Finding]:
    findings = []
    stats = {p.removesuffix("/kernel"): KernelStats.of(v) for p, v in floats.items()
             if p.endswith("/kernel")}
    for path in ("attn/c_attn", "mlp/c_fc"):
        s = stats.get(path)
        if s is None:
            continue
        if s.std == 0:
            findings.append(Finding("fixed-std", f"`{call}`: {path}/kernel is all zeros"))
        elif _cut_normal(s, GPT2_STD):
            findings.append(Finding("distribution", f"`{call}`: {path}/kernel has std "
                                                    f"{s.std:.4g}, " + _CUT.format("0.02", "0.02")))
        elif not s.matches(GPT2_STD):
            fan_in = want[f"{path}/kernel"][0]
            findings.append(Finding("fixed-std", f"`{call}`: {path}/kernel has "
                                                 f"{_std_name(s, fan_in, n_layer)}; GPT-2's is 0.02"))
        elif not s.normal():
            findings.append(Finding("distribution", f"`{call}`: {path}/kernel: {_shape_name(s)}"))
    findings += _judge_projections(stats, want, n_layer, call)
    nonzero = sorted(p for p, v in floats.items() if p.endswith("/bias")
                     and not p.startswith("ln_") and np.any(v != 0))
    if nonzero:
        findings.append(Finding("bias-nonzero", f"`{call}`: {', '.join(nonzero)}"))
    norms = sorted(p for p, v in floats.items() if p.startswith("ln_")
                   and np.any(v != (1.0 if p.endswith("/scale") else 0.0)))
    if norms:
        findings.append(Finding("layernorm-init", f"`{call}`: {', '.join(norms)} "
                                                  "(scale should be ones, bias zeros)"))
    return findings


def _judge_projections(stats: dict, want: dict, n_layer: int, call: str) -> list[Finding]:
    present = [p for p in PROJECTIONS if p in stats]
    if not present:
        return []
    target = GPT2_STD / math.sqrt(2 * n_layer)
    rule = f"GPT-2's is 0.02 / sqrt(2 * {n_layer}) = {target:.4g}"
    if all(stats[p].std == 0 for p in present):
        return [Finding("zero-branch", f"`{call}`: {' and '.join(present)} kernels are all zeros")]
    findings = []
    unscaled = [p for p in present if stats[p].matches(GPT2_STD) and not stats[p].matches(target)]
    if len(unscaled) == len(present):
        return [Finding("residual-unscaled", f"`{call}`: {' and '.join(p + '/kernel' for p in present)} "
                                             f"have std {stats[present[0]].std:.4g}; {rule}")]
    wrong = []
    for p in present:
        s = stats[p]
        fan_in = want[f"{p}/kernel"][0]
        if s.matches(target):
            if not s.normal():
                findings.append(Finding("distribution", f"`{call}`: {p}/kernel: {_shape_name(s)}"))
            continue
        if _cut_normal(s, target):
            findings.append(Finding("distribution", f"`{call}`: {p}/kernel has std {s.std:.4g}, "
                                    + _CUT.format("0.02 / math.sqrt(2 * n_layer)", f"{target:.4g}")))
            continue
        if s.matches(1 / math.sqrt(fan_in)):
            findings.append(Finding("fixed-std", f"`{call}`: {p}/kernel has "
                                                 f"{_std_name(s, fan_in, n_layer)}; {rule}"))
        else:
            wrong.append(f"{p}/kernel has {_std_name(s, fan_in, n_layer) if s.std else 'std 0'}")
    if wrong:
        right = [p for p in present if stats[p].matches(target)]
        also = f" ({' and '.join(right)} is right)" if right else ""
        findings.append(Finding("residual-scale", f"`{call}`: {'; '.join(wrong)}{also}; {rule}"))
    return findings
