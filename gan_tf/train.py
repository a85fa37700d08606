"""Orchestration: a `TrainConfig` -> data, models, a trainer of either style, callbacks -> a run folder.

A run folder holds everything needed to look at, resume or export the run:

    runs/<name>/config.json           the final config (resume reads it back)
    runs/<name>/samples/epoch_NNNN.png  a grid from fixed noise after every epoch
    runs/<name>/training.gif          those grids as an animation
    runs/<name>/loss_curves.png       losses and D's mean outputs per epoch
    runs/<name>/history.csv           one row per epoch
    runs/<name>/checkpoints/          the last two epochs' full state (atomic writes)
    runs/<name>/generator.keras       the final generator (EMA weights when EMA is on)
    runs/<name>/discriminator.keras   the final discriminator
"""

import json
import os
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from gan_tf import callbacks as run_callbacks
from gan_tf import checkpoints, data
from gan_tf.combined import CombinedGAN
from gan_tf.config import TrainConfig
from gan_tf.gan import GAN
from gan_tf.losses import get_losses
from gan_tf.models import build_discriminator, build_generator, conditional

CONFIG_FILE = "config.json"
GENERATOR_FILE = "generator.keras"
DISCRIMINATOR_FILE = "discriminator.keras"


@dataclass(frozen=True)
class RunResult:
    run_dir: str
    generator_path: str
    epochs_trained: int
    history: list


def resolve_run_dir(config):
    """The run folder: a new numbered one for a fresh run, the existing one for --resume."""
    base = config.run_name or f"{_dataset_label(config.dataset)}-{config.preset or config.style}"
    if config.resume:
        if config.run_name:
            candidates = [os.path.join(config.output_dir, config.run_name)]
        else:  # the most recently written run of this dataset and style
            candidates = sorted(
                (os.path.join(config.output_dir, name) for name in _listdir(config.output_dir)
                 if name == base or name.startswith(f"{base}-")),
                key=os.path.getmtime, reverse=True)
        for candidate in candidates:
            if checkpoints.latest(candidate):
                return candidate
        where = candidates[0] if config.run_name else os.path.join(config.output_dir, f"{base}*")
        raise FileNotFoundError(f"--resume: no checkpoint found in {where}; train without --resume "
                                "first, or name the run with --run-name")
    run_dir = os.path.join(config.output_dir, base)
    if config.run_name and os.path.exists(run_dir):
        raise FileExistsError(f"run folder {run_dir} already exists; pass --resume to continue it or "
                              "choose another --run-name")
    number = 2
    while os.path.exists(run_dir):
        run_dir = os.path.join(config.output_dir, f"{base}-{number}")
        number += 1
    return run_dir


def _listdir(folder):
    return os.listdir(folder) if os.path.isdir(folder) else []


def _dataset_label(dataset):
    return os.path.splitext(os.path.basename(os.path.normpath(dataset)))[0] or "data"


def resolve_xla(mode):
    """XLA pays off on GPUs; on CPUs it is about 2x slower, so "auto" means "where a GPU is"."""
    if mode == "auto":
        return bool(tf.config.list_physical_devices("GPU"))
    return mode == "on"


_MIRRORED = []


def make_strategy(name):
    """`tf.distribute.MirroredStrategy` over all GPUs, or over the logical CPUs when there is none.

    One instance per process: two MirroredStrategy objects in one process can hand out clashing
    collective-op keys, and their all-reduces then fail with "Shape mismatch in the collective instance".
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if not _MIRRORED:
        if tf.config.list_physical_devices("GPU"):
            _MIRRORED.append(tf.distribute.MirroredStrategy())
        else:
            cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
            _MIRRORED.append(tf.distribute.MirroredStrategy(devices=cpus))
    return _MIRRORED[0]


def make_optimizer(name, learning_rate, beta1):
    if name == "adam":
        return keras.optimizers.Adam(learning_rate, beta_1=beta1)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate)
    return keras.optimizers.SGD(learning_rate, momentum=beta1)


def build_models(config, image_size, channels, num_classes=0):
    """(G, D) as the config says: plain DCGAN, conditional (`num_classes` labels) or InfoGAN."""
    image_args = dict(image_size=image_size, channels=channels)
    g_args = dict(latent_dim=config.latent_dim, width=config.generator_width, batch_norm=config.batch_norm,
                  **image_args)
    d_args = dict(width=config.discriminator_width, dropout=config.dropout, spectral_norm=config.spectral_norm,
                  augment=config.augment, seed=config.seed, minibatch_std=config.minibatch_std,
                  minibatch_kernels=config.minibatch_kernels, **image_args)
    if config.conditional:
        return (conditional.build_conditional_generator(num_classes, **g_args),
                conditional.build_conditional_discriminator(num_classes, **d_args))
    if config.is_info:
        codes = (config.info_categories, config.info_continuous)
        return (conditional.build_info_generator(*codes, **g_args),
                conditional.build_info_discriminator(*codes, **d_args))
    return build_generator(**g_args), build_discriminator(logits=config.style == "fit", **d_args)


def build_trainer(config, image_size, channels, num_classes=0):
    """G, D and the trainer of `config.style`, with fresh optimizers (under the current strategy scope)."""
    generator, discriminator = build_models(config, image_size, channels, num_classes)
    g_optimizer = make_optimizer(config.optimizer, config.g_learning_rate, config.beta1)
    d_optimizer = make_optimizer(config.optimizer, config.d_learning_rate, config.beta1)
    xla = resolve_xla(config.xla)
    if config.style == "fit":
        generator_loss, discriminator_loss = get_losses(config.loss)
        trainer = GAN(generator, discriminator, config.latent_dim, generator_loss, discriminator_loss,
                      d_steps=config.d_steps, label_smoothing=config.label_smoothing,
                      ema_decay=config.ema_decay, gradient_penalty_weight=config.gradient_penalty_weight,
                      r1_weight=config.r1_weight, clip_value=config.clip_value,
                      num_classes=num_classes if config.conditional else 0,
                      info_categories=config.info_categories, info_continuous=config.info_continuous,
                      info_weight=config.info_weight, seed=config.seed)
        trainer.compile(g_optimizer, d_optimizer, jit_compile=xla)
    else:
        trainer = CombinedGAN(generator, discriminator, config.latent_dim, g_optimizer, d_optimizer,
                              loss=config.loss, d_steps=config.d_steps,
                              label_smoothing=config.label_smoothing, ema_decay=config.ema_decay,
                              seed=config.seed)
    return trainer


def saved_config(run_dir):
    """The config a run was trained with (its config.json)."""
    path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} is missing; cannot tell how {run_dir} was trained")
    with open(path) as file:
        return TrainConfig.from_dict(json.load(file))


def _write_json(path, text):
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w") as file:
        file.write(text + "\n")
    os.replace(temporary, path)


def train(config, verbose=True, extra_callbacks=()):
    """Train a GAN as `config` says and return where everything was written."""
    run_dir = resolve_run_dir(config)
    keras.utils.set_random_seed(config.seed)
    image_set = data.load(config.dataset, config.image_size, config.channels)
    image_size, channels = image_set.images.shape[1], image_set.images.shape[-1]
    num_classes = 0
    if config.conditional:
        if image_set.labels is None:
            raise ValueError(f"--conditional needs labels, and {image_set.name} has none; use a labelled "
                             "data set (mnist-5k, mnist, cifar10, an .npz with `labels`)")
        num_classes = int(image_set.labels.max()) + 1
    dataset = data.to_dataset(image_set, config.batch_size, seed=config.seed, with_labels=config.conditional)
    steps_per_epoch = len(image_set.images) // config.batch_size

    strategy = make_strategy(config.strategy)
    with strategy.scope():
        trainer = build_trainer(config, image_size, channels, num_classes)

    initial_epoch = 0
    if config.resume:
        path = checkpoints.latest(run_dir)
        state = checkpoints.restore(trainer, path)
        initial_epoch = state["epoch"]
        if "rng" in state and isinstance(trainer, CombinedGAN):
            trainer.rng.bit_generator.state = state["rng"]
        if verbose:
            print(f"resuming {run_dir} after epoch {initial_epoch} ({os.path.basename(path)})")
    else:
        os.makedirs(run_dir)
    _write_json(os.path.join(run_dir, CONFIG_FILE), config.to_json())

    # A conditional or InfoGAN grid has one column per class (or code value), the same z along each row.
    classes = num_classes or config.info_categories
    columns = classes or config.sample_grid
    row_noise = np.random.default_rng(config.seed).standard_normal(
        (config.sample_grid if classes else config.sample_grid ** 2, config.latent_dim)).astype(np.float32)
    fixed_noise = np.repeat(row_noise, columns, axis=0) if classes else row_noise
    grid_labels = np.tile(np.arange(classes), config.sample_grid) if classes else None
    callbacks = [
        run_callbacks.TerminateOnNaN(),
        run_callbacks.History(run_dir, initial_epoch, steps_per_epoch * config.batch_size),
        run_callbacks.SampleGrid(run_dir, fixed_noise, labels=grid_labels, columns=columns),
        run_callbacks.EpochCheckpoint(run_dir, extra_state=lambda: _trainer_state(trainer)),
        *extra_callbacks,
    ]
    monitor = _fd_monitor(config, image_set, run_dir, verbose)
    if monitor is not None:
        callbacks.insert(1, monitor)  # before History, which records the `fd` it adds to the logs
    if verbose:
        callbacks.insert(0, run_callbacks.ProgressBar(steps_per_epoch, config.batch_size, config.epochs))
        print(f"training {config.style} GAN on {image_set.name}: {len(image_set.images)} images of "
              f"{image_size}x{image_size}x{channels}, {config.epochs} epochs of {steps_per_epoch} steps "
              f"-> {run_dir}")
    if initial_epoch < config.epochs:
        fit_options = {"shuffle": False} if isinstance(trainer, GAN) else {}  # tf.data shuffles already
        trainer.fit(dataset, epochs=config.epochs, initial_epoch=initial_epoch, callbacks=callbacks,
                    verbose=0, **fit_options)

    generator_path = os.path.join(run_dir, GENERATOR_FILE)
    _save_model(trainer.sampling_generator(), generator_path)
    _save_model(trainer.discriminator, os.path.join(run_dir, DISCRIMINATOR_FILE))
    history = run_callbacks.read_history(run_dir)
    if verbose:
        print(f"done: generator saved to {generator_path}; samples in {run_dir}/samples, "
              f"GIF {run_dir}/{run_callbacks.GIF_FILE}, curves {run_dir}/{run_callbacks.LOSS_PLOT_FILE}")
    return RunResult(run_dir, generator_path, len(history), history)


CLASSIFIER_FOR_DATASET = {"mnist-5k": "mnist-5k", "mnist": "mnist-5k"}
FD_SAMPLES = 1000


def _fd_monitor(config, image_set, run_dir, verbose):
    """The FD callback where a classifier for the data exists (digits), else None."""
    classifier_name = CLASSIFIER_FOR_DATASET.get(config.dataset)
    if not config.fd_every or classifier_name is None or image_set.images.shape[1:] != (28, 28, 1):
        if config.fd_every and verbose:
            print(f"note: no classifier for {image_set.name}; FD during training is off")
        return None
    from gan_tf import classifier
    from gan_tf import images as pixels

    model = classifier.load_classifier(classifier_name)

    def extract(unit_images):
        return classifier.features_and_probabilities(model, unit_images)

    real_features, _ = extract(pixels.model_to_unit(pixels.bytes_to_model(image_set.images)))
    noise = np.random.default_rng(config.seed + 1).standard_normal((FD_SAMPLES, config.latent_dim))
    monitor = run_callbacks.FrechetDistanceMonitor(extract, real_features, noise, config.fd_every, run_dir,
                                                   config.keep_best)
    earlier = [float(row["fd"]) for row in run_callbacks.read_history(run_dir) if row.get("fd")]
    monitor.best = min(earlier, default=np.inf)  # on resume, only a better generator replaces the best
    return monitor


def _trainer_state(trainer):
    if isinstance(trainer, CombinedGAN):
        return {"rng": trainer.rng.bit_generator.state}
    return {}


def _save_model(model, path):
    temporary = f"{path[:-len('.keras')]}.tmp-{os.getpid()}.keras"
    model.save(temporary)
    os.replace(temporary, path)


def load_generator(path):
    """A generator saved by `train` (`.keras`), with a one-line error for a wrong path."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such generator file: {path}")
    if not path.endswith(".keras"):
        raise ValueError(f"{path} is not a .keras file; pass runs/<name>/{GENERATOR_FILE}")
    return keras.models.load_model(path, compile=False)


__all__ = ["RunResult", "TrainConfig", "train", "load_generator", "resolve_run_dir"]
