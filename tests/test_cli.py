import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, run_cli

from gan_tf.cli import build_parser, config_from_args


def _one_line_error(result):
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("gan-tf: error: ")
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize("args, expected", [
    (["--dataset", "mnist5k"], "unknown dataset 'mnist5k'"),
    (["--dataset", "no/such/folder"], "no such file or folder"),
    (["--epochs", "0"], "--epochs must be a positive integer"),
    (["--batch-size", "-4"], "--batch-size must be a positive integer"),
    (["--resume", "--run-name", "never-trained"], "no checkpoint"),
    (["--style", "keras"], "invalid choice"),
    (["--style", "combined", "--loss", "hinge"], "use --style fit"),
    (["--seed", "-1"], "--seed must be 0 or a positive integer"),
])
def test_user_mistakes_get_one_line_and_exit_code_2(tmp_path, args, expected):
    result = run_cli("train", "--output-dir", str(tmp_path), *args)
    assert expected in _one_line_error(result)


def test_empty_folder_gets_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    # A fresh process: TensorFlow's start-up chatter must not add lines to the one a user mistake gets.
    assert "no images found" in _one_line_error(run_cli("train", "--dataset", str(empty), fresh=True))


def test_mnist_without_network_names_the_offline_dataset(tmp_path):
    # No cached copy (fresh KERAS_HOME) and a proxy that refuses at once: offline, deterministically.
    offline = {"KERAS_HOME": str(tmp_path / "keras"), "HTTPS_PROXY": "http://127.0.0.1:9",
               "https_proxy": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    line = _one_line_error(run_cli("train", "--dataset", "mnist", "--output-dir", str(tmp_path),
                                   env=offline, timeout=120))
    assert "could not download 'mnist'" in line and "mnist-5k" in line


def test_flags_are_generated_from_the_config():
    args = build_parser().parse_args(["train", "--epochs", "3", "--no-batch-norm", "--xla", "on",
                                      "--g-learning-rate", "1e-3"])
    config = config_from_args(args)
    assert (config.epochs, config.batch_norm, config.xla, config.g_learning_rate) == (3, False, "on", 1e-3)
    assert config.dataset == "mnist-5k"  # untouched flags keep their defaults


def test_help_lists_every_config_field_with_its_reason():
    result = run_cli("train", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())  # argparse wraps lines
    from gan_tf.config import CONFIG_FIELDS

    for name, field in CONFIG_FIELDS.items():
        flag = f"--{name.replace('_', '-')}"
        assert flag in text, flag
        reason = " ".join(field.metadata["help"].split())[:40]
        assert reason and reason in text, f"{flag}: its help text is missing from --help"
    assert "D.trainable=False" in text


def test_an_internal_error_keeps_its_traceback_and_exit_code_1(monkeypatch, capsys):
    """A bug (here a ValueError from inside the library) is not a user mistake: no one-line disguise."""
    from gan_tf import cli, latent

    def broken(*args, **kwargs):
        raise ValueError("an internal invariant broke")

    monkeypatch.setattr(latent, "path", broken)
    with pytest.raises(ValueError, match="an internal invariant broke"):
        cli.main(["interpolate", "--model", os.path.join(REPO, "saved_models", "dcgan_mnist")])
    result = run_cli("interpolate", "--model", os.path.join(REPO, "no", "such.keras"))
    assert "no such generator file" in _one_line_error(result)  # a user mistake still gets one line


def test_an_internal_error_from_the_command_line_exits_1_with_a_traceback(tmp_path):
    # A library function that raises ValueError in a fresh process: python's own traceback, exit 1.
    script = ("import sys; from gan_tf import cli, latent\n"
              "def broken(*a, **k): raise ValueError('an internal invariant broke')\n"
              "latent.path = broken\n"
              "sys.exit(cli.main(sys.argv[1:]))\n")
    result = subprocess.run([sys.executable, "-c", script, "interpolate", "--model",
                             os.path.join(REPO, "saved_models", "dcgan_mnist"), "--out", str(tmp_path / "i.png")],
                            capture_output=True, text=True, cwd=REPO, timeout=300,
                            env=dict(os.environ, PYTHONPATH=REPO))
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" in result.stderr and "ValueError: an internal invariant broke" in result.stderr


def test_train_then_sample_to_png_folder_and_npz(tmp_path, digits_npz):
    result = run_cli("train", "--dataset", digits_npz, "--epochs", "1", "--batch-size", "32",
                     "--latent-dim", "8", "--generator-width", "4", "--discriminator-width", "4",
                     "--output-dir", str(tmp_path / "runs"), "--run-name", "cli")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "epoch 1/1" in result.stderr and "img_s=" in result.stderr and "mfu=" in result.stderr  # the progress bar
    model = str(tmp_path / "runs" / "cli" / "generator.keras")
    for out in ("grid.png", "pictures", "samples.npz"):
        sampled = run_cli("sample", "--model", model, "--n", "10", "--seed", "3", "--out", str(tmp_path / out))
        assert sampled.returncode == 0, sampled.stderr[-2000:]
    assert len(os.listdir(tmp_path / "pictures")) == 10
    images = np.load(tmp_path / "samples.npz")["images"]
    assert images.shape == (10, 28, 28, 1) and images.min() >= 0.0 and images.max() <= 1.0
    again = run_cli("sample", "--model", model, "--n", "10", "--seed", "3", "--out", str(tmp_path / "again.npz"))
    assert again.returncode == 0
    np.testing.assert_array_equal(np.load(tmp_path / "again.npz")["images"], images)  # seeded


def test_sample_errors_are_one_line(tmp_path):
    assert "no such generator file" in _one_line_error(run_cli("sample", "--model", str(tmp_path / "g.keras")))
    assert "--n must be between" in _one_line_error(
        run_cli("sample", "--model", os.path.join(REPO, "saved_models", "classifiers", "mnist-5k",
                                                   "classifier.keras"), "--n", "0"))


def test_python_dash_m_without_command_prints_help():
    result = run_cli()
    assert result.returncode == 2 and "train" in result.stdout


def test_config_knows_the_command_that_reproduces_it():
    from gan_tf.config import TrainConfig

    assert TrainConfig().command_line() == "gan-tf train"
    command = TrainConfig(epochs=3, batch_norm=False, augment="translation", run_name="x").command_line()
    assert command == "gan-tf train --epochs 3 --no-batch-norm --augment translation"
    args = build_parser().parse_args(command.split()[1:])
    assert config_from_args(args) == TrainConfig(epochs=3, batch_norm=False, augment="translation")


def test_a_run_saved_before_reuse_fakes_existed_resumes_with_fresh_noise_for_g(tmp_path):
    import json

    from gan_tf import runs
    from gan_tf.config import TrainConfig

    run_dir = tmp_path / "runs" / "old"
    run_dir.mkdir(parents=True)
    values = json.loads(TrainConfig(output_dir=str(tmp_path / "runs"), run_name="old").to_json())
    del values["reuse_fakes"]  # a config.json of 2026-11-26
    (run_dir / "config.json").write_text(json.dumps(values))
    assert runs.saved_config(str(run_dir)).reuse_fakes is False
    values["reuse_fakes"] = True
    (run_dir / "config.json").write_text(json.dumps(values))
    assert runs.saved_config(str(run_dir)).reuse_fakes is True


def test_a_negative_sample_seed_is_one_line(tmp_path):
    line = _one_line_error(run_cli("sample", "--model", os.path.join(REPO, "saved_models", "dcgan_mnist"),
                                   "--seed", "-3", "--out", str(tmp_path / "x.png")))
    assert "a seed must be 0 or a positive integer" in line


def test_the_digit_classifier_refuses_images_of_another_shape_with_a_user_error():
    from gan_tf import classifier
    from gan_tf.errors import UserError

    with pytest.raises(UserError, match="judges 28x28x1 images, these are 32x32x3.*--features inception"):
        classifier.features_and_probabilities(classifier.load_classifier(), np.zeros((2, 32, 32, 3), np.float32))


def test_samples_go_to_any_spelling_of_npz_and_extensionless_pngs(tmp_path):
    from gan_tf import images as pixels
    from gan_tf.sampling import write_samples

    unit = np.random.default_rng(0).uniform(size=(3, 28, 28, 1)).astype(np.float32)
    write_samples(unit, str(tmp_path / "S.NPZ"))
    np.testing.assert_array_equal(np.load(tmp_path / "S.NPZ")["images"], unit)
    pixels.save_png(pixels.unit_to_bytes(unit[0]), str(tmp_path / "strip"))
    assert (tmp_path / "strip").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(os.listdir(tmp_path)) == ["S.NPZ", "strip"]  # no temporary left behind
