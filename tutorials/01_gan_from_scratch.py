"""
Title: A GAN from scratch, on points in the plane
Author: gan-tf
Description: Two small networks play the GAN game on a ring of eight Gaussians; watch the generator's
samples and the discriminator's decision surface evolve, then provoke mode collapse.
Time on a laptop CPU: about 20 seconds on 2 cores (`--quick`: 9 seconds).

What you will learn:
- the two rival networks: G maps noise z to points, D scores points as real (1) or fake (0);
- how each discriminator phase reshapes the surface that the generator then climbs;
- what mode collapse looks like, and how to count it.
"""

import os

import _prologue
import keras
import numpy as np
from keras import layers
from matplotlib import pyplot as plt

from gan_tf.gan import GAN

options = _prologue.parse(__doc__)
steps_per_phase = 400 if options.quick else 1500  # use ~3000 for a near-perfect ring
phases = 4

## The data: eight Gaussians on a ring
# A classic toy problem: the real distribution has eight separate modes, so a generator that
# drops some of them is easy to see and to count.
rng = np.random.default_rng(0)
angles = np.arange(8) * 2 * np.pi / 8
centres = np.stack([np.cos(angles), np.sin(angles)], axis=1) * 2.0


def real_points(count):
    return (centres[rng.integers(0, 8, count)] + rng.normal(0, 0.1, (count, 2))).astype(np.float32)


def modes_covered(points, minimum=0.02):
    """How many of the eight modes get at least `minimum` of the samples (within 3 standard deviations of a centre)."""
    distances = np.linalg.norm(points[:, None, :] - centres[None], axis=2)
    nearest, close = distances.argmin(axis=1), distances.min(axis=1) < 0.3
    shares = np.bincount(nearest[close], minlength=8) / len(points)
    return int((shares >= minimum).sum()), float(close.mean())


## The two networks
# G: 8-D noise -> 2-D point. D: 2-D point -> one logit (the GAN model applies the sigmoid in its loss).
# G's input is named `z`: the GAN model reads the width of the noise from it.
def build_generator():
    return keras.Sequential([keras.Input((8,), name="z"), layers.Dense(128, activation="relu"),
                             layers.Dense(128, activation="relu"), layers.Dense(2)], name="generator")


def build_discriminator():
    return keras.Sequential([keras.Input((2,)), layers.Dense(128, activation="relu"),
                             layers.Dense(128, activation="relu"), layers.Dense(1)], name="discriminator")


def train(loss, g_learning_rate, d_learning_rate, d_steps, seed, snapshot=None):
    keras.utils.set_random_seed(seed)
    gan = GAN(build_generator(), build_discriminator(), loss=loss, d_steps=d_steps, seed=seed)
    gan.compile(keras.optimizers.Adam(g_learning_rate, beta_1=0.5), keras.optimizers.Adam(d_learning_rate, beta_1=0.5))
    data = real_points(steps_per_phase * 128)
    for phase in range(phases):
        gan.fit(data, batch_size=128, epochs=1, verbose=0, shuffle=True)
        if snapshot:
            snapshot(gan, phase)
    return gan


## Train, and look at D's surface after each phase
# The background is D's belief that a point is real; the white dots are G's samples. Each phase of
# D-training raises the surface over the real modes; G then moves its samples uphill.
figure, axes = plt.subplots(1, phases, figsize=(4 * phases, 4))
grid_x, grid_y = np.meshgrid(np.linspace(-3, 3, 120), np.linspace(-3, 3, 120))
grid = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1).astype(np.float32)
noise = np.random.default_rng(1).normal(size=(1000, 8)).astype(np.float32)


def draw(gan, phase):
    surface = 1 / (1 + np.exp(-np.asarray(gan.discriminator(grid)).reshape(grid_x.shape)))
    samples = np.asarray(gan.generator(noise))
    axis = axes[phase]
    axis.contourf(grid_x, grid_y, surface, levels=20, cmap="viridis", vmin=0, vmax=1)
    axis.scatter(*centres.T, marker="x", color="red", s=60, label="real modes")
    axis.scatter(*samples.T, s=2, color="white", alpha=0.6, label="G(z)")
    covered, _ = modes_covered(samples)
    axis.set_title(f"after phase {phase + 1}: {covered}/8 modes")
    axis.set_xlim(-3, 3)
    axis.set_ylim(-3, 3)
    print(f"balanced GAN, phase {phase + 1}: {covered}/8 modes covered")


balanced = train("non-saturating", 1e-3, 1e-3, d_steps=1, seed=0, snapshot=draw)
figure.tight_layout()
figure.savefig(os.path.join(options.out, "decision_surface.png"), dpi=80)
plt.close(figure)

## Mode collapse
# Make the game lopsided: G learns a hundred times faster than D. G then finds
# a few points that D currently likes and crowds onto them, abandoning the other modes.
collapsed = train("non-saturating", 1e-2, 1e-4, d_steps=1, seed=0)
balanced_modes, balanced_close = modes_covered(np.asarray(balanced.generator(noise)))
collapsed_samples = np.asarray(collapsed.generator(noise))
collapsed_modes, collapsed_close = modes_covered(collapsed_samples)
figure, axis = plt.subplots(figsize=(4, 4))
axis.scatter(*centres.T, marker="x", color="red", s=60)
axis.scatter(*collapsed_samples.T, s=2, alpha=0.5)
axis.set_title(f"imbalanced: {collapsed_modes}/8 modes")
axis.set_xlim(-3, 3)
axis.set_ylim(-3, 3)
figure.savefig(os.path.join(options.out, "mode_collapse.png"), dpi=80)
plt.close(figure)

## What we measured
print(f"balanced (non-saturating, equal learning rates): {balanced_modes}/8 modes, "
      f"{balanced_close:.0%} of samples on a mode")
print(f"imbalanced (G 100x faster than D): {collapsed_modes}/8 modes, {collapsed_close:.0%} of samples on a mode")
if collapsed_modes < balanced_modes:
    print("the lopsided game lost modes: that is mode collapse")
else:
    print("this time the lopsided game kept as many modes; rerun with another seed or longer phases")
print(f"figures in {options.out}")
