"""Image-to-image generators and the PatchGAN discriminator: pix2pix, CycleGAN, super-resolution.

- U-Net generator, pix2pix (Isola et al. 2017, "Image-to-Image Translation with Conditional
  Adversarial Networks"): an encoder-decoder whose skip connections hand every decoder level the
  encoder's features at the same scale, so the low-level structure shared by input and output (edges,
  where the digit is) need not squeeze through the bottleneck.
- ResNet generator, CycleGAN (Zhu et al. 2017, after Johnson et al. 2016): downsample twice, transform
  with residual blocks at a quarter of the resolution, upsample back. No skips across the bottleneck,
  which suits unpaired translation where the output's pixels need not line up with the input's.
- Upscaling generator, SRGAN at small scale (Ledig et al. 2017): residual blocks at the low resolution
  with a global skip, then 2x upsampling stages (7 -> 14 -> 28 for factor 4).
- PatchGAN discriminator (pix2pix): fully convolutional, one logit per overlapping patch, so D judges
  local texture and leaves the global layout to the L1 or cycle loss.

Every model takes and returns images in [-1, 1] (tanh output), and its input is named `image` (the
conditional discriminator also takes `condition`), the keys of a serving signature. Instance norm is
Keras 3's `GroupNormalization(groups=-1)`, one group per channel, so no custom layer is needed and saved
models reload with plain `keras.models.load_model`. Layers are named `<block>_conv`, `<block>_norm`,
`<block>_act`, so name-keyed checkpoints do not depend on what the process built before.
"""

import math

import keras
from keras import layers, ops

from gan_tf.errors import UserError

NORMS = ("instance", "batch", "none")


def _check_norm(norm):
    if norm not in NORMS:
        raise UserError(f"unknown normalization {norm!r}; choose from {', '.join(NORMS)}")


def _normalization(norm, name):
    # Instance norm (Ulyanov et al. 2016) normalises each image on its own, so a translation does not
    # depend on what else is in the batch; pix2pix's batch norm at batch size 1 is the same thing.
    if norm == "instance":
        return layers.GroupNormalization(groups=-1, epsilon=1e-5, name=name)
    if norm == "batch":
        return layers.BatchNormalization(name=name)
    return None


@keras.saving.register_keras_serializable(package="gan_tf")
def leaky_relu(x):
    """max(x, 0.2 x), pix2pix's LeakyReLU slope, without TF's LeakyRelu op.

    Grappler's remapper fuses a conv's bias add into LeakyRelu and then fails on its gradient, printing
    an error line at every trace and skipping its other fusions (TF 2.21; `gan_tf.models.style` has the
    same workaround). Registered, so an `Activation` layer that uses it saves and reloads.
    """
    return ops.maximum(x, 0.2 * x)


@keras.saving.register_keras_serializable(package="gan_tf")
def clip_to_image_range(x):
    """x clipped to [-1, 1], the images' range: an upscaler's bicubic image plus its learned detail."""
    return ops.clip(x, -1.0, 1.0)


def _activation(kind, name):
    if kind == "leaky_relu":
        return layers.Activation(leaky_relu, name=name)
    if kind == "prelu":  # SRGAN's: one learned negative slope per channel
        return layers.PReLU(shared_axes=[1, 2], name=name)
    return layers.Activation(kind, name=name)


def conv_block(x, filters, kernel_size, name, strides=1, norm="none", activation="relu", transpose=False,
               dropout=0.0, kernel_initializer="glorot_uniform"):
    """Conv (or Conv2DTranspose) -> norm -> dropout -> activation, pix2pix's Ck / CDk blocks.

    The conv has no bias when a norm follows: the norm's own offset would cancel it.
    """
    conv = layers.Conv2DTranspose if transpose else layers.Conv2D
    x = conv(filters, kernel_size, strides=strides, padding="same", use_bias=norm == "none",
             kernel_initializer=kernel_initializer, name=f"{name}_conv")(x)
    normalization = _normalization(norm, f"{name}_norm")
    if normalization is not None:
        x = normalization(x)
    if dropout:
        x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    if activation:
        x = _activation(activation, f"{name}_act")(x)
    return x


def residual_block(x, name, norm="instance", activation="relu"):
    """x + (conv3x3 -> norm -> act -> conv3x3 -> norm)(x): learns a change to x, not x itself.

    No activation after the sum, as in CycleGAN's and SRGAN's blocks.
    """
    filters = x.shape[-1]
    residual = conv_block(x, filters, 3, f"{name}_a", norm=norm, activation=activation)
    residual = conv_block(residual, filters, 3, f"{name}_b", norm=norm, activation=None)
    return layers.Add(name=f"{name}_add")([x, residual])


def unet_depth(image_size, depth=None):
    """Encoder levels of a U-Net on `image_size` images; checks that every level halves evenly.

    The default stops at a 2x2 bottleneck (log2(size) - 1 levels): the paper goes down to 1x1 at 256px,
    but at 16-32px one more level adds the widest layers for one pixel of context.
    """
    if depth is None:
        if image_size < 2 or image_size & (image_size - 1):
            raise UserError(f"U-Net image size {image_size} is not a power of two; pad the images to one "
                            f"(28x28 digits to 32) or pass depth=d with the size divisible by 2**d")
        depth = max(1, int(math.log2(image_size)) - 1)
    if depth < 1 or image_size % 2 ** depth:
        raise UserError(f"U-Net depth {depth} needs an image size divisible by {2 ** max(depth, 0)}, not "
                        f"{image_size}; pad the images (28x28 digits to 32) or choose a smaller depth")
    return depth


def build_unet_generator(image_size=32, in_channels=1, out_channels=3, width=32, depth=None, dropout=0.5,
                         norm="instance", name="unet_generator"):
    """pix2pix's U-Net: image [batch, size, size, in_channels] -> image [..., out_channels] in [-1, 1].

    Encoder: `depth` 4x4 stride-2 convs with LeakyReLU 0.2, widths doubling from `width` up to
    8 * width; no norm on the first level (it would normalise away the input's colours) nor on the
    innermost (instance norm of a 1x1 map is zero). Decoder: 4x4 stride-2 transposed convs with ReLU,
    each concatenated with the encoder's output at its scale, then a transposed conv to
    `out_channels` and tanh. Dropout `dropout` sits in the innermost half of the decoder blocks (at
    most 3, the paper's 3 of 7); pix2pix keeps it on at test time as its only noise source, which
    here means calling the model with `training=True`.

    Raises:
        UserError: `norm` unknown, or `image_size` not divisible by 2**depth (default depth: size a
            power of two).
    """
    _check_norm(norm)
    depth = unet_depth(image_size, depth)
    widths = [min(width * 2 ** level, 8 * width) for level in range(depth)]
    image = keras.Input((image_size, image_size, in_channels), name="image")
    x, skips = image, []
    for level, filters in enumerate(widths, start=1):
        level_norm = "none" if level in (1, depth) else norm
        x = conv_block(x, filters, 4, f"down{level}", strides=2, norm=level_norm, activation="leaky_relu")
        skips.append(x)
    dropout_levels = min(3, depth // 2)  # of the depth - 1 decoder blocks, the innermost half
    for level in range(depth - 1, 0, -1):
        level_dropout = dropout if level >= depth - dropout_levels else 0.0
        x = conv_block(x, widths[level - 1], 4, f"up{level}", strides=2, norm=norm, transpose=True,
                       dropout=level_dropout)
        x = layers.Concatenate(name=f"up{level}_skip")([x, skips[level - 1]])
    x = layers.Conv2DTranspose(out_channels, 4, strides=2, padding="same", name="to_image_conv")(x)
    output = layers.Activation("tanh", name="to_image")(x)
    return keras.Model(image, output, name=name)


def _check_halvings(image_size, halvings, what):
    if halvings < 0 or image_size % 2 ** halvings:
        raise UserError(f"{what} {halvings} needs an image size divisible by {2 ** max(halvings, 0)}, not "
                        f"{image_size}; pad the images (28x28 digits to 32) or choose fewer")


def build_resnet_generator(image_size=32, in_channels=1, out_channels=3, width=32, residual_blocks=6,
                           downsamplings=2, norm="instance", name="resnet_generator"):
    """CycleGAN's ResNet generator: image [batch, size, size, in_channels] -> [..., out_channels] in [-1, 1].

    c7s1-w, `downsamplings` 3x3 stride-2 convs (widths doubling), `residual_blocks` residual blocks,
    as many 3x3 stride-2 transposed convs back, c7s1-out_channels with tanh; norm and ReLU after every
    conv but the last. CycleGAN uses 6 blocks at 128px and 9 at 256px. Its reflection padding is
    replaced by "same" (zero) padding, which Keras has built in; at 16-32px the zero border can show
    as darker edges early in training.

    Raises:
        UserError: `norm` unknown, or `image_size` not divisible by 2**downsamplings.
    """
    _check_norm(norm)
    _check_halvings(image_size, downsamplings, "downsamplings")
    image = keras.Input((image_size, image_size, in_channels), name="image")
    x = conv_block(image, width, 7, "stem", norm=norm)
    for level in range(1, downsamplings + 1):
        x = conv_block(x, width * 2 ** level, 3, f"down{level}", strides=2, norm=norm)
    for index in range(1, residual_blocks + 1):
        x = residual_block(x, f"residual{index}", norm=norm)
    for level in range(downsamplings, 0, -1):
        x = conv_block(x, width * 2 ** (level - 1), 3, f"up{level}", strides=2, norm=norm, transpose=True)
    output = conv_block(x, out_channels, 7, "to_image", activation="tanh")
    return keras.Model(image, output, name=name)


def build_upscaling_generator(low_size=7, factor=4, in_channels=1, out_channels=1, width=32, residual_blocks=4,
                              norm="batch", bicubic_skip=None, name="upscaling_generator"):
    """SRGAN's generator, small: image [batch, low_size, low_size, in_channels] -> [batch, low_size * factor,
    low_size * factor, out_channels] in [-1, 1].

    9x9 conv + PReLU; residual blocks (conv-norm-PReLU-conv-norm) and a conv-norm, all added back to
    the first conv's output (the global skip: the blocks learn only the detail to add); log2(factor)
    stages of 2x upsampling; 9x9 conv + tanh. SRGAN upsamples with sub-pixel convolution (Shi et al.
    2016); nearest-neighbour upsampling followed by a 3x3 conv is the same family, needs no custom
    layer and avoids checkerboard artefacts (Odena et al. 2016). ESRGAN (Wang et al. 2018) drops the
    batch norm: `norm="none"`.

    With `bicubic_skip` (the default when input and output have the same channels) G's last layer
    learns only what to add to the bicubic upscaling of its input: the global residual learning of
    VDSR (Kim et al. 2016). That layer is linear and starts at zero, so an untrained G is bicubic
    upscaling exactly, and its sum is clipped to [-1, 1] (a tanh on the detail would cap a change at
    less than 1, too little to turn background into stroke). Without the skip, G must first learn to
    copy the image: on 315 photograph tiles it was still 10 dB below bicubic after 270 steps.

    Raises:
        UserError: `norm` unknown, `factor` not a power of two of at least 2, or `bicubic_skip` asked
            for with different input and output channels.
    """
    _check_norm(norm)
    if factor < 2 or factor & (factor - 1):
        raise UserError(f"upscaling factor {factor} is not a power of two; use 2, 4 or 8")
    if bicubic_skip is None:
        bicubic_skip = in_channels == out_channels
    if bicubic_skip and in_channels != out_channels:
        raise UserError(f"a bicubic skip adds G's output to its {in_channels}-channel input upscaled; "
                        f"the output has {out_channels} channels")
    image = keras.Input((low_size, low_size, in_channels), name="image")
    stem = conv_block(image, width, 9, "stem", activation="prelu")
    x = stem
    for index in range(1, residual_blocks + 1):
        x = residual_block(x, f"residual{index}", norm=norm, activation="prelu")
    x = conv_block(x, width, 3, "trunk", norm=norm, activation=None)
    x = layers.Add(name="global_skip")([stem, x])
    for stage in range(1, int(math.log2(factor)) + 1):
        x = layers.UpSampling2D(2, interpolation="nearest", name=f"up{stage}_resize")(x)
        x = conv_block(x, width, 3, f"up{stage}", activation="prelu")
    if not bicubic_skip:
        return keras.Model(image, conv_block(x, out_channels, 9, "to_image", activation="tanh"), name=name)
    detail = conv_block(x, out_channels, 9, "to_image", activation=None, kernel_initializer="zeros")
    side = low_size * factor
    upscaled = layers.Resizing(side, side, interpolation="bicubic", name="bicubic")(image)
    output = layers.Add(name="bicubic_plus_detail")([upscaled, detail])
    return keras.Model(image, layers.Activation(clip_to_image_range, name="clip")(output), name=name)


def patch_receptive_field(layers=3):
    """Side in pixels of the input patch that one logit of `build_patch_discriminator` sees (norm "none").

    Each 4x4 conv of stride s widens the field r to s * r + 4 - s; layers=3 gives the paper's 70x70.
    Instance norm also lets every logit see the whole image weakly, through the statistics.
    """
    field = 1 + 3 + 3  # the two stride-1 convs at the top
    for _ in range(layers):
        field = 2 * field + 2
    return field


def build_patch_discriminator(image_size=32, channels=3, condition_channels=0, width=32, layers=3,
                              norm="instance", name="patch_discriminator"):
    """PatchGAN: image [batch, size, size, channels] -> logits [batch, size / 2**layers, same, 1].

    pix2pix's D: `layers` 4x4 stride-2 convs (no norm on the first), a 4x4 stride-1 conv, all with
    LeakyReLU 0.2 and widths doubling from `width` up to 8 * width, then a 4x4 conv to one channel with
    no activation. Each output is the logit of one patch of `patch_receptive_field(layers)` pixels
    (70 for layers=3, which at 32px is the whole image: layers=1 gives 16x16 patches). Every loss in
    `gan_tf.losses` takes these logits as they are and averages over the patches.

    With `condition_channels` > 0 (pix2pix) D takes [image, condition], inputs named `image` and
    `condition`, and judges the pair: the condition is concatenated in front of the image's channels.

    Raises:
        UserError: `norm` unknown or `layers` < 1.
    """
    _check_norm(norm)
    if layers < 1:
        raise UserError(f"a patch discriminator needs at least 1 strided layer, not {layers}")
    image = keras.Input((image_size, image_size, channels), name="image")
    inputs, x = image, image
    if condition_channels:
        condition = keras.Input((image_size, image_size, condition_channels), name="condition")
        inputs = [image, condition]
        x = keras.layers.Concatenate(name="condition_and_image")([condition, image])
    for level in range(1, layers + 1):
        x = conv_block(x, min(width * 2 ** (level - 1), 8 * width), 4, f"down{level}", strides=2,
                       norm="none" if level == 1 else norm, activation="leaky_relu")
    x = conv_block(x, min(width * 2 ** layers, 8 * width), 4, "features", norm=norm, activation="leaky_relu")
    logits = keras.layers.Conv2D(1, 4, padding="same", name="patch_logits")(x)
    return keras.Model(inputs, logits, name=name)
