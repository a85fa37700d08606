"""DCGAN builders: Dense -> Conv2DTranspose generators and Conv2D -> Dropout discriminators.

Radford et al. 2016. Each model exists twice, as a Sequential stack (the form most tutorials teach)
and as a Functional graph (the form that names its input `z`, which TF Serving uses as the request
key). Both are assembled from the same block functions, so they have the same layers and parameter
count by construction.

The default widths are sized for a laptop CPU: about 40 MFLOP per generated 28x28 image (the keras.io
DCGAN spends over 100x that), which trains at several hundred images per second on 2 cores.
"""

import keras
from keras import layers

from gan_tf.errors import UserError
from gan_tf.models.layers import DiffAugment, MinibatchDiscrimination, MinibatchStdDev

SUPPORTED_SIZES = (28, 32, 64)


def _start_size(image_size):
    if image_size not in SUPPORTED_SIZES:
        raise UserError(
            f"image size {image_size} is not supported; use one of {SUPPORTED_SIZES} (--image-size)")
    return 7 if image_size == 28 else 4


def generator_widths(image_size, width):
    """Channels after the Dense layer and after each upsampling block, halving as the image doubles."""
    start = _start_size(image_size)
    blocks = 0
    while start * 2 ** blocks < image_size:
        blocks += 1
    return [width * 2 ** (blocks - index) for index in range(blocks + 1)]


def upsample_block(filters, batch_norm=True, name="up"):
    """Conv2DTranspose with stride 2 doubles the side; BatchNorm keeps G's activations in range.

    Layers are named `<name>_conv`, `<name>_norm`, `<name>_act`: checkpoints key weights by these
    names, so they must not depend on how many layers the process built before.
    """
    block = [layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=not batch_norm,
                                    name=f"{name}_conv")]
    if batch_norm:
        block.append(layers.BatchNormalization(name=f"{name}_norm"))
    block.append(layers.LeakyReLU(0.2, name=f"{name}_act"))
    return block


def downsample_block(filters, dropout=0.3, spectral_norm=False, name="down"):
    """Conv2D with stride 2 halves the side; Dropout slows D down on small data sets.

    Layers are named `<name>_conv` (inside `<name>_spectral_norm` when asked), `<name>_act`,
    `<name>_dropout`, for name-keyed checkpoints.
    """
    conv = layers.Conv2D(filters, 4, strides=2, padding="same", name=f"{name}_conv")
    if spectral_norm:
        conv = layers.SpectralNormalization(conv, name=f"{name}_spectral_norm")
    block = [conv, layers.LeakyReLU(0.2, name=f"{name}_act")]
    if dropout:
        block.append(layers.Dropout(dropout, name=f"{name}_dropout"))
    return block


def generator_layers(latent_dim, image_size=28, channels=1, width=32, batch_norm=True):
    widths = generator_widths(image_size, width)
    start = _start_size(image_size)
    stack = [layers.Dense(start * start * widths[0], use_bias=not batch_norm, name="project_z")]
    if batch_norm:
        stack.append(layers.BatchNormalization(name="project_z_norm"))
    stack += [layers.LeakyReLU(0.2, name="project_z_act"),
              layers.Reshape((start, start, widths[0]), name="to_feature_map")]
    for index, filters in enumerate(widths[1:], start=1):
        stack += upsample_block(filters, batch_norm, name=f"up{index}")
    stack.append(layers.Conv2D(channels, 3, padding="same", activation="tanh", name="to_image"))
    return stack


def discriminator_layers(image_size=28, channels=1, width=64, dropout=0.3, logits=False,
                         spectral_norm=False, augment="", seed=None, minibatch_std=False,
                         minibatch_kernels=0):
    _start_size(image_size)
    stack = [DiffAugment(augment, seed=seed, name="diff_augment")] if augment else []
    filters, side, index = width, image_size, 1
    # Down to 4x4 for every size (28 -> 14 -> 7 -> 4): stopping at 7x7 leaves D too shallow to judge a
    # digit's overall shape, and G then draws smooth strokes in broken arrangements.
    while side > 4:
        stack += downsample_block(filters, dropout, spectral_norm, name=f"down{index}")
        filters, side, index = filters * 2, (side + 1) // 2, index + 1
    if minibatch_std:
        stack.append(MinibatchStdDev(name="minibatch_std"))
    stack.append(layers.Flatten(name="flatten"))
    if minibatch_kernels:
        stack.append(MinibatchDiscrimination(minibatch_kernels, name="minibatch_discrimination"))
    head = layers.Dense(1, activation=None if logits else "sigmoid", name="score")
    stack.append(layers.SpectralNormalization(head, name="score_spectral_norm") if spectral_norm else head)
    return stack


def _functional(inputs, stack, name):
    outputs = inputs
    for layer in stack:
        outputs = layer(outputs)
    return keras.Model(inputs, outputs, name=name)


def build_generator(latent_dim=64, image_size=28, channels=1, width=32, batch_norm=True):
    """Functional generator: z [batch, latent_dim] -> images [batch, size, size, channels] in [-1, 1].

    The input is named `z` so a SavedModel's serving signature takes `z`.
    """
    inputs = keras.Input((latent_dim,), name="z")
    stack = generator_layers(latent_dim, image_size, channels, width, batch_norm)
    return _functional(inputs, stack, "generator")


def build_discriminator(image_size=28, channels=1, width=64, dropout=0.3, logits=False,
                        spectral_norm=False, augment="", seed=None, minibatch_std=False,
                        minibatch_kernels=0):
    """Functional discriminator: images in [-1, 1] -> P(real) (sigmoid) or its logit (`logits=True`).

    Losses work on logits for numerical stability; the sigmoid form is the textbook one used by the
    combined model with `binary_crossentropy`. `augment` puts a DiffAugment layer first;
    `minibatch_std` adds a batch-diversity feature map before the head.
    """
    inputs = keras.Input((image_size, image_size, channels), name="images")
    stack = discriminator_layers(image_size, channels, width, dropout, logits, spectral_norm, augment,
                                 seed, minibatch_std, minibatch_kernels)
    return _functional(inputs, stack, "discriminator")


def build_sequential_generator(latent_dim=64, image_size=28, channels=1, width=32, batch_norm=True):
    """Sequential twin of `build_generator` (same layers, same parameter count)."""
    stack = generator_layers(latent_dim, image_size, channels, width, batch_norm)
    return keras.Sequential([keras.Input((latent_dim,), name="z")] + stack, name="generator")


def build_sequential_discriminator(image_size=28, channels=1, width=64, dropout=0.3, logits=False,
                                   spectral_norm=False, augment="", seed=None, minibatch_std=False,
                        minibatch_kernels=0):
    """Sequential twin of `build_discriminator`."""
    stack = discriminator_layers(image_size, channels, width, dropout, logits, spectral_norm, augment,
                                 seed, minibatch_std, minibatch_kernels)
    return keras.Sequential([keras.Input((image_size, image_size, channels), name="images")] + stack,
                            name="discriminator")
