"""
Title: Mode collapse and vanishing gradients, provoked, measured and fixed
Author: gan-tf
Description: Break a digit GAN on purpose in the two classic ways, measure the damage (classes
covered, generator gradient norms), then apply the standard fixes and measure again.
Time on a laptop CPU: about 9 minutes on 2 cores (`--quick`: 36 seconds).

What you will learn:
- vanishing gradients: with the original minimax loss, a confident discriminator gives the generator
  almost no gradient; the non-saturating loss gives it plenty at the same point;
- mode collapse: an imbalanced game (G much faster than D) lets G crowd onto a few digits;
- the fixes, each one line of config on the shared train_step: non-saturating loss, k D steps,
  one-sided label smoothing, minibatch standard deviation, minibatch discrimination, WGAN-GP.
"""

import os

import _prologue
import keras
import numpy as np
import tensorflow as tf
from matplotlib import pyplot as plt

from gan_tf import classifier, data, metrics
from gan_tf import images as pixels
from gan_tf.gan import GAN
from gan_tf.losses import get_losses
from gan_tf.models import build_discriminator, build_generator
from gan_tf.regularizers import Regularization

options = _prologue.parse(__doc__)
epochs = 1 if options.quick else 5  # per configuration (7 of them); use ~30 to see the fixed runs draw clean digits
latent_dim = 64
image_set = data.load("mnist-5k")
if options.quick:  # a fifth of the digits: the point is that it runs, not how well
    image_set = data.ImageSet(image_set.images[np.random.default_rng(0).permutation(5000)[:960]], None, "mnist-1k")
judge = classifier.load_classifier()
noise = np.random.default_rng(1).standard_normal((500, latent_dim)).astype(np.float32)


def make_gan(g_lr=5e-4, d_lr=5e-4, minibatch_std=False, minibatch_kernels=0, **gan_options):
    keras.utils.set_random_seed(0)
    discriminator = build_discriminator(logits=True, dropout=0.0, minibatch_std=minibatch_std,
                                        minibatch_kernels=minibatch_kernels)
    gan = GAN(build_generator(latent_dim), discriminator, seed=0, **gan_options)
    gan.compile(keras.optimizers.Adam(g_lr, beta_1=0.5), keras.optimizers.Adam(d_lr, beta_1=0.5))
    return gan


def generator_gradient_norm(gan, generator_loss, batch=256):
    """||d L_G / d theta_G|| on one batch of noise: how much G is being told."""
    z = tf.random.normal((batch, latent_dim), seed=3)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(generator_loss(gan.discriminator(gan.generator(z, training=True))))
    gradients = tape.gradient(loss, gan.generator.trainable_variables)
    return float(tf.linalg.global_norm(gradients))


def classes_covered(gan):
    samples = pixels.model_to_unit(np.asarray(gan.generator(noise, training=False)))
    _, probabilities = classifier.features_and_probabilities(judge, samples)
    report = metrics.mode_coverage(probabilities)
    return report["classes_covered"], report["smallest_class_share"], samples[:32]


## 1. Vanishing gradients
# Train D alone for a while against the untrained G: D becomes confident, D(G(z)) ~ 0. Then ask how
# large G's gradient is under each loss, at exactly the same weights.
gan = make_gan()
dataset = data.to_dataset(image_set, 64, seed=0)
d_only = keras.optimizers.Adam(5e-4, beta_1=0.5)
discriminator_loss = get_losses("non-saturating")[1]
for real in dataset.take(15 if options.quick else 150):
    with tf.GradientTape() as tape:
        fake = gan.generator(tf.random.normal((64, latent_dim)), training=True)
        loss = tf.reduce_mean(discriminator_loss(gan.discriminator(real, training=True),
                                                 gan.discriminator(fake, training=True)))
    d_only.apply_gradients(zip(tape.gradient(loss, gan.discriminator.trainable_variables),
                               gan.discriminator.trainable_variables))
fake_score = float(tf.reduce_mean(tf.sigmoid(gan.discriminator(gan.generator(noise[:256])))))
norms = {}
for loss_name in ("minimax", "non-saturating"):
    norms[loss_name] = generator_gradient_norm(gan, get_losses(loss_name)[0])
print(f"confident D: mean D(G(z)) = {fake_score:.4f}")
print(f"G's gradient norm: minimax {norms['minimax']:.2e}, non-saturating {norms['non-saturating']:.2e} "
      f"({norms['non-saturating'] / max(norms['minimax'], 1e-12):.0f}x larger)")

## 2. Mode collapse, and the fixes
configurations = {
    "imbalanced (G 20x faster, minimax)": dict(loss="minimax", g_lr=2e-3, d_lr=1e-4),
    "non-saturating loss": dict(loss="non-saturating", g_lr=2e-3, d_lr=1e-4),
    "+ 3 D steps per G step": dict(loss="non-saturating", g_lr=2e-3, d_lr=1e-4, d_steps=3),
    "+ label smoothing 0.1": dict(loss="non-saturating", g_lr=2e-3, d_lr=1e-4, d_steps=3, label_smoothing=0.1),
    "balanced + minibatch std": dict(minibatch_std=True),
    "balanced + minibatch discrimination": dict(minibatch_kernels=32),
    "WGAN-GP (lambda 10, 3 critic steps)": dict(loss="wasserstein", g_lr=1e-4, d_lr=1e-4, d_steps=3,
                                                regularization=Regularization(gradient_penalty_weight=10.0)),
}
results = {}
for name, configuration in configurations.items():
    gan = make_gan(**configuration)
    gan.fit(data.to_dataset(image_set, 32, seed=0), epochs=epochs, verbose=0, shuffle=False)
    covered, smallest, samples = classes_covered(gan)
    generator_loss = get_losses(configuration.get("loss", "non-saturating"))[0]
    results[name] = (covered, smallest, generator_gradient_norm(gan, generator_loss), samples)
    print(f"{name:<38} classes covered {covered:>2}/10, smallest class {smallest:.1%}, "
          f"G gradient norm {results[name][2]:.2e}")

## One figure: samples of every configuration
figure, axes = plt.subplots(1, len(results), figsize=(3 * len(results), 3.4))
for axis, (name, (covered, _, _, samples)) in zip(axes, results.items()):
    axis.imshow(pixels.unit_to_bytes(pixels.grid(samples, 8))[..., 0], cmap="gray")
    axis.set_title(f"{name}\n{covered}/10 digits", fontsize=8)
    axis.axis("off")
figure.tight_layout()
figure.savefig(os.path.join(options.out, "stability.png"), dpi=80)
plt.close(figure)

## What this run measured
worst = min(results, key=lambda name: results[name][0])
best = max(results, key=lambda name: (results[name][0], results[name][1]))
if results[worst][0] == results[best][0]:
    # Classes covered cannot rank them: every run kept the same number of digits. The smallest share can.
    worst = min(results, key=lambda name: results[name][1])
    print(f"every configuration covered {results[best][0]}/10 digits in this run; the most uneven was {worst} "
          f"(smallest digit {results[worst][1]:.1%}), the most even {best} (smallest {results[best][1]:.1%})")
else:
    print(f"fewest digits: {worst} ({results[worst][0]}/10); most: {best} ({results[best][0]}/10)")
print(f"figure: {os.path.join(options.out, 'stability.png')}")
