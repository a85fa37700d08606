"""
Title: DCGAN with a custom train_step: write it, then use gan_tf.GAN
Author: gan-tf
Description: A keras.io-style `keras.Model` subclass whose `train_step` plays both sides of the game
with two GradientTapes, trained with `fit()` and a callback that saves sample grids; then the same
run with `gan_tf.GAN`, and what the library's train_step adds to those fifty lines.
Time on a laptop CPU: about 8 minutes on 2 cores shared with other jobs (495 s, 2026-11-26; `--quick`:
22 seconds).

What you will learn:
- how one `train_step` trains D on real and fake images, then G through D, in a single step;
- how `compile()`, the `metrics` property and callbacks make a GAN an ordinary Keras model:
  `fit()` runs it, logs its losses and draws its progress;
- what `gan_tf.GAN` adds, and why: k D steps, any loss pair, label smoothing, penalties, an average
  of G, seeded noise per replica, `tf.distribute` and XLA, conditioning, checkpoints.
"""

import os
import time

import _prologue
import keras
import numpy as np
import tensorflow as tf
from keras import ops
from matplotlib import pyplot as plt

import gan_tf
from gan_tf import data, evaluation, metrics
from gan_tf import images as pixels
from gan_tf.callbacks import SampleGrid, plot_history
from gan_tf.models import build_discriminator, build_generator
from gan_tf.sampling import generate_unit_images

options = _prologue.parse(__doc__)
epochs = 1 if options.quick else 10  # per run, two runs; the default `gan-tf train` run is 50 epochs
latent_dim = 64

## The data and the two networks
# 5,000 MNIST digits that ship with the project, as batches of 32 images in [-1, 1]. The networks
# come from gan_tf's builders: G's input is named `z`, and D returns a logit, not a probability
# (the loss applies the sigmoid, which is numerically safer).
image_set = data.load("mnist-5k")
if options.quick:  # a fifth of the digits: the point is that it runs, not how well
    image_set = data.ImageSet(image_set.images[:1000], image_set.labels[:1000], "mnist-1k")
dataset = data.to_dataset(image_set, batch_size=32, seed=0)
keras.utils.set_random_seed(0)
generator = build_generator(latent_dim)
discriminator = build_discriminator(logits=True, dropout=0.0, minibatch_std=True)
print(f"G: {generator.count_params():,} parameters, input {generator.inputs[0].name!r}; "
      f"D: {discriminator.count_params():,} parameters, logits out")


## A GAN is a keras.Model with its own train_step
# `fit()` calls `train_step` once per batch. Ours plays one round of the game: 1. D learns to label
# real images 1 and G's images 0; 2. G learns to make D say 1 for its images. Each player has its own
# GradientTape and optimizer and updates only its own weights, so D is "frozen" while G trains
# without any `trainable` flag. D sees the real and the fake batch separately: its minibatch-std
# feature would otherwise mix the two.
class SimpleGAN(keras.Model):
    def __init__(self, discriminator, generator, latent_dim, seed=1337):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    @property
    def metrics(self):
        # Listed here, the trackers are reset at each epoch's start and reported in `logs`.
        return [self.d_loss_tracker, self.g_loss_tracker]

    def train_step(self, real_images):
        batch_size = ops.shape(real_images)[0]
        real_labels = ops.ones((batch_size, 1))
        fake_labels = ops.zeros((batch_size, 1))

        # 1. Train the discriminator on a real batch (labels 1) and a generated one (labels 0).
        random_latent_vectors = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        generated_images = self.generator(random_latent_vectors, training=True)
        with tf.GradientTape() as tape:
            real_predictions = self.discriminator(real_images, training=True)
            fake_predictions = self.discriminator(generated_images, training=True)
            d_loss = self.loss_fn(real_labels, real_predictions) + self.loss_fn(fake_labels, fake_predictions)
        gradients = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(gradients, self.discriminator.trainable_weights))

        # 2. Train the generator through the discriminator, with labels that say "real".
        random_latent_vectors = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        misleading_labels = ops.ones((batch_size, 1))
        with tf.GradientTape() as tape:
            fake_predictions = self.discriminator(self.generator(random_latent_vectors, training=True),
                                                  training=True)
            g_loss = self.loss_fn(misleading_labels, fake_predictions)
        gradients = tape.gradient(g_loss, self.generator.trainable_weights)  # G's weights only
        self.g_optimizer.apply_gradients(zip(gradients, self.generator.trainable_weights))

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {metric.name: metric.result() for metric in self.metrics}


# Cross-entropy against "real" for G's images is -log D(G(z)): the non-saturating loss of
# Goodfellow et al. 2014, which still gives G a gradient while D confidently rejects its images.


## A callback that shows G learning
# The same fixed noise after every epoch: each grid shows the same 64 points of latent space, drawn by
# a better G.
class GANMonitor(keras.callbacks.Callback):
    def __init__(self, folder, random_latent_vectors):
        super().__init__()
        self.folder = folder
        self.random_latent_vectors = random_latent_vectors

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.time() - self.started
        generated_images = generate_unit_images(self.model.generator, self.random_latent_vectors)
        pixels.save_png(pixels.unit_to_bytes(pixels.grid(generated_images, 8)),
                        os.path.join(self.folder, f"epoch_{epoch + 1:02d}.png"), scale=2)
        print(f"  epoch {epoch + 1}: " + ", ".join(f"{name} {float(value):.3f}" for name, value in logs.items())
              + f", {len(image_set.images) / seconds:.0f} images/s")


## Train it with fit()
fixed_noise = np.random.default_rng(0).standard_normal((64, latent_dim)).astype(np.float32)
simple_gan = SimpleGAN(discriminator, generator, latent_dim)
simple_gan.compile(d_optimizer=keras.optimizers.Adam(5e-4, beta_1=0.5),
                   g_optimizer=keras.optimizers.Adam(5e-4, beta_1=0.5),
                   loss_fn=keras.losses.BinaryCrossentropy(from_logits=True))
print(f"SimpleGAN, {epochs} epochs of {len(image_set.images)} digits:")
started = time.time()
# shuffle=False: the tf.data pipeline shuffles already, from its seed.
simple_history = simple_gan.fit(dataset, epochs=epochs, verbose=0, shuffle=False,
                                callbacks=[GANMonitor(os.path.join(options.out, "simple_gan"), fixed_noise)])
simple_seconds = time.time() - started
print(f"SimpleGAN trained in {simple_seconds:.0f} s; grids in {os.path.join(options.out, 'simple_gan')}")

## The same run with gan_tf.GAN
# Fresh networks with the same initial weights, the same optimizers and loss, and a fresh pipeline
# with the same seed, hence the same batches. One argument more: `ema_decay` keeps a moving average
# of G's weights, which usually draws cleaner digits than G itself (measured below). `SampleGrid`
# saves a grid per epoch and the GIF; the rows logged per epoch give the loss curves.
dataset = data.to_dataset(image_set, batch_size=32, seed=0)
keras.utils.set_random_seed(0)
generator = build_generator(latent_dim)
discriminator = build_discriminator(logits=True, dropout=0.0, minibatch_std=True)
gan = gan_tf.GAN(generator, discriminator, loss="non-saturating", ema_decay=0.999, seed=0)
gan.compile(g_optimizer=keras.optimizers.Adam(5e-4, beta_1=0.5), d_optimizer=keras.optimizers.Adam(5e-4, beta_1=0.5),
            jit_compile=bool(tf.config.list_physical_devices("GPU")))  # XLA pays off on GPUs, not CPUs
rows = []


class Log(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        rows.append({"epoch": epoch + 1, **{name: float(value) for name, value in logs.items()}})
        print(f"  epoch {epoch + 1}: d_loss {logs['d_loss']:.3f}, g_loss {logs['g_loss']:.3f}, "
              f"D(x) {logs['real_score']:.2f}, D(G(z)) {logs['fake_score']:.2f}")


print(f"gan_tf.GAN, {epochs} epochs (XLA {'on' if gan.jit_compile else 'off: no GPU'}):")
started = time.time()
gan.fit(dataset, epochs=epochs, verbose=0, shuffle=False, callbacks=[Log(), SampleGrid(options.out, fixed_noise)])
library_seconds = time.time() - started
# Same algorithm, same initial weights, same batches; only the noise differs. So the epoch losses track.
gaps = {name: max(abs(row[name] - value) for row, value in zip(rows, simple_history.history[name]))
        for name in ("d_loss", "g_loss")}
print(f"largest gap between the two runs' epoch losses: d_loss {gaps['d_loss']:.3f}, g_loss {gaps['g_loss']:.3f}")
plot_history(rows, os.path.join(options.out, "loss_curves.png"))
print(f"gan_tf.GAN trained in {library_seconds:.0f} s; samples/, training.gif and loss_curves.png in {options.out}")

## Three generators, one judge
# The same 1,000 points of latent space (500 with --quick) through SimpleGAN's G, gan_tf's G and its
# moving average, scored by the digit classifier's Frechet distance to the real digits (lower is
# closer; at these sample counts compare the three with each other, not with other tables).
# `build_sampling_generator()` returns the averaged G, a model of its own with re-measured BatchNorm.
candidates = {"SimpleGAN's G": simple_gan.generator, "gan_tf.GAN's G": gan.generator,
              "gan_tf.GAN's average of G": gan.build_sampling_generator()}
extract = evaluation.classifier_extractor()
real_features, _ = extract(pixels.model_to_unit(pixels.bytes_to_model(data.load("mnist-5k").images)))
noise = np.random.default_rng(1).standard_normal((500 if options.quick else 1000, latent_dim)).astype(np.float32)
distances, grids = {}, {}
for name, candidate in candidates.items():
    unit_images = generate_unit_images(candidate, noise)
    distances[name] = metrics.frechet_distance(real_features, extract(unit_images)[0])
    grids[name] = pixels.grid(unit_images[:36], 6)
    print(f"{name:<28} classifier FD {distances[name]:.1f}")
figure, axes = plt.subplots(1, 3, figsize=(12, 4.4))
for axis, (name, picture) in zip(axes, grids.items()):
    axis.imshow(pixels.unit_to_bytes(picture)[..., 0], cmap="gray")
    axis.set_title(f"{name}: FD {distances[name]:.1f}", fontsize=10)
    axis.axis("off")
figure.tight_layout()
figure.savefig(os.path.join(options.out, "three_generators.png"), dpi=80, bbox_inches="tight")
plt.close(figure)
final_images = generate_unit_images(candidates["gan_tf.GAN's average of G"], noise[:16])
pixels.save_png(pixels.unit_to_bytes(pixels.grid(final_images, 4)), os.path.join(options.out, "final_samples.png"),
                scale=3)
average, plain = distances["gan_tf.GAN's average of G"], distances["gan_tf.GAN's G"]
print(f"the average of G scored FD {average:.1f} against G's {plain:.1f}: "
      + ("the EMA helped in this run" if average < plain else "the EMA did not help in this run (short runs vary)"))
print(f"SimpleGAN {simple_seconds:.0f} s, gan_tf.GAN {library_seconds:.0f} s for the same {epochs} epochs; "
      "final_samples.png: 16 digits from the average of G; three_generators.png: all three side by side")

## What gan_tf.GAN adds to SimpleGAN
# The library's `train_step` (gan_tf/gan.py) is the one above, grown to cover what papers and real
# runs need, each as a constructor argument rather than a second training loop:
# - `d_steps=k`: k discriminator updates per generator update (Goodfellow et al.'s k; a WGAN critic
#   takes 5), reusing the real batch with fresh noise.
# - `reuse_fakes=True`: G's update scores the fakes D's last update saw, under D's new weights, instead
#   of drawing new ones (as PyTorch's DCGAN example does): one forward pass of G fewer per step, the
#   `gan-tf train` default (about 1.1-1.2x the images/s at the same quality: README).
# - `loss=`: a name from `gan_tf.losses.LOSSES` (non-saturating, minimax, least-squares, wasserstein,
#   hinge) or any pair of functions `(generator_loss, discriminator_loss)` of D's logits. Losses are
#   per example and averaged over the global batch, so replicas' gradients add up to the right one.
# - `label_smoothing=s`: one-sided, D's real target 1 -> 1 - s (Salimans et al. 2016).
# - `regularization=Regularization(gradient_penalty_weight=10.0)`: WGAN-GP's gradient penalty, or
#   `r1_weight` (R1 on real images) or `clip_value` (WGAN's weight clipping), from gan_tf.regularizers.
# - `ema_decay`: the moving average of G measured above, and `build_sampling_generator()` to draw from it.
# - Noise from stateless random ops keyed by (seed, step, replica): a run is reproducible from `seed`,
#   each replica of a `tf.distribute` strategy draws different noise, and no random state needs syncing.
# - `tf.distribute` and XLA: `gan-tf train --strategy mirrored`, `compile(..., jit_compile=True)`.
# - Conditioning: a generator with a `label` input (conditional GAN) or `code`/`continuous` inputs
#   (InfoGAN, weighted by `info_weight`) is recognised by its input names; D then sees the labels.
# - Real and fake scores (mean D(x), D(G(z))) as metrics, which the loss curves plot.
# - `gan_tf.train.train(config)` (the `gan-tf train` command) wraps it in a run: config.json, history,
#   grids, checkpoints of G, D, both optimizers and the average every epoch, `--resume`, an FD monitor.
print(f"figures in {options.out}")
