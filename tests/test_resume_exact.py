"""A run resumed after a finished epoch ends bit for bit where the same run, never stopped, ends.

Everything random continues exactly on `--resume`: the data order and G's noise (keyed by the seed and
the step), and the random streams of DiffAugment and Dropout, whose positions the checkpoint keeps
(`gan_tf.checkpoints`, the `rng` group). The runs here use all of them, with the EMA of G on, in both
training styles, under `tf.config.experimental.enable_op_determinism()`.
"""

import os
import shutil

import keras
import numpy as np
import pytest
from conftest import first_digits, tiny_config

from gan_tf import checkpoints, runs
from gan_tf.config import TrainConfig
from gan_tf.runs import load_generator
from gan_tf.train import build_trainer, train


@pytest.fixture
def deterministic_ops():
    """Op determinism for one test: it is process-wide, so it is turned off again for the tests after."""
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config

    was_on = tf_config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    yield
    if not was_on:
        tf_config.disable_op_determinism()


@pytest.fixture(scope="module")
def few_digits(digits_npz, tmp_path_factory):
    """32 of the test digits: 8 steps of 4 per epoch keep the four runs short."""
    return first_digits(digits_npz, tmp_path_factory.mktemp("few"), 32)


class CopyAfterEpoch(keras.callbacks.Callback):
    """Copies the run folder as it stands after epoch `epoch` (its checkpoint written): what a run killed
    then leaves behind, for one run less than training the interrupted run on its own."""

    def __init__(self, run_dir, copy_dir, epoch):
        super().__init__()
        self.run_dir, self.copy_dir, self.epoch = run_dir, copy_dir, epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            shutil.copytree(self.run_dir, self.copy_dir, ignore=shutil.ignore_patterns(runs.LOCK_FILE))


def _final_arrays(run_dir):
    with np.load(checkpoints.latest(run_dir), allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    arrays["rng"] = np.array(sorted(key for key in arrays if key.startswith("rng/")))  # the streams were saved
    generator = load_generator(os.path.join(run_dir, runs.GENERATOR_FILE))  # the EMA clone, BN re-measured
    arrays.update({f"generator.keras/{index}": weight for index, weight in enumerate(generator.get_weights())})
    return arrays


@pytest.mark.faults
@pytest.mark.parametrize("style", ["fit", "combined"])
def test_a_resumed_run_ends_with_the_uninterrupted_runs_weights(tmp_path, few_digits, style, deterministic_ops,
                                                                 fault_tally):
    config = tiny_config(tmp_path, few_digits, style=style, epochs=3, batch_size=4, augment="translation,cutout",
                         dropout=0.3, ema_decay=0.9, fd_every=0, batch_norm=False)  # no BN: no re-measuring
    # of the EMA clone's statistics at each epoch's end (about a second each); they are not random anyway.
    straight = os.path.join(config.output_dir, "straight")
    interrupted = config.replace(run_name="interrupted", resume=True)
    train(config.replace(run_name="straight"), verbose=False,
          extra_callbacks=[CopyAfterEpoch(straight, os.path.join(config.output_dir, "interrupted"), 1)])
    resumed = train(interrupted, verbose=False).run_dir

    expected, got = _final_arrays(straight), _final_arrays(resumed)
    assert sorted(expected) == sorted(got)
    differing = [key for key in expected if not np.array_equal(expected[key], got[key])]
    fault_tally.file_lost(len(differing))
    assert not differing, f"{len(differing)} of {len(expected)} arrays differ after resuming, first {differing[:5]}"
    assert len(expected["rng"]) >= 4  # DiffAugment's and the Dropouts' streams at least


def _trainer(**changes):
    config = TrainConfig(latent_dim=8, generator_width=4, discriminator_width=4, **changes)
    return build_trainer(config, 28, 1)


def test_a_restore_replays_the_dropout_masks_and_augmentations_drawn_after_the_save(tmp_path):
    trainer = _trainer(augment="translation,cutout,color", dropout=0.5)
    images = np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1)).astype(np.float32)
    path = checkpoints.save(trainer, str(tmp_path), epoch=1)
    after_save = [trainer.discriminator(images, training=True).numpy() for _ in range(2)]
    checkpoints.restore(trainer, path)
    after_restore = [trainer.discriminator(images, training=True).numpy() for _ in range(2)]
    assert not np.array_equal(*after_save)  # the streams move: each call draws afresh
    assert all(np.array_equal(saved, restored) for saved, restored in zip(after_save, after_restore))


def test_a_checkpoint_without_random_streams_restores_and_a_resume_may_drop_them(tmp_path):
    trainer = _trainer(augment="translation", dropout=0.3)
    path = checkpoints.save(trainer, str(tmp_path), epoch=1)
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    assert [key for key in arrays if key.startswith("rng/")]
    older = str(tmp_path / "older.npz")  # as gan-tf wrote them before the streams were saved
    np.savez(older, **{key: value for key, value in arrays.items() if not key.startswith("rng/")})
    assert checkpoints.restore(trainer, older)["epoch"] == 1
    assert checkpoints.restore(_trainer(), path)["epoch"] == 1  # resumed without --augment and --dropout
