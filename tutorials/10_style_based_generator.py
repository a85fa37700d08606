"""
Title: The style-based generator: mapping network, styles, noise, mixing and truncation
Author: gan-tf
Description: StyleGAN (Karras et al. 2019) on 32x32 digits. z goes through a mapping network to w;
w sets every layer's style (AdaIN) on a synthesis network that starts from a learned constant and
adds per-pixel noise. Train one with the stylegan preset (or load one with `--model`), then take it
apart: mix the styles of two digits, truncate w towards its average, and switch the noise off.
Time on a laptop CPU: 48 s on 2 cores with the shipped generator (saved_models/stylegan_mnist,
measured 2026-11-26 while another training shared the cores); without it, it trains 8 epochs first
(40,000 images, several minutes); `--quick`: about 35 seconds.

What you will learn:
- the parts of a style-based G and what gan_tf calls them: `mapping`, `truncate_w`, `style_mix`,
  `synthesis`, `AdaIN`, `NoiseInjection`, `LearnedConstant`;
- that a style sets each channel's mean and standard deviation, which we check on G's own layer;
- style mixing: what the coarse, middle and fine styles of a digit carry, measured with a classifier;
- the truncation trick's trade of variety for typical digits, measured as confidence and FD;
- what the noise inputs draw: stochastic detail, seen as the per-pixel spread over noise draws.
"""

import os
import time

import _prologue
import keras
import numpy as np
from matplotlib import pyplot as plt

from gan_tf import data, evaluation, metrics, mixing, runs
from gan_tf import images as pixels
from gan_tf.callbacks import GrowthSchedule
from gan_tf.conditioning import Conditioning
from gan_tf.config import preset_config
from gan_tf.models import style
from gan_tf.sampling import generate_unit_images, load_generator
from gan_tf.train import build_trainer

SHIPPED_MODEL = os.path.normpath(os.path.join(_prologue.TUTORIALS, "..", "saved_models", "stylegan_mnist",
                                              "generator.keras"))
options = _prologue.parse(__doc__, model=SHIPPED_MODEL)
started = time.time()
count = 100 if options.quick else 500  # samples per measurement
extract = evaluation.classifier_extractor()  # the digit classifier: (features, probabilities) of [0, 1] images
real_features, _ = extract(pixels.model_to_unit(pixels.bytes_to_model(data.load("mnist-5k").images)))

## Train a style-based G, or load one
# The stylegan preset is the paper's config F at digit size: a mapping network of 8 layers, styles
# in every layer, a learned 4x4 constant, noise inputs, bilinear resampling, style mixing in 90% of
# the training draws; it grows 4x4 -> 32x32 like ProGAN (tutorial 09) and trains like it
# (non-saturating loss with R1, Adam(2e-3, beta1 0, beta2 0.99), minibatch discrimination in D). Its
# styles enter by StyleGAN2's weight demodulation rather than the paper's AdaIN, with R1 at 0.1: on
# the 5,000 digits that is what brought its FD within the project's bar (README). Without a trained
# generator (saved_models/stylegan_mnist ships one, trained with the preset's 25 epochs), this trains
# 8 epochs, as 09 does.
if options.quick:  # tiny models, 320 digits, phases of 64 images: the point is that it runs
    config = preset_config("stylegan", epochs=2, growth_images=64, generator_width=4, discriminator_width=4,
                           mapping_layers=2)
else:
    config = preset_config("stylegan", epochs=8)  # 39,936 images
if os.path.isfile(options.model):
    generator = load_generator(options.model)
    print(f"loaded {options.model}; not training")
else:
    print(f"no {options.model}: training one ({config.command_line()})")
    image_set = data.load("mnist-5k", 32)  # padded to 32x32
    if options.quick:
        picked = np.random.default_rng(0).choice(len(image_set.images), 320, replace=False)  # sorted by class
        image_set = data.ImageSet(image_set.images[picked], image_set.labels[picked], "mnist-320")
    keras.utils.set_random_seed(config.seed)
    trainer = build_trainer(config, 32, 1)
    images_seen = config.epochs * (len(image_set.images) // config.batch_size * config.batch_size)
    fit_started = time.time()
    trainer.fit(data.to_dataset(image_set, config.batch_size, seed=config.seed), epochs=config.epochs, verbose=0,
                shuffle=False, callbacks=[GrowthSchedule(config.growth_images, config.batch_size)])
    seconds = time.time() - fit_started
    generator = trainer.build_sampling_generator()  # the average of G
    runs.save_model(generator, os.path.join(options.out, "generator.keras"))
    runs.write_config(options.out, config)  # config.json beside the model
    print(f"trained on {images_seen:,} images in {seconds:.0f} s ({images_seen / seconds:.0f} images/s, tracing "
          f"included); saved {os.path.join(options.out, 'generator.keras')} (use it with --model)")

## The parts
# G takes four inputs: z, a second latent `mix_z`, a `crossover` layer index and `truncation` psi.
# Both latents go through the same `mapping` network (z -> w, pixel norm then equalised dense layers
# that learn at 1/100 of the rate) and the `truncate_w` layer; `style_mix` gives the style layers before
# the crossover z's w and the rest mix_z's w; `synthesis` draws the image from a learned 4x4 constant.
# `Conditioning` fills the three extra inputs with "no mixing, psi = 1" wherever gan_tf samples.
conditioning = Conditioning.of(generator)
if not conditioning.styles:
    raise SystemExit(f"{options.model} is not a style-based generator; train one with --preset stylegan")
mapping = generator.get_layer(style.MAPPING_MODEL)
synthesis = generator.get_layer(style.SYNTHESIS_MODEL)
dense = [layer for layer in mapping.layers if isinstance(layer, style.EqualizedDense)]
noise_layers = [layer for layer in synthesis.layers if isinstance(layer, style.NoiseInjection)]
print(f"G's inputs {conditioning.names}; mapping: {len(dense)} dense layers at lr x {dense[0].lr_multiplier:g}, "
      f"{mapping.count_params():,} parameters; synthesis: {conditioning.styles} style layers (two per level), "
      f"{len(noise_layers)} noise inputs, {synthesis.count_params():,} parameters")

## A style is a mean and a standard deviation per channel
# AdaIN (adaptive instance normalisation) normalises each channel of each sample to mean 0 and std 1,
# then scales and shifts it by two affine maps of w. Whatever the layer's input, its output channels
# take the style's statistics, and the previous layer's statistics are gone: each style acts on its
# layer only, which is what makes mixing styles work. StyleGAN2's demodulation (this preset) gets the
# same separation by scaling the conv weights by the style and dividing each output channel by its
# expected std, without measuring the data: no blob-like artefacts from a layer that must fool the
# normalisation. Checked on G's own first AdaIN layer, or a fresh one where G demodulates:
rng = np.random.default_rng(0)
adain = next((layer for layer in synthesis.layers if isinstance(layer, style.AdaIN)), None)
if adain is None:
    print("this G demodulates its weights (StyleGAN2); AdaIN, the paper's layer, checked on its own:")
    adain = style.AdaIN(name="adain")
    adain.build([(None, 8, 8, 16), (None, conditioning.latent_dim)])
w = np.asarray(mapping(conditioning.noise(4, 0)))
x = (3.0 * rng.standard_normal((4, 8, 8, adain.scale.units)) + 1.0).astype(np.float32)  # any statistics
output = np.asarray(adain([x, w]))
scale, shift = np.asarray(adain.scale(w)), np.asarray(adain.shift(w))
print(f"{adain.name}: channel means - shift(w) at most {np.abs(output.mean(axis=(1, 2)) - shift).max():.1e}, "
      f"channel stds - |scale(w)| at most {np.abs(output.std(axis=(1, 2)) - np.abs(scale)).max():.1e}")


def show(axis, unit_images, columns, title):
    axis.imshow(pixels.unit_to_bytes(pixels.grid(unit_images, columns))[..., 0], cmap="gray")
    axis.set_title(title, fontsize=9)
    axis.axis("off")


def digits_of(unit_images):
    return extract(unit_images)[1].argmax(axis=1)


## Style mixing
# StyleGAN's figure 3: the top row shows five "column" digits; each row below copies one range of
# style layers from a "row" digit (shown on the left) into every column digit. Coarse styles are
# 4x4 and 8x8, middle 16x16, fine 32x32. Mixing regularisation (the preset's 90% of training draws
# mix two latents at a random layer) keeps neighbouring styles from relying on each other, so these
# mixes stay digits.
row_seeds, column_seeds = [1, 2, 3], [4, 5, 6, 7, 8]
grid, ranges = mixing.mixing_grid(generator, row_seeds, column_seeds)
figure, axis = plt.subplots(figsize=(6, 8.5))
axis.imshow(grid[..., 0], cmap="gray")
cell = grid.shape[1] // (len(column_seeds) + 1)
labels = ["column digits"] + [f"{name} ({first}-{stop - 1})" for name, (first, stop) in ranges for _ in row_seeds]
axis.set_yticks([cell * (row + 0.5) for row in range(len(labels))], labels, fontsize=8)
axis.set_xticks([])
axis.set_title(f"styles from the row seeds {row_seeds} copied into column seeds {column_seeds}", fontsize=9)
figure.tight_layout()
figure.savefig(os.path.join(options.out, "style_mixing.png"), dpi=90)
plt.close(figure)
# Measured: which digit does the classifier read after a range of styles is copied? Pairs of a
# "destination" and a "source" z that draw different digits; the destination keeps its other styles.
destination, source = conditioning.noise(count, 10), conditioning.noise(count, 11)
destination_digits = digits_of(generate_unit_images(generator, destination))
source_digits = digits_of(generate_unit_images(generator, source))
differ = destination_digits != source_digits
print(f"style mixing, {differ.sum()} pairs that draw different digits:")
for name, (first, stop) in ranges:
    sources = np.zeros(conditioning.styles, np.int64)
    sources[first:stop] = 1  # these layers take the source's style
    mixed = digits_of(mixing.mixed_unit_images(generator, [destination, source], sources))[differ]
    print(f"  {name:<6} styles (layers {first}-{stop - 1}) copied: {np.mean(mixed == source_digits[differ]):.0%} "
          f"read as the source's digit, {np.mean(mixed == destination_digits[differ]):.0%} as the destination's")

## Truncation
# `truncate_w` keeps a running average of w over training. Sampling with psi < 1 moves every w
# towards it: w_avg + psi (w - w_avg). Low psi trades variety for typical, cleaner digits; psi = 0
# draws the "average digit" for every z (the noise still varies its detail). A row per seed:
psis = [1.0, 0.7, 0.5, 0.0]
seeds = conditioning.noise(6, 20)
rows = np.stack([generate_unit_images(generator, seeds, truncation=psi) for psi in psis], 1)
figure, axis = plt.subplots(figsize=(4, 6))
show(axis, rows.reshape(-1, 32, 32, 1), len(psis), "psi = " + ", ".join(f"{psi:g}" for psi in psis))
figure.savefig(os.path.join(options.out, "truncation.png"), dpi=90, bbox_inches="tight")
plt.close(figure)
# Measured on the same `count` z at each psi: the classifier's mean confidence, the number of digits
# with at least 1% of the samples, and FD to the real digits (lower is closer; FD counts variety too).
noise = conditioning.noise(count, 30)
print(f"truncation, {count} samples per psi:\n{'psi':>6}{'confidence':>12}{'digits':>8}{'FD':>9}")
for psi in (1.0, 0.85, 0.7, 0.5, 0.3, 0.0):
    features, probabilities = extract(generate_unit_images(generator, noise, truncation=psi))
    covered = metrics.mode_coverage(probabilities)["classes_covered"]
    print(f"{psi:>6.2f}{probabilities.max(axis=1).mean():>12.2f}{covered:>8}"
          f"{metrics.frechet_distance(real_features, features):>9.1f}")

## Noise: stochastic detail
# Every synthesis layer adds fresh per-pixel Gaussian noise, times a learned per-channel strength,
# on every call. The same z drawn again gives the same digit with different detail; the per-pixel
# standard deviation over 16 draws shows where the noise acts. With the strengths set to zero, G draws
# one deterministic image per z.
strengths = [np.asarray(layer.strength) for layer in noise_layers]
by_level = {}
for layer, strength in zip(noise_layers, strengths):
    level = int(layer.name.split("_")[0].removeprefix("level"))  # names: level{k}_...
    by_level.setdefault(level, []).append(np.abs(strength).mean())
print("learned noise strength (mean |scale|) per level: " + ", ".join(
    f"{4 * 2 ** level}x{4 * 2 ** level} {np.mean(values):.3f}" for level, values in sorted(by_level.items())))
z = conditioning.noise(3, 40)
draws = generate_unit_images(generator, np.repeat(z, 16, axis=0)).reshape(3, 16, 32, 32, 1)
style.set_noise_strength(generator, 0.0)
quiet = generate_unit_images(generator, z)
for layer, strength in zip(noise_layers, strengths):
    layer.strength.assign(strength)
spread = draws.std(axis=1)[..., 0]  # [3, 32, 32]
same_digit = np.mean(digits_of(draws.reshape(-1, 32, 32, 1)).reshape(3, 16) == digits_of(quiet)[:, None])
print(f"over 16 noise draws: per-pixel std {spread.mean():.3f} on average, {spread.max():.3f} at most; "
      f"{same_digit:.0%} of the draws read as the digit of the noise-free image")
figure, axes = plt.subplots(3, 6, figsize=(9, 5))
for row in range(3):
    for column in range(4):
        show(axes[row, column], draws[row, column:column + 1], 1, f"draw {column + 1}" if row == 0 else "")
    axes[row, 4].imshow(spread[row], cmap="magma", vmin=0, vmax=max(spread.max(), 1e-6))
    axes[row, 4].set_title("std over 16 draws" if row == 0 else "", fontsize=9)
    axes[row, 4].axis("off")
    show(axes[row, 5], quiet[row:row + 1], 1, "noise off" if row == 0 else "")
figure.tight_layout()
figure.savefig(os.path.join(options.out, "noise.png"), dpi=90)
plt.close(figure)
print(f"{time.time() - started:.0f} s in all; figures in {options.out}")
