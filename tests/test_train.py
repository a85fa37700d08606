import csv
import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
from conftest import REPO, tiny_config

from gan_tf import checkpoints
from gan_tf.errors import TrainingDiverged, UserError
from gan_tf.runs import load_generator
from gan_tf.train import train

ARTIFACTS = ["config.json", "history.csv", "loss_curves.png", "training.gif", "generator.keras",
             "discriminator.keras", "samples/epoch_0001.png", "samples/epoch_0002.png",
             "checkpoints/epoch-0002.npz"]


@pytest.mark.parametrize("style", ["fit", "combined"])
def test_a_run_writes_every_artifact(tmp_path, digits_npz, style):
    result = train(tiny_config(tmp_path, digits_npz, style=style, epochs=2), verbose=False)
    for name in ARTIFACTS:
        assert os.path.isfile(os.path.join(result.run_dir, name)), name
    with open(os.path.join(result.run_dir, "config.json")) as file:
        assert json.load(file)["style"] == style
    with open(os.path.join(result.run_dir, "history.csv")) as file:
        rows = list(csv.DictReader(file))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert {"d_loss", "g_loss", "real_score", "fake_score", "images_per_second", "mfu"} <= set(rows[0])
    assert all(0 < float(row["mfu"]) < 2 for row in rows)  # a fraction of the peak (noise can pass 1)
    generator = load_generator(result.generator_path)
    assert generator.inputs[0].name == "z"
    assert generator(np.zeros((2, 8), np.float32)).shape == (2, 28, 28, 1)


def test_fresh_runs_never_overwrite_each_other(tmp_path, digits_npz):
    config = tiny_config(tmp_path, digits_npz, run_name=None)
    first = train(config, verbose=False).run_dir
    second = train(config, verbose=False).run_dir
    assert first != second and second.endswith("-2")
    with pytest.raises(UserError, match="--resume"):
        train(config.replace(run_name=os.path.basename(first)), verbose=False)


@pytest.mark.parametrize("style", ["fit", "combined"])
def test_resume_continues_with_optimizer_state(tmp_path, digits_npz, style):
    config = tiny_config(tmp_path, digits_npz, style=style, epochs=1)
    run_dir = train(config, verbose=False).run_dir
    steps = 128 // 16
    result = train(config.replace(epochs=3, resume=True), verbose=False)
    assert result.run_dir == run_dir
    assert [row["epoch"] for row in result.history] == ["1", "2", "3"]
    state = np.load(checkpoints.latest(run_dir))
    assert int(state["g_optimizer/iteration"]) == 3 * steps  # Adam's step count went on, it did not restart


def test_resume_without_checkpoint_is_an_error(tmp_path, digits_npz):
    with pytest.raises(UserError, match="no checkpoint"):
        train(tiny_config(tmp_path, digits_npz, resume=True), verbose=False)


def test_a_folder_with_a_corrupt_image_trains_with_a_warning(tmp_path):
    from PIL import Image

    folder = tmp_path / "pictures"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(20):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(folder / f"{index}.png")
    (folder / "corrupt.png").write_bytes(b"\x89PNG broken")
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        result = train(tiny_config(tmp_path, str(folder), image_size=32, batch_size=4), verbose=False)
    assert load_generator(result.generator_path).output_shape == (None, 32, 32, 3)


def test_sigkill_mid_epoch_then_resume_loses_nothing(tmp_path, digits_npz):
    """Kill -9 during epoch 3; --resume restarts at epoch 3 from epoch 2's full state."""
    runs = tmp_path / "runs"
    args = [sys.executable, "-m", "gan_tf", "train", "--dataset", digits_npz, "--batch-size", "2",
            "--latent-dim", "8", "--generator-width", "4", "--discriminator-width", "4",
            "--sample-grid", "2", "--output-dir", str(runs), "--run-name", "killed"]
    env = dict(os.environ, PYTHONPATH=REPO)
    process = subprocess.Popen(args + ["--epochs", "50"], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run_dir = runs / "killed"
    try:
        deadline = time.time() + 240
        while not (run_dir / "checkpoints" / "epoch-0002.npz").exists():
            assert process.poll() is None, "training exited early"
            assert time.time() < deadline, "no checkpoint within 4 minutes"
            time.sleep(0.05)
        # Well into epoch 3: a third of an epoch's duration, measured from the first two checkpoints.
        first = run_dir / "checkpoints" / "epoch-0001.npz"
        epoch_seconds = (run_dir / "checkpoints" / "epoch-0002.npz").stat().st_mtime - (
            first.stat().st_mtime if first.exists() else time.time() - 1.0)
        time.sleep(max(epoch_seconds, 0.05) / 3)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    finished = sorted(name for name in os.listdir(run_dir / "checkpoints") if name.endswith(".npz"))
    assert finished[-1] == "epoch-0002.npz", finished  # epoch 3 never finished
    saved = np.load(run_dir / "checkpoints" / "epoch-0002.npz")
    steps_per_epoch = 128 // 2
    assert int(saved["g_optimizer/iteration"]) == 2 * steps_per_epoch

    resumed = subprocess.run(args + ["--epochs", "3", "--resume"], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming" in resumed.stdout and "after epoch 2" in resumed.stdout
    with open(run_dir / "history.csv") as file:
        assert [row["epoch"] for row in csv.DictReader(file)] == ["1", "2", "3"]
    final = np.load(run_dir / "checkpoints" / "epoch-0003.npz")
    assert int(final["g_optimizer/iteration"]) == 3 * steps_per_epoch
    # Epochs 1 and 2's pictures are still there, and epoch 3's was added.
    assert sorted(os.listdir(run_dir / "samples")) == [f"epoch_000{n}.png" for n in (1, 2, 3)]
    assert keras.models.load_model(run_dir / "generator.keras") is not None


def test_fd_is_tracked_during_training_and_the_best_generator_kept(tmp_path):
    config = tiny_config(tmp_path, "mnist-5k", batch_size=250, fd_every=1, epochs=2)
    result = train(config, verbose=False)
    fds = [float(row["fd"]) for row in result.history]
    assert len(fds) == 2 and all(value > 0 for value in fds)
    assert os.path.isfile(os.path.join(result.run_dir, "generator_best.keras"))
    from PIL import Image

    assert Image.open(os.path.join(result.run_dir, "loss_curves.png")).size[1] == 800  # three panels


def test_train_under_mirrored_strategy(tmp_path, digits_npz):
    result = train(tiny_config(tmp_path, digits_npz, strategy="mirrored", batch_size=32), verbose=False)
    assert [row["epoch"] for row in result.history] == ["1"]
    assert np.isfinite(float(result.history[0]["d_loss"]))


def test_train_classifier_records_its_held_out_accuracy(tmp_path, digits_npz):
    from gan_tf import classifier, data

    model, accuracy = classifier.train_classifier(data.load(digits_npz), epochs=1, output_dir=str(tmp_path),
                                                  verbose=0)
    metadata = json.loads((tmp_path / "metadata.json").read_text())
    assert metadata["held_out_accuracy"] == round(accuracy, 4)
    assert metadata["held_out_images"] + metadata["train_images"] == 128 and 10 <= metadata["held_out_images"] <= 16
    assert classifier.load_classifier(directory=str(tmp_path)).count_params() == model.count_params()


def test_a_diverging_run_stops_with_a_clear_error_and_saves_no_nan_checkpoint(tmp_path, digits_npz):
    config = tiny_config(tmp_path, digits_npz, epochs=3, g_learning_rate=1e30, d_learning_rate=1e30,
                         optimizer="sgd", ema_decay=0.0)
    with pytest.raises(TrainingDiverged, match=r"(d|g)_loss became (nan|inf).*--resume"):
        train(config, verbose=False)
    for path in checkpoints.list_checkpoints(str(tmp_path / "runs" / "t")):
        with np.load(path) as archive:
            assert all(np.isfinite(archive[key]).all() for key in archive if key.startswith("generator/"))


@pytest.mark.parametrize("style, optimizer", [("fit", "adam"), ("fit", "sgd"), ("fit", "rmsprop"),
                                              ("combined", "adam")])
def test_each_learning_rate_reaches_its_own_optimizer(style, optimizer):
    from gan_tf.config import TrainConfig
    from gan_tf.train import build_trainer

    config = TrainConfig(style=style, optimizer=optimizer, g_learning_rate=1e-3, d_learning_rate=3e-4,
                         beta1=0.25, latent_dim=8, generator_width=4, discriminator_width=4)
    trainer = build_trainer(config, image_size=28, channels=1)
    assert float(trainer.g_optimizer.learning_rate) == pytest.approx(1e-3)
    assert float(trainer.d_optimizer.learning_rate) == pytest.approx(3e-4)
    assert type(trainer.g_optimizer).__name__.lower() == optimizer
    if optimizer == "adam":
        assert trainer.g_optimizer.beta_1 == trainer.d_optimizer.beta_1 == 0.25
    if style == "combined":  # the combined model trains G with G's optimizer, D's pair with D's
        assert trainer.combined.optimizer is trainer.g_optimizer
        assert trainer.discriminator_pair.optimizer is trainer.d_optimizer


def test_resume_uses_the_learning_rates_given_now(tmp_path, digits_npz):
    config = tiny_config(tmp_path, digits_npz, epochs=1, g_learning_rate=1e-3, d_learning_rate=1e-3)
    train(config, verbose=False)
    seen = {}

    class Record(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen["g"] = float(self.model.g_optimizer.learning_rate)
            seen["d"] = float(self.model.d_optimizer.learning_rate)

    train(config.replace(epochs=2, resume=True, g_learning_rate=2e-4, d_learning_rate=5e-5), verbose=False,
          extra_callbacks=[Record()])
    assert seen == {"g": pytest.approx(2e-4), "d": pytest.approx(5e-5)}


def test_a_run_folder_has_one_writer_and_a_killed_writer_does_not_keep_it(tmp_path, digits_npz):
    from gan_tf import runs

    config = tiny_config(tmp_path, digits_npz)
    run_dir = train(config, verbose=False).run_dir
    with runs.hold_run_dir(run_dir):  # another process, as far as flock can tell (a second open file)
        with pytest.raises(UserError, match="being written by another gan-tf process"):
            train(config.replace(epochs=2, resume=True), verbose=False)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import os, signal, sys; from gan_tf import runs\n"
        f"with runs.hold_run_dir({run_dir!r}):\n"
        "    print('held', flush=True); sys.stdin.readline(); os.kill(os.getpid(), signal.SIGKILL)")],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONPATH=REPO))
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(UserError, match=rf"\(pid {holder.pid}\)"):
        train(config.replace(epochs=2, resume=True), verbose=False)
    holder.communicate("go\n", timeout=60)
    assert holder.returncode == -signal.SIGKILL
    result = train(config.replace(epochs=2, resume=True), verbose=False)  # the lock died with its holder
    assert [row["epoch"] for row in result.history] == ["1", "2"]
