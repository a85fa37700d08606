"""Paired generator / discriminator losses, as functions of the discriminator's logits.

Each variant is a pair `<variant>_generator_loss(fake_logits)` and
`<variant>_discriminator_loss(real_logits, fake_logits, label_smoothing)`, returning one loss per
example (shape [batch]) so that a distributed step can divide by the *global* batch size. Logits may
have any shape whose first axis is the batch: [batch], [batch, 1], or a PatchGAN's [batch, h, w, 1];
each example's loss is the mean of its per-logit losses, so a patch discriminator judges every patch.
The reconstruction losses of image-to-image translation (`l1_loss`, `cycle_consistency_loss`,
`identity_loss`) compare two images of the same shape, also one value per example.
Written with `keras.ops` only. Goodfellow et al. 2014, "Generative Adversarial Nets".
"""

from keras import ops

from gan_tf.errors import UserError


def _softplus(x):
    # log(1 + e^x), the stable form of -log(sigmoid(-x)).
    return ops.softplus(x)


def _per_logit(x):
    # [batch, ...] -> [batch, logits per example]: a column of one for [batch] and [batch, 1].
    return ops.reshape(x, (ops.shape(x)[0], -1))


def _per_example(per_logit_loss):
    # The mean over every axis but the batch.
    return ops.mean(per_logit_loss, axis=1)


def minimax_discriminator_loss(real_logits, fake_logits, label_smoothing=0.0):
    """-[(1-s) log D(x) + s log(1 - D(x))] - log(1 - D(G(z))), with one-sided label smoothing s.

    Salimans et al. 2016 smooth only the real labels (1 -> 1-s): smoothing the fake ones would reward G
    for samples D already rejects.
    """
    real_logits, fake_logits = _per_logit(real_logits), _per_logit(fake_logits)
    real_term = (1.0 - label_smoothing) * _softplus(-real_logits) + label_smoothing * _softplus(real_logits)
    return _per_example(real_term) + _per_example(_softplus(fake_logits))


def minimax_generator_loss(fake_logits):
    """log(1 - D(G(z))), the original zero-sum objective.

    Its gradient vanishes when D confidently rejects the samples, which is exactly early in training;
    kept to show why the non-saturating form exists.
    """
    return -_per_example(_softplus(_per_logit(fake_logits)))


def non_saturating_discriminator_loss(real_logits, fake_logits, label_smoothing=0.0):
    """Same as the minimax discriminator loss: only G's objective differs."""
    return minimax_discriminator_loss(real_logits, fake_logits, label_smoothing)


def non_saturating_generator_loss(fake_logits):
    """-log D(G(z)): same fixed point as minimax, but strong gradients while D wins."""
    return _per_example(_softplus(-_per_logit(fake_logits)))


def least_squares_discriminator_loss(real_logits, fake_logits, label_smoothing=0.0):
    """LSGAN (Mao et al. 2017): 1/2 (D(x) - (1-s))^2 + 1/2 D(G(z))^2 on the raw outputs.

    Penalises samples by their distance from the decision boundary, not just their side of it, so G
    keeps getting gradients for samples D already accepts.
    """
    real_logits, fake_logits = _per_logit(real_logits), _per_logit(fake_logits)
    return (_per_example(0.5 * ops.square(real_logits - (1.0 - label_smoothing)))
            + _per_example(0.5 * ops.square(fake_logits)))


def least_squares_generator_loss(fake_logits):
    """1/2 (D(G(z)) - 1)^2."""
    return _per_example(0.5 * ops.square(_per_logit(fake_logits) - 1.0))


def wasserstein_discriminator_loss(real_logits, fake_logits, label_smoothing=0.0):
    """WGAN critic (Arjovsky et al. 2017): D(G(z)) - D(x), an estimate of -W1 when D is 1-Lipschitz.

    Needs a Lipschitz constraint: weight clipping (WGAN) or a gradient penalty (WGAN-GP, Gulrajani et
    al. 2017), see `gan_tf.regularizers`. Label smoothing has no meaning here and is ignored.
    """
    return _per_example(_per_logit(fake_logits)) - _per_example(_per_logit(real_logits))


def wasserstein_generator_loss(fake_logits):
    """-D(G(z))."""
    return -_per_example(_per_logit(fake_logits))


def hinge_discriminator_loss(real_logits, fake_logits, label_smoothing=0.0):
    """Hinge (Lim & Ye 2017; Miyato et al. 2018, with spectral norm): relu(1 - D(x)) + relu(1 + D(G(z))).

    Label smoothing moves the real margin to 1 - s.
    """
    return (_per_example(ops.relu(1.0 - label_smoothing - _per_logit(real_logits)))
            + _per_example(ops.relu(1.0 + _per_logit(fake_logits))))


def hinge_generator_loss(fake_logits):
    """-D(G(z)), as for WGAN."""
    return -_per_example(_per_logit(fake_logits))


def _check_same_shape(target, output):
    # A [b, h, w, 1] target against a [b, h, w, 3] output would broadcast and compare the wrong pixels.
    target_shape, output_shape = tuple(target.shape), tuple(output.shape)
    if len(target_shape) != len(output_shape) or any(
            a is not None and b is not None and a != b for a, b in zip(target_shape, output_shape)):
        raise ValueError(f"target shape {target_shape} differs from output shape {output_shape}")


def l1_loss(target, output):
    """Mean absolute error over each example's pixels, one value per example (shape [batch]).

    pix2pix (Isola et al. 2017) adds lambda * L1(target, G(x)) to G's adversarial loss (lambda = 100):
    L1 gets the low frequencies right and, unlike L2, blurs less, leaving D the high frequencies.
    """
    _check_same_shape(target, output)
    output = ops.convert_to_tensor(output)
    target = ops.cast(target, output.dtype)
    return _per_example(ops.abs(_per_logit(output - target)))


def cycle_consistency_loss(real, cycled):
    """L1(x, F(G(x))), CycleGAN's cycle loss (Zhu et al. 2017; weight lambda = 10 per direction).

    Unpaired data leave G free to map every input to any one realistic image; asking that the way back
    recovers the input makes the mapping keep the input's content.
    """
    return l1_loss(real, cycled)


def identity_loss(real, same):
    """L1(y, G(y)): G shown an image already in its target domain should return it unchanged.

    CycleGAN (weight 0.5 * lambda) uses it to keep colours: without it G may tint the output freely.
    """
    return l1_loss(real, same)


LOSSES = {
    "non-saturating": (non_saturating_generator_loss, non_saturating_discriminator_loss),
    "minimax": (minimax_generator_loss, minimax_discriminator_loss),
    "least-squares": (least_squares_generator_loss, least_squares_discriminator_loss),
    "wasserstein": (wasserstein_generator_loss, wasserstein_discriminator_loss),
    "hinge": (hinge_generator_loss, hinge_discriminator_loss),
}


def get_losses(name):
    """(generator_loss, discriminator_loss) for a variant name."""
    if name not in LOSSES:
        raise UserError(f"unknown loss {name!r}; choose from {', '.join(LOSSES)}")
    return LOSSES[name]
