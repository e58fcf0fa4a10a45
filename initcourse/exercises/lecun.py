"""What both exercises' checks know of Flax's ``lecun_normal()``: one wording of it, its cut,
and the largest weights that tell its distribution from a uniform or an untruncated one."""

from __future__ import annotations

from initcourse.initializers import TRUNCATED_NORMAL_STD

__all__ = ["CUT_IN_STDS", "LECUN_WORDS", "TRUNCATED_PEAK", "UNIFORM_PEAK"]

# Largest |w| / std over a 24x256 kernel: uniform <= sqrt(3) = 1.73 (1.76 counting the spread
# of the measured std); a normal truncated at 2 std <= 2/0.8796 = 2.27 (2.33); an untruncated
# normal reaches 3.3 to 5.4. Measured on 300 seeds of each initializer.
UNIFORM_PEAK, TRUNCATED_PEAK = 1.95, 2.8
#: lecun_normal's cut, in units of the final std: a standard normal cut at +-2, then divided by
#: the cut normal's std 0.8796, ends at 2 / 0.8796 = 2.27 of the std it gives.
CUT_IN_STDS = 2 / TRUNCATED_NORMAL_STD
#: One wording of lecun_normal() for every message of both checks.
LECUN_WORDS = (f"a standard normal cut at -2 and 2, divided by {TRUNCATED_NORMAL_STD:.4f} (the "
               "cut normal's std) and scaled by 1/sqrt(fan_in): std 1/sqrt(fan_in), weights cut "
               f"at {CUT_IN_STDS:.2f} of that std")
