"""
Title: DCGAN with a custom train_step: the style to use
Author: gan-tf
Description: Functional builders, the `GAN` model whose `train_step` plays both sides, `fit()` with
callbacks that draw sample grids and a GIF, and XLA.
Time on a laptop CPU: about 2.5 minutes on 2 cores (`--quick`: 13 seconds).

What you will learn:
- how one `train_step` trains D on real and fake images, then G through D, in a single compiled step;
- how Keras callbacks turn training into pictures (a grid per epoch, a GIF, loss curves);
- why this style beats the combined model: one graph, XLA, `tf.distribute`, any loss as a function.
"""

import argparse
import glob
import os
import time

import keras
import numpy as np
import tensorflow as tf

from gan_tf import data
from gan_tf import images as pixels
from gan_tf.callbacks import SampleGrid, plot_history
from gan_tf.gan import GAN
from gan_tf.losses import non_saturating_discriminator_loss, non_saturating_generator_loss
from gan_tf.models import build_discriminator, build_generator

parser = argparse.ArgumentParser(description=__doc__.split("\n")[2])
parser.add_argument("--quick", action="store_true", help="a short run for tests")
parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out", "03"))
args = parser.parse_args()
os.makedirs(args.out, exist_ok=True)
epochs = 1 if args.quick else 20  # `gan-tf train` runs this recipe for 60 epochs
latent_dim = 64

## Functional models with named inputs
# The generator's input is called `z`: a SavedModel exported from it takes a request key "z".
keras.utils.set_random_seed(0)
generator = build_generator(latent_dim)
discriminator = build_discriminator(logits=True, dropout=0.0, minibatch_std=True)
print(f"G: {generator.count_params():,} parameters, input {generator.inputs[0].name!r}")
print(f"D: {discriminator.count_params():,} parameters, logits out (the losses apply the sigmoid)")

## The GAN model
# `train_step` is in gan_tf/gan.py; read it: 1. k D updates on real and fake, 2. one G update through D,
# 3. the moving average of G. The losses are a pair of plain functions of D's logits.
gan = GAN(generator, discriminator, latent_dim, generator_loss=non_saturating_generator_loss,
          discriminator_loss=non_saturating_discriminator_loss, ema_decay=0.999, seed=0)
gan.compile(keras.optimizers.Adam(5e-4, beta_1=0.5), keras.optimizers.Adam(5e-4, beta_1=0.5),
            jit_compile=bool(tf.config.list_physical_devices("GPU")))  # XLA pays off on GPUs only
print(f"XLA: {'on' if gan.jit_compile else 'off (no GPU)'}")

## Callbacks make training visible
image_set = data.load("mnist-5k")
dataset = data.to_dataset(image_set, batch_size=32, seed=0)
fixed_noise = np.random.default_rng(0).standard_normal((64, latent_dim)).astype(np.float32)
rows = []


class Log(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.time() - self.started
        rows.append({"epoch": epoch + 1, **{name: float(value) for name, value in logs.items()}})
        print(f"epoch {epoch + 1}: d_loss {logs['d_loss']:.3f}, g_loss {logs['g_loss']:.3f}, "
              f"D(x) {logs['real_score']:.2f}, D(G(z)) {logs['fake_score']:.2f}, "
              f"{len(image_set.images) / seconds:.0f} images/s")


gan.fit(dataset, epochs=epochs, verbose=0, shuffle=False, callbacks=[Log(), SampleGrid(args.out, fixed_noise)])
plot_history(rows, os.path.join(args.out, "loss_curves.png"))
print(f"{len(glob.glob(os.path.join(args.out, 'samples', '*.png')))} sample grids, training.gif and "
      f"loss_curves.png in {args.out}")

## Sampling from the averaged generator
final = gan.sampling_generator()
samples = np.asarray(final(np.random.default_rng(1).standard_normal((16, latent_dim)).astype(np.float32)))
pixels.save_png(pixels.model_to_bytes(pixels.grid(samples, 4)), os.path.join(args.out, "final_samples.png"),
                scale=3)
print("final_samples.png: 16 new digits from the moving average of G")
