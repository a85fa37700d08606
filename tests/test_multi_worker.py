"""--strategy multi-worker (issue 14 item 4): two worker processes on 127.0.0.1 train with the shared
`GAN.train_step` under `fit()`, hold identical weights, match one process with the same global batch,
and resume after both are killed. Only the chief writes the run folder."""

import json
import os
import signal
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest
from conftest import REPO, tiny_config

from gan_tf import distribute
from gan_tf.errors import UserError
from gan_tf.train import train

# A worker: trains the config given as JSON, dumps G's and D's final weights to an .npz, and with a
# third argument kills itself (SIGKILL, no clean-up) right after that epoch's checkpoint is written.
WORKER = """
import json, os, signal, sys
import numpy as np
from gan_tf.cli import import_tensorflow_quietly
import_tensorflow_quietly()
import keras
from gan_tf.config import TrainConfig
from gan_tf.train import train

config = TrainConfig.from_dict(json.loads(sys.argv[1]))
kill_after = int(sys.argv[3]) if len(sys.argv) > 3 else 0


class DumpOrDie(keras.callbacks.Callback):  # after EpochCheckpoint in the callback list
    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)

    def on_train_end(self, logs=None):
        weights = self.model.generator.weights + self.model.discriminator.weights
        np.savez(sys.argv[2], *[np.asarray(weight) for weight in weights])


train(config, verbose=False, extra_callbacks=[DumpOrDie()])
"""


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for one in sockets:
        one.bind(("127.0.0.1", 0))
    ports = [one.getsockname()[1] for one in sockets]
    for one in sockets:
        one.close()
    return ports


def run_workers(tmp_path, config, tag, kill_after=0, timeout=240):
    """Start two workers of a fresh cluster on free local ports; returns their return codes and the
    paths of their weight dumps."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    cluster = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes, dumps = [], []
    for index in range(2):
        tf_config = {"cluster": {"worker": cluster}, "task": {"type": "worker", "index": index}}
        env = dict(os.environ, TF_CONFIG=json.dumps(tf_config), TF_CPP_MIN_LOG_LEVEL="3",
                   PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
        dumps.append(tmp_path / f"{tag}-worker{index}.npz")
        args = [sys.executable, str(script), json.dumps(json.loads(config.to_json())), str(dumps[-1])]
        processes.append(subprocess.Popen(args + ([str(kill_after)] if kill_after else []), env=env, cwd=REPO,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    codes = []
    for process in processes:
        try:
            _, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for other in processes:
                other.kill()
            raise
        codes.append(process.returncode)
        if process.returncode not in (0, -signal.SIGKILL):
            raise AssertionError(f"a worker failed ({process.returncode}):\n{stderr[-3000:]}")
    return codes, dumps


def _weights(path):
    with np.load(path) as archive:
        return [archive[f"arr_{index}"] for index in range(len(archive.files))]


def _config(tmp_path, digits_npz, **changes):
    # No batch-coupled layers (BatchNorm, minibatch std or discrimination): with them each replica's
    # statistics cover its half of the batch, and a one-process run could not be matched exactly.
    values = dict(strategy="multi-worker", run_name="cluster", batch_size=16, epochs=2, fd_every=0,
                  batch_norm=False, minibatch_std=False, minibatch_kernels=0)
    return tiny_config(tmp_path, digits_npz, **{**values, **changes})


class _Dump(keras.callbacks.Callback):
    def on_train_end(self, logs=None):
        self.weights = [np.asarray(w) for w in self.model.generator.weights + self.model.discriminator.weights]


def test_two_workers_hold_identical_weights_equal_to_one_process_with_the_same_global_batch(tmp_path, digits_npz):
    # SGD, not Adam: Adam's first steps move each weight by about +-lr whatever the gradient's size, so
    # a gradient component near zero that rounds to the other sign (the all-reduce sums two halves in
    # another order than one device) moves by 2 lr; SGD keeps rounding differences at rounding size.
    config = _config(tmp_path, digits_npz, optimizer="sgd", g_learning_rate=0.02, d_learning_rate=0.02)
    codes, dumps = run_workers(tmp_path, config, "fresh")
    assert codes == [0, 0]
    chief, worker = _weights(dumps[0]), _weights(dumps[1])
    for a, b in zip(chief, worker):
        np.testing.assert_array_equal(a, b)

    dump = _Dump()
    single = train(config.replace(strategy="default", run_name="single"), verbose=False, extra_callbacks=[dump])
    assert len(dump.weights) == len(chief)
    for a, b in zip(chief, dump.weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # measured: 2e-8 apart after 16 steps

    # Only the chief wrote the run folder (the worker's temporary one is gone); its history is complete.
    run_dir = tmp_path / "runs" / "cluster"
    assert sorted(os.listdir(tmp_path / "runs")) == ["cluster", "single"]
    assert (run_dir / "generator.keras").is_file() and (run_dir / "checkpoints" / "epoch-0002.npz").is_file()
    with open(run_dir / "history.csv") as handle:
        assert len(handle.read().strip().splitlines()) == 1 + 2
    assert [row["epoch"] for row in single.history] == ["1", "2"]


def test_a_killed_two_worker_run_resumes_from_the_chiefs_checkpoint(tmp_path, digits_npz):
    config = _config(tmp_path, digits_npz)
    codes, _ = run_workers(tmp_path, config, "killed", kill_after=1)
    assert codes == [-signal.SIGKILL] * 2
    run_dir = tmp_path / "runs" / "cluster"
    assert sorted(os.listdir(run_dir / "checkpoints")) == ["epoch-0001.npz", "epoch-0001.npz.sha256"]
    codes, dumps = run_workers(tmp_path, config.replace(resume=True), "resumed")
    assert codes == [0, 0]
    for a, b in zip(_weights(dumps[0]), _weights(dumps[1])):
        np.testing.assert_array_equal(a, b)
    with np.load(run_dir / "checkpoints" / "epoch-0002.npz") as archive:
        assert int(archive["g_optimizer/iteration"]) == 2 * (128 // 16)  # epoch 2 continued epoch 1's steps
    with open(run_dir / "history.csv") as handle:
        assert [line.split(",")[0] for line in handle.read().strip().splitlines()[1:]] == ["1", "2"]


def test_multi_worker_needs_a_run_name_and_the_fit_style(tmp_path, digits_npz):
    with pytest.raises(UserError, match="--run-name"):
        _config(tmp_path, digits_npz, run_name=None)
    with pytest.raises(UserError, match="--style fit"):
        _config(tmp_path, digits_npz, style="combined")


@pytest.mark.parametrize("tf_config, message", [(None, "TF_CONFIG, which is not set"),
                                                ("{not json", "must be JSON"),
                                                ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", '
                                                 '"index": 3}}', "must be JSON")])
def test_a_missing_or_broken_tf_config_is_one_line(monkeypatch, tf_config, message):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(UserError, match=message) as error:
        distribute.check_tf_config()
    assert "\n" not in str(error.value)


def test_one_process_is_always_the_chief():
    assert distribute.is_chief() and not distribute.is_multi_worker()


def test_a_global_batch_that_does_not_split_between_replicas_is_one_line(tmp_path, digits_npz):
    with pytest.raises(UserError, match="split evenly between the 2 replicas"):
        train(tiny_config(tmp_path, digits_npz, strategy="mirrored", batch_size=15), verbose=False)


def test_the_reproducing_command_names_the_run_every_worker_must_share(tmp_path, digits_npz):
    assert "--run-name cluster" in _config(tmp_path, digits_npz).command_line()
    assert "--run-name" not in _config(tmp_path, digits_npz, strategy="default").command_line()
