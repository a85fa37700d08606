"""Where a training run's time goes outside the training step: the default run's start, its first
(tracing) step, and each callback's work at the end of every epoch, as shares of the steps' own time
measured in the same run.

    python bench/epoch_overhead.py [--epochs 4] [--fd-every 1] [any TrainConfig field as --name value]

Measured 2026-11-27 (the default recipe of then, D width 64; 4 epochs, FD every epoch, 2 idle cores):
the sampling generator's build took 0.855 s per epoch and all callbacks 2.05 s (0.150 of the steps' 13.6
s) with BatchNorm re-measured on 2,048 draws; on 512 (`gan_tf.ema.recalibrate_batch_norm`'s default
since): 0.247 s and 1.41 s (0.100).

Trains `gan-tf train`'s default recipe on mnist-5k for `--epochs` epochs (in a temporary folder) with
every callback of a real run, timing each callback's hooks and, inside them, the build of the sampling
generator (the EMA of G with its BatchNorm statistics re-measured, `gan_tf.ema`). The steps' time is the
wall time from the end of the first step to the end of training minus the callbacks' time in it.
`--fd-every 1` measures FD on every epoch (the default run does so every 5th) so its cost shows. Prints
seconds per epoch and the ratio to the steps' time.
"""

import argparse
import collections
import contextlib
import io
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gan_tf.cli import import_tensorflow_quietly  # noqa: E402

HOOKS = ("on_epoch_begin", "on_train_batch_begin", "on_train_batch_end", "on_epoch_end")


def timed(seconds, key, function):
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            seconds[key] += time.perf_counter() - started
    return wrapper


def measure(config):
    """{component: seconds over the whole run} and the run's history rows."""
    import keras

    from gan_tf import callbacks, ema
    from gan_tf.train import train

    seconds = collections.defaultdict(float)
    patched = []
    for name in dir(callbacks):
        cls = getattr(callbacks, name)
        if isinstance(cls, type) and issubclass(cls, keras.callbacks.Callback) and cls.__module__ == callbacks.__name__:
            for hook in HOOKS:
                if hook in cls.__dict__:
                    patched.append((cls, hook, cls.__dict__[hook]))
                    setattr(cls, hook, timed(seconds, name, cls.__dict__[hook]))
    build = ema.EMAWeights.build_averaged_model
    ema.EMAWeights.build_averaged_model = timed(seconds, "sampling generator", build)

    marks = {}

    class Clock(keras.callbacks.Callback):  # last in the list: its marks bracket the others' hooks
        def on_train_batch_begin(self, batch, logs=None):
            marks.setdefault("first batch", time.perf_counter())

        def on_train_batch_end(self, batch, logs=None):
            marks.setdefault("first batch done", time.perf_counter())

        def on_train_end(self, logs=None):
            marks["train end"] = time.perf_counter()

    try:
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            result = train(config, verbose=True, extra_callbacks=[Clock()])  # the progress bar too
        marks["end"] = time.perf_counter()
    finally:
        for cls, hook, function in patched:
            setattr(cls, hook, function)
        ema.EMAWeights.build_averaged_model = build
    seconds["start (before the first step)"] = marks["first batch"] - started
    seconds["first step (tracing)"] = marks["first batch done"] - marks["first batch"]
    seconds["after the first step"] = marks["train end"] - marks["first batch done"]
    return seconds, result.history, marks["end"] - started


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--fd-every", type=int, default=1)
    args, extra = parser.parse_known_args(argv)
    import_tensorflow_quietly()
    from gan_tf.config import TrainConfig

    values = dict(zip((flag.lstrip("-").replace("-", "_") for flag in extra[::2]), extra[1::2]))
    fields = TrainConfig()
    values = {name: type(getattr(fields, name))(value) for name, value in values.items()}
    config = TrainConfig(epochs=args.epochs, fd_every=args.fd_every, output_dir=tempfile.mkdtemp(),
                         run_name="overhead", **values)
    seconds, history, total = measure(config)
    epochs = len(history)
    callback_names = [key for key in seconds if key[0].isupper()]
    at_epoch_ends = sum(seconds[key] for key in callback_names)
    steps = seconds["after the first step"] - at_epoch_ends
    per_epoch = steps / epochs
    print(f"{epochs} epochs of the default recipe, FD every {args.fd_every}: {total:.1f} s in all, the steps "
          f"{steps:.1f} s ({per_epoch:.2f} s per epoch, the reference)")
    print(f"{'component':38s} {'s per epoch':>11s} {'vs steps':>9s}")
    for key in ("start (before the first step)", "first step (tracing)"):
        print(f"{key + ' (once)':38s} {seconds[key]:11.2f} {seconds[key] / per_epoch:9.3f}")
    for key in sorted(callback_names, key=lambda name: -seconds[name]) + ["sampling generator"]:
        label = key if key != "sampling generator" else "  of which the sampling generator"
        print(f"{label:38s} {seconds[key] / epochs:11.3f} {seconds[key] / epochs / per_epoch:9.3f}")
    print(f"{'all callbacks':38s} {at_epoch_ends / epochs:11.3f} {at_epoch_ends / epochs / per_epoch:9.3f}")
    return dict(seconds), per_epoch


if __name__ == "__main__":
    main()
