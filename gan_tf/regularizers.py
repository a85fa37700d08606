"""Regularisers of the discriminator that need its gradients or weights, not just its outputs.

Each returns a per-example penalty (shape [batch]) to add to D's per-example loss, so it is scaled by
the global batch size like the losses, or acts on the weights after D's update (clipping).
"""

from dataclasses import dataclass

import tensorflow as tf
from keras import ops

from gan_tf.errors import UserError


@dataclass(frozen=True)
class Regularization:
    """How D is kept in check beyond its loss; every weight 0 (the default) is off.

    gradient_penalty_weight: lambda of WGAN-GP's gradient penalty (10 in the paper).
    r1_weight: gamma of the R1 penalty on real images.
    clip_value: WGAN's weight clipping of D to [-c, c] after each of its updates.
    r1_interval: lazy R1 (Karras et al. 2020, StyleGAN2): the penalty only on every this many updates
        of D, times this many, so its average pull is unchanged. R1 differentiates D twice: with it on
        every step the stylegan preset trained at 100 images/s on 2 cores, without it at 151; every
        16th step keeps its effect (the preset still passes the digit bar, README).
    """

    gradient_penalty_weight: float = 0.0
    r1_weight: float = 0.0
    clip_value: float = 0.0
    r1_interval: int = 1

    def __post_init__(self):
        for name in ("gradient_penalty_weight", "r1_weight", "clip_value"):
            if getattr(self, name) < 0:
                raise UserError(f"--{name.replace('_', '-')} must be 0 (off) or positive, got {getattr(self, name)}")
        if not isinstance(self.r1_interval, int) or self.r1_interval < 1:
            raise UserError(f"--r1-interval must be a positive integer (1: every step), got {self.r1_interval}")
        if self.r1_interval > 1 and not self.r1_weight:
            raise UserError(f"--r1-interval {self.r1_interval} spaces out the R1 penalty, which is off; give "
                            "--r1-weight too, or leave --r1-interval at 1")


def gradient_penalty(discriminator, real_images, fake_images, epsilon):
    """WGAN-GP (Gulrajani et al. 2017): (||grad_x D(x_hat)||_2 - 1)^2 at x_hat = e x + (1 - e) G(z).

    Enforces the 1-Lipschitz constraint softly along lines between real and fake samples.
    `epsilon`: [batch, 1, 1, 1] uniform in [0, 1]. Multiply by lambda (10 in the paper).
    """
    interpolates = epsilon * real_images + (1.0 - epsilon) * fake_images
    with tf.GradientTape() as tape:
        tape.watch(interpolates)
        scores = discriminator(interpolates, training=True)
    gradients = tape.gradient(scores, interpolates)
    norms = ops.sqrt(ops.sum(ops.square(gradients), axis=(1, 2, 3)) + 1e-12)
    return ops.square(norms - 1.0)


def r1_penalty(discriminator, real_images):
    """R1 (Mescheder et al. 2018): 1/2 ||grad_x D(x)||^2 on real images.

    Keeps D flat on the data manifold, which makes training converge locally; multiply by gamma.
    """
    with tf.GradientTape() as tape:
        tape.watch(real_images)
        scores = discriminator(real_images, training=True)
    gradients = tape.gradient(scores, real_images)
    return 0.5 * ops.sum(ops.square(gradients), axis=(1, 2, 3))


def clip_weights(model, clip_value):
    """WGAN's weight clipping (Arjovsky et al. 2017): every trainable weight into [-c, c]."""
    for weight in model.trainable_weights:
        weight.assign(ops.clip(weight, -clip_value, clip_value))
