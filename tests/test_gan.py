import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from gan_tf.errors import UserError
from gan_tf.gan import GAN
from gan_tf.losses import get_losses
from gan_tf.models import build_discriminator, build_generator
from gan_tf.regularizers import Regularization


def _images(count=8, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (count, 28, 28, 1)).astype(np.float32)


def _gan(seed=0, **options):
    keras.utils.set_random_seed(seed)
    generator = build_generator(8, width=4)
    discriminator = build_discriminator(width=4, logits=True, augment="translation", seed=seed)
    gan = GAN(generator, discriminator, seed=seed, **options)
    gan.compile(keras.optimizers.Adam(1e-3, beta_1=0.5), keras.optimizers.Adam(1e-3, beta_1=0.5))
    return gan


def _copy(model):
    return [np.array(weight) for weight in model.trainable_weights]


def _changed(before, model):
    return [not np.allclose(old, np.asarray(new)) for old, new in zip(before, model.trainable_weights)]


def test_one_train_step_updates_both_networks_and_reports_metrics():
    gan = _gan()
    g_before, d_before = _copy(gan.generator), _copy(gan.discriminator)
    history = gan.fit(_images(), batch_size=4, epochs=1, verbose=0)
    assert all(_changed(g_before, gan.generator))
    assert all(_changed(d_before, gan.discriminator))
    assert set(history.history) == {"d_loss", "g_loss", "real_score", "fake_score"}
    assert all(np.isfinite(values[0]) for values in history.history.values())
    assert 0.0 <= history.history["fake_score"][0] <= 1.0


def test_d_steps_update_d_k_times_per_g_update():
    gan = _gan(d_steps=3)
    gan.fit(_images(), batch_size=4, epochs=1, verbose=0)  # 2 steps
    assert int(gan.g_optimizer.iterations.numpy()) == 2
    assert int(gan.d_optimizer.iterations) == 6


@pytest.mark.parametrize("reuse_fakes", [True, False])
def test_g_learns_from_the_fakes_of_d_last_update_or_from_fresh_noise(reuse_fakes):
    # With D frozen (learning rate 0) and plain SGD at 1 for G, G's step is minus the gradient of its
    # loss on one draw: the one D's last update scored (reuse_fakes) or the next, fresh one.
    keras.utils.set_random_seed(0)
    weights = np.random.default_rng(1).normal(size=784) * 0.1
    gan = GAN(build_generator(8, width=4), _linear_critic(weights), d_steps=2, seed=0, reuse_fakes=reuse_fakes)
    gan.compile(keras.optimizers.SGD(1.0), keras.optimizers.SGD(0.0))
    generator_loss = get_losses("non-saturating")[0]
    draw = gan._draw(4, 1 if reuse_fakes else 2)  # D's updates draw 0 and 1; a fresh draw for G is 2
    with tf.GradientTape() as tape:
        loss = ops.mean(generator_loss(gan._critic(gan._generate(draw), None)[0]))
    expected = [np.asarray(weight) - np.asarray(gradient) for weight, gradient in
                zip(gan.generator.trainable_weights, tape.gradient(loss, gan.generator.trainable_weights))]
    gan.train_step(tf.constant(_images(4)))
    for weight, wanted in zip(gan.generator.trainable_weights, expected):
        np.testing.assert_allclose(np.asarray(weight), wanted, rtol=1e-4, atol=1e-5)


def _linear_critic(weights, bias=0.0):
    """D(x) = <w, x> + b: its gradient with respect to x is w for every image, so the penalties have a
    closed form."""
    critic = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(name="flatten"),
                               keras.layers.Dense(1, name="score")], name="discriminator")
    critic.get_layer("score").kernel.assign(np.asarray(weights, np.float32).reshape(-1, 1))
    critic.get_layer("score").bias.assign([bias])
    return critic


def _first_d_loss(discriminator, **options):
    keras.utils.set_random_seed(0)
    gan = GAN(build_generator(8, width=4), discriminator, seed=0, **options)
    gan.compile(keras.optimizers.SGD(0.0), keras.optimizers.SGD(0.0))
    return float(gan.train_step(tf.constant(_images(4)))["d_loss"])


def _zero_loss():
    # Only the penalty is left in D's loss: the reported d_loss is the penalty itself.
    # (0 times the logits, so that gradients exist and are zero).
    return (lambda fake: 0.0 * fake[:, 0], lambda real, fake, smoothing: 0.0 * (real[:, 0] + fake[:, 0]))


def test_gradient_penalty_through_train_step_matches_the_closed_form_for_a_linear_critic():
    weights = np.random.default_rng(0).normal(size=784) * 0.1
    norm = np.linalg.norm(weights)
    d_loss = _first_d_loss(_linear_critic(weights), loss=_zero_loss(),
                           regularization=Regularization(gradient_penalty_weight=10.0))
    np.testing.assert_allclose(d_loss, 10.0 * (norm - 1.0) ** 2, rtol=1e-4)


def test_r1_through_train_step_matches_the_closed_form_for_a_linear_critic():
    weights = np.random.default_rng(1).normal(size=784) * 0.1
    d_loss = _first_d_loss(_linear_critic(weights), loss=_zero_loss(), regularization=Regularization(r1_weight=3.0))
    np.testing.assert_allclose(d_loss, 3.0 * 0.5 * np.sum(weights ** 2), rtol=1e-4)


def test_lazy_r1_applies_interval_times_the_penalty_every_interval_steps():
    weights = np.random.default_rng(1).normal(size=784) * 0.1
    keras.utils.set_random_seed(0)
    gan = GAN(build_generator(8, width=4), _linear_critic(weights), seed=0, loss=_zero_loss(),
              regularization=Regularization(r1_weight=3.0, r1_interval=4))
    gan.compile(keras.optimizers.SGD(0.0), keras.optimizers.SGD(0.0))
    losses = []
    for _ in range(8):
        gan.d_loss_tracker.reset_state()  # the step reports the running mean since the last reset
        losses.append(float(gan.train_step(tf.constant(_images(4)))["d_loss"]))
    full = 3.0 * 0.5 * np.sum(weights ** 2)
    np.testing.assert_allclose(losses, [4 * full, 0, 0, 0, 4 * full, 0, 0, 0], rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("xla", [False, True])
def test_lazy_r1_gradients_reach_d_inside_the_compiled_step(xla):
    # Only R1 moves D: its gradient gamma * interval * w shrinks w by (1 - lr gamma interval) on due steps.
    weights = np.random.default_rng(2).normal(size=784) * 0.1
    keras.utils.set_random_seed(0)
    gan = GAN(build_generator(8, width=4), _linear_critic(weights), seed=0, loss=_zero_loss(),
              regularization=Regularization(r1_weight=3.0, r1_interval=2))
    gan.compile(keras.optimizers.SGD(0.0), keras.optimizers.SGD(0.01), jit_compile=xla)
    gan.fit(_images(16), batch_size=4, epochs=1, verbose=0, shuffle=False)  # steps 0 and 2 are due
    kernel = np.asarray(gan.discriminator.get_layer("score").kernel).ravel()
    np.testing.assert_allclose(kernel, weights * (1 - 0.01 * 3.0 * 2) ** 2, rtol=1e-5)


def test_r1_interval_must_be_a_positive_integer():
    with pytest.raises(UserError, match="--r1-interval"):
        Regularization(r1_weight=1.0, r1_interval=0)
    with pytest.raises(UserError, match="give --r1-weight too"):
        Regularization(r1_interval=16)
    from gan_tf.config import TrainConfig

    with pytest.raises(UserError, match="give --r1-weight too"):
        TrainConfig(r1_weight=0.0, r1_interval=16)


def test_r1_is_measured_at_the_real_images():
    """D(x) = a/2 ||x||^2 has gradient a x, so R1 = gamma a^2 ||x||^2 / 2 at each real image x (not at
    the fakes, nor anywhere else)."""
    a = 0.3
    critic = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Lambda(lambda x: 0.5 * a * ops.sum(
        ops.square(x), axis=(1, 2, 3))[:, None], name="half_square"),
        keras.layers.Dense(1, use_bias=False, kernel_initializer="ones", name="score")],  # a weight to train
        name="discriminator")
    images = _images(4)
    keras.utils.set_random_seed(0)
    gan = GAN(build_generator(8, width=4), critic, loss=_zero_loss(), regularization=Regularization(r1_weight=2.0))
    gan.compile(keras.optimizers.SGD(0.0), keras.optimizers.SGD(0.0))
    d_loss = float(gan.train_step(tf.constant(images))["d_loss"])
    expected = 2.0 * 0.5 * a ** 2 * np.mean(np.sum(np.square(images), axis=(1, 2, 3)))
    np.testing.assert_allclose(d_loss, expected, rtol=1e-4)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_label_smoothing_moves_the_real_target_by_its_value(smoothing):
    # A critic that answers c for every image: D's loss is (1-s) softplus(-c) + s softplus(c) + softplus(c).
    c = 0.7
    d_loss = _first_d_loss(_linear_critic(np.zeros(784), bias=c), loss="non-saturating", label_smoothing=smoothing)
    softplus = lambda x: np.log1p(np.exp(x))  # noqa: E731
    np.testing.assert_allclose(d_loss, (1 - smoothing) * softplus(-c) + smoothing * softplus(c) + softplus(c),
                               rtol=1e-5)


def test_clip_value_bounds_every_weight_of_d_after_its_update():
    generator_loss, discriminator_loss = get_losses("wasserstein")
    gan = _gan(loss=(generator_loss, discriminator_loss), regularization=Regularization(clip_value=0.01))
    gan.fit(_images(), batch_size=4, epochs=1, verbose=0)
    assert max(float(np.max(np.abs(np.asarray(w)))) for w in gan.discriminator.trainable_weights) <= 0.01 + 1e-7


def test_same_seed_gives_the_same_run():
    def run():
        gan = _gan(seed=7)
        dataset = tf.data.Dataset.from_tensor_slices(_images()).batch(4)
        gan.fit(dataset, epochs=2, verbose=0, shuffle=False)
        return np.asarray(gan.generator(np.ones((1, 8), np.float32)))

    np.testing.assert_allclose(run(), run(), atol=1e-6)


def test_ema_generator_lags_behind_the_generator():
    gan = _gan(ema_decay=0.9)
    initial = _copy(gan.generator)
    gan.fit(_images(), batch_size=4, epochs=3, verbose=0)
    averaged = gan.build_sampling_generator()
    assert averaged is not gan.generator
    for start, current, average in zip(initial, gan.generator.trainable_weights, averaged.trainable_weights):
        current, average = np.asarray(current), np.asarray(average)
        # The average sits strictly between where G started and where it is now.
        assert np.linalg.norm(average - current) > 0
        assert np.linalg.norm(average - start) < np.linalg.norm(current - start) + 1e-7


def test_without_ema_samples_come_from_g_itself():
    gan = _gan(ema_decay=0.0)
    assert gan.build_sampling_generator() is gan.generator


def test_invalid_d_steps_is_rejected():
    with pytest.raises(UserError, match="--d-steps"):
        _gan(d_steps=0)


def test_train_step_runs_under_mirrored_strategy_on_two_logical_cpus():
    from gan_tf.distribute import make_strategy

    devices = [device.name for device in tf.config.list_logical_devices("CPU")]
    assert len(devices) == 2, "conftest splits the CPU in two"
    strategy = make_strategy("mirrored")  # the process's one MirroredStrategy, over both logical CPUs
    with strategy.scope():
        gan = _gan(ema_decay=0.5)
    d_before = _copy(gan.discriminator)
    dataset = tf.data.Dataset.from_tensor_slices(_images()).batch(8, drop_remainder=True)
    history = gan.fit(dataset, epochs=2, verbose=0, shuffle=False)
    assert strategy.num_replicas_in_sync == 2
    assert all(np.isfinite(history.history["d_loss"]))
    assert all(_changed(d_before, gan.discriminator))
    assert int(gan.g_optimizer.iterations.numpy()) == 2


def test_recalibrated_batch_norm_statistics_match_the_averaged_weights():
    from gan_tf.ema import recalibrate_batch_norm

    keras.utils.set_random_seed(0)
    generator = build_generator(8, width=4)
    norm = next(layer for layer in generator.layers if isinstance(layer, keras.layers.BatchNormalization))
    recalibrate_batch_norm(generator)
    probe = keras.Model(generator.inputs, norm.input)
    pre_norm = np.asarray(probe(np.random.default_rng(5).normal(size=(2000, 8)).astype(np.float32)))
    np.testing.assert_allclose(np.asarray(norm.moving_mean), pre_norm.mean(axis=0), atol=0.05)
    np.testing.assert_allclose(np.asarray(norm.moving_variance), pre_norm.var(axis=0), rtol=0.2, atol=1e-3)
    assert norm.momentum == 0.99  # restored


def test_the_sampling_generator_is_built_once_per_step_of_the_average():
    # The end of an epoch asks for it three times (grid, FD, saved generator): one build, not three.
    gan = _gan(ema_decay=0.9)
    gan.fit(_images(), batch_size=4, epochs=1, verbose=0)
    tracked = [weight.path for weight in gan.weights]
    first = gan.build_sampling_generator()
    assert gan.build_sampling_generator() is first
    assert [weight.path for weight in gan.weights] == tracked  # the cached model is not tracked (checkpoints)
    gan.fit(_images(), batch_size=4, epochs=1, verbose=0)
    second = gan.build_sampling_generator()
    assert second is not first  # the average moved: a new model, and the old one is left as it was
    assert not np.allclose(np.asarray(first.trainable_weights[0]), np.asarray(second.trainable_weights[0]))
