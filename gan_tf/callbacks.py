"""Keras callbacks that make a run visible and recoverable; shared by both training styles.

`fit()` drives them for the `GAN` model; `CombinedGAN.fit` drives the same ones through a
`keras.callbacks.CallbackList`, so a run looks the same whichever style trained it. Each expects its
model to expose `generator`, `discriminator`, the two optimizers, `state()` and
`build_sampling_generator()`. Their names differ from Keras' own callbacks because they do other
things: `RunHistory` writes history.csv (Keras' `History` keeps logs in memory), `StopOnDivergence`
raises a one-line error after keeping the last checkpoint (Keras' `TerminateOnNaN` only stops, and only
watches the loss).
"""

import contextlib
import glob
import os
import sys
import time

import keras
import numpy as np
from keras import ops

from gan_tf import checkpoints, classifier, runs, throughput
from gan_tf import images as pixels
from gan_tf.errors import TrainingDiverged
from gan_tf.metrics import frechet_distance
from gan_tf.models import style
from gan_tf.sampling import generate_unit_images


class SampleGrid(keras.callbacks.Callback):
    """After each epoch: a grid of samples from fixed noise (samples/epoch_NNNN.png) and the GIF.

    Fixed noise makes the frames comparable: the same z drawn by G at every epoch shows G learning.
    """

    def __init__(self, run_dir, noise, scale=2, labels=None, columns=None):
        super().__init__()
        self.run_dir = run_dir
        self.noise = np.asarray(noise, np.float32)
        self.scale = scale
        self.labels = labels  # a conditional G's labels (one class per column), else None
        self.columns = columns

    @classmethod
    def for_conditioning(cls, run_dir, conditioning, side, seed, scale=2):
        """The grid `gan_tf.conditioning.Conditioning.grid_inputs` lays out: one class per column."""
        noise, labels, columns = conditioning.grid_inputs(side, seed)
        return cls(run_dir, noise, scale=scale, labels=labels, columns=columns)

    def on_epoch_end(self, epoch, logs=None):
        generator = self.model.build_sampling_generator()
        samples = generate_unit_images(generator, self.noise, self.labels)
        columns = self.columns or int(np.ceil(np.sqrt(len(samples))))
        picture = pixels.unit_to_bytes(pixels.grid(samples, columns))
        pixels.save_png(picture, os.path.join(self.run_dir, runs.SAMPLES_DIR, f"epoch_{epoch + 1:04d}.png"),
                        scale=self.scale)
        frames = sorted(glob.glob(os.path.join(self.run_dir, runs.SAMPLES_DIR, "epoch_*.png")))
        pixels.save_gif(frames, os.path.join(self.run_dir, runs.GIF_FILE))


class TranslationGrid(keras.callbacks.Callback):
    """After each epoch: fixed held-out inputs, their translations and (paired) targets, one row each
    (samples/epoch_NNNN.png), and the GIF. Inputs smaller than the outputs (super-resolution) are shown
    enlarged with nearest pixels; grayscale beside colour is shown as gray RGB."""

    def __init__(self, run_dir, sources, targets=None, scale=3):
        super().__init__()
        self.run_dir = run_dir
        self.sources = np.asarray(sources, np.float32)
        self.targets = None if targets is None else np.asarray(targets, np.float32)
        self.scale = scale

    def on_epoch_end(self, epoch, logs=None):
        generator = self.model.build_sampling_generator()
        outputs = keras.ops.convert_to_numpy(generator(self.sources, training=False))
        rows = [self.sources, outputs] + ([self.targets] if self.targets is not None else [])
        picture = pixels.unit_to_bytes(pixels.grid(pixels.model_to_unit(pixels.comparison_rows(rows)), len(outputs)))
        pixels.save_png(picture, os.path.join(self.run_dir, runs.SAMPLES_DIR, f"epoch_{epoch + 1:04d}.png"),
                        scale=self.scale)
        frames = sorted(glob.glob(os.path.join(self.run_dir, runs.SAMPLES_DIR, "epoch_*.png")))
        pixels.save_gif(frames, os.path.join(self.run_dir, runs.GIF_FILE))


class RunHistory(keras.callbacks.Callback):
    """history.csv (one row per epoch, rewritten atomically) and loss_curves.png.

    On resume, rows after the restored epoch (written before a crash, never checkpointed) are dropped,
    so the file always matches the checkpoint it continues from.
    """

    def __init__(self, run_dir, initial_epoch=0, images_per_epoch=None, flops_per_image=None, peak_flops=None):
        super().__init__()
        self.run_dir = run_dir
        self.images_per_epoch = images_per_epoch
        self.flops_per_image, self.peak_flops = flops_per_image, peak_flops  # for the MFU (gan_tf.throughput)
        self.rows = [row for row in runs.read_history(run_dir) if int(row["epoch"]) <= initial_epoch]
        self.started = None

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.time() - self.started
        row = {"epoch": epoch + 1, **{name: float(value) for name, value in (logs or {}).items()},
               "seconds": round(seconds, 3)}
        if self.images_per_epoch:
            row["images_per_second"] = round(self.images_per_epoch / max(seconds, 1e-9), 1)
            if self.flops_per_image and self.peak_flops:
                row["mfu"] = throughput.mfu(row["images_per_second"], self.flops_per_image, self.peak_flops)
            if logs is not None:  # for the callbacks after this one (TensorBoardLog)
                logs.update({name: row[name] for name in ("images_per_second", "mfu") if name in row})
        self.rows.append(row)
        runs.write_history(self.run_dir, self.rows)
        plot_history(self.rows, os.path.join(self.run_dir, runs.LOSS_PLOT_FILE))


class TensorBoardLog(keras.callbacks.Callback):
    """--tensorboard: each finished epoch's logs as scalars and its sample grid as an image, in
    RUN/tensorboard, stepped by epoch.

    Keras' own `TensorBoard` callback logs the model's compiled metrics and weights; this one logs what
    history.csv holds (losses, D's outputs, FD, images/s, growth progress) and the picture SampleGrid
    or TranslationGrid just wrote, so it goes after RunHistory and the grid in the callback list. A
    resumed run appends a new event file to the same folder from the restored epoch on; epochs a crash
    cut off after their checkpoint show twice (TensorBoard draws the later value).
    """

    def __init__(self, run_dir):
        super().__init__()
        self.run_dir = run_dir
        self.writer = None

    def on_train_begin(self, logs=None):
        import tensorflow as tf

        self.writer = tf.summary.create_file_writer(os.path.join(self.run_dir, runs.TENSORBOARD_DIR))

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf

        step = epoch + 1
        grid = os.path.join(self.run_dir, runs.SAMPLES_DIR, f"epoch_{step:04d}.png")
        with self.writer.as_default(step=step):
            for name, value in (logs or {}).items():
                if np.ndim(value) == 0 and np.isfinite(float(value)):
                    tf.summary.scalar(name, float(value))
            if os.path.exists(grid):
                from PIL import Image

                with Image.open(grid) as picture:
                    image = np.asarray(picture.convert("RGB" if picture.mode != "L" else "L"))
                tf.summary.image("samples", image.reshape(1, *image.shape[:2], -1))
        self.writer.flush()

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.close()


def plot_history(rows, path):
    """Losses on top, D's mean outputs on real and fake images below (0.5 = D cannot tell)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    epochs = [int(row["epoch"]) for row in rows]
    fd_points = [(int(row["epoch"]), float(row["fd"])) for row in rows if row.get("fd") not in (None, "")]
    figure, axes = plt.subplots(3 if fd_points else 2, 1, figsize=(7, 8 if fd_points else 6), sharex=True)
    top, bottom = axes[0], axes[1]
    if fd_points:
        axes[2].plot(*zip(*fd_points), marker="o", color="tab:purple", label="classifier FD (lower is better)")
        axes[2].set_yscale("log")
        axes[2].set_ylabel("FD")
        axes[2].legend()
    translator = "real_score" not in (rows[0] if rows else {})  # a translator: its G's other terms below
    lower = ("l1", "cycle_loss", "identity_loss", "content_loss") if translator else ("real_score", "fake_score")
    for name, axis in [("d_loss", top), ("g_loss", top)] + [(name, bottom) for name in lower]:
        values = [float(row[name]) for row in rows if row.get(name) not in (None, "")]
        if len(values) == len(epochs):
            axis.plot(epochs, values, marker="o", markersize=3, label=name)
    top.set_ylabel("loss")
    top.legend()
    if translator:
        bottom.set_ylabel("G's other terms")
    else:
        bottom.axhline(0.5, color="gray", linewidth=0.8, linestyle="--")
        bottom.set_ylabel("mean D output")
    axes[-1].set_xlabel("epoch")
    bottom.legend()
    figure.suptitle("translator training" if translator else "GAN training")
    figure.tight_layout()
    with runs.atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=100)
    plt.close(figure)


class GrowthSchedule(keras.callbacks.Callback):
    """Grows a progressive G and D: before every step, sets their `progress` from the images seen.

    ProGAN's schedule (`gan_tf.models.style.progress_at`) as one number: level 0 alone for
    `growth_images`, then each level fades in over `growth_images` and trains stable as long. The step
    only reads the number, so it is traced once; the EMA of G copies it like any non-trainable weight.
    The count starts from G's optimizer step, so a resumed run continues at the same progress. Adds
    `progress` to each epoch's logs (history.csv).
    """

    def __init__(self, growth_images, batch_size):
        super().__init__()
        self.growth_images = growth_images
        self.batch_size = batch_size
        self.current = None

    def on_train_begin(self, logs=None):
        self.levels = style.levels_of(int(self.model.generator.outputs[0].shape[1]))
        self.step = int(keras.ops.convert_to_numpy(self.model.g_optimizer.iterations))
        self.current = None

    def on_train_batch_begin(self, batch, logs=None):
        progress = style.progress_at(self.step * self.batch_size, self.growth_images, self.levels)
        if progress != self.current:
            style.set_progress(self.model.generator, progress)
            style.set_progress(self.model.discriminator, progress)
            self.current = progress
        self.step += 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self.current is not None:
            logs["progress"] = round(self.current, 4)


class EpochCheckpoint(keras.callbacks.Callback):
    """Checkpoint after every finished epoch (atomic; see `gan_tf.checkpoints`), with the trainer's state."""

    def __init__(self, run_dir):
        super().__init__()
        self.run_dir = run_dir

    def on_epoch_end(self, epoch, logs=None):
        checkpoints.save(self.model, self.run_dir, epoch + 1, self.model.state())


class ProgressBar(keras.callbacks.Callback):
    """A tqdm bar per epoch with the running losses, images per second and MFU (when FLOPs and peak are
    given)."""

    def __init__(self, steps_per_epoch, batch_size, epochs, stream=None, flops_per_image=None, peak_flops=None):
        super().__init__()
        self.flops_per_image, self.peak_flops = flops_per_image, peak_flops
        self.steps_per_epoch = steps_per_epoch
        self.batch_size = batch_size
        self.epochs = epochs
        self.stream = stream or sys.stderr
        self.bar = None

    def on_epoch_begin(self, epoch, logs=None):
        from tqdm import tqdm

        self.bar = tqdm(total=self.steps_per_epoch, desc=f"epoch {epoch + 1}/{self.epochs}",
                        unit="step", file=self.stream, dynamic_ncols=True, leave=True)
        self.started = time.time()

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        self.bar.update(1)
        if batch % 5 == 0 or batch + 1 == self.steps_per_epoch:
            rate = (batch + 1) * self.batch_size / max(time.time() - self.started, 1e-9)
            losses = {name: f"{float(logs[name]):.3f}" for name in ("d_loss", "g_loss") if name in logs}
            usage = {}
            if self.flops_per_image and self.peak_flops:
                usage["mfu"] = f"{throughput.mfu(rate, self.flops_per_image, self.peak_flops):.0%}"
            self.bar.set_postfix(**losses, img_s=f"{rate:.0f}", **usage, refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        self.close()

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


@contextlib.contextmanager
def closing_progress_bars(callbacks):
    """Around `fit`: close the progress bars among `callbacks` however training ends. Keras calls no
    callback when one raises (`TrainingDiverged`, Ctrl-C), and an open bar leaves its line unended, so
    the CLI's one-line error would be printed onto the end of the bar."""
    try:
        yield
    finally:
        for callback in callbacks:
            if isinstance(callback, ProgressBar):
                callback.close()


class StopOnDivergence(keras.callbacks.Callback):
    """Stop a diverged run with a one-line `TrainingDiverged` error before anything of it is saved.

    Two checks. After every step: the logged losses. At the end of every epoch: every float variable a
    checkpoint holds (G, D with InfoGAN's Q head and a conditional D's class embedding, every level of a
    growing model, the EMA of G, the optimizers' moments), because a weight can turn Inf while the
    losses stay finite (a level not faded in yet, a clipped or saturated output). The second check runs
    before any other callback's epoch end, so it goes first in the callback list: the sample grid,
    history.csv, the FD monitor's best generator and the checkpoint come after it, and the last
    finished epoch's checkpoint is kept rather than overwritten with NaNs. It costs about a third of the
    checkpoint that follows it (the default models: 5.9 M values with the optimizers', 50 ms against
    140 ms on 2 busy CPU cores), once per epoch.
    """

    # What each checkpoint group is, for the error line; a translator's other models by their own names.
    WHAT = {"generator": "G's weights", "discriminator": "D's weights", "ema": "the EMA of G's weights",
            "g_optimizer": "G's optimizer state", "d_optimizer": "D's optimizer state"}

    def __init__(self, learning_rate_flags="--g-learning-rate, --d-learning-rate"):
        super().__init__()
        self.learning_rate_flags = learning_rate_flags  # named in the advice: a translator has one
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        for name in ("d_loss", "g_loss"):
            value = (logs or {}).get(name)
            if value is not None and not np.isfinite(float(value)):
                self._stop(f"{name} became {float(value)} at step {batch + 1} of epoch {self.epoch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        found = non_finite_variable(checkpoints.variable_groups(self.model))
        if found is not None:
            group, name, kind = found
            what = self.WHAT.get(group, f"the weights of {group}")
            self._stop(f"{what} became non-finite in epoch {epoch + 1} ({kind} in {group}/{name})")

    def _stop(self, what):
        self.model.stop_training = True
        lower = f"lower the learning rates ({self.learning_rate_flags})"
        if self.epoch:
            kept = f"the checkpoint of epoch {self.epoch} is kept: {lower} and --resume"
        else:
            kept = f"no epoch finished, so there is no checkpoint to --resume from: {lower} and start again"
        raise TrainingDiverged(f"training diverged: {what}; {kept}")


def non_finite_variable(groups):
    """The first (group, name, "nan" or "inf") among `gan_tf.checkpoints.variable_groups`' float variables
    that holds a NaN or an infinity, or None when all are finite. Integer variables (step counters,
    random stream positions) cannot be."""
    for group, variables in groups.items():
        for name, variable in variables.items():
            if not keras.backend.is_float_dtype(variable.dtype):
                continue
            values = ops.convert_to_numpy(variable)
            if not np.isfinite(values).all():
                return group, name, "nan" if np.isnan(values).any() else "inf"
    return None


class FrechetDistanceMonitor(keras.callbacks.Callback):
    """Every `every` epochs: FD of a fixed batch of samples against real images, in a classifier's features.

    Adds `fd` to the epoch's logs (so history.csv and the loss plot get it) and, with `keep_best`,
    saves the sampling generator with the lowest FD so far as generator_best.keras. Fixed noise and a
    fixed real set make the numbers comparable across epochs; they are classifier-feature distances,
    not the Inception FIDs of papers.
    """

    def __init__(self, extract_features, real_features, noise, every, run_dir, keep_best=True):
        super().__init__()
        self.extract_features = extract_features
        self.real_features = real_features
        self.noise = np.asarray(noise, np.float32)
        self.every = every
        self.run_dir = run_dir
        self.keep_best = keep_best
        self.best = np.inf

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        generator = self.model.build_sampling_generator()
        features, _ = self.extract_features(generate_unit_images(generator, self.noise))
        distance = frechet_distance(self.real_features, features)
        if logs is not None:
            logs["fd"] = distance
        if self.keep_best and distance < self.best:
            self.best = distance
            runs.save_model(generator, os.path.join(self.run_dir, runs.BEST_GENERATOR_FILE))


CLASSIFIER_FOR_DATASET = {"mnist-5k": "mnist-5k", "mnist": "mnist-5k", "mnist-m-5k": "mnist-m-5k"}
FD_SAMPLES = 1000


def frechet_distance_monitor(config, conditioning, image_set, run_dir, verbose=True):
    """The FD callback for a run where a classifier for its data exists (digits), else None.

    On resume, the best FD so far is read back from history.csv, so only a better generator replaces
    generator_best.keras.
    """
    classifier_name = CLASSIFIER_FOR_DATASET.get(config.dataset)
    model = None
    if config.fd_every and classifier_name is not None and image_set.images.shape[1:3] in ((28, 28), (32, 32)):
        model = classifier.load_classifier(classifier_name)
        if model.inputs[0].shape[-1] != image_set.images.shape[-1]:
            model = None
    if model is None:
        if config.fd_every and verbose:
            print(f"note: no classifier for {image_set.name} at this size and channel count; FD during "
                  "training is off")
        return None

    def extract(unit_images):
        return classifier.features_and_probabilities(model, unit_images)

    real_features, _ = extract(pixels.model_to_unit(pixels.bytes_to_model(image_set.images)))
    noise = conditioning.noise(FD_SAMPLES, config.seed + 1)
    monitor = FrechetDistanceMonitor(extract, real_features, noise, config.fd_every, run_dir, config.keep_best)
    earlier = [float(row["fd"]) for row in runs.read_history(run_dir) if row.get("fd")]
    monitor.best = min(earlier, default=np.inf)
    return monitor
