"""--precision (issue 14 item 2): mixed float16 and bfloat16 in both styles, loss scaling per optimizer,
float32 where the range matters (weights, D's logits, losses, penalties, images)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_config

from gan_tf.runs import load_generator
from gan_tf.sampling import sample_unit_images
from gan_tf.train import build_trainer, train


def _batch(side=28, count=8):
    return np.random.default_rng(0).uniform(-1, 1, (count, side, side, 1)).astype(np.float32)


@pytest.mark.parametrize("style, precision", [("fit", "mixed_float16"), ("combined", "mixed_float16"),
                                              ("fit", "mixed_bfloat16")])
def test_a_mixed_precision_run_trains_and_writes_float32_images(tmp_path, digits_npz, style, precision):
    result = train(tiny_config(tmp_path, digits_npz, style=style, precision=precision), verbose=False)
    assert keras.mixed_precision.global_policy().name == "float32"  # restored for whatever comes next
    row = result.history[-1]
    assert np.isfinite(float(row["d_loss"])) and np.isfinite(float(row["g_loss"]))
    generator = load_generator(result.generator_path)
    assert generator.layers[-1].dtype_policy.name == precision  # G computes in 16 bits ...
    assert all(weight.dtype == "float32" for weight in generator.weights)  # ... on float32 weights
    images = sample_unit_images(generator, 4)
    assert images.dtype == np.float32 and np.all(np.isfinite(images))


def test_float16_gives_each_optimizer_its_own_loss_scale_and_float32_logits(tmp_path):
    trainer = build_trainer(tiny_config(tmp_path, "unused.npz", precision="mixed_float16", batch_size=8), 28, 1)
    assert isinstance(trainer.g_optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(trainer.d_optimizer, keras.optimizers.LossScaleOptimizer)
    assert trainer.g_optimizer is not trainer.d_optimizer
    logits, _ = trainer._critic(tf.constant(_batch()), None)
    assert trainer.discriminator.layers[-1].compute_dtype == "float16" and logits.dtype == "float32"
    bfloat = build_trainer(tiny_config(tmp_path, "unused.npz", precision="mixed_bfloat16"), 28, 1)
    assert not isinstance(bfloat.d_optimizer, keras.optimizers.LossScaleOptimizer)  # bfloat16: float32's range


def test_the_loss_scale_halves_and_skips_the_step_on_overflow_and_grows_after_finite_steps(tmp_path):
    trainer = build_trainer(tiny_config(tmp_path, "unused.npz", precision="mixed_float16", batch_size=8), 28, 1)
    for optimizer in (trainer.g_optimizer, trainer.d_optimizer):
        optimizer.dynamic_growth_steps = 2  # read when the step is traced
    data = tf.data.Dataset.from_tensors(_batch())
    # 1. A scale of 2^40 overflows float16's gradients (max 65,504): both steps are skipped, scales halve.
    for optimizer in (trainer.g_optimizer, trainer.d_optimizer):
        optimizer.dynamic_scale.assign(2.0 ** 40)
    before = [np.array(weight) for weight in trainer.discriminator.trainable_weights]
    trainer.fit(data, epochs=1, verbose=0, shuffle=False)
    assert float(trainer.d_optimizer.dynamic_scale) == 2.0 ** 39
    assert float(trainer.g_optimizer.dynamic_scale) == 2.0 ** 39
    for old, weight in zip(before, trainer.discriminator.trainable_weights):
        np.testing.assert_array_equal(old, np.array(weight))  # D did not move on inf gradients
    # 2. At a sane scale, two finite steps double it (dynamic_growth_steps = 2) and the weights move.
    for optimizer in (trainer.g_optimizer, trainer.d_optimizer):
        optimizer.dynamic_scale.assign(2.0 ** 4)
    history = trainer.fit(data.repeat(2), epochs=1, verbose=0, shuffle=False)
    assert float(trainer.d_optimizer.dynamic_scale) == 2.0 ** 5
    assert np.isfinite(history.history["d_loss"][0])
    assert any(np.any(old != np.array(weight)) for old, weight in zip(before, trainer.discriminator.trainable_weights))


def test_a_float16_stylegan_step_with_r1_stays_finite(tmp_path):
    from gan_tf.models import style

    config = tiny_config(tmp_path, "unused.npz", preset="stylegan", precision="mixed_float16", batch_size=8,
                         mapping_layers=2)
    trainer = build_trainer(config, 8, 1)
    style.set_progress(trainer.generator, 0.5)
    style.set_progress(trainer.discriminator, 0.5)
    history = trainer.fit(tf.data.Dataset.from_tensors(_batch(8)).repeat(3), epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["d_loss"][0]) and np.isfinite(history.history["g_loss"][0])
    assert all(np.all(np.isfinite(np.array(weight))) for weight in trainer.generator.weights)
    assert config.r1_weight > 0


def test_a_run_may_change_precision_when_it_resumes(tmp_path, digits_npz):
    # Weights are float32 in every policy; only float16's loss scale is extra, and it is optional.
    config = tiny_config(tmp_path, digits_npz, precision="mixed_float16")
    run_dir = train(config, verbose=False).run_dir
    train(config.replace(precision="float32", epochs=2, resume=True), verbose=False)
    result = train(config.replace(epochs=3, resume=True), verbose=False)
    assert result.run_dir == run_dir and [row["epoch"] for row in result.history] == ["1", "2", "3"]
