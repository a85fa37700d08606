"""--tensorboard: the event files hold each epoch's scalars and sample grid (issue 14 item 5)."""

import glob
import io
import os

import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_config
from PIL import Image

from gan_tf import runs
from gan_tf.callbacks import TensorBoardLog
from gan_tf.train import train


def read_events(run_dir):
    """({tag: {step: value}}, {tag: {step: image array}}) from RUN/tensorboard's event files."""
    scalars, images = {}, {}
    for path in sorted(glob.glob(os.path.join(run_dir, runs.TENSORBOARD_DIR, "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                plugin = value.metadata.plugin_data.plugin_name
                if plugin == "scalars":
                    scalars.setdefault(value.tag, {})[event.step] = float(tf.make_ndarray(value.tensor))
                elif plugin == "images":
                    encoded = tf.make_ndarray(value.tensor)[2]  # [width, height, png, ...]
                    images.setdefault(value.tag, {})[event.step] = np.asarray(Image.open(io.BytesIO(encoded)))
    return scalars, images


@pytest.mark.parametrize("style", ["fit", "combined"])
def test_a_run_logs_its_scalars_and_sample_grid_every_epoch(tmp_path, digits_npz, style):
    result = train(tiny_config(tmp_path, digits_npz, style=style, epochs=2, tensorboard=True), verbose=False)
    scalars, images = read_events(result.run_dir)
    for name in ("d_loss", "g_loss", "real_score", "fake_score", "images_per_second"):
        assert sorted(scalars[name]) == [1, 2], name
    for row in result.history:  # the same numbers as history.csv
        epoch = int(row["epoch"])
        assert scalars["g_loss"][epoch] == pytest.approx(float(row["g_loss"]), rel=1e-5)
        assert scalars["images_per_second"][epoch] == pytest.approx(float(row["images_per_second"]))
    grid = np.asarray(Image.open(os.path.join(result.run_dir, runs.SAMPLES_DIR, "epoch_0002.png")))
    assert sorted(images["samples"]) == [1, 2]
    np.testing.assert_array_equal(images["samples"][2].squeeze(), grid)  # PNG round trip: exact


def test_without_the_flag_nothing_is_written(tmp_path, digits_npz):
    result = train(tiny_config(tmp_path, digits_npz), verbose=False)
    assert not os.path.exists(os.path.join(result.run_dir, runs.TENSORBOARD_DIR))


def test_fd_and_progress_reach_tensorboard_and_non_numbers_do_not(tmp_path):
    run_dir = str(tmp_path)
    log = TensorBoardLog(run_dir)
    log.on_train_begin()
    log.on_epoch_end(4, {"d_loss": 1.25, "fd": 31.5, "progress": 2.5, "bad": float("nan")})
    log.on_train_end()
    scalars, images = read_events(run_dir)
    assert scalars == {"d_loss": {5: 1.25}, "fd": {5: 31.5}, "progress": {5: 2.5}}
    assert images == {}  # no grid was written for epoch 5


def test_the_translator_command_line_writes_boolean_flags_argparse_accepts():
    from gan_tf.config import TranslationConfig

    assert TranslationConfig(tensorboard=True).command_line().endswith("--tensorboard")
