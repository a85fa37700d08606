"""Safe loading (issue 15 item 6): `.keras` files load in Keras' safe mode, so a model that would run
Python code when loaded is refused with one line naming `--unsafe`; gan-tf's own models never need it.
And a user-given name that becomes a folder (`--run-name`, export `--name`) cannot leave its parent."""

import glob
import json
import os
import zipfile

import keras
import numpy as np
import pytest
from conftest import REPO, run_cli, tiny_config

from gan_tf import classifier, export, runs
from gan_tf.config import TranslationConfig
from gan_tf.errors import UserError
from gan_tf.models import (
    build_generator,
    build_progan_generator,
    build_progressive_discriminator,
    build_stylegan_generator,
    build_unet_generator,
    build_upscaling_generator,
)
from gan_tf.models.conditional import build_conditional_discriminator, build_info_generator

pytestmark = pytest.mark.faults
LATENT = 8
ESCAPING_NAMES = ["../x", "../../etc", "/tmp/gan-tf-escape", "a/b", "a/../../x", "..", ".", "", "a\\b"]


def _lambda_generator(path, nested=False):
    """A working 28x28 generator whose squashing into [-1, 1] is a Python lambda (optionally inside a
    sub-model); the lambda uses builtins only, as a reloaded one sees no module's globals."""
    z = keras.Input((LATENT,), name="z")
    x = keras.layers.Reshape((7, 7, 1))(keras.layers.Dense(49)(z))
    squash = keras.layers.Lambda(lambda t: t / (1.0 + abs(t)))
    if nested:
        squash = keras.Sequential([keras.Input((7, 7, 1)), squash], name="inner")
    images = keras.layers.UpSampling2D(4)(squash(x))
    keras.Model(z, images, name="generator").save(path)
    return str(path)


@pytest.mark.parametrize("nested", [False, True])
def test_a_lambda_layer_is_refused_with_a_line_that_names_unsafe(tmp_path, fault_tally, nested):
    path = _lambda_generator(tmp_path / "lambda.keras", nested)
    fault_tally.bad_input()
    with pytest.raises(UserError, match=r"contains a Lambda layer, which runs arbitrary Python code.*--unsafe"):
        runs.load_generator(path)
    assert runs.load_generator(path, unsafe=True).outputs[0].shape[1:] == (28, 28, 1)


def test_every_command_that_loads_a_keras_file_refuses_it_and_takes_unsafe(tmp_path, fault_tally):
    path = _lambda_generator(tmp_path / "lambda.keras")
    commands = [["sample", "--model", path, "--n", "2", "--out", tmp_path / "s.npz"],
                ["interpolate", "--model", path, "--steps", "2", "--out", tmp_path / "i.png"],
                ["export", "--model", path, "--name", "lam", "--base-dir", tmp_path / "sm"],
                ["evaluate", "--model", path, "--n", "2", "--features", "classifier"],
                ["style-mix", "--model", path],
                ["translate", "--model", path, "--input", "mnist-5k"],
                ["upscale", "--model", path, "--input", "mnist-5k"]]
    for command in commands:
        fault_tally.bad_input()
        result = run_cli(*command)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, (command, result.stderr[-2000:])
        assert "Lambda layer" in result.stderr and "--unsafe" in result.stderr, result.stderr
    allowed = run_cli("sample", "--model", path, "--n", "2", "--out", tmp_path / "s.npz", "--unsafe")
    assert allowed.returncode == 0, allowed.stderr[-2000:]
    assert np.load(tmp_path / "s.npz")["images"].shape == (2, 28, 28, 1)


def test_a_lambda_that_names_a_python_function_is_never_loaded(tmp_path, fault_tally):
    """A Lambda whose function is named (here rewritten to `os.system`) is not a `__lambda__`: Keras
    refuses to import it from outside Keras in either mode; that too is one line, not a traceback."""
    z = keras.Input((LATENT,), name="z")
    keras.Model(z, keras.layers.Lambda(keras.ops.tanh)(z)).save(tmp_path / "named.keras")
    with zipfile.ZipFile(tmp_path / "named.keras") as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(files["config.json"])
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "Lambda":
            layer["config"]["function"] = {"module": "os", "class_name": "function", "config": "system",
                                           "registered_name": "function"}
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "evil.keras", "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    for unsafe in (False, True):
        fault_tally.bad_input()
        with pytest.raises(UserError, match=r"uses the function 'system', which neither Keras nor gan-tf defines"):
            runs.load_generator(str(tmp_path / "evil.keras"), unsafe=unsafe)


MODELS = {  # between them, every layer and function gan-tf registers with Keras
    "dcgan": lambda: build_generator(LATENT, width=4),
    "infogan": lambda: build_info_generator(4, 2, LATENT, width=4),
    "conditional_discriminator": lambda: build_conditional_discriminator(
        10, width=4, spectral_norm=True, augment="translation,cutout", minibatch_std=True, minibatch_kernels=2),
    "progan": lambda: build_progan_generator(8, 1, LATENT, width=4, max_width=8),
    "progressive_discriminator": lambda: build_progressive_discriminator(8, 1, width=4, max_width=8),
    "stylegan": lambda: build_stylegan_generator(8, 1, LATENT, width=4, max_width=8, mapping_layers=2),
    "stylegan2": lambda: build_stylegan_generator(8, 1, LATENT, width=4, max_width=8, mapping_layers=2,
                                                  style_mode="demodulation"),
    "unet": lambda: build_unet_generator(8, 1, 3, width=4),
    "upscaler": lambda: build_upscaling_generator(4, 2, 1, 1, width=4, residual_blocks=1),
}


def test_gan_tfs_own_models_load_in_safe_mode(tmp_path, fault_tally):
    """Every builder's model (custom layers included) and the shipped .keras files load without --unsafe.
    (That they compute the same after a reload is test_models' round trip.)"""
    del fault_tally  # nothing hostile here: the other side of the refusal
    for name, build in MODELS.items():
        model = build()
        loaded = runs.load_keras_model(runs.save_model(model, str(tmp_path / f"{name}.keras")))  # safe mode
        assert [weight.shape for weight in loaded.weights] == [weight.shape for weight in model.weights], name
    shipped = sorted(glob.glob(os.path.join(REPO, "saved_models", "**", "*.keras"), recursive=True))
    assert shipped, "saved_models/ holds no .keras file"
    for path in shipped:
        assert runs.load_keras_model(path).outputs, path


@pytest.mark.parametrize("name", ESCAPING_NAMES)
def test_a_run_name_cannot_leave_the_output_folder(tmp_path, fault_tally, name):
    fault_tally.bad_input()
    for config in (tiny_config(tmp_path / "out", "mnist-5k", run_name=name),
                   TranslationConfig(output_dir=str(tmp_path / "out" / "runs"), run_name=name)):
        with pytest.raises(UserError, match=r"--run-name .* must be a plain folder name"):
            runs.resolve_run_dir(config)


def test_run_name_commands_refuse_an_escaping_name_in_one_line(tmp_path, fault_tally):
    out = tmp_path / "runs"
    for command in (["train", "--dataset", "mnist-5k", "--output-dir", out, "--run-name", "../escaped"],
                    ["train", "--resume", "--output-dir", out, "--run-name", "../escaped"],
                    ["train-translator", "--task", "pix2pix", "--output-dir", out, "--run-name", str(tmp_path)]):
        fault_tally.bad_input()
        result = run_cli(*command)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr[-2000:]
        assert "must be a plain folder name" in result.stderr, result.stderr
    assert not os.path.exists(tmp_path / "escaped")
    assert runs.resolve_run_dir(tiny_config(tmp_path, "mnist-5k", run_name="my-run.2")).endswith("my-run.2")


@pytest.mark.parametrize("name", ESCAPING_NAMES + ["x\n", ".hidden", "a b"])
def test_an_export_name_cannot_leave_the_base_folder(tmp_path, fault_tally, name):
    fault_tally.bad_input()
    with pytest.raises(UserError, match=r"--name .* must be one plain folder name"):
        export.export_generator(build_generator(LATENT, width=4), name, str(tmp_path / "saved_models"))
    assert not os.listdir(tmp_path) or os.listdir(tmp_path) == ["saved_models"]
    assert not os.path.exists(tmp_path / "x")


def test_export_command_refuses_an_escaping_name_in_one_line(tmp_path, fault_tally):
    path = runs.save_model(build_generator(LATENT, width=4), str(tmp_path / "g.keras"))
    fault_tally.bad_input()
    result = run_cli("export", "--model", path, "--name", "../escaped", "--base-dir", tmp_path / "saved_models")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr[-2000:]
    assert "--name '../escaped' must be one plain folder name" in result.stderr
    assert not os.path.exists(tmp_path / "escaped")


def test_a_classifier_dataset_name_cannot_leave_the_classifiers_folder(fault_tally):
    for name in ("../../runs", "/etc"):
        fault_tally.bad_input()
        with pytest.raises(UserError, match="--classifier-dataset .* must be a plain folder name"):
            classifier.load_classifier(name)
