"""
Title: Walking the latent space
Author: gan-tf
Description: Interpolate between digits (linearly and on the sphere), follow a closed trajectory,
look at neighbourhoods, measure the region near z = 0 with a classifier, and do latent arithmetic.
Uses the pretrained generator in saved_models/dcgan_mnist (a SavedModel: no training needed).
Time on a laptop CPU: about 10 seconds on 2 cores (`--quick`: 5 seconds).

What you will learn:
- neighbouring points in latent space give similar images; distant ones give different digits;
- why spherical interpolation suits Gaussian noise: z concentrates on a shell of radius sqrt(d),
  and the region near z = 0, which a straight line crosses, is rarely a clean digit;
- how averages of latent vectors carry meaning ("the mean z of all 7s draws a 7").
"""

import os

import _prologue
import numpy as np
from matplotlib import pyplot as plt

from gan_tf import classifier, latent
from gan_tf import images as pixels
from gan_tf.sampling import generate_unit_images, latent_dim_of, load_generator

options = _prologue.parse(__doc__, model=_prologue.PRETRAINED_GENERATOR)
count = 500 if options.quick else 3000

generator = load_generator(options.model)
latent_dim = latent_dim_of(generator)
judge = classifier.load_classifier()
rng = np.random.default_rng(0)


def classify(unit_images):
    _, probabilities = classifier.features_and_probabilities(judge, unit_images)
    return probabilities.argmax(axis=1), probabilities.max(axis=1)


def save_strip(unit_images, name, columns):
    pixels.save_png(pixels.unit_to_bytes(pixels.grid(unit_images, columns)), os.path.join(options.out, name), scale=3)


## Interpolation: linear against spherical
# Between two random z, lerp passes closer to the origin than either end; slerp keeps the norm.
start, end = latent.seeded_points([3, 11], latent_dim)
for method in ("lerp", "slerp"):
    walk = latent.path([start, end], 10, method)
    images = generate_unit_images(generator, walk)
    labels, confidence = classify(images)
    save_strip(images, f"interpolation_{method}.png", 10)
    print(f"{method}: norms {np.linalg.norm(walk, axis=1).min():.1f}..{np.linalg.norm(walk, axis=1).max():.1f}, "
          f"digits {labels.tolist()}, mean confidence {confidence.mean():.2f}")

## A closed trajectory
# A circle in the plane spanned by two random directions: the digits morph and come back.
first, second = rng.standard_normal((2, latent_dim))
angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
circle = (np.cos(angles)[:, None] * first + np.sin(angles)[:, None] * second).astype(np.float32)
save_strip(generate_unit_images(generator, circle), "trajectory.png", 16)

## Neighbourhoods: small steps keep the digit, large steps change it
centre = rng.standard_normal(latent_dim).astype(np.float32)
centre_label = classify(generate_unit_images(generator, centre[None]))[0][0]
print(f"neighbourhood of a z that draws a {centre_label}:")
rows = []
for radius in (0.25, 1.0, 4.0):
    neighbours = (centre + radius * rng.standard_normal((count // 10, latent_dim))).astype(np.float32)
    images = generate_unit_images(generator, neighbours)
    same = float((classify(images)[0] == centre_label).mean())
    rows.append(images[:8])
    print(f"  radius {radius}: {same:.0%} of neighbours draw the same digit")
save_strip(np.concatenate(rows), "neighbourhoods.png", 8)

## The region near z = 0
# Scale random z towards the origin and ask the classifier how sure it is of what it sees.
base = rng.standard_normal((count, latent_dim)).astype(np.float32)
scales = [0.0, 0.25, 0.5, 1.0, 1.5]
confidences = []
for scale in scales:
    _, confidence = classify(generate_unit_images(generator, base * scale))
    confidences.append(float(confidence.mean()))
    print(f"z scaled by {scale}: classifier confidence {confidences[-1]:.2f}")
figure, axis = plt.subplots(figsize=(5, 3.5))
axis.plot(scales, confidences, marker="o")
axis.set_xlabel("scale of z (1 = typical sample)")
axis.set_ylabel("mean classifier confidence")
axis.set_title("how digit-like is the latent space near 0?")
figure.tight_layout()
figure.savefig(os.path.join(options.out, "near_zero.png"), dpi=90)
plt.close(figure)
save_strip(generate_unit_images(generator, base[:8] * 0.0 + 0.0), "z_zero.png", 8)

## Latent arithmetic: the mean z of a class
labels, confidence = classify(generate_unit_images(generator, base))
means = []
for digit in range(10):
    members = base[(labels == digit) & (confidence > 0.9)]
    means.append(members.mean(axis=0) * np.sqrt(latent_dim) / max(np.linalg.norm(members.mean(axis=0)), 1e-6)
                 if len(members) else np.zeros(latent_dim))
mean_images = generate_unit_images(generator, np.asarray(means, np.float32))
mean_labels, _ = classify(mean_images)
save_strip(mean_images, "class_means.png", 10)
hits = int((mean_labels == np.arange(10)).sum())
print(f"the (rescaled) mean z of each digit draws that digit for {hits} of 10 digits")
print(f"figures in {options.out}")
