"""Three parametrizations of an MLP's width: the standard one (SP), the neural tangent one
(NTK) and the maximal update one (muP), each as three knobs per kind of layer.

A parametrization says how a layer's three knobs change when the network gets wider:
its initial variance, a fixed multiplier applied in the forward pass, and its learning
rate. Here each knob is a power of the *width multiplier* ``m = width / base_width``
(Tensor Programs V's "base shapes": at ``width == base_width`` every parametrization is
the standard one, so a rate tuned there means the same thing in all three):

- initial variance ``(1 / fan_in) * m ** -init`` (the course's LeCun rule times a power of m);
- multiplier ``m ** -multiplier`` (the layer computes ``multiplier * (x @ w) + b``);
- learning rate ``eta * m ** -lr``.

The kinds of layer are those of Tensor Programs V (Yang, Hu, Babuschkin et al. 2022,
arXiv 2203.03466, Table 3): ``"input"`` (from a fixed size, here the 64 pixels, to the
width; the input and hidden layers' biases follow this row, the output's bias, whose
fan_out is the 10 classes, keeps the rate ``eta``), ``"hidden"`` (width to width) and
``"output"`` (width to the 10 classes). Table 3 of the paper, muP (SP where it differs, in brackets):

===============  ===========================  ==================  ==================
                 input weights & all biases   output weights      hidden weights
===============  ===========================  ==================  ==================
init. variance   1/fan_in                     1/fan_in² (1/fan_in)   1/fan_in
SGD rate         fan_out (1)                  1/fan_in (1)        1
Adam rate        1                            1/fan_in (1)        1/fan_in (1)
===============  ===========================  ==================  ==================

NTK is written the same way: its weights are ``w / sqrt(fan_in)`` with ``w ~ N(0, 1)`` and
one rate for all, which is a multiplier ``m ** -1/2`` on a parameter of variance
``m / fan_in`` (the same forward pass at initialization as SP) and a rate that does not
change with the width.
"""

from __future__ import annotations

from dataclasses import dataclass

from initcourse import _validate

PARAMETRIZATIONS = ("sp", "ntk", "mup")
OPTIMIZERS = ("adam", "sgd")
KINDS = ("input", "hidden", "output")


@dataclass(frozen=True)
class Knobs:
    """Exponents of the width multiplier ``m`` for one kind of layer: initial variance
    ``(1/fan_in) m^-init``, multiplier ``m^-multiplier``, learning rate ``eta m^-lr``."""

    init: float = 0.0
    multiplier: float = 0.0
    lr: float = 0.0


_SP = {"input": Knobs(), "hidden": Knobs(), "output": Knobs()}
_NTK = {"input": Knobs(), "hidden": Knobs(-1, 0.5, 0), "output": Knobs(-1, 0.5, 0)}
TABLE = {
    ("sp", "adam"): _SP,
    ("sp", "sgd"): _SP,
    ("ntk", "adam"): _NTK,
    ("ntk", "sgd"): _NTK,
    ("mup", "adam"): {"input": Knobs(), "hidden": Knobs(lr=1), "output": Knobs(init=1, lr=1)},
    ("mup", "sgd"): {"input": Knobs(lr=-1), "hidden": Knobs(), "output": Knobs(init=1, lr=1)},
}


def knobs(parametrization: str, optimizer: str = "adam") -> dict[str, Knobs]:
    """The exponents of ``parametrization`` (one of :data:`PARAMETRIZATIONS`) under
    ``optimizer`` (``"adam"`` or ``"sgd"``), by kind of layer."""
    parametrization = _validate.choice("parametrization", parametrization, PARAMETRIZATIONS)
    optimizer = _validate.choice("optimizer", optimizer, OPTIMIZERS)
    return TABLE[parametrization, optimizer]


def scales(parametrization: str, optimizer: str, width: int, base_width: int) -> dict:
    """The three knobs as numbers for one width (``width`` and ``base_width`` whole numbers,
    1 to 2**20): ``{kind: (init_std_factor, multiplier,
    lr_factor)}``, where the initial std is ``init_std_factor / sqrt(fan_in)``."""
    width = _validate.integral("width", width, minimum=1, maximum=2**20)
    base_width = _validate.integral("base_width", base_width, minimum=1, maximum=2**20)
    m = width / base_width
    return {kind: (m ** (-k.init / 2), m ** -k.multiplier, m ** -k.lr)
            for kind, k in knobs(parametrization, optimizer).items()}


def parametrization_table(optimizer: str = "adam") -> str:
    """The exponents of every parametrization under ``optimizer``, as a text table (rows:
    parametrization and kind of layer; columns: the power of ``1/m`` of each knob)."""
    optimizer = _validate.choice("optimizer", optimizer, OPTIMIZERS)
    lines = [f"{optimizer:<6}{'layer':<8}{'init var':>10}{'multiplier':>12}{'rate':>8}"]
    for p in PARAMETRIZATIONS:
        for kind, k in TABLE[p, optimizer].items():
            cells = [_power(k.init), _power(k.multiplier), _power(k.lr)]
            lines.append(f"{p:<6}{kind:<8}{cells[0]:>10}{cells[1]:>12}{cells[2]:>8}")
    return "\n".join(lines)


def _power(exponent: float) -> str:
    """``m^-e`` written for a reader: 1, 1/m, m, 1/sqrt(m), sqrt(m)."""
    return {0: "1", 1: "1/m", -1: "m", 0.5: "1/√m", -0.5: "√m"}.get(exponent, f"m^{-exponent:g}")
