"""
Title: Super-resolution with a GAN: SRGAN at small scale, and the perception-distortion trade-off
Author: gan-tf
Description: SRGAN (Ledig et al. 2017) upscales an image 4x with a generator trained on a content loss
(a distance in a classifier's features, not in pixels) and, on top, a small adversarial term. Here it
turns 7x7 digits into 28x28 ones, next to bicubic upscaling and to the same generator without its
discriminator, and measures what each gains: distortion (PSNR, SSIM) and perception (the digit
classifier's accuracy and FD).
Time on a laptop CPU: 172 s on 2 idle cores (content-only and SRGAN, 6 epochs each; 2026-11-26);
`--quick`: tiny models, one epoch each (the test suite).

What you will learn:
- why a pixel loss makes blurry upscalings, shown with numbers: the average of two sharp guesses beats
  either under a pixel distance; compare what a classifier's features say;
- SRGAN's parts, small: an upscaling G (residual blocks, nearest-neighbour upsampling, the bicubic
  image as a starting point), a PatchGAN D, the content loss in the digit classifier's features;
- how to measure an upscaler: against bicubic, with and without the adversarial term, and whether the
  perception-distortion trade-off (Blau and Michaeli 2018) shows in the numbers.
"""

import json
import os
import time

import _prologue
import keras
import matplotlib.pyplot as plt
import numpy as np

from gan_tf import classifier
from gan_tf import images as pixels
from gan_tf.config import TranslationConfig
from gan_tf.models import translation
from gan_tf.train import train_translator, translation_data
from gan_tf.translate import translate_images

options = _prologue.parse(__doc__)
started = time.time()
# --quick: tiny models, one epoch of large batches (fewer steps: the test suite waits on it).
tiny = dict(epochs=1, batch_size=128, generator_width=4, discriminator_width=4, residual_blocks=1) \
    if options.quick else {}
EPOCHS = 6

## The task: 7x7 -> 28x28
# The inputs are the digits shrunk 4x by area averaging (each input pixel is the mean of a 4x4 block);
# the targets are the digits themselves. `translation_data` makes both and keeps 500 digits out of
# training, stratified by class, the same 500 that the shipped digit classifier never saw.
config = TranslationConfig(**{**dict(task="super-resolution", epochs=EPOCHS, output_dir=options.out), **tiny})
pieces = translation_data(config)
held_in, held_out = pieces.held_out_sources, pieces.held_out_targets
print(f"{len(pieces.train_sources)} training pairs {pieces.train_sources.shape[1:]} -> "
      f"{pieces.train_targets.shape[1:]}; {len(held_out)} held-out pairs")

## Why pixels are the wrong ruler
# Many 28x28 digits shrink to the same 7x7 input, so an upscaler is never sure where a stroke goes.
# Say it hesitates between the real digit moved one pixel left and moved one pixel right: under a
# pixel loss (L1 or MSE, both convex) their average, a blur, scores at least as well as either sharp
# answer, so a pixel loss teaches G to blur. A distance in a classifier's features need not agree.
judge = classifier.load_classifier("mnist-5k")
truth = pixels.model_to_unit(held_out)
truth_features = classifier.features_and_probabilities(judge, truth)[0]
left, right = np.roll(truth, -1, axis=2), np.roll(truth, 1, axis=2)
candidates = {"moved 1 pixel left": left, "moved 1 pixel right": right, "their average (blur)": (left + right) / 2}
distances = {}
for name, images in candidates.items():
    features = classifier.features_and_probabilities(judge, images)[0]
    distances[name] = (np.square(images - truth).mean(), np.square(features - truth_features).mean())
    print(f"{name:<21} pixel MSE {distances[name][0]:.4f}, squared distance in the classifier's features "
          f"{distances[name][1]:.3f}")
blur, sharp = distances["their average (blur)"], distances["moved 1 pixel right"]
print(f"pixels prefer the {'blur' if blur[0] < sharp[0] else 'sharp digit'}; "
      f"the classifier's features prefer the {'blur' if blur[1] < sharp[1] else 'sharp digit'}")
# SRGAN's answer is to measure in the features of a network that knows what matters: the paper used
# VGG's (an ImageNet download); the digit classifier shipped in saved_models/classifiers works offline.

## SRGAN's generator, small
# 9x9 conv, residual blocks that learn detail (added back to the first conv's output), two stages of
# 2x nearest-neighbour upsampling + 3x3 conv, and a 9x9 conv to the image. Its output is added to the
# bicubic upscaling of the input: G starts at bicubic and learns only what to add (VDSR's global
# residual, Kim et al. 2016), which also lets it work on photographs (bench/super_resolution.py --target).
generator = translation.build_upscaling_generator(low_size=7, factor=4, width=32, residual_blocks=4)
print(f"upscaling G: {generator.count_params():,} parameters, {generator.inputs[0].shape[1:]} -> "
      f"{generator.outputs[0].shape[1:]}; upsampling stages "
      f"{[layer.name for layer in generator.layers if layer.name.endswith('_resize')]}")

## Train twice: without and with the discriminator
# Both runs take the same epochs, data and seed. "content only" minimises L1 + the content loss (the
# squared distance in the classifier's features); "SRGAN" adds a PatchGAN and the paper's adversarial
# weight 1e-3. Each run folder has samples per epoch, a checkpoint, history.csv and metrics.json.
reports, generators = {}, {}
for name, changes in (("content only", dict(adversarial_weight=0.0)), ("SRGAN", {})):
    run_name = _prologue.replace_previous(options.out, name.split()[0].lower())  # a rerun replaces the last
    run = train_translator(config.replace(run_name=run_name, **changes), verbose=not options.quick)
    report = json.load(open(os.path.join(run.run_dir, "metrics.json")))
    reports.setdefault("bicubic", report["bicubic"])
    reports[name], generators[name] = report["translator"], keras.models.load_model(run.generator_path)

## Measure: distortion and perception
# PSNR and SSIM compare each output with its real digit (higher: less distortion). The classifier's
# accuracy asks whether the digit is still the same digit, and its FD whether the outputs look like
# real digits as a set (lower: better perception). Caveat: the content loss trains on the same
# classifier's features that judge here, which flatters both trained models' accuracy; FD and
# PSNR/SSIM do not share that bias.
print(f"{'upscaler':<13} {'PSNR':>6} {'SSIM':>6} {'accuracy':>9} {'FD':>7}   ({len(held_out)} held-out digits)")
for name, row in reports.items():
    print(f"{name:<13} {row['psnr']:6.2f} {row['ssim']:6.3f} {100 * row['accuracy']:8.1f}% {row['fd']:7.1f}")
# The trade-off is about what the adversarial term changes, so compare the two trained models.
with_d, without_d = reports["SRGAN"], reports["content only"]
psnr_change, fd_change = with_d["psnr"] - without_d["psnr"], with_d["fd"] - without_d["fd"]
if abs(psnr_change) < 0.05:  # a twentieth of a dB: no visible difference in distortion
    reading = f"{'better' if fd_change < 0 else 'worse'} perception at the same distortion"
elif psnr_change < 0 and fd_change < 0:
    reading = "better perception bought with more distortion: the trade-off Blau and Michaeli (2018) prove"
elif psnr_change > 0 and fd_change > 0:
    reading = "less distortion and worse perception: the trade-off, the other way round"
else:
    reading = f"{'SRGAN' if psnr_change >= 0 else 'content only'} is better on both: no trade-off shows here"
print(f"the adversarial term changed PSNR by {psnr_change:+.2f} dB and FD by {fd_change:+.1f}: {reading} "
      "(one run each: differences this small may be noise)")

shown = np.linspace(0, len(held_out) - 1, 10).astype(int)  # held-out digits are sorted by class
rows = [pixels.model_to_unit(held_in[shown]), pixels.bicubic_upscale(pixels.model_to_unit(held_in[shown]), 28)]
rows += [pixels.model_to_unit(translate_images(model, held_in[shown])) for model in generators.values()]
rows.append(truth[shown])
pixels.save_png(pixels.unit_to_bytes(pixels.grid(pixels.comparison_rows(rows), len(shown))),
                os.path.join(options.out, "upscaled.png"), scale=3)
print("upscaled.png: rows 7x7 input, bicubic, content only, SRGAN, real digit")

figure, axis = plt.subplots(figsize=(5.5, 4))
for name, row in reports.items():
    axis.scatter(row["psnr"], row["fd"], s=60)
    axis.annotate(name, (row["psnr"], row["fd"]), textcoords="offset points", xytext=(6, 4))
axis.set(xlabel="PSNR (dB), higher = less distortion", ylabel="classifier FD, lower = better perception",
         yscale="log", title="Perception-distortion, 7x7 -> 28x28")
axis.margins(0.25)
figure.tight_layout()
figure.savefig(os.path.join(options.out, "perception_distortion.png"), dpi=100)
print(f"perception_distortion.png; done in {time.time() - started:.0f} s. Upscale your own: "
      f"gan-tf upscale --model {options.out}/srgan --input small.png --out big.png")
