"""The GAN family on the shared train_step: presets, conditional GAN, InfoGAN, their export."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import first_digits, run_cli, tiny_config

from gan_tf import checkpoints, export
from gan_tf.conditioning import Conditioning
from gan_tf.config import PRESET_NAMES, PRESETS, TrainConfig, preset_config
from gan_tf.errors import UserError
from gan_tf.gan import GAN
from gan_tf.models import conditional
from gan_tf.sampling import SavedModelGenerator, generate_unit_images, load_generator, sample_unit_images
from gan_tf.train import train


def test_every_preset_is_listed_documented_and_valid():
    assert tuple(PRESETS) == PRESET_NAMES
    for name, preset in PRESETS.items():
        config = preset_config(name)
        assert config.preset == name and len(preset.summary) > 40
        for key, value in preset.values.items():
            assert getattr(config, key) == value
    assert preset_config("wgan-gp", d_steps=2).d_steps == 2  # explicit values win over the preset's
    with pytest.raises(UserError, match="unknown preset"):
        preset_config("biggan")


# progan and stylegan (about 10 s each) are slow-marked: tests/test_style.py trains both presets anyway.
@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow) if name in ("progan", "stylegan")
                                  else name for name in PRESET_NAMES])
def test_two_training_steps_of_every_preset(tmp_path, digits_npz, name):
    """Two steps (32 images, batch 16) through train(): G and D change, nothing is NaN, G samples."""
    config = tiny_config(tmp_path, _two_batches(tmp_path, digits_npz), preset=name, fd_every=0)
    result = train(config, verbose=False)
    history = result.history
    assert len(history) == 1 and all(np.isfinite(float(history[0][key])) for key in ("d_loss", "g_loss"))
    state = np.load(checkpoints.latest(result.run_dir))
    assert int(state["g_optimizer/iteration"]) == 2  # two generator steps
    generator = load_generator(result.generator_path)
    signature = Conditioning.of(generator)
    assert signature.num_classes == (10 if name == "cgan" else 0)
    assert signature.categories == (10 if name == "infogan" else 0)
    images = sample_unit_images(generator, 4, seed=0)
    side = 32 if name in ("progan", "stylegan") else 28  # progressive models pad the digits to 32x32
    assert images.shape == (4, side, side, 1) and np.isfinite(images).all()
    assert signature.styles == (8 if name == "stylegan" else 0)
    with open(os.path.join(result.run_dir, "config.json")) as file:
        assert json.load(file)["preset"] == name


def _two_batches(tmp_path, digits_npz):
    return first_digits(digits_npz, tmp_path, 32)


def test_preset_flag_with_override_on_the_command_line(tmp_path, digits_npz):
    result = run_cli("train", "--preset", "lsgan", "--dataset", digits_npz, "--epochs", "1",
                     "--batch-size", "64", "--latent-dim", "8", "--generator-width", "4",
                     "--discriminator-width", "4", "--label-smoothing", "0.2", "--fd-every", "0",
                     "--output-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "digits-lsgan" / "config.json") as file:
        saved = json.load(file)
    assert saved["preset"] == "lsgan" and saved["loss"] == "least-squares" and saved["label_smoothing"] == 0.2
    wrong = run_cli("train", "--preset", "bigGAN")
    assert wrong.returncode == 2 and "invalid choice" in wrong.stderr


def _tiny_pair(kind):
    if kind == "cgan":
        return (conditional.build_conditional_generator(10, 8, width=4),
                conditional.build_conditional_discriminator(10, width=4, minibatch_std=True,
                                                            minibatch_kernels=4))
    return (conditional.build_info_generator(10, 2, 8, width=4),
            conditional.build_info_discriminator(10, 2, width=4, minibatch_std=True, q_width=8))


@pytest.mark.parametrize("kind", ["cgan", "infogan"])
def test_conditional_and_info_models_save_and_load_with_identical_outputs(tmp_path, kind):
    generator, discriminator = _tiny_pair(kind)
    z = np.random.default_rng(0).standard_normal((6, 8)).astype(np.float32)
    conditioning = Conditioning.of(generator)
    by_name = conditioning.build(z, labels=np.arange(6) % 10)
    inputs = conditioning.call_arguments([by_name[name] for name in conditioning.names])
    images = np.asarray(conditioning.generate(generator, by_name))
    d_inputs = [images, inputs[1]] if kind == "cgan" else images
    for model, arguments in ((generator, inputs), (discriminator, d_inputs)):
        path = str(tmp_path / f"{model.name}.keras")
        model.save(path)
        loaded = keras.models.load_model(path)
        before, after = model(arguments, training=False), loaded(arguments, training=False)
        for one, two in zip(tf.nest.flatten(before), tf.nest.flatten(after)):
            np.testing.assert_array_equal(np.asarray(one), np.asarray(two))


def test_conditional_generator_obeys_its_label():
    generator, _ = _tiny_pair("cgan")
    z = np.zeros((3, 8), np.float32)
    same_z = generate_unit_images(generator, z, labels=[2, 2, 7])
    np.testing.assert_array_equal(same_z[0], same_z[1])
    assert np.abs(same_z[0] - same_z[2]).max() > 0  # only the label differs
    with pytest.raises(UserError, match=r"labels must be in 0..9"):
        generate_unit_images(generator, z, labels=10)


def test_info_gan_step_trains_q_and_reports_the_information_loss():
    generator, discriminator = _tiny_pair("infogan")
    gan = GAN(generator, discriminator, seed=1)
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    q_kernel = discriminator.get_layer("q_codes").kernel
    before = np.asarray(q_kernel).copy()
    images = tf.random.uniform((8, 28, 28, 1), -1, 1, seed=0)
    logs = gan.train_step(images)
    assert "info_loss" in logs and float(logs["info_loss"]) > 0
    assert np.abs(np.asarray(q_kernel) - before).max() > 0


def test_conditional_step_needs_labels():
    generator, discriminator = _tiny_pair("cgan")
    gan = GAN(generator, discriminator)
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    labels = tf.constant(np.arange(8) % 10, tf.int32)
    logs = gan.train_step((tf.zeros((8, 28, 28, 1)), labels))
    assert np.isfinite(float(logs["d_loss"]))
    with pytest.raises(UserError, match="labels"):
        gan.train_step(tf.zeros((8, 28, 28, 1)))


def test_conditional_gan_needs_a_labelled_data_set(tmp_path):
    path = tmp_path / "unlabelled.npz"
    np.savez(path, images=np.zeros((40, 28, 28, 1), np.uint8))
    with pytest.raises(UserError, match="--conditional needs labels"):
        train(tiny_config(tmp_path, str(path), conditional=True), verbose=False)


def test_conditioning_options_that_do_not_combine_are_refused():
    with pytest.raises(UserError, match="do not combine"):
        TrainConfig(conditional=True, info_categories=10)
    with pytest.raises(UserError, match="style fit"):
        TrainConfig(style="combined", conditional=True)
    with pytest.raises(UserError, match="at least 2"):
        TrainConfig(info_categories=1)


@pytest.mark.parametrize("kind", ["cgan", "infogan"])
def test_export_takes_the_label_and_matches_keras(tmp_path, kind):
    generator, _ = _tiny_pair(kind)
    path = export.export_generator(generator, kind, str(tmp_path))
    served = SavedModelGenerator(path)
    assert served.conditioning == Conditioning.of(generator)
    z = np.random.default_rng(1).standard_normal((5, 8)).astype(np.float32)
    np.testing.assert_allclose(generate_unit_images(served, z, labels=3), generate_unit_images(generator, z, labels=3),
                               atol=1e-6)
    signatures = tf.saved_model.load(path).signatures
    assert "label" in signatures["sample"].structured_input_signature[1]
    one_class = signatures["sample"](num_samples=tf.constant(4), seed=tf.constant(0, tf.int64),
                                     label=tf.constant(3))["images"]
    assert one_class.shape == (4, 28, 28, 1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="label must be"):
        signatures["sample"](num_samples=tf.constant(4), seed=tf.constant(0, tf.int64), label=tf.constant(10))


def test_sample_and_evaluate_a_conditional_generator_from_the_command_line(tmp_path):
    generator, _ = _tiny_pair("cgan")
    path = str(tmp_path / "cgan.keras")
    generator.save(path)
    sampled = run_cli("sample", "--model", path, "--label", "3", "--n", "6", "--out", str(tmp_path / "s.npz"))
    assert sampled.returncode == 0, sampled.stderr
    assert "6 samples of class 3" in sampled.stdout
    expected = generate_unit_images(generator, np.random.default_rng(0).standard_normal((6, 8)), labels=3)
    np.testing.assert_allclose(np.load(tmp_path / "s.npz")["images"], expected, atol=1e-5)
    wrong = run_cli("sample", "--model", path, "--label", "12", "--out", str(tmp_path / "x.png"))
    assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1 and "labels must be in 0..9" in wrong.stderr
    evaluated = run_cli("evaluate", "--model", path, "--n", "200")
    assert evaluated.returncode == 0, evaluated.stderr
    assert "label accuracy (100 samples per class, classifier):" in evaluated.stdout
