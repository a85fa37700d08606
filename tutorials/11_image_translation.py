"""
Title: Image-to-image translation: pix2pix (paired) and CycleGAN (unpaired)
Author: gan-tf
Description: A GAN need not start from noise. pix2pix (Isola et al. 2017) learns a mapping from
aligned pairs: here it removes the photograph behind MNIST-M digits. CycleGAN (Zhu et al. 2017)
learns from two unaligned piles of images: here it paints plain digits in MNIST-M's style (style
transfer between domains) and back. Both are measured on held-out digits with classifiers.
Time on a laptop CPU: 512 s on 2 cores (pix2pix 6 epochs, CycleGAN 6 epochs; measured 2026-11-26
while another training shared the cores); `--quick`: 30 to 39 s with tiny models (the test suite, 2026-11-26).

What you will learn:
- MNIST-M: how the colour data set is made, offline, from the digits and two photographs;
- pix2pix's parts: a U-Net G with skip connections, a PatchGAN D that judges (input, output) pairs
  patch by patch, and the L1 term that makes the output match the target;
- CycleGAN's parts: two generators, two discriminators, and the cycle and identity losses that stand
  in for the pairs it does not have;
- how to measure a translation: PSNR/SSIM against the truth where there is one, and a classifier of
  the target domain (does the digit survive?) where there is not.
"""

import json
import os
import time

import _prologue
import numpy as np

from gan_tf import data
from gan_tf import images as pixels
from gan_tf.config import TranslationConfig
from gan_tf.models import translation
from gan_tf.train import train_translator, translation_data
from gan_tf.translate import load_translator, translate_images

options = _prologue.parse(__doc__)
started = time.time()
tiny = dict(epochs=1, batch_size=128, generator_width=4, discriminator_width=4, residual_blocks=1) \
    if options.quick else {}

## MNIST-M, made offline
# MNIST-M (Ganin and Lempitsky 2015) puts each MNIST digit on a random crop of a colour photograph:
# every pixel is |digit - photograph|, so the strokes invert the colours under them. `mnist-m-5k` does
# that to the 5,000 offline digits with the two photographs scikit-learn ships, seeded, and caches it.
# Image i of mnist-m-5k is image i of mnist-5k: the two sets are aligned pairs.
digits, colour = data.load("mnist-5k"), data.load("mnist-m-5k")
picked = np.arange(0, 5000, 500) + 7  # one of each class
rows = pixels.comparison_rows([pixels.model_to_unit(pixels.bytes_to_model(digits.images[picked])),
                               pixels.model_to_unit(pixels.bytes_to_model(colour.images[picked]))])
pixels.save_png(pixels.unit_to_bytes(pixels.grid(rows, len(picked))), os.path.join(options.out, "pairs.png"),
                scale=3)
print(f"mnist-m-5k: {colour.images.shape[0]} images of {colour.images.shape[1:]}, labels equal to "
      f"mnist-5k's: {np.array_equal(colour.labels, digits.labels)} -> pairs.png")

## pix2pix's two networks
# G is a U-Net: an encoder of stride-2 convolutions down to 2x2, a decoder back up, and a skip
# connection at every scale, so the digit's exact outline need not squeeze through the bottleneck.
# D is a PatchGAN: it sees the input beside the output and answers with a grid of logits, one per
# overlapping patch. The losses average over the grid, so D asks "is every patch plausible?".
unet = translation.build_unet_generator(image_size=32, in_channels=3, out_channels=1, width=8)
patch = translation.build_patch_discriminator(image_size=32, channels=1, condition_channels=3, width=8, layers=2)
print(f"U-Net: {len(unet.layers)} layers, skips at {sum('skip' in layer.name for layer in unet.layers)} scales; "
      f"PatchGAN: [image, condition] -> logits {tuple(patch.outputs[0].shape[1:])}, each seeing "
      f"{translation.patch_receptive_field(2)} pixels")

## pix2pix: take the photograph away (MNIST-M -> MNIST)
# This direction is determined: the digit is in the input. (The other way, the photograph behind a
# digit cannot be guessed, and an L1 loss would only paint its average.) G minimises
# D's verdict plus 100 x L1 to the true digit; D judges (input, output) against (input, truth).
config = TranslationConfig(**{**dict(task="pix2pix", epochs=6, output_dir=options.out,
                                     run_name=_prologue.replace_previous(options.out, "pix2pix")), **tiny})
run = train_translator(config, verbose=not options.quick)
report = json.load(open(os.path.join(run.run_dir, "metrics.json")))
for name in ("untranslated", "translator"):
    row = report[name]
    print(f"pix2pix {name:<13} on {report['held_out']} held-out digits: PSNR {row['psnr']:.1f} dB, SSIM "
          f"{row['ssim']:.3f}, digit classifier accuracy {100 * row['accuracy']:.1f}%, FD {row['fd']:.1f}")

## CycleGAN: plain digits in MNIST-M's style, without pairs
# Now pretend the pairs do not exist: G (MNIST -> MNIST-M) and F (MNIST-M -> MNIST) train on two
# disjoint halves of the digits. An adversarial loss alone would let G draw any MNIST-M image; the
# cycle loss asks F(G(x)) = x, so G must keep what F needs to recover x: the digit. The identity loss
# (G(y) = y for y already in MNIST-M) keeps colours from drifting. Least-squares GAN losses, as in
# the paper. The task's widths are 16 (and 4 residual blocks): two generators and two discriminators
# per step are the costliest models of the series.
config = TranslationConfig(**{**dict(task="cyclegan", epochs=6, output_dir=options.out,
                                     run_name=_prologue.replace_previous(options.out, "cyclegan")), **tiny})
run = train_translator(config, verbose=not options.quick)
report = json.load(open(os.path.join(run.run_dir, "metrics.json")))
row, before = report["translator"], report["untranslated"]
print(f"CycleGAN MNIST -> MNIST-M on {report['held_out']} held-out digits: {100 * row['accuracy']:.1f}% keep "
      f"their class under the MNIST-M classifier; FD to real MNIST-M {row['fd']:.1f} (plain digits: "
      f"{before['fd']:.1f})")

# The cycle, seen: digits, their MNIST-M versions, and F's way back.
pieces = translation_data(config.resolved())
shown = np.linspace(0, len(pieces.held_out_sources) - 1, 10).astype(int)
forward, backward = load_translator(run.run_dir), load_translator(os.path.join(run.run_dir, "backward_generator.keras"))
painted = translate_images(forward, pieces.held_out_sources[shown])
restored = translate_images(backward, painted)
rows = [pixels.model_to_unit(batch) for batch in (pieces.held_out_sources[shown], painted, restored)]
pixels.save_png(pixels.unit_to_bytes(pixels.grid(pixels.comparison_rows(rows), len(shown))),
                os.path.join(options.out, "cyclegan.png"), scale=3)
cycle_error = float(np.abs(rows[2] - rows[0]).mean())
print(f"cycle x -> G(x) -> F(G(x)): mean absolute error {cycle_error:.3f} in [0, 1] -> cyclegan.png")
print(f"done in {time.time() - started:.0f} s; pix2pix samples in {options.out}/pix2pix/samples")
