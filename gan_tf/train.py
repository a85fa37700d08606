"""Orchestration: a `TrainConfig` -> data, models, a trainer of either style, callbacks -> a run folder.

What a run folder holds is described in `gan_tf.runs`; how the step runs (strategy, XLA) in
`gan_tf.distribute`; what G takes besides z in `gan_tf.conditioning`.
"""

import os
from dataclasses import dataclass

import keras

from gan_tf import callbacks as run_callbacks
from gan_tf import checkpoints, data, distribute, runs
from gan_tf.combined import CombinedGAN
from gan_tf.config import TrainConfig
from gan_tf.errors import UserError
from gan_tf.gan import GAN
from gan_tf.models import build_discriminator, build_generator, conditional, style
from gan_tf.regularizers import Regularization


@dataclass(frozen=True)
class RunResult:
    run_dir: str
    generator_path: str
    epochs_trained: int
    history: list


def make_optimizer(name, learning_rate, beta1, beta2=0.999):
    if name == "adam":
        return keras.optimizers.Adam(learning_rate, beta_1=beta1, beta_2=beta2)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate)
    return keras.optimizers.SGD(learning_rate, momentum=beta1)


def build_models(config, image_size, channels, num_classes=0):
    """(G, D) as the config says: plain DCGAN, conditional (`num_classes` labels), InfoGAN, ProGAN or
    StyleGAN."""
    image_args = dict(image_size=image_size, channels=channels)
    if config.architecture != "dcgan":
        widths = dict(max_width=8 * config.generator_width, resample=config.resample)
        if config.architecture == "progan":
            generator = style.build_progan_generator(latent_dim=config.latent_dim, width=config.generator_width,
                                                     seed=config.seed, **widths, **image_args)
        else:
            generator = style.build_stylegan_generator(
                latent_dim=config.latent_dim, width=config.generator_width, mapping_layers=config.mapping_layers,
                style_mode=config.style_modulation, constant_input=config.constant_input,
                noise_inputs=config.noise_inputs, seed=config.seed, **widths, **image_args)
        discriminator = style.build_progressive_discriminator(
            width=config.discriminator_width, max_width=8 * config.discriminator_width, resample=config.resample,
            minibatch_std=config.minibatch_std, minibatch_kernels=config.minibatch_kernels, augment=config.augment,
            seed=config.seed, **image_args)
        return generator, discriminator
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
    g_optimizer = make_optimizer(config.optimizer, config.g_learning_rate, config.beta1, config.beta2)
    d_optimizer = make_optimizer(config.optimizer, config.d_learning_rate, config.beta1, config.beta2)
    if config.style == "combined":
        return CombinedGAN(generator, discriminator, g_optimizer, d_optimizer, loss=config.loss,
                           d_steps=config.d_steps, label_smoothing=config.label_smoothing,
                           ema_decay=config.ema_decay, seed=config.seed)
    trainer = GAN(generator, discriminator, loss=config.loss, d_steps=config.d_steps,
                  label_smoothing=config.label_smoothing, ema_decay=config.ema_decay,
                  regularization=Regularization(config.gradient_penalty_weight, config.r1_weight,
                                                config.clip_value),
                  info_weight=config.info_weight, seed=config.seed, style_mixing=config.style_mixing)
    trainer.compile(g_optimizer, d_optimizer, jit_compile=distribute.resolve_xla(config.xla))
    return trainer


def train(config, verbose=True, extra_callbacks=()):
    """Train a GAN as `config` says and return where everything was written."""
    run_dir = runs.resolve_run_dir(config)
    keras.utils.set_random_seed(config.seed)
    image_set = data.load(config.dataset, config.image_size, config.channels)
    if config.architecture != "dcgan" and config.image_size is None and image_set.images.shape[1] == 28:
        image_set = data.conform(image_set, 32)  # progressive models draw powers of two: pad the digits
    image_size, channels = image_set.images.shape[1], image_set.images.shape[-1]
    num_classes = 0
    if config.conditional:
        if image_set.labels is None:
            raise UserError(f"--conditional needs labels, and {image_set.name} has none; use a labelled "
                            "data set (mnist-5k, mnist, cifar10, an .npz with `labels`)")
        num_classes = int(image_set.labels.max()) + 1
    dataset = data.to_dataset(image_set, config.batch_size, seed=config.seed, with_labels=config.conditional)
    steps_per_epoch = len(image_set.images) // config.batch_size

    with distribute.make_strategy(config.strategy).scope():
        trainer = build_trainer(config, image_size, channels, num_classes)

    initial_epoch = 0
    if config.resume:
        path = checkpoints.latest(run_dir)
        state = checkpoints.restore(trainer, path)
        trainer.restore_state(state)
        # The learning rates are the config's (a resumed run may change them), not the checkpoint's.
        trainer.g_optimizer.learning_rate.assign(config.g_learning_rate)
        trainer.d_optimizer.learning_rate.assign(config.d_learning_rate)
        initial_epoch = state["epoch"]
        if verbose:
            print(f"resuming {run_dir} after epoch {initial_epoch} ({os.path.basename(path)})")
    else:
        os.makedirs(run_dir)
    runs.write_config(run_dir, config)

    callbacks = [
        run_callbacks.StopOnNonFiniteLoss(),
        run_callbacks.RunHistory(run_dir, initial_epoch, steps_per_epoch * config.batch_size),
        run_callbacks.SampleGrid.for_conditioning(run_dir, trainer.conditioning, config.sample_grid, config.seed),
        run_callbacks.EpochCheckpoint(run_dir),
        *extra_callbacks,
    ]
    if config.architecture != "dcgan":
        callbacks.insert(0, run_callbacks.GrowthSchedule(config.growth_images, config.batch_size))
    monitor = run_callbacks.frechet_distance_monitor(config, trainer.conditioning, image_set, run_dir, verbose)
    if monitor is not None:
        callbacks.insert(1, monitor)  # before RunHistory, which records the `fd` it adds to the logs
    if verbose:
        callbacks.insert(0, run_callbacks.ProgressBar(steps_per_epoch, config.batch_size, config.epochs))
        print(f"training {config.style} GAN on {image_set.name}: {len(image_set.images)} images of "
              f"{image_size}x{image_size}x{channels}, {config.epochs} epochs of {steps_per_epoch} steps "
              f"-> {run_dir}")
    if initial_epoch < config.epochs:
        fit_options = {"shuffle": False} if isinstance(trainer, GAN) else {}  # tf.data shuffles already
        trainer.fit(dataset, epochs=config.epochs, initial_epoch=initial_epoch, callbacks=callbacks,
                    verbose=0, **fit_options)

    generator_path = os.path.join(run_dir, runs.GENERATOR_FILE)
    runs.save_model(trainer.build_sampling_generator(), generator_path)
    runs.save_model(trainer.discriminator, os.path.join(run_dir, runs.DISCRIMINATOR_FILE))
    history = runs.read_history(run_dir)
    if verbose:
        print(f"done: generator saved to {generator_path}; samples in {run_dir}/{runs.SAMPLES_DIR}, "
              f"GIF {run_dir}/{runs.GIF_FILE}, curves {run_dir}/{runs.LOSS_PLOT_FILE}")
    return RunResult(run_dir, generator_path, len(history), history)


__all__ = ["RunResult", "TrainConfig", "build_trainer", "train"]
