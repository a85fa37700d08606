"""Orchestration: a `TrainConfig` -> data, models, a trainer of either style, callbacks -> a run folder.

What a run folder holds is described in `gan_tf.runs`; how the step runs (strategy, XLA) in
`gan_tf.distribute`; what G takes besides z in `gan_tf.conditioning`.
"""

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass

import keras

from gan_tf import callbacks as run_callbacks
from gan_tf import checkpoints, data, distribute, runs, throughput
from gan_tf.combined import CombinedGAN
from gan_tf.config import TrainConfig, TranslationConfig
from gan_tf.errors import UserError
from gan_tf.gan import GAN
from gan_tf.models import build_discriminator, build_generator, conditional, style, translation
from gan_tf.regularizers import Regularization
from gan_tf.translate import Translator, translate_images


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
    """G, D and the trainer of `config.style`, with fresh optimizers (under the current strategy scope),
    built in `config.precision`."""
    with distribute.precision_policy(config.precision):
        generator, discriminator = build_models(config, image_size, channels, num_classes)
        g_optimizer, d_optimizer = (
            distribute.scale_losses(make_optimizer(config.optimizer, learning_rate, config.beta1, config.beta2),
                                    config.precision)
            for learning_rate in (config.g_learning_rate, config.d_learning_rate))
        if config.style == "combined":
            return CombinedGAN(generator, discriminator, g_optimizer, d_optimizer, loss=config.loss,
                               d_steps=config.d_steps, label_smoothing=config.label_smoothing,
                               ema_decay=config.ema_decay, seed=config.seed,
                               jit_compile=distribute.resolve_xla(config.xla), r1_weight=config.r1_weight,
                               r1_interval=config.r1_interval, reuse_fakes=config.reuse_fakes)
        trainer = GAN(generator, discriminator, loss=config.loss, d_steps=config.d_steps,
                      label_smoothing=config.label_smoothing, ema_decay=config.ema_decay,
                      regularization=Regularization(config.gradient_penalty_weight, config.r1_weight,
                                                    config.clip_value, config.r1_interval),
                      info_weight=config.info_weight, seed=config.seed, style_mixing=config.style_mixing,
                      reuse_fakes=config.reuse_fakes)
    trainer.compile(g_optimizer, d_optimizer, jit_compile=distribute.resolve_xla(config.xla))
    return trainer


def train(config, verbose=True, extra_callbacks=()):
    """Train a GAN as `config` says and return where everything was written.

    Under `--strategy multi-worker` every worker runs this with the same config: the chief writes the
    run folder (which must be on storage every worker can read, for --resume); the other workers write
    theirs to a temporary folder that is deleted at the end, and return the chief's paths.
    """
    # Every worker checks the run folder before the cluster forms (a worker alone in a cluster would wait
    # for its chief); the strategy comes before any other TensorFlow op, as multi-worker requires.
    run_dir = runs.resolve_run_dir(config)
    strategy = distribute.make_strategy(config.strategy)
    if config.batch_size % strategy.num_replicas_in_sync:
        raise UserError(f"--batch-size {config.batch_size} is the global batch and must split evenly between "
                        f"the {strategy.num_replicas_in_sync} replicas; use a multiple of "
                        f"{strategy.num_replicas_in_sync}")
    chief = distribute.is_chief(strategy)
    write_dir = run_dir if chief else tempfile.mkdtemp(prefix="gan-tf-worker-")
    try:
        held = runs.hold_run_dir(run_dir, create=not config.resume) if chief else contextlib.nullcontext()
        with held:
            return _train(config, strategy, run_dir, write_dir, verbose and chief, extra_callbacks)
    finally:
        if not chief:
            shutil.rmtree(write_dir, ignore_errors=True)


def _train(config, strategy, run_dir, write_dir, verbose, extra_callbacks):
    """`train` once the folders are known: `run_dir` holds the checkpoint to resume from, `write_dir`
    receives what this process writes (the same folder except on a non-chief worker)."""
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
    steps_per_epoch = len(image_set.images) // config.batch_size

    with strategy.scope():
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
    runs.write_config(write_dir, config)

    # Model FLOPs per image and this machine's peak (about a second), for the MFU of every epoch.
    flops_per_image = throughput.training_step_flops(trainer.generator, trainer.discriminator, config.d_steps,
                                                     config.reuse_fakes)
    peak_flops, peak_dtype = throughput.run_peak_flops(strategy, config.precision)
    stop = run_callbacks.StopOnDivergence()  # before every callback that writes a file at the epoch's end
    callbacks = [
        stop,
        run_callbacks.RunHistory(write_dir, initial_epoch, steps_per_epoch * config.batch_size,
                                 flops_per_image=flops_per_image, peak_flops=peak_flops),
        run_callbacks.SampleGrid.for_conditioning(write_dir, trainer.conditioning, config.sample_grid, config.seed),
        run_callbacks.EpochCheckpoint(write_dir),
        *extra_callbacks,
    ]
    if config.tensorboard:  # after RunHistory and the grid: it logs what they add and write
        callbacks.insert(3, run_callbacks.TensorBoardLog(write_dir))
    if config.architecture != "dcgan":
        callbacks.insert(0, run_callbacks.GrowthSchedule(config.growth_images, config.batch_size))
    monitor = None
    if write_dir == run_dir:  # the chief: a worker's FD would only be thrown away
        monitor = run_callbacks.frechet_distance_monitor(config, trainer.conditioning, image_set, run_dir, verbose)
    if monitor is not None:
        # After the divergence check (a best generator is never a NaN one), before RunHistory (it records `fd`).
        callbacks.insert(callbacks.index(stop) + 1, monitor)
    if verbose and config.precision == "mixed_float16" and not distribute.resolve_xla(config.xla):
        print("note: --precision mixed_float16 is for GPUs; TensorFlow's float16 CPU kernels are about "
              "100x slower than float32 without --xla on")
    if verbose:
        callbacks.insert(0, run_callbacks.ProgressBar(steps_per_epoch, config.batch_size, config.epochs,
                                                      flops_per_image=flops_per_image, peak_flops=peak_flops))
        print(f"training {config.style} GAN on {image_set.name}: {len(image_set.images)} images of "
              f"{image_size}x{image_size}x{channels}, {config.epochs} epochs of {steps_per_epoch} steps "
              f"-> {run_dir}")
        print(f"a training step: {flops_per_image / 1e6:.0f} MFLOP per image (gan_tf.throughput); this "
              f"machine's matmul peak {peak_flops / 1e9:.0f} GFLOP/s ({peak_dtype})")
    if initial_epoch < config.epochs:
        # Epochs initial_epoch.. in the order an uninterrupted run has (gan_tf.data.to_dataset).
        dataset = data.to_dataset(image_set, config.batch_size, seed=config.seed, with_labels=config.conditional,
                                  epochs=config.epochs, first_epoch=initial_epoch)
        fit_options = {"shuffle": False} if isinstance(trainer, GAN) else {}  # the dataset is shuffled already
        with run_callbacks.closing_progress_bars(callbacks):
            trainer.fit(dataset, epochs=config.epochs, initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch,
                        callbacks=callbacks, verbose=0, **fit_options)

    generator_path = os.path.join(run_dir, runs.GENERATOR_FILE)
    runs.save_model(trainer.build_sampling_generator(), os.path.join(write_dir, runs.GENERATOR_FILE))
    runs.save_model(trainer.discriminator, os.path.join(write_dir, runs.DISCRIMINATOR_FILE))
    history = runs.read_history(write_dir)
    if verbose:
        print(f"done: generator saved to {generator_path}; samples in {run_dir}/{runs.SAMPLES_DIR}, "
              f"GIF {run_dir}/{runs.GIF_FILE}, curves {run_dir}/{runs.LOSS_PLOT_FILE}")
    return RunResult(run_dir, generator_path, len(history), history)


# Image-to-image translation -------------------------------------------------------------------------

@dataclass(frozen=True)
class TranslationData:
    """Images in [-1, 1] for a translation run: training sources and targets (aligned when paired,
    disjoint halves when unpaired), the held-out aligned pairs with their labels, and the target's name."""

    train_sources: object
    train_targets: object
    held_out_sources: object
    held_out_targets: object
    held_out_labels: object
    target_name: str


def translation_data(config):
    """Load, pair and split the images a `TranslationConfig` names (see `TranslationConfig.task`).

    Paired tasks need image i of the source to belong with image i of the target (mnist-5k and
    mnist-m-5k are built that way); super-resolution makes its sources by downscaling the target with
    area averaging. The held-out split is stratified by class when there are labels. CycleGAN trains
    on two disjoint halves of the rest, so no image ever meets its own counterpart in training.
    """
    import numpy as np

    from gan_tf import images as pixels
    from gan_tf.classifier import stratified_split

    config = config.resolved()
    target = data.load(config.target, config.image_size)
    if config.task == "super-resolution":
        low = config.image_size // config.scale_factor
        if low * config.scale_factor != config.image_size or low < 2:
            raise UserError(f"--image-size {config.image_size} is not {config.scale_factor} times a side of at "
                            "least 2 pixels; choose sizes such as 28 with --scale-factor 4 (7 -> 28)")
        source_images = _downscale(target.images, low)
        labels = target.labels
    else:
        # CycleGAN's identity loss feeds each domain's images to the other's generator: one channel count.
        source = data.load(config.source, config.image_size,
                           None if config.paired else target.images.shape[-1])
        source_images = source.images
        if config.paired and len(source.images) != len(target.images):
            raise UserError(f"pix2pix pairs image i of {config.source} with image i of {config.target}, but "
                            f"they hold {len(source.images)} and {len(target.images)} images; give aligned "
                            "sets, or use --task cyclegan for unpaired ones")
        if (config.paired and source.labels is not None and target.labels is not None
                and not np.array_equal(source.labels, target.labels)):
            raise UserError(f"{config.source} and {config.target} are not aligned (their labels differ); "
                            "use --task cyclegan for unpaired sets")
        labels = source.labels if source.labels is not None else target.labels
        if len(source.images) != len(target.images) and not config.paired:
            labels = source.labels
    count = min(len(source_images), len(target.images))
    split_labels = labels[:count] if labels is not None else np.zeros(count, np.int32)
    # Seed 0, as the shipped classifiers' own split: the held-out images are ones neither the translator
    # nor the classifier that judges it has seen.
    train_indices, held_indices = stratified_split(split_labels, config.held_out, seed=0)
    source_model = pixels.bytes_to_model(source_images)
    target_model = pixels.bytes_to_model(target.images)
    if config.paired:
        train_sources, train_targets = source_model[train_indices], target_model[train_indices]
    else:
        half = len(train_indices) // 2
        train_sources, train_targets = source_model[train_indices[:half]], target_model[train_indices[half:]]
    held_labels = labels[held_indices] if labels is not None else None
    return TranslationData(train_sources, train_targets, source_model[held_indices], target_model[held_indices],
                           held_labels, target.name)


def _downscale(images, side):
    import numpy as np
    import tensorflow as tf

    small = tf.image.resize(images.astype(np.float32), (side, side), method="area")
    return np.clip(np.round(small.numpy()), 0, 255).astype(np.uint8)


def translation_dataset(sources, targets, batch_size, seed, paired):
    """(source, target) batches: aligned pairs shuffled together, or two streams shuffled apart."""
    import tensorflow as tf

    if batch_size > min(len(sources), len(targets)):
        raise UserError(f"--batch-size {batch_size} is larger than the training images "
                        f"({min(len(sources), len(targets))}); use a smaller one")
    if paired:
        dataset = tf.data.Dataset.from_tensor_slices((sources, targets)).cache().shuffle(
            len(sources), seed=seed, reshuffle_each_iteration=True)
    else:
        def stream(images, offset):
            return tf.data.Dataset.from_tensor_slices(images).cache().shuffle(
                len(images), seed=seed + offset, reshuffle_each_iteration=True)
        dataset = tf.data.Dataset.zip((stream(sources, 0), stream(targets, 1)))
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def _content_model(config, target_shape, critic):
    """[0, 1] images -> the features SRGAN's content loss compares: a shipped classifier's (frozen) or D's.

    D's features (Larsen et al. 2016's learned similarity) need no classifier, so any folder works;
    they are D's layers themselves, never frozen here: G's step only applies G's gradients.
    """
    from gan_tf import classifier

    name = run_callbacks.CLASSIFIER_FOR_DATASET.get(config.target)
    kind = config.content_features
    # Read the classifier only where it may be used (an explicit `discriminator` never needs it).
    judge = classifier.load_classifier(name) if name is not None and kind != "discriminator" else None
    fits = judge is not None and tuple(judge.inputs[0].shape[1:]) == tuple(target_shape)
    if kind == "auto":
        kind = "classifier" if fits else "discriminator"
    if kind == "discriminator":
        if critic is None:
            raise UserError("--content-features discriminator measures in D's features, and "
                            "--adversarial-weight 0 trains no D; use a classifier or --content-weight 0")
        if len(critic.inputs) > 1:
            raise UserError("--content-features discriminator needs a D that sees the image alone, and "
                            f"--task {config.task}'s D also sees the source; use --content-features classifier")
        # The content loss hands the feature model [0, 1] images (a classifier's range); D's are [-1, 1].
        unit = keras.Input(tuple(target_shape), name="image")
        features = keras.Model(critic.inputs[0], critic.get_layer("features_act").output)
        return keras.Model(unit, features(keras.layers.Rescaling(2.0, offset=-1.0)(unit)), name="critic_features")
    if judge is None:
        raise UserError(f"the content loss uses a classifier of {config.target}, and none is shipped; "
                        "pass --content-features discriminator (D's features) or --content-weight 0")
    if not fits:
        raise UserError(f"the {name} classifier judges {judge.inputs[0].shape[1:]} images, the "
                        f"targets are {tuple(target_shape)}; pass --content-features discriminator")
    features = keras.Model(judge.inputs, judge.get_layer(classifier.FEATURES_LAYER).output)
    features.trainable = False
    return features


def build_translator(config, source_shape, target_shape):
    """G (and F), the PatchGAN(s) and the `Translator` a resolved `TranslationConfig` asks for, compiled."""

    size, in_channels, out_channels = target_shape[0], source_shape[-1], target_shape[-1]
    keras.utils.set_random_seed(config.seed)

    def generator(inputs, outputs, name):
        common = dict(in_channels=inputs, out_channels=outputs, width=config.generator_width, name=name)
        if config.generator == "unet":
            return translation.build_unet_generator(image_size=size, **common)
        if config.generator == "resnet":
            return translation.build_resnet_generator(image_size=size, residual_blocks=config.residual_blocks,
                                                      **common)
        return translation.build_upscaling_generator(low_size=source_shape[0], factor=size // source_shape[0],
                                                     residual_blocks=config.residual_blocks, **common)

    def critic(channels, condition_channels, name):
        return translation.build_patch_discriminator(image_size=size, channels=channels,
                                                     condition_channels=condition_channels,
                                                     width=config.discriminator_width,
                                                     layers=config.discriminator_layers, name=name)

    if config.generator != "upscaler" and source_shape[0] != size:
        raise UserError(f"--generator {config.generator} keeps the image size, but the source is "
                        f"{source_shape[0]} and the target {size} pixels wide; use --task super-resolution")
    adversarial = config.adversarial_weight > 0
    forward = generator(in_channels, out_channels, "generator")
    conditional_critic = config.task == "pix2pix"
    forward_critic = critic(out_channels, in_channels if conditional_critic else 0, "discriminator") \
        if adversarial else None
    backward = backward_critic = None
    if not config.paired:
        backward = generator(out_channels, in_channels, "backward_generator")
        backward_critic = critic(in_channels, 0, "backward_discriminator") if adversarial else None
    content_model = None
    if config.content_weight:
        content_model = _content_model(config, target_shape, forward_critic)
    trainer = Translator(forward, forward_critic, backward, backward_critic, loss=config.loss,
                         adversarial_weight=config.adversarial_weight,
                         reconstruction_weight=config.reconstruction_weight,
                         content_weight=config.content_weight, content_model=content_model,
                         cycle_weight=config.cycle_weight, identity_weight=config.identity_weight,
                         critic_sees_source=conditional_critic)
    trainer.compile(make_optimizer("adam", config.learning_rate, config.beta1),
                    make_optimizer("adam", config.learning_rate, config.beta1))
    return trainer


def train_translator(config, verbose=True, extra_callbacks=()):
    """Train a translator as `config` says; measure it on the held-out pairs; return the run folder's paths.

    Writes the usual run folder (config.json, history.csv, checkpoints/, samples/, training.gif),
    generator.keras (and backward_generator.keras for CycleGAN) and metrics.json.
    """
    config = config.resolved()
    run_dir = runs.resolve_run_dir(config)
    with runs.hold_run_dir(run_dir, create=not config.resume):
        return _train_translator(config, run_dir, verbose, extra_callbacks)


def _train_translator(config, run_dir, verbose, extra_callbacks):
    import numpy as np

    pieces = translation_data(config)
    dataset = translation_dataset(pieces.train_sources, pieces.train_targets, config.batch_size, config.seed,
                                  config.paired)
    steps_per_epoch = min(len(pieces.train_sources), len(pieces.train_targets)) // config.batch_size
    trainer = build_translator(config, pieces.train_sources.shape[1:], pieces.train_targets.shape[1:])
    initial_epoch = 0
    if config.resume:
        path = checkpoints.latest(run_dir)
        initial_epoch = checkpoints.restore(trainer, path)["epoch"]
        if verbose:
            print(f"resuming {run_dir} after epoch {initial_epoch} ({os.path.basename(path)})")
    runs.write_config(run_dir, config)
    held = len(pieces.held_out_sources)  # sorted by class: spread the shown ones over all classes
    shown = np.unique(np.linspace(0, held - 1, min(config.sample_grid, held)).astype(int))
    callbacks = [
        run_callbacks.StopOnDivergence("--learning-rate"),
        run_callbacks.RunHistory(run_dir, initial_epoch, steps_per_epoch * config.batch_size),
        run_callbacks.TranslationGrid(run_dir, pieces.held_out_sources[shown],
                                      pieces.held_out_targets[shown] if config.paired else None),
        run_callbacks.EpochCheckpoint(run_dir),
        *extra_callbacks,
    ]
    if config.tensorboard:  # after RunHistory and the grid: it logs what they add and write
        callbacks.insert(3, run_callbacks.TensorBoardLog(run_dir))
    if verbose:
        callbacks.insert(0, run_callbacks.ProgressBar(steps_per_epoch, config.batch_size, config.epochs))
        print(f"training {config.task} ({config.generator} G, {'PatchGAN D' if trainer.adversarial_weight else 'no D'})"
              f": {len(pieces.train_sources)} {'pairs' if config.paired else 'images per domain'} of "
              f"{'x'.join(map(str, pieces.train_sources.shape[1:]))} -> "
              f"{'x'.join(map(str, pieces.train_targets.shape[1:]))}, {config.epochs} epochs -> {run_dir}")
    if initial_epoch < config.epochs:
        with run_callbacks.closing_progress_bars(callbacks):
            trainer.fit(dataset, epochs=config.epochs, initial_epoch=initial_epoch, callbacks=callbacks, verbose=0,
                        shuffle=False)
    generator_path = os.path.join(run_dir, runs.GENERATOR_FILE)
    runs.save_model(trainer.generator, generator_path)
    if trainer.unpaired:
        runs.save_model(trainer.backward_generator, os.path.join(run_dir, "backward_generator.keras"))
    report = measure_translator(trainer.generator, pieces, config)
    runs.write_json(os.path.join(run_dir, "metrics.json"), report)
    if verbose:
        print(f"done: {generator_path}; held-out: " + ", ".join(
            f"{key} {value:.4f}" for key, value in report["translator"].items() if key != "n"))
    history = runs.read_history(run_dir)
    return RunResult(run_dir, generator_path, len(history), history)


def measure_translator(generator, pieces, config):
    """metrics.json: the translator on the held-out pairs, and the references a reader needs beside it
    (super-resolution: bicubic upscaling; translation: the untranslated sources)."""

    from gan_tf import classifier, evaluation
    from gan_tf import images as pixels

    name = run_callbacks.CLASSIFIER_FOR_DATASET.get(config.target)
    judge = classifier.load_classifier(name) if name else None
    if judge is not None and judge.inputs[0].shape[-1] != pieces.held_out_targets.shape[-1]:
        judge = None
    targets = pixels.model_to_unit(pieces.held_out_targets)
    outputs = pixels.model_to_unit(translate_images(generator, pieces.held_out_sources))

    def quality(unit_images):
        return evaluation.translation_quality(unit_images, targets if config.paired else None,
                                              pieces.held_out_labels, judge, targets)

    report = {"held_out": int(len(outputs)), "classifier": name, "translator": quality(outputs)}
    if config.task == "super-resolution":
        side = targets.shape[1]
        report["bicubic"] = quality(pixels.bicubic_upscale(pixels.model_to_unit(pieces.held_out_sources), side))
    elif judge is not None and pieces.held_out_sources.shape[1:3] == pieces.held_out_targets.shape[1:3]:
        # The inputs as they are, shown to the target's classifier (gray as RGB, colour as luma).
        sources = pixels.convert_channels(pixels.model_to_unit(pieces.held_out_sources), targets.shape[-1])
        report["untranslated"] = quality(sources)
    return report


__all__ = ["RunResult", "TrainConfig", "TranslationConfig", "build_trainer", "build_translator", "train",
           "train_translator"]
