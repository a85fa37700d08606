"""Model builders and custom layers; these know Keras only."""

from gan_tf.models.dcgan import (
    build_discriminator,
    build_generator,
    build_sequential_discriminator,
    build_sequential_generator,
)
from gan_tf.models.layers import DiffAugment
from gan_tf.models.style import build_progan_generator, build_progressive_discriminator, build_stylegan_generator
from gan_tf.models.translation import (
    build_patch_discriminator,
    build_resnet_generator,
    build_unet_generator,
    build_upscaling_generator,
)

__all__ = [
    "DiffAugment",
    "build_discriminator",
    "build_generator",
    "build_patch_discriminator",
    "build_progan_generator",
    "build_progressive_discriminator",
    "build_resnet_generator",
    "build_stylegan_generator",
    "build_sequential_discriminator",
    "build_sequential_generator",
    "build_unet_generator",
    "build_upscaling_generator",
]
