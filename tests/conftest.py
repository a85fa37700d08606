"""Shared fixtures. Splits the CPU into two logical devices first, so MirroredStrategy has two replicas."""

import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class FaultTally:
    """What one fault test did: a kill it survived, a hostile input it tried, a finished file it found
    lost or unreadable (which must stay 0: the test also fails). The counts travel with the test's
    report (`user_properties`), so the one-line summary at the end adds them up in any process layout."""

    def __init__(self):
        self.kills_survived = 0
        self.bad_inputs = 0
        self.files_lost = 0

    def kill_survived(self, count=1):
        self.kills_survived += count

    def bad_input(self, count=1):
        self.bad_inputs += count

    def file_lost(self, count=1):
        self.files_lost += count


@pytest.fixture
def fault_tally(request):
    tally = FaultTally()
    yield tally
    request.node.user_properties.append(("faults", (tally.kills_survived, tally.bad_inputs, tally.files_lost)))


def pytest_terminal_summary(terminalreporter):
    totals, ran = [0, 0, 0], False
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "teardown":
                continue
            ran = ran or bool(getattr(report, "keywords", {}).get("faults"))
            for name, counts in getattr(report, "user_properties", ()):
                if name == "faults":
                    totals = [total + count for total, count in zip(totals, counts)]
    if ran:
        terminalreporter.write_line(f"faults: {totals[0]} kills survived, {totals[1]} bad inputs tried, "
                                    f"{totals[2]} files lost")


@pytest.fixture(scope="session")
def digits_npz(tmp_path_factory):
    """128 real digits (uint8, with labels) from mnist-5k, as an .npz a test can train on in seconds."""
    from gan_tf import data

    image_set = data.load("mnist-5k")
    picked = np.random.default_rng(0).choice(len(image_set.images), 128, replace=False)
    path = tmp_path_factory.mktemp("data") / "digits.npz"
    np.savez(path, images=image_set.images[picked], labels=image_set.labels[picked])
    return str(path)


def first_digits(digits_npz, folder, count):
    """The first `count` digits of `digits_npz` (with their labels) as an .npz in `folder`: fewer steps."""
    with np.load(digits_npz) as archive:
        images, labels = archive["images"][:count], archive["labels"][:count]
    path = os.path.join(str(folder), f"digits-{count}.npz")
    np.savez(path, images=images, labels=labels)
    return path


def run_cli(*args, env=None, timeout=300, fresh=False):
    """Run the `gan-tf` command with ARGS; returns a CompletedProcess (returncode, stdout, stderr).

    In this process by default (`gan_tf.cli.main` with stdout and stderr captured): a fresh Python
    would spend ~4 s importing TensorFlow per call, a third of the suite's time. `fresh=True` (or an
    `env`) runs `python -m gan_tf ARGS` in a new process, for what only a new process shows: start-up
    output, environment variables, a process that can be killed.
    """
    if fresh or env:
        environment = dict(os.environ, **(env or {}))
        environment["PYTHONPATH"] = REPO + os.pathsep + environment.get("PYTHONPATH", "")
        return subprocess.run([sys.executable, "-m", "gan_tf", *args], capture_output=True, text=True,
                              timeout=timeout, env=environment, cwd=REPO)
    import contextlib
    import io
    import warnings

    from gan_tf import cli

    stdout, stderr = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    os.chdir(REPO)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # library warnings are not the command's output
            try:
                code = cli.main([str(arg) for arg in args])
            except SystemExit as exit:  # argparse's --help and usage errors
                code = exit.code if isinstance(exit.code, int) else 1
    finally:
        os.chdir(previous)
    return subprocess.CompletedProcess(["gan-tf", *args], code, stdout.getvalue(), stderr.getvalue())


def tiny_config(tmp_path, dataset, **changes):
    """A config that trains in seconds: small models, small batches, one epoch (over a preset's values
    when `preset=` names one)."""
    from gan_tf.config import TrainConfig, preset_config

    values = dict(dataset=dataset, epochs=1, batch_size=16, latent_dim=8, generator_width=4,
                  discriminator_width=4, sample_grid=2, output_dir=str(tmp_path / "runs"), run_name="t")
    values.update(changes)
    preset = values.pop("preset", "")
    return preset_config(preset, **values) if preset else TrainConfig(**values)
