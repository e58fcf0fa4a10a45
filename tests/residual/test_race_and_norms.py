"""rs.race (residual stacks trained on the digits) and rs.norm_stats (a normalized MLP)."""

import math

import numpy as np
import pytest

from initcourse.residual import SCHEMES, norm_stats, race


def test_a_short_race_separates_plain_he_from_the_fixes(compiles):
    result = race(depth=8, width=32, steps=60, seeds=(0, 1))
    assert set(result.loss) == set(SCHEMES) and result.loss["he"].shape == (2, 60)
    assert np.all(result.loss["he"][:, 0] > 10)  # 3**4 = 81 times the variance at the readout
    np.testing.assert_allclose(result.loss["fixup"][:, 0], math.log(10), atol=1e-4)
    for scheme in ("scaled", "fixup", "rezero", "pre-ln"):
        assert np.all(result.final(scheme) < result.loss[scheme][:, 0]), scheme
    with compiles() as c:  # another scheme order, seeds and learning rate: the same program
        again = race(("rezero", "he"), depth=8, width=32, steps=60, seeds=(5, 6, 7, 8, 9, 10, 11, 12, 13, 14),
                     learning_rate=0.02)
    assert set(again.loss) == {"rezero", "he"}
    assert c.names.count("jit(_race)") == 1, c.names  # one program per number of runs


def test_race_arguments_are_checked():
    with pytest.raises(ValueError, match=r"schemes\[1\] must be one of"):
        race(("he", "skipinit"))
    with pytest.raises(ValueError, match="seeds: between 1 and"):
        race(seeds=())
    with pytest.raises(ValueError, match="learning_rate"):
        race(learning_rate=0)


@pytest.mark.parametrize("norm", ["layer", "batch"])
def test_a_normalized_mlp_does_not_see_the_scale_but_its_gradient_does(norm):
    a, b = norm_stats(0.1, norm=norm, depth=6, width=128), norm_stats(10.0, norm=norm, depth=6, width=128)
    np.testing.assert_allclose(a.forward_std, b.forward_std, rtol=1e-3)
    np.testing.assert_allclose(a.weight_grad_std / b.weight_grad_std, 100, rtol=0.05)
    np.testing.assert_allclose(a.step_ratio / b.step_ratio, 1e4, rtol=0.1)


def test_without_a_norm_the_scale_compounds():
    a, b = norm_stats(1.0, norm="none", depth=6, width=128), norm_stats(2.0, norm="none", depth=6, width=128)
    np.testing.assert_allclose(b.forward_std / a.forward_std, 2.0 ** np.arange(1, 7), rtol=1e-3)
    with pytest.raises(ValueError, match="norm must be one of"):
        norm_stats(1.0, norm="group")
