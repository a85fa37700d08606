"""XLA everywhere (issue 14 item 3): every preset's step compiles with XLA, in both styles, and
`--xla auto` means "where a GPU is". On these CPUs XLA is slower than plain TensorFlow, so nobody would
notice an XLA break until a user's GPU run: these tiny steps are what CI compiles instead."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_config

from gan_tf import distribute
from gan_tf.config import PRESET_NAMES
from gan_tf.models import style
from gan_tf.train import build_trainer

PROGRESSIVE = ("progan", "stylegan")


def _one_batch(side, with_labels, batch=8):
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (batch, side, side, 1)).astype(np.float32)
    labels = rng.integers(0, 10, batch).astype(np.int32)
    return tf.data.Dataset.from_tensor_slices((images, labels) if with_labels else images).batch(batch)


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_every_preset_trains_a_step_compiled_with_xla(tmp_path, preset):
    config = tiny_config(tmp_path, "unused.npz", preset=preset, xla="on", batch_size=8, mapping_layers=2)
    if preset == "dcgan":  # DiffAugment's random ops in D, compiled too
        config = config.replace(augment="translation,cutout,color")
    if preset not in PROGRESSIVE:
        config = config.replace(mapping_layers=8)  # only style-based G reads it; keep the config default
    side = 8 if preset in PROGRESSIVE else 28
    trainer = build_trainer(config, side, 1, num_classes=10 if config.conditional else 0)
    if preset in PROGRESSIVE:  # halfway through the first fade: both paths of every block are live
        style.set_progress(trainer.generator, 0.5)
        style.set_progress(trainer.discriminator, 0.5)
    history = trainer.fit(_one_batch(side, config.conditional), epochs=1, verbose=0, shuffle=False)
    assert trainer.jit_compile is True
    assert np.isfinite(history.history["d_loss"][0]) and np.isfinite(history.history["g_loss"][0])


def test_the_combined_style_compiles_its_steps_with_xla_when_asked(tmp_path):
    config = tiny_config(tmp_path, "unused.npz", style="combined", xla="on", batch_size=8)
    trainer = build_trainer(config, 28, 1)
    assert trainer.discriminator_pair.jit_compile is True and trainer.combined.jit_compile is True
    logs = trainer.train_step(np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32))
    assert np.isfinite(logs["d_loss"]) and np.isfinite(logs["g_loss"])
    off = build_trainer(config.replace(xla="off"), 28, 1)
    assert off.discriminator_pair.jit_compile is False and off.combined.jit_compile is False


@pytest.mark.parametrize("mode, gpus, expected", [("auto", 1, True), ("auto", 0, False), ("on", 0, True),
                                                  ("off", 1, False)])
def test_xla_auto_means_where_a_gpu_is(monkeypatch, mode, gpus, expected):
    real = tf.config.list_physical_devices

    def devices(kind=None):
        if kind == "GPU":
            return [tf.config.PhysicalDevice("/physical_device:GPU:0", "GPU")] * gpus
        return real(kind)

    monkeypatch.setattr(tf.config, "list_physical_devices", devices)
    assert distribute.resolve_xla(mode) is expected
