"""Custom layers shared by the builders.

Everything here is serialisable (`get_config`) and registered, so a saved model that uses it reloads
with plain `keras.models.load_model`.
"""

import keras
from keras import layers, ops

from gan_tf.errors import UserError

AUGMENT_POLICIES = ("translation", "cutout", "color")


@keras.saving.register_keras_serializable(package="gan_tf")
class DiffAugment(layers.Layer):
    """Differentiable augmentation applied to every image the discriminator sees while training.

    Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training": with only a few
    thousand images D memorises the real set and G's gradients vanish. Augmenting real *and* fake
    images, in D's step and in G's step, with transforms that gradients flow through keeps D honest
    without leaking the augmentation into G's samples. Placed as D's first layer it is active only when
    `training=True`, so both training styles (fit and combined `train_on_batch`) get it, and inference,
    export and metrics see clean images.

    Images are in [-1, 1]; pixels shifted in or cut out take the value -1 (black), the background of
    digit data sets.

    Args:
        policy: comma-separated subset of "translation", "cutout", "color"; "" disables.
        translation_ratio: largest shift as a fraction of the image side (DiffAugment uses 1/8).
        cutout_ratio: side of the square cut out as a fraction of the image side (DiffAugment uses 1/2).
        seed: seed of the layer's random stream.
    """

    def __init__(self, policy="translation,cutout", translation_ratio=0.125, cutout_ratio=0.5,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        names = [name.strip() for name in policy.split(",") if name.strip()]
        unknown = [name for name in names if name not in AUGMENT_POLICIES]
        if unknown:
            raise UserError(
                f"unknown augmentation {unknown[0]!r}; choose from {', '.join(AUGMENT_POLICIES)}")
        self.policy = ",".join(names)
        self.translation_ratio = translation_ratio
        self.cutout_ratio = cutout_ratio
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        if not training or not self.policy:
            return images
        for name in self.policy.split(","):
            images = getattr(self, f"_{name}")(images)
        return images

    def _shift_matrices(self, batch, size, max_shift):
        # out[i] = in[i - shift]: a one-hot (batch, size, size) matrix per sample, so the shift is a
        # matmul (differentiable, XLA-friendly) and pixels shifted in from outside are zero.
        shift = keras.random.randint((batch, 1, 1), -max_shift, max_shift + 1, seed=self.seed_generator)
        rows = ops.reshape(ops.arange(size), (1, size, 1))
        cols = ops.reshape(ops.arange(size), (1, 1, size))
        return ops.cast(ops.equal(cols, rows - shift), "float32")

    def _translation(self, images):
        batch = ops.shape(images)[0]
        height, width = images.shape[1], images.shape[2]
        shift_h = self._shift_matrices(batch, height, max(1, int(height * self.translation_ratio)))
        shift_w = self._shift_matrices(batch, width, max(1, int(width * self.translation_ratio)))
        dtype = images.dtype
        shifted = ops.einsum("bik,bkjc->bijc", ops.cast(shift_h, dtype), images + 1.0)
        shifted = ops.einsum("bjl,bilc->bijc", ops.cast(shift_w, dtype), shifted)
        return shifted - 1.0

    def _cutout(self, images):
        batch = ops.shape(images)[0]
        height, width = images.shape[1], images.shape[2]
        cut_h, cut_w = int(height * self.cutout_ratio + 0.5), int(width * self.cutout_ratio + 0.5)
        center_y = keras.random.randint((batch, 1, 1, 1), 0, height + (1 - cut_h % 2),
                                        seed=self.seed_generator)
        center_x = keras.random.randint((batch, 1, 1, 1), 0, width + (1 - cut_w % 2),
                                        seed=self.seed_generator)
        rows = ops.reshape(ops.arange(height), (1, height, 1, 1))
        cols = ops.reshape(ops.arange(width), (1, 1, width, 1))
        inside = ops.logical_and(
            ops.logical_and(rows >= center_y - cut_h // 2, rows < center_y - cut_h // 2 + cut_h),
            ops.logical_and(cols >= center_x - cut_w // 2, cols < center_x - cut_w // 2 + cut_w))
        keep = ops.cast(ops.logical_not(inside), images.dtype)
        return (images + 1.0) * keep - 1.0

    def _color(self, images):
        batch = ops.shape(images)[0]
        dtype = images.dtype

        def uniform(low, high):
            return ops.cast(keras.random.uniform((batch, 1, 1, 1), low, high,
                                                 seed=self.seed_generator), dtype)

        images = images + uniform(-0.5, 0.5)  # brightness (in [-1, 1] units: DiffAugment's +-0.5 on [0, 1])
        mean = ops.mean(images, axis=-1, keepdims=True)
        images = (images - mean) * uniform(0.0, 2.0) + mean  # saturation
        mean = ops.mean(images, axis=(1, 2, 3), keepdims=True)
        return (images - mean) * uniform(0.5, 1.5) + mean  # contrast

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(policy=self.policy, translation_ratio=self.translation_ratio,
                      cutout_ratio=self.cutout_ratio, seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="gan_tf")
class MinibatchStdDev(layers.Layer):
    """Appends one feature map: the mean over features of the standard deviation across the batch.

    Karras et al. 2018 ("Progressive Growing of GANs"), a simpler cousin of Salimans et al.'s
    mini-batch discrimination: a collapsed generator produces batches with little variation, and this
    channel lets D see it and push G towards diversity. By default the statistic is taken over the
    whole batch, which works for any batch size; `group_size` takes it within groups of that many
    samples as Karras et al. do (4), which tells D more (one value per group) but needs a batch that
    is a multiple of the group size.
    """

    def __init__(self, group_size=None, **kwargs):
        super().__init__(**kwargs)
        self.group_size = group_size

    def call(self, inputs):
        if not self.group_size:
            deviation = ops.sqrt(ops.var(inputs, axis=0) + 1e-8)  # [H, W, C]
            statistic = ops.mean(deviation)
            feature = ops.ones_like(inputs[..., :1]) * ops.cast(statistic, inputs.dtype)
            return ops.concatenate([inputs, feature], axis=-1)
        shape = ops.shape(inputs)
        grouped = ops.reshape(inputs, (self.group_size, -1, shape[1], shape[2], shape[3]))  # sample i in group i % G
        deviation = ops.sqrt(ops.var(grouped, axis=0) + 1e-8)  # [groups, H, W, C]
        statistic = ops.mean(deviation, axis=(1, 2, 3))  # [groups]
        per_sample = ops.tile(statistic, (self.group_size,))  # back in batch order
        feature = ops.ones_like(inputs[..., :1]) * ops.cast(ops.reshape(per_sample, (-1, 1, 1, 1)), inputs.dtype)
        return ops.concatenate([inputs, feature], axis=-1)

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size}

    def compute_output_shape(self, input_shape):
        return input_shape[:-1] + (input_shape[-1] + 1,)


@keras.saving.register_keras_serializable(package="gan_tf")
class MinibatchDiscrimination(layers.Layer):
    """Mini-batch discrimination (Salimans et al. 2016, "Improved Techniques for Training GANs").

    Projects each sample's features x_i to `num_kernels` rows M_i,b of `kernel_dim` values and appends,
    for every row b, o(x_i)_b = sum_{j != i} exp(-||M_i,b - M_j,b||_1): how crowded the batch is
    around this sample. A generator that over-produces one kind of sample makes those samples
    crowded, and D learns to reject them, which pushes G back towards the data's proportions.
    """

    def __init__(self, num_kernels=32, kernel_dim=4, **kwargs):
        super().__init__(**kwargs)
        self.num_kernels = num_kernels
        self.kernel_dim = kernel_dim

    def build(self, input_shape):
        self.projection = self.add_weight(shape=(input_shape[-1], self.num_kernels * self.kernel_dim),
                                          initializer=keras.initializers.RandomNormal(stddev=0.02),
                                          name="projection")

    def call(self, inputs):
        rows = ops.reshape(ops.matmul(inputs, self.projection), (-1, self.num_kernels, self.kernel_dim))
        distances = ops.sum(ops.abs(ops.expand_dims(rows, 0) - ops.expand_dims(rows, 1)), axis=-1)  # [n, n, B]
        closeness = ops.sum(ops.exp(-distances), axis=1) - 1.0  # drop each sample's match with itself
        return ops.concatenate([inputs, closeness], axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape[:-1] + (input_shape[-1] + self.num_kernels,)

    def get_config(self):
        return {**super().get_config(), "num_kernels": self.num_kernels, "kernel_dim": self.kernel_dim}


@keras.saving.register_keras_serializable(package="gan_tf")
class ClassProjection(layers.Layer):
    """The class term of a projection discriminator (Miyato and Koyama 2018): <embed(y), features>.

    Added to D's unconditional score, it lets D judge "is this a real *k*" with one learned vector per
    class, which conditions far more strongly than concatenating the label to the input image.
    Inputs: [features [batch, F], labels int [batch]]; output [batch, 1].
    """

    def __init__(self, num_classes, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes

    def build(self, input_shape):
        features_shape = input_shape[0]
        self.class_embedding = self.add_weight(
            shape=(self.num_classes, features_shape[-1]), name="class_embedding",
            initializer=keras.initializers.RandomNormal(stddev=0.02))

    def call(self, inputs):
        features, labels = inputs
        embedded = ops.take(self.class_embedding, ops.cast(ops.reshape(labels, (-1,)), "int32"), axis=0)
        return ops.sum(embedded * features, axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 1)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}
