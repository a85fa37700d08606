"""Progressive growing (ProGAN) and style-based generators (StyleGAN), as Keras layers and builders.

Karras et al. 2018 ("Progressive Growing of GANs") and 2019 ("A Style-Based Generator Architecture"),
with StyleGAN2's weight demodulation (Karras et al. 2020) as an option.

Growing is a number, not a rebuilt model. Every resolution's blocks exist from the start; a `Progress`
layer holds one non-trainable scalar p in [0, levels - 1] (set by `gan_tf.callbacks.GrowthSchedule`
from the images seen), and `FadeIn` layers blend each level's new path into the old by
clip(p - offset, 0, 1). G always outputs full-size images (coarse levels upsampled), and D looks at
any image through `LevelOfDetail`, which shows it only the detail G is drawing at p. So shapes never
change: the train function is traced once, runs under tf.distribute and XLA, and a checkpoint taken
mid-fade resumes mid-fade (p is a weight). The price is that early levels cost as much compute as the
last; at the small sizes gan-tf trains that is a small price for one graph.

Levels: level k draws 4 * 2**k pixels; a 32x32 model has levels 4, 8, 16, 32 and (StyleGAN) two style
layers per level, 8 in all. Everything here is serialisable and registered, so saved models reload
with plain `keras.models.load_model`.
"""

import math

import keras
from keras import layers, ops

from gan_tf.errors import UserError
from gan_tf.models.layers import DiffAugment, MinibatchDiscrimination, MinibatchStdDev

RESAMPLE_MODES = ("nearest", "bilinear")
STYLE_MODES = ("adain", "demodulation")
STYLE_MIX_LAYER = "style_mix"  # gan_tf.conditioning reads the number of style layers from it
MAPPING_MODEL, SYNTHESIS_MODEL, TRUNCATION_LAYER, PROGRESS_LAYER = "mapping", "synthesis", "truncate_w", "progress"
_SQRT2 = math.sqrt(2.0)


def _register(cls):
    return keras.saving.register_keras_serializable(package="gan_tf")(cls)


def _leaky_relu(x):
    # max(x, 0.2 x) rather than TF's LeakyRelu op: grappler's remapper fuses a bias add into LeakyRelu
    # and then fails on its gradient, printing an error line at every run (TF 2.21).
    return ops.maximum(x, 0.2 * x)


def _activate(x, activation):
    return _leaky_relu(x) if activation == "leaky_relu" else x


# Equalised learning rate -------------------------------------------------------------------------

@_register
class EqualizedDense(layers.Layer):
    """Dense with an equalised learning rate (Karras et al. 2018).

    Weights are drawn from N(0, 1) and scaled by He's constant gain / sqrt(fan_in) at every call, so
    Adam's per-weight step sizes move every layer at the same relative speed. `lr_multiplier` scales
    both the stored weights' effect and their updates (StyleGAN's mapping network uses 0.01).
    """

    def __init__(self, units, gain=_SQRT2, lr_multiplier=1.0, bias_initializer=0.0, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units, self.gain, self.lr_multiplier = units, gain, lr_multiplier
        self.bias_initializer, self.activation = bias_initializer, activation

    def build(self, input_shape):
        fan_in = int(input_shape[-1])
        self.scale = self.gain / math.sqrt(fan_in) * self.lr_multiplier
        self.kernel = self.add_weight(name="kernel", shape=(fan_in, self.units), dtype=self.variable_dtype,
                                      initializer=keras.initializers.RandomNormal(0.0, 1.0 / self.lr_multiplier))
        self.bias = self.add_weight(name="bias", shape=(self.units,), dtype=self.variable_dtype,
                                    initializer=keras.initializers.Constant(self.bias_initializer / self.lr_multiplier))

    def call(self, inputs):
        outputs = ops.matmul(inputs, self.kernel * self.scale) + self.bias * self.lr_multiplier
        return _activate(outputs, self.activation)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "gain": self.gain, "lr_multiplier": self.lr_multiplier,
                "bias_initializer": self.bias_initializer, "activation": self.activation}


@_register
class EqualizedConv2D(layers.Layer):
    """Conv2D ("same" padding, stride 1) with an equalised learning rate; see `EqualizedDense`."""

    def __init__(self, filters, kernel_size=3, gain=_SQRT2, use_bias=True, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.gain = filters, kernel_size, gain
        self.use_bias, self.activation = use_bias, activation

    def build(self, input_shape):
        fan_in = int(input_shape[-1]) * self.kernel_size ** 2
        self.scale = self.gain / math.sqrt(fan_in)
        self.kernel = self.add_weight(name="kernel", initializer=keras.initializers.RandomNormal(0.0, 1.0),
                                      shape=(self.kernel_size, self.kernel_size, int(input_shape[-1]), self.filters))
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

    def call(self, inputs):
        outputs = ops.conv(inputs, self.kernel * self.scale, padding="same")
        if self.use_bias:
            outputs = outputs + self.bias
        return _activate(outputs, self.activation)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "gain": self.gain, "use_bias": self.use_bias, "activation": self.activation}


@_register
class PixelNorm(layers.Layer):
    """Scales each pixel's feature vector to unit average square (Karras et al. 2018): keeps G's
    activations from escalating without BatchNorm's coupling of the samples in a batch."""

    def __init__(self, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def call(self, inputs):
        return inputs * ops.rsqrt(ops.mean(ops.square(inputs), axis=-1, keepdims=True) + self.epsilon)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


# Resampling -------------------------------------------------------------------------------------

def _upsample_nearest(images):
    return ops.repeat(ops.repeat(images, 2, axis=1), 2, axis=2)


def _downsample_box(images):
    return ops.average_pool(images, 2, strides=2, padding="valid")


@_register
class Upsample(layers.Layer):
    """Doubles the side: "nearest" (ProGAN) or "bilinear" (StyleGAN's tuning, config B)."""

    def __init__(self, mode="nearest", **kwargs):
        super().__init__(**kwargs)
        if mode not in RESAMPLE_MODES:
            raise UserError(f"--resample must be one of {', '.join(RESAMPLE_MODES)}, got {mode!r}")
        self.mode = mode

    def call(self, inputs):
        if self.mode == "nearest":
            return _upsample_nearest(inputs)
        side = inputs.shape[1]
        return ops.image.resize(inputs, (2 * side, 2 * side), interpolation="bilinear")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2 * input_shape[1], 2 * input_shape[2], input_shape[3])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@_register
class Downsample(layers.Layer):
    """Halves the side: "nearest" mode averages 2x2 blocks (ProGAN); "bilinear" low-passes with the
    [1, 3, 3, 1] binomial filter first (StyleGAN), which aliases less."""

    def __init__(self, mode="nearest", **kwargs):
        super().__init__(**kwargs)
        if mode not in RESAMPLE_MODES:
            raise UserError(f"--resample must be one of {', '.join(RESAMPLE_MODES)}, got {mode!r}")
        self.mode = mode

    def build(self, input_shape):
        taps = ops.convert_to_tensor([1.0, 3.0, 3.0, 1.0])
        kernel = ops.outer(taps, taps) / 64.0
        self.filter = ops.tile(ops.reshape(kernel, (4, 4, 1, 1)), (1, 1, int(input_shape[-1]), 1))

    def call(self, inputs):
        if self.mode == "nearest":
            return _downsample_box(inputs)
        return ops.depthwise_conv(inputs, ops.cast(self.filter, inputs.dtype), strides=2, padding="same")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1] // 2, input_shape[2] // 2, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


# Growing ----------------------------------------------------------------------------------------

@_register
class Progress(layers.Layer):
    """Holds the growth progress p (one non-trainable scalar) and outputs it as a [batch, 1] tensor.

    p = k means levels 0..k are fully on; p = k + a fades level k + 1 in with weight a. The builders
    start it at the last level (a model used without growing draws full-size images);
    `gan_tf.callbacks.GrowthSchedule` sets it while training, or `set_progress(model, p)`. Being a
    weight, it is saved with every checkpoint.
    """

    def __init__(self, initial=0.0, **kwargs):
        super().__init__(**kwargs)
        self.initial = initial

    def build(self, input_shape):
        self.progress = self.add_weight(name="progress", shape=(), trainable=False,
                                        initializer=keras.initializers.Constant(self.initial),
                                        aggregation="only_first_replica")

    def call(self, reference):
        return ops.zeros_like(ops.reshape(reference, (ops.shape(reference)[0], -1))[:, :1]) + self.progress

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self):
        return {**super().get_config(), "initial": self.initial}


def _fade(old, new, progress, offset):
    """old + (new - old) * clip(progress - offset, 0, 1), progress [batch, 1]: the one blend of growing."""
    alpha = ops.clip(progress - offset, 0.0, 1.0)
    alpha = ops.reshape(ops.cast(alpha, old.dtype), (-1,) + (1,) * (len(old.shape) - 1))
    return old + (new - old) * alpha


@_register
class FadeIn(layers.Layer):
    """[old, new, progress] -> old + (new - old) * clip(progress - offset, 0, 1).

    A level k fades in while p goes from k - 1 to k (offset k - 1), in G and in D alike.
    """

    def __init__(self, offset, **kwargs):
        super().__init__(**kwargs)
        self.offset = offset

    def call(self, inputs):
        old, new, progress = inputs
        return _fade(old, new, progress, self.offset)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "offset": self.offset}


@_register
class LevelOfDetail(layers.Layer):
    """[images, progress] -> the images as G at progress p could draw them (D's first layer).

    The image is box-downsampled to every level and recomposed exactly as G composes its levels, so
    real and fake images reach D with the same detail: at an integer p, a fake is unchanged and a real
    loses only what G cannot draw yet; during a fade both blend the same way (ProGAN fades the reals
    in its data pipeline; as a layer it is traced with the step and works for any data source).
    """

    def __init__(self, levels, **kwargs):
        super().__init__(**kwargs)
        self.levels = levels

    def call(self, inputs):
        images, progress = inputs
        pyramid = [images]
        for _ in range(self.levels - 1):
            pyramid.append(_downsample_box(pyramid[-1]))
        image = pyramid[-1]
        for level, own in enumerate(reversed(pyramid[:-1]), start=1):
            image = _fade(_upsample_nearest(image), own, progress, level - 1)  # as G's FadeIn(level - 1)
        return image

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "levels": self.levels}


# Styles -----------------------------------------------------------------------------------------

@_register
class Truncation(layers.Layer):
    """[w, psi] -> w_avg + psi * (w - w_avg): the truncation trick around a tracked average of w.

    While training, w_avg follows the batch mean of w with `decay` (StyleGAN's 0.995); psi is 1 then.
    At sampling time psi < 1 trades variety for typical, cleaner images; psi = 0 gives w_avg for every z.
    """

    def __init__(self, decay=0.995, **kwargs):
        super().__init__(**kwargs)
        self.decay = decay

    def build(self, input_shape):
        self.w_avg = self.add_weight(name="w_avg", shape=(int(input_shape[0][-1]),), initializer="zeros",
                                     trainable=False, aggregation="mean")

    def call(self, inputs, training=None):
        w, psi = inputs
        if training:
            batch_mean = ops.mean(ops.cast(w, "float32"), axis=0)
            self.w_avg.assign(batch_mean + (self.w_avg - batch_mean) * self.decay)
        average = ops.cast(self.w_avg, w.dtype)
        return average + (w - average) * ops.reshape(ops.cast(psi, w.dtype), (-1, 1))

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "decay": self.decay}


@_register
class StyleMix(layers.Layer):
    """[w1, w2, crossover] -> w+ [batch, num_styles, w_dim]: style layers before `crossover` take w1,
    the rest w2 (crossover = num_styles: no mixing). Mixing regularisation draws the crossover."""

    def __init__(self, num_styles, **kwargs):
        super().__init__(**kwargs)
        self.num_styles = num_styles

    def call(self, inputs):
        w1, w2, crossover = inputs
        layer = ops.reshape(ops.arange(self.num_styles, dtype="int32"), (1, -1, 1))
        first = ops.less(layer, ops.reshape(ops.cast(crossover, "int32"), (-1, 1, 1)))
        return ops.where(first, ops.expand_dims(w1, 1), ops.expand_dims(w2, 1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.num_styles, input_shape[0][-1])

    def get_config(self):
        return {**super().get_config(), "num_styles": self.num_styles}


@_register
class AdaIN(layers.Layer):
    """[x, w] -> instance-normalised x, scaled and shifted per channel by an affine map of w
    (StyleGAN's adaptive instance normalisation; scales start at 1, shifts at 0). epsilon 1e-5, not
    StyleGAN's 1e-8: a nearly flat channel (a 4x4 map early in training) is not blown up 10,000-fold."""

    def __init__(self, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        channels = int(input_shape[0][-1])
        self.scale = EqualizedDense(channels, gain=1.0, bias_initializer=1.0, name="scale")
        self.shift = EqualizedDense(channels, gain=1.0, name="shift")
        self.scale.build(input_shape[1])
        self.shift.build(input_shape[1])

    def call(self, inputs):
        x, w = inputs
        mean = ops.mean(x, axis=(1, 2), keepdims=True)
        x = (x - mean) * ops.rsqrt(ops.mean(ops.square(x - mean), axis=(1, 2), keepdims=True) + self.epsilon)
        return x * self.scale(w)[:, None, None, :] + self.shift(w)[:, None, None, :]

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@_register
class ModulatedConv2D(layers.Layer):
    """[x, w] -> conv of x with weights modulated per sample by a style from w (StyleGAN2).

    Computed without grouped convolutions: scaling the input channels by the style s, convolving with
    the shared weights and (with `demodulate`) scaling each output channel by
    1 / sqrt(sum_{i,k} (W_ik,o s_i)^2) is the same as convolving with the modulated, demodulated
    weights, and it is a plain conv for any batch size. `upsample` resamples x first ("nearest" or
    "bilinear"); no bias (the block adds it after the noise).
    """

    def __init__(self, filters, kernel_size=3, demodulate=True, upsample=None, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.demodulate, self.upsample = filters, kernel_size, demodulate, upsample

    def build(self, input_shape):
        x_shape, w_shape = input_shape
        channels = int(x_shape[-1])
        self.style = EqualizedDense(channels, gain=1.0, bias_initializer=1.0, name="style")
        self.style.build(w_shape)
        self.scale = 1.0 / math.sqrt(channels * self.kernel_size ** 2)
        self.kernel = self.add_weight(name="kernel", initializer=keras.initializers.RandomNormal(0.0, 1.0),
                                      shape=(self.kernel_size, self.kernel_size, channels, self.filters))
        self.resample = Upsample(self.upsample, name="upsample") if self.upsample else None

    def call(self, inputs):
        x, w = inputs
        style = self.style(w)  # [batch, in]
        x = x * style[:, None, None, :]
        if self.resample is not None:
            x = self.resample(x)
        kernel = self.kernel * self.scale
        x = ops.conv(x, kernel, padding="same")
        if self.demodulate:
            # sum over (kh, kw, in) of (W * s)^2 = s^2 @ sum_{kh,kw} W^2  -> [batch, out]
            energy = ops.matmul(ops.square(style), ops.sum(ops.square(kernel), axis=(0, 1)))
            x = x * ops.rsqrt(energy + 1e-8)[:, None, None, :]
        return x

    def compute_output_shape(self, input_shape):
        x_shape = input_shape[0]
        factor = 2 if self.upsample else 1
        side = None if x_shape[1] is None else x_shape[1] * factor
        return (x_shape[0], side, side, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "demodulate": self.demodulate, "upsample": self.upsample}


@_register
class NoiseInjection(layers.Layer):
    """Adds per-pixel Gaussian noise times a learned per-channel scale (starting at 0): StyleGAN's
    source of stochastic detail. Fresh noise on every call, in training and sampling alike, as in
    the paper; with the scales at 0 the layer is the identity."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        self.strength = self.add_weight(name="strength", shape=(int(input_shape[-1]),), initializer="zeros")

    def call(self, inputs):
        shape = ops.shape(inputs)
        noise = keras.random.normal((shape[0], shape[1], shape[2], 1), seed=self.seed_generator, dtype=inputs.dtype)
        return inputs + noise * self.strength

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@_register
class LearnedConstant(layers.Layer):
    """StyleGAN's synthesis input: a learned 4x4xC tensor, the same for every sample; everything that
    varies comes in through the styles and the noise. Initialised from N(0, 1) as in StyleGAN2: a
    constant of ones (StyleGAN) has no spatial variance, so the instance norm after it starts by
    dividing by sqrt(epsilon) and its gradients explode."""

    def __init__(self, channels, size=4, **kwargs):
        super().__init__(**kwargs)
        self.channels, self.size = channels, size

    def build(self, input_shape):
        self.constant = self.add_weight(name="constant", shape=(self.size, self.size, self.channels),
                                        initializer=keras.initializers.RandomNormal(0.0, 1.0))

    def call(self, reference):
        batch = ops.shape(reference)[0]
        return ops.broadcast_to(self.constant[None], (batch, self.size, self.size, self.channels))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, self.channels)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "size": self.size}


@_register
class BiasActivation(layers.Layer):
    """A learned per-channel bias, then leaky ReLU (0.2): added after the noise, as in StyleGAN."""

    def build(self, input_shape):
        self.bias = self.add_weight(name="bias", shape=(int(input_shape[-1]),), initializer="zeros")

    def call(self, inputs):
        return _leaky_relu(inputs + self.bias)


# Builders ---------------------------------------------------------------------------------------

def levels_of(image_size):
    """Number of levels (4x4 upwards) of a progressive model of side `image_size` (a power of 2, >= 8)."""
    levels = int(round(math.log2(image_size))) - 1
    if image_size < 8 or 4 * 2 ** (levels - 1) != image_size:
        raise UserError(f"progressive and style-based models draw power-of-two sides of at least 8, not "
                        f"{image_size}: use --image-size 32 (digits are padded) or 64")
    return levels


def level_widths(image_size, width, max_width):
    """Channels per level, coarse to fine: `width` at full size, doubling per halving, capped."""
    levels = levels_of(image_size)
    return [min(max_width, width * 2 ** (levels - 1 - level)) for level in range(levels)]


def num_styles_of(image_size):
    """Style layers of a style-based generator: two per level."""
    return 2 * levels_of(image_size)


def _style_layer(x, w, filters, name, style_mode, noise, upsample, seed):
    """One synthesis layer: [upsample] conv -> [noise] -> bias, leaky ReLU -> style (or pixel norm)."""
    if style_mode == "demodulation":
        x = ModulatedConv2D(filters, 3, upsample=upsample, name=f"{name}_conv")([x, w])
    else:
        if upsample:
            x = Upsample(upsample, name=f"{name}_up")(x)
        x = EqualizedConv2D(filters, 3, use_bias=False, name=f"{name}_conv")(x)
    if noise:
        x = NoiseInjection(seed=seed, name=f"{name}_noise")(x)
    x = BiasActivation(name=f"{name}_act")(x)
    if style_mode == "adain":
        x = AdaIN(name=f"{name}_style")([x, w])
    elif style_mode is None:
        x = PixelNorm(name=f"{name}_norm")(x)
    return x


def _synthesis(widths, channels, resample, start, style_mode, noise, styles, progress, seed):
    """Levels of conv layers from the 4x4 `start`, each with its own to-image layer, composed by progress.

    styles: a list of two w tensors per level for a style-based G, or None (ProGAN).
    """
    level_images = []
    x = start
    for level, filters in enumerate(widths):
        first, second = (styles[2 * level], styles[2 * level + 1]) if styles else (None, None)
        if level == 0 and style_mode == "adain":
            # StyleGAN's first layer has no conv: the input, noise, bias and the first style.
            if noise:
                x = NoiseInjection(seed=seed, name="level0_input_noise")(x)
            x = BiasActivation(name="level0_input_act")(x)
            x = AdaIN(name="level0_input_style")([x, first])
        elif level > 0 or style_mode == "demodulation":
            x = _style_layer(x, first, filters, f"level{level}_conv0", style_mode, noise,
                             resample if level else None, seed + 2 * level)
        x = _style_layer(x, second, filters, f"level{level}_conv1", style_mode, noise, None, seed + 2 * level + 1)
        if style_mode == "demodulation":
            image = ModulatedConv2D(channels, 1, demodulate=False, name=f"level{level}_to_image")([x, second])
        else:
            image = EqualizedConv2D(channels, 1, gain=1.0, name=f"level{level}_to_image")(x)
        level_images.append(image)
    composed = level_images[0]
    for level, image in enumerate(level_images[1:], start=1):
        composed = FadeIn(level - 1, name=f"level{level}_fade_in")(
            [Upsample("nearest", name=f"level{level}_image_up")(composed), image, progress])
    return composed


def _check_widths(width, max_width):
    if width < 1 or max_width < width:
        raise UserError(f"generator/discriminator width must be at least 1 and at most max_width, got {width}")


def build_progan_generator(image_size=32, channels=1, latent_dim=64, width=16, max_width=128,
                           resample="nearest", seed=0):
    """ProGAN's G: z -> pixel norm -> dense 4x4 -> levels of [upsample, conv, conv] with pixel norm,
    one 1x1 to-image layer per level, faded in by the `progress` layer. Linear output (data in [-1, 1])."""
    _check_widths(width, max_width)
    widths = level_widths(image_size, width, max_width)
    z = keras.Input((latent_dim,), name="z")
    x = PixelNorm(name="normalize_z")(z)
    x = EqualizedDense(16 * widths[0], gain=_SQRT2 / 4, activation="leaky_relu", name="project_z")(x)
    x = layers.Reshape((4, 4, widths[0]), name="project_z_reshape")(x)
    x = PixelNorm(name="project_z_norm")(x)
    progress = Progress(len(widths) - 1, name=PROGRESS_LAYER)(z)
    image = _synthesis(widths, channels, resample, x, None, False, None, progress, seed)
    return keras.Model(z, image, name="progan_generator")


def build_mapping_network(latent_dim=64, w_dim=64, depth=8, lr_multiplier=0.01):
    """z -> w: pixel norm, then `depth` equalised dense layers with leaky ReLU (StyleGAN: 8, lr x 0.01)."""
    z = keras.Input((latent_dim,), name="z")
    w = PixelNorm(name="normalize_z")(z)
    for index in range(depth):
        w = EqualizedDense(w_dim, lr_multiplier=lr_multiplier, activation="leaky_relu", name=f"mapping{index}")(w)
    return keras.Model(z, w, name=MAPPING_MODEL)


def build_synthesis_network(image_size=32, channels=1, w_dim=64, width=16, max_width=128, resample="bilinear",
                            style_mode="adain", constant_input=True, noise_inputs=True, seed=0):
    """w+ [batch, num_styles, w_dim] -> image: StyleGAN's synthesis network with growing levels."""
    if style_mode not in STYLE_MODES:
        raise UserError(f"--style-modulation must be one of {', '.join(STYLE_MODES)}, got {style_mode!r}")
    widths = level_widths(image_size, width, max_width)
    num_styles = 2 * len(widths)
    w_plus = keras.Input((num_styles, w_dim), name="w")
    styles = [w_plus[:, index] for index in range(num_styles)]
    if constant_input:
        start = LearnedConstant(widths[0], name="constant_input")(styles[0])
    else:  # StyleGAN's configs A-C: the latent enters through a dense layer, as in ProGAN
        start = EqualizedDense(16 * widths[0], gain=_SQRT2 / 4, name="project_w")(styles[0])
        start = layers.Reshape((4, 4, widths[0]), name="project_w_reshape")(start)
    progress = Progress(len(widths) - 1, name=PROGRESS_LAYER)(styles[0])
    image = _synthesis(widths, channels, resample, start, style_mode, noise_inputs, styles, progress, seed)
    return keras.Model(w_plus, image, name=SYNTHESIS_MODEL)


def build_stylegan_generator(image_size=32, channels=1, latent_dim=64, width=16, max_width=128, mapping_layers=8,
                             resample="bilinear", style_mode="adain", constant_input=True, noise_inputs=True,
                             truncation_decay=0.995, seed=0):
    """StyleGAN's G as one Keras model with inputs z, mix_z, crossover and truncation.

    z and mix_z go through the mapping network and the truncation layer; `StyleMix` gives the style
    layers before `crossover` z's w and the rest mix_z's; the synthesis network draws the image.
    `gan_tf.conditioning.Conditioning` fills the three extra inputs (no mixing, truncation 1 unless
    asked), so the rest of gan-tf feeds this G like any other. The sub-models `mapping` and
    `synthesis` and the layer `truncation` are reachable with `get_layer` for mixing more latents.
    """
    _check_widths(width, max_width)
    num_styles = num_styles_of(image_size)
    z = keras.Input((latent_dim,), name="z")
    mix_z = keras.Input((latent_dim,), name="mix_z")
    crossover = keras.Input((), dtype="int32", name="crossover")
    truncation = keras.Input((), name="truncation")
    mapping = build_mapping_network(latent_dim, latent_dim, mapping_layers)
    truncate = Truncation(truncation_decay, name=TRUNCATION_LAYER)
    w_plus = StyleMix(num_styles, name=STYLE_MIX_LAYER)(
        [truncate([mapping(z), truncation]), truncate([mapping(mix_z), truncation]), crossover])
    synthesis = build_synthesis_network(image_size, channels, latent_dim, width, max_width, resample, style_mode,
                                        constant_input, noise_inputs, seed)
    return keras.Model([z, mix_z, crossover, truncation], synthesis(w_plus), name="stylegan_generator")


def build_progressive_discriminator(image_size=32, channels=1, width=16, max_width=128, resample="nearest",
                                   minibatch_std=True, minibatch_group=4, minibatch_kernels=0, augment="", seed=None):
    """ProGAN's D: `LevelOfDetail`, then levels fine to coarse of [from-image 1x1, conv, conv, downsample],
    each coarser level's from-image path faded out as the finer one fades in; minibatch std (in groups
    of `minibatch_group`, which must divide the batch), conv, [minibatch discrimination,] dense, and
    one logit."""
    _check_widths(width, max_width)
    widths = level_widths(image_size, width, max_width)
    levels = len(widths)
    images = keras.Input((image_size, image_size, channels), name="images")
    x = DiffAugment(augment, seed=seed, name="augment")(images) if augment else images
    progress = Progress(levels - 1, name=PROGRESS_LAYER)(images)
    view = LevelOfDetail(levels, name="level_of_detail")([x, progress])
    h = EqualizedConv2D(widths[-1], 1, activation="leaky_relu", name=f"level{levels - 1}_from_image")(view)
    for level in range(levels - 1, 0, -1):
        h = EqualizedConv2D(widths[level], 3, activation="leaky_relu", name=f"level{level}_conv0")(h)
        h = EqualizedConv2D(widths[level - 1], 3, activation="leaky_relu", name=f"level{level}_conv1")(h)
        h = Downsample(resample, name=f"level{level}_down")(h)
        view = layers.AveragePooling2D(2, name=f"level{level}_image_down")(view)
        coarse = EqualizedConv2D(widths[level - 1], 1, activation="leaky_relu",
                                 name=f"level{level - 1}_from_image")(view)
        h = FadeIn(level - 1, name=f"level{level}_fade_in")([coarse, h, progress])
    if minibatch_std:
        h = MinibatchStdDev(minibatch_group, name="minibatch_std")(h)
    h = EqualizedConv2D(widths[0], 3, activation="leaky_relu", name="level0_conv")(h)
    h = layers.Flatten(name="flatten")(h)
    if minibatch_kernels:
        h = MinibatchDiscrimination(minibatch_kernels, name="minibatch_discrimination")(h)
    h = EqualizedDense(widths[0], activation="leaky_relu", name="dense")(h)
    logit = EqualizedDense(1, gain=1.0, name="score")(h)
    return keras.Model(images, logit, name="progressive_discriminator")


# Growth ------------------------------------------------------------------------------------------

def progress_layers(model):
    """Every `Progress` layer in a model, nested models included."""
    return [layer for layer in model._flatten_layers() if isinstance(layer, Progress)]


def set_progress(model, value):
    for layer in progress_layers(model):
        layer.progress.assign(value)


def set_noise_strength(model, value):
    """Set every `NoiseInjection` scale of a model to `value` (0: no stochastic detail, a deterministic G)."""
    for layer in model._flatten_layers():
        if isinstance(layer, NoiseInjection):
            layer.strength.assign(ops.full(layer.strength.shape, value, layer.strength.dtype))


def get_progress(model):
    found = progress_layers(model)
    return float(ops.convert_to_numpy(found[0].progress)) if found else None


def progress_at(images_seen, growth_images, levels):
    """ProGAN's schedule: level 0 alone for `growth_images`, then per level a fade-in of
    `growth_images` and a stable phase of as many; 0 growth images means all levels from the start."""
    if growth_images <= 0:
        return float(levels - 1)
    steps = max(0.0, images_seen - growth_images) / growth_images  # phases of growth_images after level 0
    level, within = divmod(steps, 2.0)
    return float(min(levels - 1, level + min(1.0, within)))
