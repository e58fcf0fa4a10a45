"""Exercise 2's probes: what is wrong with a ``lecun_normal_init`` whose weights are not
Flax's, read from its outputs alone.

Three float32 draws tell the distribution apart: a ``(256, 64)`` and a ``(64, 256)`` kernel
(Dense; their variances' ratio says which fan sets the scale: 4 for fan_in, 1/4 for fan_out, 1
for the average) and a ``(3, 3, 32, 64)`` conv kernel (whether the receptive field counts).
Each has 16384 or more weights: the std is measured to about 0.6%, and the largest
|w| / std separates uniform (<= 1.73), lecun_normal's cut normal (<= 2.27) and an uncut
normal (about 4 on this many draws).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from initcourse.exercises.lecun import CUT_IN_STDS, TRUNCATED_PEAK, UNIFORM_PEAK
from initcourse.exercises.report import Finding
from initcourse.initializers import TRUNCATED_NORMAL_STD

DENSE, DENSE_T, CONV = (256, 64), (64, 256), (3, 3, 32, 64)
#: A measured scale within this relative distance of a candidate is taken as that candidate.
SCALE_TOLERANCE = 0.05
#: A conv kernel's fan_in, measured from its std, may be this far from the true one.
FAN_TOLERANCE = 0.12


def ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How many representable numbers of their (shared) float dtype lie between a and b."""
    a, b = np.asarray(a), np.asarray(b)

    def ordered(x):
        bits = x.view(np.uint16 if x.dtype.itemsize == 2 else np.uint32).astype(np.int64)
        sign = 1 << (8 * x.dtype.itemsize - 1)
        return np.where(bits & sign, -(bits & (sign - 1)), bits)

    return np.abs(ordered(a) - ordered(b))


def late_cast(key, shape, dtype) -> np.ndarray:
    """lecun_normal drawn in float32 and cast to ``dtype`` at the end (a dtype mistake)."""
    fan_in = math.prod(shape[:-1])
    draw = jax.random.truncated_normal(key, -2, 2, shape, jnp.float32)
    return np.asarray((draw * (1 / math.sqrt(fan_in) / TRUNCATED_NORMAL_STD)).astype(dtype))


def _stats(w: np.ndarray) -> tuple[float, float, float]:
    """(std, largest |w| / std, share of the weights sitting exactly on the largest |w|)."""
    std = float(np.std(w))
    peak = float(np.max(np.abs(w)))
    on_bound = float(np.mean(np.abs(w) == peak))
    return std, (peak / std if std > 0 else math.inf), on_bound


def _near(value: float, target: float) -> bool:
    return abs(value / target - 1) < SCALE_TOLERANCE


def diagnose_distribution(dense: np.ndarray, dense_t: np.ndarray, conv: np.ndarray):
    """Findings about the distribution of three float32 draws (shapes :data:`DENSE`,
    :data:`DENSE_T`, :data:`CONV`); empty if it is lecun_normal's."""
    std, peak, on_bound = _stats(dense)
    std_t, _, _ = _stats(dense_t)
    measured = (f"on a {DENSE[0]}x{DENSE[1]} kernel: std {std:.4f} (lecun_normal gives "
                f"{1 / math.sqrt(DENSE[0]):.4f}), largest |w| = {peak:.2f} std (lecun_normal: "
                f"at most {CUT_IN_STDS:.2f})")
    if std == 0 or std_t == 0:
        return [Finding("wrong-distribution", "every weight is the same number")]
    findings = []
    # Which fan sets the scale: the variance ratio of the transposed shapes says how the
    # variance depends on the shape; among the rules it allows, the one whose scale is a
    # known one (right, unrescaled, He's) wins.
    ratio = math.log((std_t / std) ** 2)
    fans = {"fan_in": (math.log(4), DENSE[0]), "fan_out": (-math.log(4), DENSE[1]),
            "the average of both fans": (0.0, sum(DENSE) / 2),
            "the kernel's size": (0.0, math.prod(DENSE)),
            "fan_in, as the std": (math.log(16), DENSE[0] ** 2)}
    known = (1.0, TRUNCATED_NORMAL_STD, math.sqrt(2), math.sqrt(2) * TRUNCATED_NORMAL_STD)
    allowed = [r for r, (log_ratio, _) in fans.items() if abs(log_ratio - ratio) < 0.3]
    rule = min(allowed, key=lambda r: min(abs(math.log(std * math.sqrt(fans[r][1]) / k))
                                          for k in known), default="")
    scale = std * math.sqrt(fans[rule][1] if rule else DENSE[0])

    # The draws' family, and `scale`: the learner's multiplier of the standard draws over
    # lecun_normal's (1 / 0.8796 for a cut normal), times sqrt(fan); 1 when right.
    cut = False
    if on_bound > 0.005:
        findings.append(Finding("not-truncated", f"{on_bound:.1%} of the weights sit exactly "
                                                 f"on the largest |w|: clipped, not cut; "
                                                 f"{measured}"))
        scale *= TRUNCATED_NORMAL_STD / CLIPPED_STD
        cut = True
    elif peak > TRUNCATED_PEAK:
        findings.append(Finding("not-truncated", measured))
    elif peak < UNIFORM_PEAK:
        findings.append(Finding("wrong-distribution", measured + "; a uniform distribution"))
    else:
        cut = True
    if rule == "fan_in, as the std":
        findings.append(Finding("wrong-scale", f"the std goes as 1/fan_in, not 1/sqrt(fan_in): "
                                               f"the variance was used as the std; {measured}"))
        return findings
    if not rule:
        findings.append(Finding("wrong-fan", f"the std of a 64x256 kernel is {std_t / std:.2f} "
                                             f"times that of a 256x64 one: 2 for fan_in, 0.5 "
                                             "for fan_out, 1 for their average"))
    elif rule != "fan_in":
        findings.append(Finding("wrong-fan", f"{rule} sets the scale: the std of a 64x256 "
                                             f"kernel is {std_t / std:.2f} times that of a "
                                             "256x64 one (2 for fan_in)"))
    candidates = {1.0: (), math.sqrt(2): ("wrong-scale",)}
    if cut:
        candidates.update({TRUNCATED_NORMAL_STD: ("missing-rescale",),
                           math.sqrt(2) * TRUNCATED_NORMAL_STD: ("missing-rescale",
                                                                 "wrong-scale")})
    codes = next((c for s, c in candidates.items() if _near(scale, s)), ("wrong-scale",))
    fan_name = "fan_in" if rule in ("fan_in", "") else "fan"
    fan = fans[rule][1] if rule else DENSE[0]
    for code in codes:
        findings.append(Finding(code, f"the weights' scale is {scale:.3f} of lecun_normal's "
                                      f"(with {fan_name} = {fan:g}; "
                                      f"{TRUNCATED_NORMAL_STD:.3f} without the 0.8796 "
                                      f"rescale); {measured}"))
    if rule == "fan_in":
        conv_std = float(np.std(conv))
        implied = (std * math.sqrt(DENSE[0]) / conv_std) ** 2 if conv_std > 0 else math.inf
        true_fan = math.prod(CONV[:-1])
        if abs(implied / true_fan - 1) > FAN_TOLERANCE:
            findings.append(Finding("receptive-field-ignored", f"on a conv kernel {CONV} the "
                                                               f"std implies fan_in = "
                                                               f"{implied:.1f}, not 3*3*32 = "
                                                               f"{true_fan}"))
    return findings


def _clipped_std() -> float:
    """The std of a standard normal clipped (not cut) at -2 and 2: 0.9733."""
    z = np.linspace(-8, 8, 160_001)
    density = np.exp(-z**2 / 2) / math.sqrt(2 * math.pi)
    return math.sqrt(float(np.sum(np.clip(z, -2, 2) ** 2 * density) * (z[1] - z[0])))


#: The std of a standard normal clipped at -2 and 2.
CLIPPED_STD = _clipped_std()
