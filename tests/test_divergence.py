"""Divergence: a NaN or Inf in a loss or in any weight stops a run of every preset and both training
styles with one `TrainingDiverged` line, keeps the last good checkpoint and writes no non-finite
generator file.

Each run trains two epochs of one step (4 digits, batches of 4) and breaks one weight on purpose in
epoch 2: after its last step, so the logged losses stay finite and only the check of the weights at the
epoch's end can see it, or before its first step, so the losses go NaN. The weights broken include
where a variant keeps its extras: InfoGAN's Q head, a conditional D's class embedding, the spectral
norm's vector, the finest level of a growing G and its EMA (not faded in yet, so it never reaches a
loss), BatchNorm's statistics. The FD monitor is replaced by one whose FD improves every epoch, so
generator_best.keras is written at every epoch's end that gets that far.

The runs that break a weight after the step run the step eagerly: what they test is the check, the
order of the callbacks and the files, not the step's graph, whose tracing costs 3 to 16 s per preset on
2 cores (stylegan the most). The NaN-loss runs compile the step as a real run does, in both styles.
"""

import io
import os
import re
import types
import zipfile

import h5py
import keras
import numpy as np
import pytest
from conftest import first_digits, run_cli, tiny_config
from keras import ops

from gan_tf import callbacks as run_callbacks
from gan_tf import checkpoints, runs, throughput
from gan_tf.config import PRESET_NAMES, STYLES, preset_config
from gan_tf.errors import TrainingDiverged, UserError
from gan_tf.train import build_trainer, train

pytestmark = pytest.mark.faults


def _accepted(preset, style):
    try:
        preset_config(preset, style=style)
    except UserError:
        return False
    return True


CASES = [(preset, style) for preset in PRESET_NAMES for style in STYLES if _accepted(preset, style)]
# Which weight each case breaks (the last of G's, D's or the EMA's whose name holds the fragment), and
# with what: G, D and the EMA, trainable weights and statistics, NaN and both infinities.
BROKEN = {"dcgan": ("ema", np.inf, "to_image"), "cgan": ("discriminator", np.nan, "class_embedding"),
          "wgan": ("generator", np.inf, "to_image"), "wgan-gp": ("discriminator", -np.inf, "score"),
          "lsgan": ("generator", np.nan, "moving_mean"), "hinge-sn": ("discriminator", np.inf, "vector_u"),
          "infogan": ("discriminator", np.nan, "q_codes"), "progan": ("ema", np.nan, "level3_to_image"),
          "stylegan": ("generator", np.inf, "level3_to_image")}
BROKEN_COMBINED = {"dcgan": ("generator", np.nan, "moving_variance")}
WHAT = {"generator": "G's weights", "discriminator": "D's weights", "ema": "the EMA of G's weights"}


# Helpers -----------------------------------------------------------------------------------------

class BreakWeight(keras.callbacks.Callback):
    """Sets the first entry of a weight of G, D or the EMA (the last one whose path holds `fragment`)
    to `value` in epoch 2: after its (only) step, or at its beginning, before the step."""

    def __init__(self, target, value, fragment="", before_step=False):
        super().__init__()
        self.target, self.value, self.fragment, self.before_step = target, value, fragment, before_step
        self.epoch = 0
        self.broken = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        if self.before_step and epoch == 1:
            self._break()

    def on_train_batch_end(self, batch, logs=None):
        if not self.before_step and self.epoch == 1:
            self._break()

    def _break(self):
        variables = {"generator": self.model.generator.weights, "discriminator": self.model.discriminator.weights,
                     "ema": getattr(self.model.ema, "averages", [])}[self.target]
        variable = [variable for variable in variables if self.fragment in variable.path][-1]
        values = np.array(ops.convert_to_numpy(variable))
        values.flat[0] = self.value
        variable.assign(values)
        self.broken = variable.path


class BestEveryEpoch(keras.callbacks.Callback):
    """The FD monitor of a run whose FD improves every epoch: saves the sampling generator as
    generator_best.keras at each epoch's end."""

    def __init__(self, run_dir):
        super().__init__()
        self.run_dir = run_dir

    def on_epoch_end(self, epoch, logs=None):
        runs.save_model(self.model.build_sampling_generator(), os.path.join(self.run_dir, runs.BEST_GENERATOR_FILE))


@pytest.fixture(scope="module")
def four_digits(digits_npz, tmp_path_factory):
    return first_digits(digits_npz, tmp_path_factory.mktemp("four"), 4)


@pytest.fixture
def quick(monkeypatch):
    """Every run with the always-improving FD monitor, and without the MFU's FLOP count (seconds for a
    style-based model, and no part of what is tested here)."""
    monkeypatch.setattr(run_callbacks, "frechet_distance_monitor",
                        lambda config, conditioning, image_set, run_dir, verbose=True: BestEveryEpoch(run_dir))
    monkeypatch.setattr(throughput, "training_step_flops", lambda *args, **kwargs: 1e6)


@pytest.fixture
def eager_step(monkeypatch):
    """A fit-style trainer runs its step eagerly (the combined style's models stay compiled)."""
    def build_eager(*args, **kwargs):
        trainer = build_trainer(*args, **kwargs)
        if isinstance(trainer, keras.Model):
            trainer.run_eagerly = True
        return trainer

    monkeypatch.setattr("gan_tf.train.build_trainer", build_eager)


def config_for(tmp_path, dataset, preset, style, **changes):
    values = dict(epochs=2, batch_size=4, fd_every=1, **({"mapping_layers": 1} if preset == "stylegan" else {}))
    return tiny_config(tmp_path, dataset, preset=preset, style=style, **{**values, **changes})


def non_finite_keras_weights(path):
    """The names of the float arrays in a .keras file's weights that hold a NaN or an infinity."""
    with zipfile.ZipFile(path) as archive, h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as weights:
        found = []
        weights.visititems(lambda name, item: found.append(name) if isinstance(item, h5py.Dataset)
                           and np.issubdtype(item.dtype, np.floating) and not np.isfinite(item[()]).all() else None)
    return found


def train_to_divergence(config, breaker, fault_tally):
    """Train with `breaker` (one injected fault); the message of the `TrainingDiverged` the run raised,
    or None when it went on. The caller checks the files before the message, so a lost file is counted
    whether or not the run stopped."""
    fault_tally.bad_input()
    try:
        train(config, verbose=False, extra_callbacks=[breaker])
    except TrainingDiverged as error:
        return str(error)
    return None


def assert_epoch_one_kept(run_dir, fault_tally):
    """Epoch 1's checkpoint is the only one, whole, usable and finite; generator_best.keras is epoch 1's
    finite one, and no generator.keras or discriminator.keras was written."""
    kept = os.path.join(run_dir, runs.CHECKPOINT_DIR, "epoch-0001.npz")
    damage = None
    if not os.path.exists(kept) or checkpoints.problem(kept) is not None:
        damage = f"epoch 1's checkpoint is gone or damaged: {checkpoints.problem(kept)}"
    else:
        with np.load(kept) as archive:
            bad = [key for key in archive.files
                   if archive[key].dtype.kind == "f" and not np.isfinite(archive[key]).all()]
        if bad:
            damage = f"epoch 1's checkpoint holds non-finite {bad[:3]}"
    best = os.path.join(run_dir, runs.BEST_GENERATOR_FILE)
    if damage is None and not os.path.exists(best):
        damage = "generator_best.keras of epoch 1 is gone"
    if damage is None and non_finite_keras_weights(best):
        damage = f"generator_best.keras was overwritten with non-finite {non_finite_keras_weights(best)[:3]}"
    if damage is not None:
        fault_tally.file_lost()
    assert damage is None, damage
    assert checkpoints.list_checkpoints(run_dir) == [kept]
    assert checkpoints.latest(run_dir) == kept
    assert [row["epoch"] for row in runs.read_history(run_dir)] == ["1"]
    for name in (runs.GENERATOR_FILE, runs.DISCRIMINATOR_FILE):
        assert not os.path.exists(os.path.join(run_dir, name)), name


# Tests -------------------------------------------------------------------------------------------

def test_every_preset_and_style_is_covered():
    assert {preset for preset, _ in CASES} == set(PRESET_NAMES) == set(BROKEN)
    assert {preset for preset, style in CASES if style == "combined"} == set(BROKEN_COMBINED) == {"dcgan"}


@pytest.mark.parametrize("preset, style", CASES, ids=[f"{preset}-{style}" for preset, style in CASES])
def test_a_non_finite_weight_stops_the_run_and_keeps_the_last_checkpoint(tmp_path, four_digits, quick, eager_step,
                                                                          fault_tally, preset, style):
    target, value, fragment = (BROKEN_COMBINED if style == "combined" else BROKEN)[preset]
    breaker = BreakWeight(target, value, fragment)
    config = config_for(tmp_path, four_digits, preset, style)
    message = train_to_divergence(config, breaker, fault_tally)
    assert breaker.broken is not None
    assert_epoch_one_kept(os.path.join(config.output_dir, config.run_name), fault_tally)
    assert message is not None and "\n" not in message, message
    kind = "nan" if np.isnan(value) else "inf"
    assert re.search(rf"{WHAT[target]} became non-finite in epoch 2 \({kind} in {target}/[^)]*{fragment}", message), \
        message
    assert "checkpoint of epoch 1 is kept" in message and "lower the learning rates" in message
    assert "--resume" in message


@pytest.mark.parametrize("style", STYLES)
def test_a_nan_loss_stops_the_run_and_the_advice_works(tmp_path, four_digits, quick, fault_tally, style):
    """D broken before epoch 2's step: its loss is NaN at that step. Resuming without the break (as
    with lower learning rates) finishes the run with finite generator files."""
    config = config_for(tmp_path, four_digits, "dcgan", style)
    message = train_to_divergence(config, BreakWeight("discriminator", np.nan, "kernel", before_step=True), fault_tally)
    run_dir = os.path.join(config.output_dir, config.run_name)
    assert_epoch_one_kept(run_dir, fault_tally)
    assert message == ("training diverged: d_loss became nan at step 1 of epoch 2; the checkpoint of epoch 1 is "
                       "kept: lower the learning rates (--g-learning-rate, --d-learning-rate) and --resume"), message
    if style == "combined":
        return  # one resume shows the advice works; the checkpoint is the same kind in both styles
    result = train(config.replace(resume=True, g_learning_rate=1e-4, d_learning_rate=1e-4), verbose=False)
    assert [row["epoch"] for row in result.history] == ["1", "2"]
    for name in (runs.GENERATOR_FILE, runs.BEST_GENERATOR_FILE, runs.DISCRIMINATOR_FILE):
        assert non_finite_keras_weights(os.path.join(run_dir, name)) == [], name


def test_the_cli_prints_the_error_on_a_line_of_its_own(tmp_path, four_digits, fault_tally):
    """After the progress bar, which a failing step leaves open (Keras calls no callback then)."""
    fault_tally.bad_input()
    result = run_cli("train", "--dataset", four_digits, "--epochs", 1, "--batch-size", 4, "--latent-dim", 8,
                     "--generator-width", 4, "--discriminator-width", 4, "--fd-every", 0, "--optimizer", "sgd",
                     "--g-learning-rate", 1e30, "--d-learning-rate", 1e30, "--output-dir", tmp_path / "runs")
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.split("\n") if "gan-tf: error:" in line]
    assert len(errors) == 1 and errors[0].startswith("gan-tf: error: training diverged: "), result.stderr
    assert errors[0].endswith("no checkpoint to --resume from: lower the learning rates (--g-learning-rate, "
                              "--d-learning-rate) and start again")


def test_a_divergence_in_the_first_epoch_says_there_is_nothing_to_resume():
    stop = run_callbacks.StopOnDivergence()
    stop.set_model(types.SimpleNamespace(stop_training=False))
    stop.on_epoch_begin(0)
    stop.on_train_batch_end(0, {"d_loss": 0.5, "g_loss": 2.0})
    with pytest.raises(TrainingDiverged, match=r"^training diverged: g_loss became inf at step 2 of epoch 1; no epoch "
                                               r"finished, so there is no checkpoint to --resume from: lower the "
                                               r"learning rates .* and start again$"):
        stop.on_train_batch_end(1, {"d_loss": 0.5, "g_loss": float("inf")})
    assert stop.model.stop_training


def test_the_weight_check_sees_every_group_a_checkpoint_holds():
    """Optimizer moments and integer counters too: a NaN moment is found, a counter is skipped."""
    variables = {"g_optimizer": {"iteration": keras.Variable(3, dtype="int64"),
                                 "dense_kernel_momentum": keras.Variable(np.array([0.0, np.nan], np.float32))}}
    assert run_callbacks.non_finite_variable(variables) == ("g_optimizer", "dense_kernel_momentum", "nan")
    variables["g_optimizer"]["dense_kernel_momentum"].assign(np.array([0.0, -np.inf], np.float32))
    assert run_callbacks.non_finite_variable(variables) == ("g_optimizer", "dense_kernel_momentum", "inf")
    variables["g_optimizer"]["dense_kernel_momentum"].assign(np.zeros(2, np.float32))
    assert run_callbacks.non_finite_variable(variables) is None
