"""Exercise 3's check: a learner's ``init_block(seed, d_model, n_head, n_layer)``, judged by
the statistics of the tree it returns against GPT-2's rule (:mod:`.judge`).

>>> report = check_block(init_block)   # doctest: +SKIP
>>> report.passed, report.mistakes     # doctest: +SKIP
(False, ('residual-unscaled',))

The hidden cases cover two widths (64 and 128: two shapes for JAX to compile), four
``n_layer`` from 1 to 48 (the ``c_proj`` scale must follow it) and seeds given as floats, as
exercise 1's are. Two cases share a width with different seeds, so a fixed key shows.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np

from initcourse import arguments
from initcourse.exercises.block.feedback import MISTAKES
from initcourse.exercises.block.judge import PROJECTIONS, judge, params_of
from initcourse.exercises.caller import (
    Caller,
    TimedOut,
    classify_error,
    quietly,
    signature_finding,
)
from initcourse.exercises.report import Finding, Findings, ReportView

EXERCISE = "init_block"
_ARGS = ("seed", "d_model", "n_head", "n_layer")


@dataclass(frozen=True)
class BlockCase:
    """One hidden case: ``init_block(seed, d_model, n_head, n_layer)``."""

    seed: float | int
    d_model: int
    n_head: int
    n_layer: int

    def args(self) -> tuple:
        return self.seed, self.d_model, self.n_head, self.n_layer

    def call_text(self) -> str:
        return f"init_block({self.seed!r}, {self.d_model}, {self.n_head}, {self.n_layer})"

    def cells(self, result: str) -> tuple[str, ...]:
        return repr(self.seed), str(self.d_model), str(self.n_head), str(self.n_layer), result


CASES: tuple[BlockCase, ...] = (
    BlockCase(0.0, 64, 4, 12),
    BlockCase(1, 128, 8, 6),
    BlockCase(2.0, 64, 4, 48),
    BlockCase(3, 128, 8, 24),
    BlockCase(5.0, 64, 4, 1),
)


def draw_cases(seed: int) -> tuple[BlockCase, ...]:
    """Cases of the same design as :data:`CASES` (widths, the first one's float seed),
    their seeds and ``n_layer`` drawn from ``seed``."""
    rng = np.random.default_rng([20_261_204, seed])
    seeds = [int(k) for k in rng.choice(2**31 - 1, size=len(CASES), replace=False)]
    layers = [int(n) for n in rng.choice(np.arange(1, 97), size=len(CASES), replace=False)]
    return tuple(BlockCase(float(s) if isinstance(c.seed, float) else s, c.d_model, c.n_head, n)
                 for s, n, c in zip(seeds, layers, CASES, strict=True))


@dataclass(frozen=True)
class BlockRow:
    case: BlockCase
    result: str
    ok: bool

    def cells(self) -> tuple[str, ...]:
        return self.case.cells(self.result)


@dataclass(frozen=True, repr=False)
class BlockReport(ReportView):
    """The result of :func:`check_block`: ``passed``, ``mistakes`` (codes of
    :data:`initcourse.exercises.block.feedback.CODES`), ``message``, ``seed``, ``rows`` (one
    per hidden case), ``findings``; text, HTML and ``to_dict()`` as the other reports."""

    columns = ("seed", "d_model", "n_head", "n_layer", "result")
    mistake_table = MISTAKES
    passed_headline = ("Passed: your block is initialized by GPT-2's rule on all {n} hidden "
                       "cases (every kernel normal(0.02), both c_proj normal(0.02 / sqrt(2 * "
                       "n_layer)), zero biases, LayerNorms at one and zero).")
    partial_headline = "{good} of {n} hidden cases follow GPT-2's rule."


def check_block(fn, *, seed=None, timeout=10.0) -> BlockReport:
    """Check the learner's ``init_block(seed, d_model, n_head, n_layer)``.

    Arguments:
        fn: the learner's function; ``None`` or anything not callable gives a report that
            says to run the starter cell.
        seed: None for the fixed hidden cases, or a run seed to draw new ones.
        timeout: seconds allowed for each call (0 < timeout <= 600); the first call of each
            width may take three times as long (JAX compiles its operations).

    Returns:
        a :class:`BlockReport`; never raises because of the learner's code.
    """
    timeout = arguments.timeout(timeout)
    seed = arguments.check_seed(seed)
    if fn is None or not callable(fn):
        detail = "" if fn is None else f"`init_block` is a {type(fn).__name__}"
        return BlockReport.from_findings((), (Finding("not-defined", detail),),
                                         exercise=EXERCISE, seed=seed)
    wrong = signature_finding(fn, EXERCISE, (_ARGS,))
    if wrong is not None:
        return BlockReport.from_findings((), (wrong,), exercise=EXERCISE, seed=seed)
    cases = CASES if seed is None else draw_cases(seed)
    reference = importlib.import_module("initcourse.solver").init_block
    with quietly():
        for width in sorted({c.d_model for c in cases}):  # compile each width's operations
            reference(0, width, next(c.n_head for c in cases if c.d_model == width), 1)
        try:
            rows, findings = _diagnose(Caller(fn, timeout, EXERCISE, _ARGS), cases)
        except TimedOut as exc:
            rows, findings = (), [Finding("timeout", exc.detail())]
    return BlockReport.from_findings(rows, findings, exercise=EXERCISE, seed=seed)


def _diagnose(call, cases):
    findings = Findings()
    rows, kernels, proj_stds = [], {}, {}
    for number, case in enumerate(cases):
        got = call(*case.args(), text=case.call_text(), raw=True)
        if number == 0 and isinstance(got.error, NotImplementedError):
            return (), [Finding("not-solved")]
        if not got.ok:
            rows.append(BlockRow(case, f"raised {type(got.error).__name__}", False))
            findings.add(_error_finding(call, case, got.error))
            continue
        params = params_of(got.raw)
        if params is None:
            findings.add(Finding("wrong-type", f"`{case.call_text()}` returned a {got.kind}"))
            rows.append(BlockRow(case, f"a {got.kind}", False))
            continue
        found, read = judge(params, case.d_model, case.n_layer, case.call_text())
        for finding in found:
            findings.add(finding)
        kernels[number] = read
        proj_stds[number] = {p: float(np.std(read[f"{p}/kernel"])) for p in PROJECTIONS
                             if f"{p}/kernel" in read}
        codes = sorted({f.code for f in found})
        rows.append(BlockRow(case, "ok" if not codes else ", ".join(codes), not codes))
    _same_key(call, cases, kernels, findings)
    _scale_follows_n_layer(cases, proj_stds, findings)
    return rows, list(findings.values())


def _error_finding(call, case: BlockCase, error: BaseException) -> Finding:
    """``seed-not-cast`` if the call fails with a float seed and works with it cast."""
    if isinstance(case.seed, float) and isinstance(error, TypeError):
        again = call(int(case.seed), *case.args()[1:], text=case.call_text().replace(
            repr(case.seed), str(int(case.seed))), raw=True)
        if again.ok:
            return Finding("seed-not-cast", f"`{case.call_text()}` raised TypeError: "
                                            f"{str(error).splitlines()[0][:200]}")
    return classify_error(error, case.call_text(), EXERCISE)


def _same_key(call, cases, kernels, findings) -> None:
    """``seed-ignored``: two cases of one width with different seeds give one c_attn;
    ``nondeterministic``: the first case called again differs."""
    by_width: dict[int, list[int]] = {}
    for number in kernels:
        by_width.setdefault(cases[number].d_model, []).append(number)
    for numbers in by_width.values():
        attn = [kernels[n].get("attn/c_attn/kernel") for n in numbers]
        if len(attn) >= 2 and attn[0] is not None and attn[1] is not None \
                and np.array_equal(attn[0], attn[1]) and np.std(attn[0]) > 0:
            a, b = (cases[n] for n in numbers[:2])
            findings.add(Finding("seed-ignored", f"`{a.call_text()}` and `{b.call_text()}` "
                                                 "give the same attn/c_attn kernel"))
            return
    if 0 in kernels and "attn/c_attn/kernel" in kernels[0]:
        again = call(*cases[0].args(), text=cases[0].call_text(), raw=True)
        params = params_of(again.raw) if again.ok else None
        if params is not None:
            _, read = judge(params, cases[0].d_model, cases[0].n_layer, "")
            first = read.get("attn/c_attn/kernel")
            if first is not None and not np.array_equal(first, kernels[0]["attn/c_attn/kernel"]):
                findings.add(Finding("nondeterministic", f"two calls of "
                                                         f"`{cases[0].call_text()}` differ"))


def _scale_follows_n_layer(cases, proj_stds, findings) -> None:
    """Sharpen ``residual-scale`` when the c_proj std is the same whatever ``n_layer``; a
    rule that gives 0.02 on one case only (``0.02 / sqrt(n_layer)`` at ``n_layer = 1``) is a
    scale mistake, not an unscaled one."""
    if "residual-scale" not in findings:
        return
    findings.pop("residual-unscaled", None)
    constant = {}
    for path in PROJECTIONS:
        seen = {cases[n].n_layer: s[path] for n, s in proj_stds.items() if path in s}
        if len(seen) >= 3 and min(seen.values()) > 0 and \
                max(seen.values()) / min(seen.values()) < 1.1:
            constant[path] = seen
    if len(constant) == len(PROJECTIONS):  # both: one fixed std whatever n_layer
        seen = constant[PROJECTIONS[0]]
        layers = ", ".join(str(n) for n in sorted(seen))
        findings["residual-scale"] = Finding(
            "residual-scale", f"both c_proj kernels have std about "
                              f"{np.median(list(seen.values())):.4g} for n_layer = {layers} "
                              "alike: the scale must follow n_layer, 0.02 / sqrt(2 * n_layer)")
