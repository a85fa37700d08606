import math

import numpy as np
import pytest

from gan_tf import losses
from gan_tf.errors import UserError

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
    with pytest.raises(UserError, match="non-saturating"):
        losses.get_losses("nonsense")


@pytest.mark.parametrize("name, real, fake, d_expected, g_expected", [
    # least squares: 1/2 (r - 1)^2 + 1/2 f^2 ; G: 1/2 (f - 1)^2
    ("least-squares", 0.5, -1.0, 0.5 * 0.25 + 0.5 * 1.0, 0.5 * 4.0),
    # wasserstein: f - r ; G: -f
    ("wasserstein", 2.0, -1.0, -3.0, 1.0),
    # hinge: relu(1 - r) + relu(1 + f) ; G: -f
    ("hinge", 0.25, 0.5, 0.75 + 1.5, -0.5),
    ("hinge", 3.0, -2.0, 0.0, 2.0),
    # non-saturating at 0: 2 log 2 ; G: log 2
    ("non-saturating", 0.0, 0.0, 2 * LOG2, LOG2),
])
def test_every_named_loss_pair_against_hand_computed_values(name, real, fake, d_expected, g_expected):
    generator_loss, discriminator_loss = losses.get_losses(name)
    real_logits, fake_logits = np.array([[real]], np.float32), np.array([[fake]], np.float32)
    np.testing.assert_allclose(np.asarray(discriminator_loss(real_logits, fake_logits)), [d_expected], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(generator_loss(fake_logits)), [g_expected], rtol=1e-5)


def test_gradient_penalty_of_a_linear_critic_is_closed_form():
    import keras
    import tensorflow as tf

    from gan_tf.regularizers import gradient_penalty, r1_penalty

    weights = np.random.default_rng(0).normal(size=(4, 4, 1)).astype(np.float32)
    critic = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                               keras.layers.Dense(1, use_bias=False)])
    critic.layers[-1].kernel.assign(weights.reshape(16, 1))
    real = tf.constant(np.random.default_rng(1).normal(size=(3, 4, 4, 1)).astype(np.float32))
    fake = tf.constant(np.random.default_rng(2).normal(size=(3, 4, 4, 1)).astype(np.float32))
    epsilon = tf.constant(np.random.default_rng(3).uniform(size=(3, 1, 1, 1)).astype(np.float32))
    norm = np.linalg.norm(weights)
    np.testing.assert_allclose(np.asarray(gradient_penalty(critic, real, fake, epsilon)), [(norm - 1) ** 2] * 3,
                               rtol=1e-5)
    np.testing.assert_allclose(np.asarray(r1_penalty(critic, real)), [0.5 * norm ** 2] * 3, rtol=1e-5)


@pytest.mark.parametrize("name", list(losses.LOSSES))
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_every_loss_judges_each_patch_of_a_patch_discriminator(name, smoothing):
    """[b, h, w, 1] logits: each example's loss is the mean of the losses of its patches, each judged as
    if it were a [b] logit; and [b] and [b, 1] logits give the same values."""
    generator_loss, discriminator_loss = losses.get_losses(name)
    rng = np.random.default_rng(0)
    real = rng.normal(size=(3, 2, 2, 1)).astype(np.float32) * 2  # distinct logits everywhere
    fake = rng.normal(size=(3, 2, 2, 1)).astype(np.float32) * 2

    def per_patch(function, *patches):  # the loss of every patch on its own, as [b] logits
        return np.stack([np.asarray(function(*[p[:, i, j, 0] for p in patches]))
                         for i in range(2) for j in range(2)], axis=1)

    d_patch = np.asarray(discriminator_loss(real, fake, smoothing))
    expected_d = per_patch(lambda r, f: discriminator_loss(r, f, smoothing), real, fake).mean(axis=1)
    assert d_patch.shape == (3,)
    np.testing.assert_allclose(d_patch, expected_d, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(generator_loss(fake)), per_patch(generator_loss, fake).mean(axis=1),
                               rtol=1e-5)
    # A vector and a column of the same logits agree.
    vector, column = real[:, 0, 0, 0], real[:, 0, 0, :]
    np.testing.assert_allclose(np.asarray(discriminator_loss(vector, vector[::-1], smoothing)),
                               np.asarray(discriminator_loss(column, column[::-1], smoothing)), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(generator_loss(vector)), np.asarray(generator_loss(column)), rtol=1e-6)
