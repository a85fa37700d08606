"""The translation trainer (pix2pix, CycleGAN, super-resolution), its run folder and its commands, on tiny shapes."""

import json
import os

import keras
import numpy as np
import pytest

from gan_tf import checkpoints, cli, data
from gan_tf.config import TranslationConfig
from gan_tf.errors import UserError
from gan_tf.models import translation
from gan_tf.train import build_translator, train_translator, translation_data
from gan_tf.translate import Translator, load_translator, translate_images


@pytest.fixture(scope="module")
def aligned_npz(tmp_path_factory):
    """80 digits and the same digits on a colour 'photograph' (an MNIST-M in miniature), aligned, labelled."""
    digits = data.load("mnist-5k")
    picked = np.sort(np.random.default_rng(0).choice(len(digits.images), 80, replace=False))
    photograph = np.random.default_rng(1).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    colour = data.blend_with_photographs(digits.images[picked], [photograph], seed=0)
    folder = tmp_path_factory.mktemp("aligned")
    np.savez(folder / "gray.npz", images=digits.images[picked], labels=digits.labels[picked])
    np.savez(folder / "colour.npz", images=colour, labels=digits.labels[picked])
    return str(folder / "gray.npz"), str(folder / "colour.npz")


def tiny(tmp_path, aligned_npz, **changes):
    values = dict(source=aligned_npz[0], target=aligned_npz[1], image_size=16, epochs=1, batch_size=8,
                  generator_width=4, discriminator_width=4, discriminator_layers=1, residual_blocks=1,
                  sample_grid=3, output_dir=str(tmp_path / "runs"), run_name="t")
    values.update(changes)
    return TranslationConfig(**values)


def _batch(rng, size, channels, n=4):
    return rng.uniform(-1, 1, (n, size, size, channels)).astype(np.float32)


@pytest.mark.parametrize("task", ["pix2pix", "cyclegan", "super-resolution"])
def test_one_training_step_moves_every_model_of_each_task(tmp_path, aligned_npz, task):
    config = tiny(tmp_path, aligned_npz, task=task, content_weight=0.0).resolved()
    pieces = translation_data(config)
    trainer = build_translator(config, pieces.train_sources.shape[1:], pieces.train_targets.shape[1:])
    models = trainer.checkpoint_models()
    assert set(models) == ({"generator", "discriminator", "backward_generator", "backward_discriminator"}
                           if task == "cyclegan" else {"generator", "discriminator"})
    before = {name: [np.array(w) for w in model.trainable_weights] for name, model in models.items()}
    logs = trainer.train_on_batch(pieces.train_sources[:8], pieces.train_targets[:8], return_dict=True)
    assert all(np.isfinite(value) for value in logs.values())
    assert {"g_loss", "d_loss"} <= set(logs) and (("cycle_loss" in logs) == (task == "cyclegan"))
    for name, model in models.items():
        moved = any(not np.allclose(a, np.array(b)) for a, b in zip(before[name], model.trainable_weights))
        assert moved, f"{name} did not learn"


def test_without_the_adversarial_term_there_is_no_d_step_and_l1_pulls_towards_the_target():
    rng = np.random.default_rng(0)
    generator = translation.build_unet_generator(16, 1, 3, width=4)
    critic = translation.build_patch_discriminator(16, 3, condition_channels=1, width=4, layers=1)
    trainer = Translator(generator, critic, adversarial_weight=0.0, reconstruction_weight=1.0,
                         critic_sees_source=True)
    trainer.compile(keras.optimizers.Adam(1e-2))
    sources, targets = _batch(rng, 16, 1), np.full((4, 16, 16, 3), 0.5, np.float32)
    first = trainer.train_on_batch(sources, targets, return_dict=True)["l1"]
    for _ in range(5):
        last = trainer.train_on_batch(sources, targets, return_dict=True)["l1"]
    assert "d_loss" not in trainer.trackers  # adversarial weight 0: no D step at all
    assert last < 0.9 * first


def test_content_loss_is_the_distance_in_the_feature_model():
    rng = np.random.default_rng(0)
    features = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(3)])
    generator = translation.build_upscaling_generator(low_size=4, factor=2, width=4, residual_blocks=1)
    trainer = Translator(generator, None, adversarial_weight=0.0, content_weight=1.0, content_model=features)
    target, output = _batch(rng, 8, 1), _batch(rng, 8, 1)
    expected = np.mean((np.array(features((output + 1) / 2)) - np.array(features((target + 1) / 2))) ** 2, axis=-1)
    np.testing.assert_allclose(np.array(trainer._content_loss(target, output)), expected, rtol=1e-5)
    with pytest.raises(UserError, match="feature model"):
        Translator(generator, None, content_weight=1.0)


def test_run_folder_metrics_and_resume_continue_from_the_checkpoint(tmp_path, aligned_npz):
    config = tiny(tmp_path, aligned_npz, task="cyclegan")
    result = train_translator(config, verbose=False)
    for name in ("config.json", "history.csv", "generator.keras", "backward_generator.keras", "metrics.json",
                 "samples/epoch_0001.png", "training.gif"):
        assert os.path.exists(os.path.join(result.run_dir, name)), name
    report = json.load(open(os.path.join(result.run_dir, "metrics.json")))
    assert report["held_out"] == 8 and report["translator"]["n"] == 8
    saved = checkpoints.latest(result.run_dir)
    resumed = train_translator(config.replace(resume=True, epochs=2), verbose=False)
    assert resumed.run_dir == result.run_dir and resumed.epochs_trained == 2
    with np.load(checkpoints.latest(result.run_dir)) as new, np.load(saved) as old:
        assert int(new["g_optimizer/iteration"]) == 2 * int(old["g_optimizer/iteration"])


def test_super_resolution_reports_the_bicubic_reference(tmp_path, aligned_npz):
    # No classifier is shipped for this .npz, so the content loss measures in D's features (auto).
    config = tiny(tmp_path, aligned_npz, task="super-resolution", target=aligned_npz[0])
    result = train_translator(config, verbose=False)
    with open(os.path.join(result.run_dir, "history.csv")) as file:
        assert "content_loss" in file.readline()
    report = json.load(open(os.path.join(result.run_dir, "metrics.json")))
    assert {"l1", "psnr", "ssim"} <= set(report["translator"]) and "psnr" in report["bicubic"]
    generator = keras.models.load_model(result.generator_path)
    assert generator.inputs[0].shape[1:] == (4, 4, 1) and generator.outputs[0].shape[1:] == (16, 16, 1)


@pytest.mark.slow  # tutorial 11's --quick run trains both tasks on the real data sets in the default run
def test_mnist_m_translation_is_judged_by_its_shipped_classifier(tmp_path):
    # pix2pix's default task (mnist-m-5k -> mnist-5k) at a tiny width for one epoch: seconds.
    config = TranslationConfig(task="pix2pix", epochs=1, batch_size=50, generator_width=2, discriminator_width=2,
                               output_dir=str(tmp_path), run_name="m")
    report = json.load(open(os.path.join(train_translator(config, verbose=False).run_dir, "metrics.json")))
    assert report["classifier"] == "mnist-5k" and report["held_out"] == 500
    # Colour digits shown (as luma) to the gray digits' classifier: the domain gap pix2pix has to close.
    assert 0.3 < report["untranslated"]["accuracy"] < 0.8
    assert 0.0 <= report["translator"]["accuracy"] <= 1.0 and report["translator"]["fd"] > 0


def test_bad_pairs_and_sizes_are_one_line_errors(tmp_path, aligned_npz):
    short = tmp_path / "short.npz"
    np.savez(short, images=np.zeros((10, 28, 28, 1), np.uint8))
    with pytest.raises(UserError, match="pairs image i"):
        translation_data(tiny(tmp_path, aligned_npz, source=str(short)).resolved())
    with pytest.raises(UserError, match="not 4 times"):
        translation_data(tiny(tmp_path, aligned_npz, task="super-resolution", image_size=18).resolved())
    with pytest.raises(UserError, match="power of two|divisible|pad"):
        config = tiny(tmp_path, aligned_npz, image_size=28).resolved()
        pieces = translation_data(config)
        build_translator(config, pieces.train_sources.shape[1:], pieces.train_targets.shape[1:])
    with pytest.raises(UserError, match="--task must be"):
        TranslationConfig(task="colourise")


def test_translate_and_upscale_commands(tmp_path, aligned_npz, capsys):
    config = tiny(tmp_path, aligned_npz)
    run_dir = train_translator(config, verbose=False).run_dir
    out, small = tmp_path / "out.npz", tmp_path / "small.npz"
    np.savez(small, images=data.load(aligned_npz[0], 16).images)
    assert cli.main(["translate", "--model", run_dir, "--input", str(small), "--n", "5", "--out", str(out)]) == 0
    with np.load(out) as written:
        assert written["images"].shape == (5, 16, 16, 3) and written["inputs"].shape == (5, 16, 16, 1)
    assert cli.main(["translate", "--model", run_dir, "--input", str(small), "--out", str(tmp_path / "g.png")]) == 0
    capsys.readouterr()
    wrong = tmp_path / "wrong.png"
    keras.utils.save_img(str(wrong), np.zeros((20, 20, 3), np.uint8))
    assert cli.main(["translate", "--model", run_dir, "--input", str(wrong)]) == 2
    assert cli.main(["upscale", "--model", run_dir, "--input", str(small)]) == 2
    noise_model = os.path.join(os.path.dirname(cli.__file__), "..", "saved_models", "stylegan_mnist",
                               "generator.keras")
    assert cli.main(["translate", "--model", noise_model, "--input", str(small)]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["translate", "--model", run_dir, "--input", str(empty)]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 4 and all(line.startswith("gan-tf: error:") for line in errors)
    assert "16x16x1" in errors[0] and "gan-tf translate" in errors[1] and "gan-tf sample" in errors[2]


def test_translate_images_checks_the_shape():
    generator = translation.build_unet_generator(16, 1, 3, width=4)
    assert translate_images(generator, np.zeros((3, 16, 16, 1), np.float32)).shape == (3, 16, 16, 3)
    with pytest.raises(UserError, match="takes 16x16x1"):
        translate_images(generator, np.zeros((3, 16, 16, 3), np.float32))
    with pytest.raises(UserError, match="no translator"):
        load_translator("/nonexistent/generator.keras")


def test_exported_translator_serves_arrays_and_pngs_and_translates_from_the_saved_model(tmp_path, aligned_npz,
                                                                                       capsys):
    import tensorflow as tf

    from gan_tf import images as pixels
    from gan_tf.export import read_metadata

    run_dir = train_translator(tiny(tmp_path, aligned_npz), verbose=False).run_dir
    base = tmp_path / "saved_models"
    assert cli.main(["export", "--run", run_dir, "--name", "p2p", "--base-dir", str(base)]) == 0
    assert "translate_png" in capsys.readouterr().out
    version = base / "p2p" / "1"
    assert read_metadata(str(version))["kind"] == "translator"
    assert "train-translator" in read_metadata(str(version))["training_command"]
    loaded = tf.saved_model.load(str(version))
    gray = data.load(aligned_npz[0], 16).images[:3]
    unit = pixels.model_to_unit(pixels.bytes_to_model(gray))
    served = loaded.signatures["serving_default"](images=tf.constant(unit))["images"].numpy()
    generator = load_translator(run_dir)
    expected = pixels.model_to_unit(translate_images(generator, pixels.bytes_to_model(gray)))
    np.testing.assert_allclose(served, expected, atol=1e-5)
    pngs = tf.stack([tf.io.encode_png(image) for image in gray])
    answer = loaded.signatures["translate_png"](images_png_bytes=pngs)
    assert answer["images"].shape == (3, 16, 16, 3) and answer["images_png_bytes"].shape == (3,)
    np.testing.assert_allclose(answer["images"].numpy(), expected, atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="16x16"):
        loaded.signatures["translate_png"](images_png_bytes=tf.stack([tf.io.encode_png(np.zeros((20, 20, 1),
                                                                                                np.uint8))]))
    # gan-tf translate from the SavedModel gives what the .keras file gives.
    small, out = tmp_path / "small.npz", tmp_path / "served.npz"
    np.savez(small, images=gray)
    assert cli.main(["translate", "--model", str(base / "p2p"), "--input", str(small), "--out", str(out)]) == 0
    with np.load(out) as written:
        np.testing.assert_allclose(written["images"], expected, atol=1e-5)
    noise_saved_model = os.path.join(os.path.dirname(cli.__file__), "..", "saved_models", "dcgan_mnist")
    capsys.readouterr()
    assert cli.main(["translate", "--model", noise_saved_model, "--input", str(small)]) == 2
    assert "gan-tf sample" in capsys.readouterr().err


def test_the_content_loss_measures_in_ds_features_where_no_classifier_is_shipped(tmp_path, aligned_npz):
    config = tiny(tmp_path, aligned_npz, task="super-resolution", target=aligned_npz[0]).resolved()
    shapes = ((4, 4, 1), (16, 16, 1))
    trainer = build_translator(config, *shapes)
    critic_layer = trainer.discriminator.get_layer("features_act")
    assert trainer.content_model.layers[-1].layers[-1] is critic_layer  # D's own layer: it learns as D trains
    assert trainer.discriminator.trainable and trainer.content_model.trainable_weights
    # The content loss passes [0, 1] images; D's features must see them as D does, in [-1, 1].
    unit_images = np.random.default_rng(0).uniform(0, 1, (2, 16, 16, 1)).astype(np.float32)
    in_ds_range = keras.Model(trainer.discriminator.inputs[0], critic_layer.output)(unit_images * 2 - 1)
    np.testing.assert_allclose(np.asarray(trainer.content_model(unit_images)), np.asarray(in_ds_range), atol=1e-5)
    # auto: the shipped digit classifier judges 28x28 digits, so 16x16 ones get D's features.
    digits = build_translator(config.replace(target="mnist-5k"), *shapes)
    assert digits.content_model.name == "critic_features"
    with pytest.raises(UserError, match="sees the image alone"):
        paired = tiny(tmp_path, aligned_npz, task="pix2pix", content_weight=1.0, content_features="discriminator")
        build_translator(paired.resolved(), (16, 16, 1), (16, 16, 3))
    with pytest.raises(UserError, match="trains no D"):
        build_translator(config.replace(content_features="discriminator", adversarial_weight=0.0), *shapes)
    with pytest.raises(UserError, match="none is shipped"):
        build_translator(config.replace(content_features="classifier"), *shapes)
    with pytest.raises(UserError, match="--content-features must be one of"):
        config.replace(content_features="vgg")
