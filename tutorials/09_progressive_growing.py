"""
Title: Progressive growing: digits from 4x4 to 32x32
Author: gan-tf
Description: ProGAN (Karras et al. 2018) on 32x32 digits, step by step: G and D start at 4x4 and grow
to 8x8, 16x16 and 32x32, each new level faded in while training goes on. In gan_tf the whole growth is
one number, `progress`, so the models are built once and the train step is traced once.
Time on a laptop CPU: 13 minutes on 2 cores (780 s measured 2026-11-26 while other jobs shared the
cores; 39,936 training images), less alone; `--quick`: about 30 seconds.

What you will learn:
- ProGAN's schedule: a stable phase per level and a fade-in between levels, as one number p;
- why every level can exist from the start: G's output is blended by `FadeIn` layers and D looks at
  its input through `LevelOfDetail`, so nothing is rebuilt when a level is added;
- the three other ideas of the paper: the equalised learning rate, pixel norm in G and the minibatch
  standard deviation in D;
- what G draws at each resolution, how a fade-in looks, and what growing costs in images per second.
"""

import os
import time

import _prologue
import keras
import numpy as np
from matplotlib import pyplot as plt

from gan_tf import data, evaluation, metrics
from gan_tf import images as pixels
from gan_tf.callbacks import GrowthSchedule
from gan_tf.config import preset_config
from gan_tf.models import style
from gan_tf.sampling import generate_unit_images
from gan_tf.train import build_trainer

options = _prologue.parse(__doc__)
started = time.time()

## The schedule as one number
# ProGAN trains 4x4 images first; then it fades in the 8x8 level over `growth_images` images, trains
# it stable for as many, fades in 16x16, and so on. gan_tf keeps all of that in one number p: p = k
# means levels 0..k are fully on, p = k + a means level k + 1 is faded in with weight a.
# The progan preset gives the paper's recipe (non-saturating loss with R1, Adam with beta1 0 and
# beta2 0.99, lr 2e-3, no BatchNorm), phases of 4,000 images and an average of G with a half-life of
# ~350 steps: a phase is only 125 steps of 32 images, and an average reaching back over many phases
# would still mix in the weights of the levels before. One change for a short tutorial: 8 epochs
# rather than the preset's 25 (full size after 28,000 of 39,936 images: enough to watch it grow).
if options.quick:  # tiny models and phases of 64 images: the point is that it runs, not how well
    config = preset_config("progan", epochs=2, growth_images=64, generator_width=4, discriminator_width=4)
else:
    config = preset_config("progan", epochs=8)  # 8 x 4,992 = 39,936 images
image_set = data.load("mnist-5k", 32)  # 28x28 digits padded to 32x32: powers of two for 4 -> 8 -> 16 -> 32
if options.quick:
    picked = np.random.default_rng(0).choice(len(image_set.images), 320, replace=False)  # the set is sorted by class
    image_set = data.ImageSet(image_set.images[picked], image_set.labels[picked], "mnist-320")
levels = style.levels_of(32)
images_per_epoch = len(image_set.images) // config.batch_size * config.batch_size
total_images = config.epochs * images_per_epoch
growth = config.growth_images
print(f"{levels} levels (4x4 to 32x32); level 0 alone for {growth:,} images, then per level a fade-in and a "
      f"stable phase of {growth:,} images each: full size after {growth * (2 * levels - 1):,} of the run's "
      f"{total_images:,} images")
for seen in (0, growth, growth * 3 // 2, 2 * growth, 3 * growth, 5 * growth, 7 * growth):
    print(f"  after {seen:>6,} images: p = {style.progress_at(seen, growth, levels):.2f}")

## Every level exists from the start
# G draws a 4x4 image and, for every finer level, an upsampling block with its own 1x1 "to image"
# layer. `FadeIn(k)` layers blend each level into the upsampled image of the level before by
# clip(p - k, 0, 1), so G always outputs 32x32 images: at p = 0, blocks of 8x8 equal pixels. D mirrors
# it with "from image" layers. One `Progress` layer per model holds p as a weight (saved with every
# checkpoint), and the `GrowthSchedule` callback sets it before each step: the step only reads p,
# so it is traced once, whatever the resolution.
keras.utils.set_random_seed(config.seed)
trainer = build_trainer(config, 32, 1)
generator, discriminator = trainer.generator, trainer.discriminator
fades = [f"{layer.name} (offset {layer.offset})" for layer in generator.layers if isinstance(layer, style.FadeIn)]
print(f"G: {generator.count_params():,} parameters, fade-ins {', '.join(fades)}; "
      f"D: {discriminator.count_params():,} parameters")
z = np.random.default_rng(0).standard_normal((4, config.latent_dim)).astype(np.float32)
style.set_progress(generator, 0.0)
coarse = np.asarray(generator(z, training=False))
blocks = coarse.reshape(4, 4, 8, 4, 8, 1)  # [sample, row block, row, column block, column, channel]
print(f"at p = 0 G outputs {coarse.shape[1]}x{coarse.shape[2]} images whose 8x8 blocks are flat: largest "
      f"spread inside a block {np.ptp(blocks, axis=(2, 4)).max():.1e}")

## The equalised learning rate
# Adam moves every weight by about lr per step, whatever its scale. With He's initialisation a layer
# with a large fan-in has small weights (std sqrt(2 / fan_in)), so the same step changes it relatively
# more than a layer with a small fan-in. ProGAN stores every weight as N(0, 1) and multiplies it by
# He's constant sqrt(2 / fan_in) at run time: the effective weights have He's scale, and one Adam step
# changes every layer by the same relative amount, lr. `EqualizedConv2D` and `EqualizedDense` do this.
print(f"{'layer':<20}{'fan-in':>8}{'stored std':>12}{'effective std':>15}   first Adam step / weight std: "
      "equalised, plain He")
for name in ("project_z", "level0_conv1_conv", "level2_conv1_conv", "level3_conv1_conv", "level3_to_image"):
    layer = generator.get_layer(name)
    stored = np.asarray(layer.kernel)
    fan_in = stored.size // stored.shape[-1]
    plain_std = layer.gain / np.sqrt(fan_in)  # a He-initialised layer's weights, stored as they act
    print(f"{name:<20}{fan_in:>8}{stored.std():>12.3f}{stored.std() * layer.scale:>15.4f}"
          f"{config.g_learning_rate:>33.4f}{config.g_learning_rate / plain_std:>10.4f}")

## Pixel norm
# Without BatchNorm, G's activations can escalate as G and D compete. After each conv ProGAN scales
# every pixel's feature vector to unit mean square, a normalisation that, unlike BatchNorm, never
# couples the samples of a batch.
probe = keras.Model(generator.input, generator.get_layer("level1_conv1_norm").output)
features = np.asarray(probe(z, training=False))
mean_square = np.mean(features ** 2, axis=-1)
print(f"after pixel norm: each pixel's mean square over its {features.shape[-1]} channels is "
      f"{mean_square.min():.4f}..{mean_square.max():.4f}")


## D's view: level of detail and the minibatch standard deviation
# At progress p, G can only draw the detail of its active levels. D's first layer, `LevelOfDetail`,
# shows D every image, real or fake, as G could draw it at p: averaged down to each level and put
# back together with the same fade-ins. So D never rejects a 4x4 G for missing detail it cannot have
# yet. (ProGAN blurs the reals in its data pipeline; as a layer the view is traced with the step.)
def show_grid(axis, unit_images, columns, title):
    axis.imshow(pixels.unit_to_bytes(pixels.grid(unit_images, columns))[..., 0], cmap="gray")
    axis.set_title(title, fontsize=9)
    axis.axis("off")


real_images = pixels.bytes_to_model(image_set.images[:4])  # D's input range, [-1, 1]
viewed_at = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
level_of_detail = discriminator.get_layer("level_of_detail")
views = np.stack([np.asarray(level_of_detail([real_images, np.full((4, 1), p, np.float32)])) for p in viewed_at], 1)
figure, axis = plt.subplots(figsize=(8, 5))
show_grid(axis, pixels.model_to_unit(views.reshape(-1, 32, 32, 1)), len(viewed_at),
          "four real digits as D sees them at p = " + ", ".join(f"{p:g}" for p in viewed_at))
figure.savefig(os.path.join(options.out, "level_of_detail.png"), dpi=90, bbox_inches="tight")
plt.close(figure)
# Minibatch std (Karras et al. 2018): D gets one more feature map, the average over features of the
# standard deviation across the batch. A collapsed G sends batches of near-copies, and D sees it.
feature_of = keras.Model(discriminator.input, discriminator.get_layer("minibatch_std").output)
style.set_progress(discriminator, float(levels - 1))
varied = pixels.bytes_to_model(image_set.images[:16])
copies = np.repeat(varied[:1], 16, axis=0)
statistics = [float(np.asarray(feature_of(batch, training=False))[0, 0, 0, -1]) for batch in (varied, copies)]
print(f"minibatch std feature: {statistics[0]:.4f} for 16 different digits, {statistics[1]:.4f} for 16 copies of one")


## Training, with a snapshot at the end of each level
# `GrowthSchedule` sets p before each step. A small callback of our own records p after each step and,
# when a level's stable phase ends (right before the next level starts fading in), keeps the
# average of G as it is then: `build_sampling_generator()` returns a fresh model, so later training
# does not change it. It also times the steps (not the snapshots) for images per second per level.
class GrowthRecorder(keras.callbacks.Callback):
    def __init__(self, growth_images, batch_size):
        super().__init__()
        self.level_ends = [growth_images * (1 + 2 * level) for level in range(levels - 1)]  # before each fade
        self.batch_size = batch_size
        self.rows = []  # (images seen before a step, its p, seconds at its end)
        self.snapshots = []  # (images seen, the average of G then)

    def on_train_begin(self, logs=None):
        self.images_seen, self.paused, self.started = 0, 0.0, time.time()

    def snapshot(self):
        pause = time.time()
        self.snapshots.append((self.images_seen, self.model.build_sampling_generator()))
        self.paused += time.time() - pause

    def on_train_batch_end(self, batch, logs=None):
        # p as the step used it, at the images seen before the step (where progress_at computed it)
        self.rows.append((self.images_seen, style.get_progress(self.model.generator),
                          time.time() - self.started - self.paused))
        self.images_seen += self.batch_size
        if len(self.snapshots) < len(self.level_ends) and self.images_seen >= self.level_ends[len(self.snapshots)]:
            self.snapshot()

    def on_train_end(self, logs=None):
        if not self.snapshots or self.snapshots[-1][0] != self.images_seen:
            self.snapshot()  # the last level, at the end of the run


recorder = GrowthRecorder(config.growth_images, config.batch_size)
dataset = data.to_dataset(image_set, config.batch_size, seed=config.seed)
print(f"training {config.epochs} epochs of {images_per_epoch:,} digits ({total_images:,} images)...")
trainer.fit(dataset, epochs=config.epochs, verbose=0, shuffle=False,
            callbacks=[GrowthSchedule(config.growth_images, config.batch_size), recorder])
rows = np.asarray(recorder.rows)
seconds = rows[-1, 2] - rows[0, 2]  # from the end of the first step: its time is mostly tracing
print(f"trained in {time.time() - started:.0f} s since the start of the script; "
      f"{(rows[-1, 0] - rows[0, 0]) / seconds:.0f} images/s after the first step")
# Every level's blocks run at every step, so growing does not make the early phases cheaper:
bounds = [0] + [end for end in recorder.level_ends if end < total_images] + [total_images]
for level, (first, last) in enumerate(zip(bounds[:-1], bounds[1:])):
    # the images from `first` to `last` are the steps after the one that started at first - batch size
    inside = rows[(rows[:, 0] >= first - config.batch_size) & (rows[:, 0] <= last - config.batch_size)]
    if len(inside) > 1:
        rate = (inside[-1, 0] - inside[0, 0]) / (inside[-1, 2] - inside[0, 2])
        print(f"  up to {4 * 2 ** level}x{4 * 2 ** level} (images {first:,.0f}-{last:,.0f}): {rate:.0f} images/s")

## A sample grid per resolution
# The same 36 z through each snapshot, judged by the digit classifier (it reads the centre 28x28 of a
# 32x32 image) on a few hundred samples each: mean confidence, and the Frechet distance of its
# features to the real digits' (lower is closer).
extract = evaluation.classifier_extractor()
real_features, _ = extract(pixels.model_to_unit(pixels.bytes_to_model(data.load("mnist-5k").images)))
count = 200 if options.quick else 500
noise = np.random.default_rng(1).standard_normal((count, config.latent_dim)).astype(np.float32)
figure, axes = plt.subplots(1, len(recorder.snapshots), figsize=(3.2 * len(recorder.snapshots), 3.6))
for level, (axis, (seen, snapshot)) in enumerate(zip(np.atleast_1d(axes), recorder.snapshots)):
    unit_images = generate_unit_images(snapshot, noise)
    features, probabilities = extract(unit_images)
    confidence = float(probabilities.max(axis=1).mean())
    distance = metrics.frechet_distance(real_features, features)
    side = 4 * 2 ** round(style.get_progress(snapshot))
    print(f"{side}x{side} snapshot after {seen:,} images: classifier confidence {confidence:.2f}, FD {distance:.1f}")
    show_grid(axis, unit_images[:36], 6, f"{side}x{side} after {seen:,} images\nconfidence {confidence:.2f}, "
              f"FD {distance:.1f}")
figure.tight_layout()
figure.savefig(os.path.join(options.out, "resolutions.png"), dpi=90)
plt.close(figure)

## The fade-in on screen
# The trained average of G at p = k, k + 0.25, ..., k + 1 for each fade: the same z, with the finer
# level's image blended in. The blend is linear in the model's output range, so the middle column is
# the mean of the two ends (up to float rounding), which we check.
final = recorder.snapshots[-1][1]
trained_progress = style.get_progress(final)
fade_rows, gaps = [], []
for k in range(levels - 1):
    outputs = []
    for p in np.linspace(k, k + 1, 5):
        style.set_progress(final, float(p))
        outputs.append(np.asarray(final(noise[:2], training=False)))
    gaps.append(np.abs(outputs[2] - (outputs[0] + outputs[4]) / 2).max())
    fade_rows.append(np.stack(outputs, 1))  # [2 z, 5 steps, 32, 32, 1]
style.set_progress(final, trained_progress)
print(f"largest gap between the half-way image and the mean of its two ends: {max(gaps):.1e}")
fade_images = pixels.model_to_unit(np.concatenate(fade_rows).reshape(-1, 32, 32, 1))
figure, axis = plt.subplots(figsize=(6, 8))
show_grid(axis, fade_images, 5, "the same two z at p = k, k + 0.25, ..., k + 1\nrows: 4->8, 4->8, 8->16, "
          "8->16, 16->32, 16->32")
figure.savefig(os.path.join(options.out, "fade_in.png"), dpi=90, bbox_inches="tight")
plt.close(figure)

## Progress against images seen
figure, axis = plt.subplots(figsize=(7, 3.5))
axis.plot(rows[:, 0], rows[:, 1], color="tab:blue")
for seen, _ in recorder.snapshots:
    axis.axvline(seen, color="gray", linestyle=":", linewidth=0.8)
axis.set_yticks(range(levels), [f"{4 * 2 ** level}x{4 * 2 ** level}" for level in range(levels)])
axis.set_xlabel("images seen")
axis.set_ylabel("progress p (resolution)")
axis.set_title("ProGAN's schedule: stable phases and fade-ins (dotted: snapshots)")
figure.tight_layout()
figure.savefig(os.path.join(options.out, "progress.png"), dpi=90)
plt.close(figure)

## The final generator, judged
# The project's digit bar on the final average of G (gan_tf.evaluation.digit_quality): mean
# confidence, the smallest digit's share, and FD relative to a real split of the same size.
count = 200 if options.quick else 1000
samples = generate_unit_images(final, np.random.default_rng(2).standard_normal((count, config.latent_dim)))
quality = evaluation.digit_quality(samples, pixels.model_to_unit(pixels.bytes_to_model(data.load("mnist-5k").images)),
                                   extract)
print(f"final G on {count} samples: confidence {quality['mean_confidence']:.2f}, smallest digit share "
      f"{quality['smallest_class_share']:.3f}, FD {quality['fd']:.1f} = {quality['fd_ratio']:.1f} x the real "
      f"split's; {'passes' if evaluation.passes_digit_bar(quality) else 'misses'} the digit bar")
pixels.save_png(pixels.unit_to_bytes(pixels.grid(samples[:64], 8)), os.path.join(options.out, "final_samples.png"),
                scale=2)
print(f"{time.time() - started:.0f} s in all; figures in {options.out}")
