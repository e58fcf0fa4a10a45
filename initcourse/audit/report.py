"""The audit's report: one row per layer and the findings, as text or an HTML table
(a sibling of the exercise checks' reports: the same :class:`Block` paragraphs)."""

from __future__ import annotations

import html
from dataclasses import dataclass

from initcourse.exercises.report import Block, inline

# Okabe-Ito, darkened to a 4.5:1 contrast on white (WCAG AA).
_PASS_COLOUR, _FAIL_COLOUR, _NOTE_COLOUR = "#00704F", "#A63F00", "#005A8C"
COLUMNS = ("param_path", "kind", "E[x^2]", "out std", "kernel std", "fan-in implied",
           "fan-in summed", "fan-in measured", "grad std", "dL/dy std")


def _number(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}g}" if abs(value) < 1e4 else f"{value:.3e}"


def cells(record) -> tuple[str, ...]:
    """A layer's row, as strings (``COLUMNS``)."""
    name = record.param_path or record.path or "(root)"
    kind = record.kind if record.audited else f"{record.kind} (not audited)"
    return (name, kind, _number(record.input_second_moment), _number(record.output_std),
            _number(record.kernel_std, 4), _number(record.fan_in_implied, 4),
            _number(record.fan_in_structural, 4), _number(record.fan_in_measured, 4),
            _number(record.grad_std), _number(record.output_grad_std))


@dataclass(frozen=True, repr=False)
class AuditReport:
    """What ``audit`` found.

    Attributes:
        model: the model's class name; flavour: ``"linen"`` or ``"nnx"``; seed: the seed of
            the Linen init and of the backward pass's random response.
        layers: one :class:`~initcourse.audit.LayerRecord` per parametrized layer call.
        blocks: the residual-block candidates (:class:`~initcourse.audit.BlockRecord`).
        findings: the problems (:class:`~initcourse.audit.AuditFinding`); notes: remarks
            that are not failures (see :mod:`initcourse.audit.findings`).
    """

    model: str
    flavour: str
    seed: int
    layers: tuple
    blocks: tuple
    findings: tuple
    notes: tuple

    @property
    def passed(self) -> bool:
        """True when there is no finding (notes do not count)."""
        return not self.findings

    @property
    def codes(self) -> tuple[str, ...]:
        """The findings' codes, in order, without repeats."""
        return tuple(dict.fromkeys(f.code for f in self.findings))

    def at(self, path: str) -> tuple[str, ...]:
        """The codes of the findings named at parameter ``path``."""
        return tuple(f.code for f in self.findings if f.path == path)

    @property
    def blocks_text(self) -> tuple[Block, ...]:
        found = [Block(f.what, f.code, f.path, f.fix) for f in self.findings]
        noted = [Block(f"Note ({f.code}): {f.what} {f.fix}") for f in self.notes]
        return (Block(self.headline), *found, *noted)

    @property
    def headline(self) -> str:
        audited = sum(r.audited for r in self.layers)
        if self.passed:
            return f"No finding on {audited} audited layer call(s)."
        return f"{len(self.findings)} finding(s) on {audited} audited layer call(s)."

    @property
    def message(self) -> str:
        return "\n\n".join(block.text() for block in self.blocks_text)

    def to_dict(self) -> dict:
        """``model``, ``passed``, ``findings`` (path, code, message) and ``notes``, JSON-safe."""
        def one(f):
            return {"path": f.path, "code": f.code, "message": f.message}
        return {"model": self.model, "flavour": self.flavour, "seed": self.seed,
                "passed": self.passed, "findings": [one(f) for f in self.findings],
                "notes": [one(f) for f in self.notes]}

    def __str__(self) -> str:
        rows = [COLUMNS, *(cells(r) for r in self.layers)]
        widths = [max(len(row[i]) for row in rows) + 2 for i in range(len(COLUMNS))]
        lines = [f"Audit of {self.model} ({self.flavour}, seed {self.seed}): "
                 f"{'passed' if self.passed else 'not passed'}"]
        lines += ["  " + "".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                  for row in rows]
        return "\n".join(lines + ["", self.message])

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        colour = _PASS_COLOUR if self.passed else _FAIL_COLOUR
        mark = "&#10004; Passed" if self.passed else "&#10008; Findings"
        flagged = {p for f in self.findings for p in f.paths}
        head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
        body = []
        for record in self.layers:
            style = f' style="color: {_FAIL_COLOUR};"' if record.param_path in flagged else ""
            body.append(f"<tr{style}>" + "".join(f"<td>{html.escape(c)}</td>"
                                                 for c in cells(record)) + "</tr>")
        notes = "".join(f'<p style="color: {_NOTE_COLOUR};"><b>Note</b> <code>{f.code}</code> '
                        f"{inline(f.what)} {inline(f.fix)}</p>" for f in self.notes)
        return "\n".join([
            f'<div class="initcourse-audit" style="border-left: 4px solid {colour}; '
            f'padding: 0.2em 0.8em;">',
            f'<p style="color: {colour}; font-weight: bold;">{mark}</p>',
            f"<p>Audit of <code>{html.escape(self.model)}</code> ({self.flavour}, seed "
            f"{self.seed}): {html.escape(self.headline)}</p>",
            f"<table><tr>{head}</tr>{''.join(body)}</table>",
            *(Block(f.what, f.code, f.path, f.fix).html() for f in self.findings),
            notes, "</div>"])
