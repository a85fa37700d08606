import keras
import numpy as np

from gan_tf.combined import CombinedGAN
from gan_tf.models import build_discriminator, build_generator


def _trainer(**options):
    keras.utils.set_random_seed(0)
    generator = build_generator(8, width=4)
    discriminator = build_discriminator(width=4, augment="translation", seed=0, minibatch_std=True)
    return CombinedGAN(generator, discriminator, keras.optimizers.Adam(1e-3, beta_1=0.5),
                       keras.optimizers.Adam(1e-3, beta_1=0.5), **options)


def _weights(model):
    model_was = model.trainable
    model.trainable = True  # read every weight, frozen or not
    values = [np.array(weight) for weight in model.trainable_weights]
    model.trainable = model_was
    return values


def _all_changed(before, after):
    return all(not np.allclose(old, new) for old, new in zip(before, after))


def _none_changed(before, after):
    return all(np.array_equal(old, new) for old, new in zip(before, after))


def test_freezing_semantics_d_learns_on_its_step_and_is_frozen_on_the_combined_step():
    trainer = _trainer()
    real = np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1)).astype(np.float32)
    for _ in range(2):  # the second round uses the already-traced train functions
        # D's step: D changes, G does not.
        trainer.discriminator.trainable = True
        d_before, g_before = _weights(trainer.discriminator), _weights(trainer.generator)
        fake = np.asarray(trainer.generator(trainer.noise(4)))
        trainer.discriminator_pair.train_on_batch(
            [real, fake], {"real": np.ones((4, 1), np.float32), "fake": np.zeros((4, 1), np.float32)})
        assert _all_changed(d_before, _weights(trainer.discriminator))
        assert _none_changed(g_before, _weights(trainer.generator))
        # The combined step: G changes, D does not.
        trainer.discriminator.trainable = False
        d_before, g_before = _weights(trainer.discriminator), _weights(trainer.generator)
        trainer.combined.train_on_batch(trainer.noise(4), np.ones((4, 1), np.float32))
        assert _none_changed(d_before, _weights(trainer.discriminator))
        assert _all_changed(g_before, _weights(trainer.generator))


def test_train_step_updates_d_and_g():
    trainer = _trainer(ema_decay=0.9)
    real = np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1)).astype(np.float32)
    d_before, g_before = _weights(trainer.discriminator), _weights(trainer.generator)
    logs = trainer.train_step(real)
    assert _all_changed(d_before, _weights(trainer.discriminator))
    assert _all_changed(g_before, _weights(trainer.generator))
    assert set(logs) == {"d_loss", "g_loss", "real_score", "fake_score"}
    assert all(np.isfinite(float(value)) for value in logs.values())


def test_the_textbook_keras3_port_silently_freezes_d():
    """Why CombinedGAN flips `trainable` before each call: the textbook order leaves D untrained."""
    keras.utils.set_random_seed(0)
    generator, discriminator = build_generator(8, width=4), build_discriminator(width=4)
    discriminator.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    discriminator.trainable = False  # textbook: set once, before building the combined model
    z = keras.Input((8,))
    gan = keras.Model(z, discriminator(generator(z)))
    gan.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    before = _weights(discriminator)
    real = np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1)).astype(np.float32)
    discriminator.train_on_batch(real, np.ones((4, 1), np.float32))  # first call traced while frozen
    assert _none_changed(before, _weights(discriminator))


def test_fit_drives_callbacks_like_keras_fit():
    trainer = _trainer()
    seen = []

    class Recorder(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((epoch, sorted(logs)))

    images = np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32)
    trainer.fit([images[:4], images[4:]], epochs=2, callbacks=[Recorder()])
    assert seen == [(0, ["d_loss", "fake_score", "g_loss", "real_score"])] * 1 + [
        (1, ["d_loss", "fake_score", "g_loss", "real_score"])]


def _linear_sigmoid_discriminator():
    """D(x) = sigmoid(w . x + b): its logit's gradient is w for every image, so R1 is 1/2 ||w||^2."""
    images = keras.Input((2, 2, 1), name="images")
    score = keras.layers.Dense(1, activation="sigmoid", name="score")(keras.layers.Flatten()(images))
    return keras.Model(images, score, name="discriminator")


def test_r1_of_the_combined_style_is_half_the_squared_gradient_of_ds_logit():
    from gan_tf.combined import R1Penalty

    discriminator = _linear_sigmoid_discriminator()
    kernel = np.asarray(discriminator.get_layer("score").kernel)
    images = np.random.default_rng(0).uniform(-1, 1, (3, 2, 2, 1)).astype(np.float32)
    penalty = np.asarray(R1Penalty(discriminator)(images))
    np.testing.assert_allclose(penalty, np.full(3, 0.5 * np.sum(kernel ** 2)), rtol=1e-4)


def test_the_combined_style_applies_lazy_r1_on_every_interval_th_update_of_d():
    keras.utils.set_random_seed(0)
    generator = keras.Sequential([keras.Input((3,), name="z"), keras.layers.Dense(4, activation="tanh"),
                                  keras.layers.Reshape((2, 2, 1))], name="generator")
    discriminator = _linear_sigmoid_discriminator()
    trainer = CombinedGAN(generator, discriminator, keras.optimizers.SGD(0.0), keras.optimizers.SGD(0.0),
                          r1_weight=2.0, r1_interval=3)
    used = []
    for name in ("discriminator_pair", "discriminator_pair_r1"):
        pair = getattr(trainer, name)
        pair.train_on_batch = (lambda original, name: lambda *a, **k: used.append(name) or original(*a, **k))(
            pair.train_on_batch, name)
    real = np.random.default_rng(1).uniform(-1, 1, (4, 2, 2, 1)).astype(np.float32)
    losses = [trainer.train_step(real)["d_loss"] for _ in range(5)]
    assert used == ["discriminator_pair_r1", "discriminator_pair", "discriminator_pair",
                    "discriminator_pair_r1", "discriminator_pair"]
    # With a zero learning rate D stays put: an R1 step's loss is the plain one plus gamma x interval x R1.
    kernel = np.asarray(discriminator.get_layer("score").kernel)
    penalty = 2.0 * 3 * 0.5 * np.sum(kernel ** 2)
    plain = [loss for loss, name in zip(losses, used) if name == "discriminator_pair"]
    with_r1 = [loss for loss, name in zip(losses, used) if name == "discriminator_pair_r1"]
    assert np.std(plain) < 0.05 and abs(np.mean(with_r1) - np.mean(plain) - penalty) < 0.05 + 1e-4
    assert penalty > 0.1  # the test can tell the two apart


def test_g_is_trained_on_the_noise_of_ds_last_fakes_or_on_fresh_noise():
    real = np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1)).astype(np.float32)
    for reuse_fakes, draws in ((True, 2), (False, 3)):
        trainer = _trainer(d_steps=2, reuse_fakes=reuse_fakes)
        given = []
        trainer.combined.train_on_batch = lambda noise, targets, given=given: given.append(noise) or 0.0
        trainer.train_step(real)
        expected = np.random.default_rng(0)  # the trainer's seed: D's draws, then G's if fresh
        noises = [trainer.conditioning.random_inputs(expected, 4)["z"] for _ in range(draws)]
        np.testing.assert_array_equal(given[0], noises[-1])
