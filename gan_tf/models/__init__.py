"""Model builders and custom layers; these know Keras only."""

from gan_tf.models.dcgan import (
    build_discriminator,
    build_generator,
    build_sequential_discriminator,
    build_sequential_generator,
)
from gan_tf.models.layers import DiffAugment

__all__ = [
    "DiffAugment",
    "build_discriminator",
    "build_generator",
    "build_sequential_discriminator",
    "build_sequential_generator",
]
