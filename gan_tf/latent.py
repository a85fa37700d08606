"""Walks through latent space: linear and spherical interpolation between noise vectors.

z ~ N(0, I) in d dimensions concentrates on a shell of radius about sqrt(d); a straight line between
two samples cuts through the low-norm interior that G rarely saw in training (the region near z = 0
often isn't a digit at all). Spherical interpolation (Shoemake 1985; White 2016, "Sampling Generative
Networks") follows the great circle instead and keeps the norm.
"""

import numpy as np

from gan_tf.conditioning import Conditioning
from gan_tf.errors import UserError


def lerp(start, end, fraction):
    return (1.0 - fraction) * np.asarray(start) + fraction * np.asarray(end)


def slerp(start, end, fraction):
    """Spherical interpolation; falls back to lerp for (nearly) parallel vectors."""
    start, end = np.asarray(start, np.float64), np.asarray(end, np.float64)
    cosine = np.dot(start, end) / (np.linalg.norm(start) * np.linalg.norm(end))
    angle = np.arccos(np.clip(cosine, -1.0, 1.0))
    if angle < 1e-6:
        return lerp(start, end, fraction)
    return (np.sin((1.0 - fraction) * angle) * start + np.sin(fraction * angle) * end) / np.sin(angle)


def path(points, steps, method="slerp"):
    """`steps` vectors per segment through `points` (k x d), endpoints included once: float32 [n, d]."""
    if method not in ("lerp", "slerp"):
        raise UserError(f"--method must be lerp or slerp, got {method!r}")
    if steps < 2:
        raise UserError(f"--steps must be at least 2, got {steps}")
    points = np.asarray(points, np.float64)
    if len(points) < 2:
        raise UserError("interpolation needs at least two points (give two or more --seeds)")
    blend = slerp if method == "slerp" else lerp
    walk = [blend(points[index], points[index + 1], fraction)
            for index in range(len(points) - 1)
            for fraction in np.linspace(0.0, 1.0, steps)[(1 if index else 0):]]
    return np.asarray(walk, np.float32)


def seeded_points(seeds, latent_dim):
    """One z per seed, drawn as `gan-tf sample --seed S` draws its first image."""
    conditioning = Conditioning(latent_dim)
    return np.stack([conditioning.noise(1, seed)[0] for seed in seeds])
