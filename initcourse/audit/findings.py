"""What the audit names: rules over the measured layers and blocks.

Each rule returns :class:`AuditFinding` objects; a finding says what is wrong (with the
numbers) and how to fix it, and names the parameter path. Findings with
``severity="note"`` are information, not failures: a kernel whose fixed std does not
preserve variance at its width is a note, because GPT-2's design (normal(0.02) kernels
under pre-LN, where the norms and the residual stream carry the signal) is exactly that.

Thresholds (named below) are chosen so that well-initialized models stay clean: He stacks
with ReLU, LeCun with tanh or linear, convolutions with any padding, stride or grouping,
GPT-2 blocks, Flax's attention; a real problem changes the variance by a factor of 2 or
more per layer, or by 3 or more over the stack.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from initcourse.audit.fan_in import fixing_axes
from initcourse.audit.record import LINEAR, UNKNOWN, join

#: fan-in-mismatch: variance_scaling's count and the summed inputs differ by this factor,
#: and the kernel's E[w^2] x implied fan-in is within GAIN_BAND (a variance_scaling draw).
FAN_IN_RATIO, GAIN_BAND = 2.0, (1 / 3, 3.0)
#: vanishing / exploding: the fitted factor per layer of the std, and its product over
#: the stack, beyond these.
PER_LAYER, OVERALL = 1.18, 3.0
#: dead-relu: share of features zero on every sample (above one half: in a deep ReLU stack
#: the samples grow alike, and up to about half of the units are then off for all of
#: them, by symmetry; a negative bias pushes beyond); saturated-tanh: share at +-0.99.
DEAD_SHARE, SATURATED_SHARE, MIN_SAMPLES = 0.6, 0.3, 8
#: residual-growth: variance factor per block (geometric mean) and the last block's
#: Var(branch)/Var(x) (a pre-LN stream adds a bounded variance, so its ratio falls).
RESIDUAL_GROWTH, LAST_BRANCH = 1.5, 0.5
#: not-variance-preserving (a note): E[w^2] x fan-in outside this band.
PRESERVING = (0.25, 4.0)


@dataclass(frozen=True)
class AuditFinding:
    """A problem (or, with ``severity="note"``, a remark) at one parameter.

    Attributes:
        path: the parameter's path as Flax names it, e.g. ``"attn/c_proj/kernel"``.
        code: the stable code (``fan-in-mismatch``, ``vanishing``, ...).
        what: what is wrong, with the numbers; fix: how to fix it.
        severity: ``"finding"`` or ``"note"``.
        paths: every parameter concerned (``path`` first).
    """

    path: str
    code: str
    what: str
    fix: str
    severity: str = "finding"
    paths: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        """The sentence: what is wrong, then the fix."""
        return f"{self.what} Fix: {self.fix}"


def _linear(layers):
    return [r for r in layers if r.category == LINEAR and r.output_std is not None]


def fan_in_mismatch(layers) -> list[AuditFinding]:
    found = []
    for r in _linear(layers):
        implied, summed, w2 = r.fan_in_implied, r.fan_in_structural, r.kernel_second_moment
        if not (implied and summed and w2) or 1 / FAN_IN_RATIO < implied / summed < FAN_IN_RATIO:
            continue
        if not GAIN_BAND[0] <= w2 * implied <= GAIN_BAND[1]:
            continue  # not drawn by variance_scaling on the implied fan-in
        measured = (f", measured {r.fan_in_measured:.0f}" if r.fan_in_measured else "")
        counted = ("its batch axes are multiplied into the fan-in by the layer's kernel_init "
                   "wrapper" if r.structure.rule == "general" else
                   "variance_scaling counts every axis outside in_axis/out_axis as receptive "
                   "field")
        what = (f"`{r.param_path}` ({r.kind}, kernel {r.kernel_shape}) has std "
                f"{r.kernel_std:.4f} = 1/sqrt({implied:.0f}): {counted}, but each output "
                f"sums over {summed:.0f} inputs{measured}; its output variance is "
                f"{w2 * summed:.3f} x its input's (output std {r.output_std:.3f}).")
        axes = fixing_axes(r.structure)
        scale = implied / summed
        how = (f"pass `{axes}` to `variance_scaling`, or " if axes else
               "pass `in_axis`/`batch_axis` to `variance_scaling` (not enough here: this layer "
               "flattens the kernel before calling it), or ")
        fix = (how + f"an initializer built for this kernel, e.g. `variance_scaling({scale:g} * "
               f"scale, \"fan_in\", ...)`, std 1/sqrt({summed:.0f}).")
        found.append(AuditFinding(r.param_path, "fan-in-mismatch", what, fix,
                                  paths=(r.param_path,)))
    return found


def _trend(values) -> tuple[float, float]:
    """(factor per step, product over the steps) of a log-linear fit to ``values``."""
    logs = np.log(np.asarray(values, float))
    steps = np.arange(len(logs))
    slope = np.polyfit(steps, logs, 1)[0] if len(logs) > 1 else 0.0
    return math.exp(slope), math.exp(slope * (len(logs) - 1))


def _judge(code_values, records, what_of, fix) -> list[AuditFinding]:
    factor, overall = _trend(code_values)
    if factor <= 1 / PER_LAYER and overall <= 1 / OVERALL:
        code = "vanishing"
    elif factor >= PER_LAYER and overall >= OVERALL:
        code = "exploding"
    else:
        return []
    paths = tuple(r.param_path for r in records)
    return [AuditFinding(paths[0], code, what_of(code, factor, overall), fix(code),
                         paths=paths)]


def _rule_fix(records):
    def fix(code):
        gains = [r.gain for r in records if r.gain]
        relu = sum(1 for r in records if r.input_min is not None and r.input_min >= 0)
        rule = ("He's rule (he_normal, E[w^2] = 2/fan_in) for the ReLU layers"
                if relu > len(records) / 2 else
                "LeCun's rule (lecun_normal, E[w^2] = 1/fan_in) for tanh or linear layers, "
                "He's (he_normal) for ReLU")
        median = f" (now E[w^2] x fan_in = {np.median(gains):.3g})" if gains else ""
        return (f"draw the kernels with {rule}{median}, or put a norm between layers.")
    return fix


def signal_and_gradient(layers) -> list[AuditFinding]:
    """``vanishing``/``exploding`` of the signal (std of the layers' outputs, in call order)
    and of the gradient (per-sample norm of dL/d(output), from the output backwards)."""
    records = _linear(layers)
    found = []
    broken = [r for r in records if not r.finite]
    if broken:
        r = broken[0]
        found.append(AuditFinding(
            r.param_path, "exploding", f"`{r.path}`'s output holds inf or NaN.",
            "draw smaller kernels (a fan-in-scaled initializer) and check the inputs.",
            paths=(r.param_path,)))
        return found
    # The first layer's output carries the data's scale, and the gradient at the last one
    # the loss's: the trend is fitted from the second layer to the last (and back).
    forward = [r for r in records if r.output_std > 0][1:]
    if len(forward) >= 2:
        def what(code, factor, overall):
            return (f"The signal is {code} over {len(forward)} layers: the outputs' std goes "
                    f"from {forward[0].output_std:.3g} at `{forward[0].param_path}` to "
                    f"{forward[-1].output_std:.3g} at `{forward[-1].param_path}`, x"
                    f"{factor:.3f} per layer (fitted), x{overall:.3g} over the stack.")
        found += _judge([r.output_std for r in forward], forward, what, _rule_fix(forward))
    backward = [r for r in records[::-1] if r.output_grad_std][1:]
    if len(backward) >= 2:
        # dL/dy per sample, not per unit: He's rule keeps width x Var(g) across layers of
        # any widths (a funnel's wide layers get a smaller gradient per unit by design).
        def norm(r):
            return r.output_grad_std * math.sqrt(math.prod(r.output_shape[1:]))

        def what(code, factor, overall):
            return (f"The gradient is {code} over {len(backward)} layers, from the output "
                    f"back: the std of dL/d(output) goes from {backward[0].output_grad_std:.3g} "
                    f"at `{backward[0].param_path}` to {backward[-1].output_grad_std:.3g} at "
                    f"`{backward[-1].param_path}`, x{factor:.3f} per layer (per-sample norm, "
                    f"fitted), x{overall:.3g} over the stack.")
        for finding in _judge([norm(r) for r in backward], backward[::-1], what,
                              _rule_fix(backward)):
            found.append(AuditFinding(finding.path, finding.code, finding.what, finding.fix,
                                      paths=finding.paths))
    return found


def dead_and_saturated(layers) -> list[AuditFinding]:
    """``dead-relu``: features zero on every sample; ``saturated-tanh``: inputs at +-0.99.
    One finding per code, at the first layer whose output feeds such inputs."""
    dead, saturated, before = [], [], None
    for r in layers:
        if r.category == LINEAR and not r.from_input and r.input_shape:
            samples = math.prod(r.input_shape[:-1])
            producer = before.param_path if before else r.param_path
            if (r.dead_fraction is not None and samples >= MIN_SAMPLES
                    and r.dead_fraction >= DEAD_SHARE):
                dead.append((producer, r, samples))
            if r.saturated_fraction is not None and r.saturated_fraction >= SATURATED_SHARE:
                saturated.append((producer, r, samples))
        if r.category == LINEAR:
            before = r
    found = []
    if dead:
        producer, r, samples = dead[0]
        found.append(AuditFinding(
            producer, "dead-relu",
            f"{r.dead_fraction:.0%} of the features entering `{r.path}` are zero on all "
            f"{samples} samples: the ReLU units after `{producer}` are dead at init and get "
            f"no gradient ({len(dead)} layer(s) like this).",
            "check the bias init of the layer before (a negative constant kills units) and "
            "its kernel's scale; zero biases and He's rule keep about half of the units "
            "active on each sample.", paths=tuple(p for p, _, _ in dead)))
    if saturated:
        producer, r, _ = saturated[0]
        found.append(AuditFinding(
            producer, "saturated-tanh",
            f"{r.saturated_fraction:.0%} of the inputs of `{r.path}` are beyond +-0.99: the "
            f"tanh after `{producer}` is saturated (its derivative is below 0.02 there), so "
            f"little gradient passes ({len(saturated)} layer(s) like this).",
            "draw the kernels with LeCun's or Glorot's rule (E[w^2] = 1/fan_in), not a fixed "
            "std that is too large at this width.", paths=tuple(p for p, _, _ in saturated)))
    return found


def residual_growth(layers, blocks) -> list[AuditFinding]:
    """A residual stream (sibling blocks y = x + f(x), same shape) whose variance grows by
    1 + Var(f(x))/Var(x) per block without that ratio falling."""
    streams: dict[tuple, list] = {}
    for b in blocks:
        if 0.5 <= b.skip <= 1.5:
            streams.setdefault((b.parent, b.shape), []).append(b)
    found = []
    for stream in streams.values():
        if len(stream) < 2:
            continue
        growth = [(b.output_rms / b.input_rms) ** 2 for b in stream if b.input_rms > 0]
        per_block = math.exp(np.mean(np.log(growth)))
        if per_block < RESIDUAL_GROWTH or stream[-1].branch_ratio < LAST_BRANCH:
            continue
        first = stream[0]
        inside = [r for r in layers if r.param_path and r.path.startswith(first.path + "/")]
        path = inside[-1].param_path if inside else join(first.path, "")
        what = (f"The residual stream through `{first.path}` ... `{stream[-1].path}` grows "
                f"block after block: its variance x{per_block:.2f} per block (1 + Var(branch)/"
                f"Var(x); Var(branch)/Var(x) = {stream[-1].branch_ratio:.2f} at the last "
                f"block), rms {first.input_rms:.3g} -> {stream[-1].output_rms:.3g}. The "
                f"layers inside grow with it (not reported again as exploding).")
        fix = (f"scale each branch's last kernel down (`{path}`; GPT-2 uses std 0.02/sqrt(2 * "
               f"n_layer) for c_proj), zero-initialize it (SkipInit, ReZero), or normalize the "
               f"branch's input (pre-LN) so that each block adds a bounded variance.")
        found.append(AuditFinding(path, "residual-growth", what, fix,
                                  paths=tuple(dict.fromkeys(p for p in [path] + [
                                      r.param_path for r in layers if r.param_path and any(
                                          r.path.startswith(b.path + "/") for b in stream)]))))
    return found


def notes(layers, flagged: set) -> list[AuditFinding]:
    """Notes: kernels that do not preserve variance on their own (fixed std at this width),
    and layers the audit does not know."""
    out = []
    loose = [r for r in _linear(layers) if r.gain and r.param_path not in flagged
             and not PRESERVING[0] <= r.gain <= PRESERVING[1]]
    if loose:
        r = loose[0]
        what = (f"{len(loose)} kernel(s) do not preserve variance on their own, e.g. "
                f"`{r.param_path}`: std {r.kernel_std:.4f} at fan-in {r.fan_in_structural:.0f} "
                f"gives E[w^2] x fan_in = {r.gain:.3g} (a fixed std {r.kernel_std:.3g} preserves "
                f"variance only at fan-in {1 / r.kernel_second_moment:.0f}). Under pre-LN with "
                f"a residual stream (GPT-2's normal(0.02)) this is by design, so it is a note.")
        fix = "in a plain stack without norms, use a fan-in-scaled initializer (lecun_normal, he_normal)."
        out.append(AuditFinding(r.param_path, "not-variance-preserving", what, fix, "note",
                                tuple(x.param_path for x in loose)))
    unknown = [r for r in layers if r.category == UNKNOWN]
    if unknown:
        names = ", ".join(f"`{r.path or '(root)'}` ({r.kind})" for r in unknown[:5])
        out.append(AuditFinding(
            unknown[0].path, "not-audited",
            f"{len(unknown)} layer call(s) with parameters of a kind the audit does not know "
            f"were not audited: {names}.",
            "audit their parts (Dense, Conv, Einsum, ...) or check their init by hand.", "note",
            tuple(r.path for r in unknown)))
    return out


def judge(layers, blocks) -> tuple[tuple[AuditFinding, ...], tuple[AuditFinding, ...]]:
    """``(findings, notes)`` for the measured ``layers`` and ``blocks``."""
    findings = fan_in_mismatch(layers)
    residual = residual_growth(layers, blocks)
    trends = signal_and_gradient(layers)
    if residual:  # the stream's growth is the cause; say it once
        trends = [f for f in trends if f.code != "exploding"]
    findings += residual + trends + dead_and_saturated(layers)
    flagged = {f.path for f in findings if f.code == "fan-in-mismatch"}
    return tuple(findings), tuple(notes(layers, flagged))
