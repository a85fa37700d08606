import math

import numpy as np
import pytest

from gan_tf import losses

LOG2 = math.log(2.0)
SP1 = math.log(1.0 + math.e)  # softplus(1)
SPM1 = math.log(1.0 + 1.0 / math.e)  # softplus(-1)


@pytest.mark.parametrize("function, arguments, expected", [
    # D(x) = sigmoid(logit). At logit 0, D = 1/2 and every log term is log 2.
    (losses.non_saturating_generator_loss, ([[0.0]],), [LOG2]),
    (losses.minimax_generator_loss, ([[0.0]],), [-LOG2]),
    (losses.non_saturating_discriminator_loss, ([[0.0]], [[0.0]]), [2 * LOG2]),
    # -log sigmoid(1) = softplus(-1); -log(1 - sigmoid(-1)) = softplus(-1).
    (losses.non_saturating_discriminator_loss, ([[1.0]], [[-1.0]]), [2 * SPM1]),
    (losses.non_saturating_generator_loss, ([[1.0], [-1.0]],), [SPM1, SP1]),
    (losses.minimax_generator_loss, ([[1.0]],), [-SP1]),
    # One-sided smoothing 0.1: 0.9 * softplus(-1) + 0.1 * softplus(1) for the real term.
    (losses.minimax_discriminator_loss, ([[1.0]], [[-1.0]], 0.1), [0.9 * SPM1 + 0.1 * SP1 + SPM1]),
])
def test_losses_match_hand_computed_values(function, arguments, expected):
    result = np.asarray(function(*[np.array(a, np.float32) if isinstance(a, list) else a for a in arguments]))
    np.testing.assert_allclose(result, expected, rtol=1e-5)


def test_get_losses_names_the_choices():
    assert losses.get_losses("minimax") == (losses.minimax_generator_loss, losses.minimax_discriminator_loss)
    with pytest.raises(ValueError, match="non-saturating"):
        losses.get_losses("nonsense")
