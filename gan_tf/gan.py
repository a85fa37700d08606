"""The GAN as a `keras.Model` with a custom `train_step`: the training style to use.

One `fit()` call drives the whole adversarial game, so callbacks, progress bars, `tf.distribute` and
XLA all work as they do for any Keras model. Every variant (loss, number of discriminator steps,
label smoothing, an EMA of G) is a constructor argument, never a second loop.
"""

import keras
import tensorflow as tf
from keras import ops

from gan_tf import regularizers
from gan_tf.ema import WeightAverage
from gan_tf.losses import non_saturating_discriminator_loss, non_saturating_generator_loss


class GAN(keras.Model):
    """Holds a generator G, a discriminator D (logits out) and their two optimizers.

    Args:
        generator: model z [batch, latent_dim] -> images in [-1, 1].
        discriminator: model images -> logits [batch, 1].
        latent_dim: width of z.
        generator_loss / discriminator_loss: a pair from `gan_tf.losses`, per-example losses.
        d_steps: discriminator updates per generator update (Goodfellow et al.'s k). The k steps reuse
            the real batch with fresh noise.
        label_smoothing: one-sided smoothing of D's real targets (1 -> 1 - s).
        ema_decay: if > 0, keep an exponential moving average of G's weights (Karras et al. 2018;
            Yazici et al. 2019), which gives visibly cleaner samples than G itself; 0 disables it.
        gradient_penalty_weight: lambda of WGAN-GP's gradient penalty (10 in the paper); 0 is off.
        r1_weight: gamma of the R1 penalty on real images; 0 is off.
        clip_value: WGAN's weight clipping of D after each of its updates; 0 is off.
        num_classes: conditional GAN: G is [z, label] -> images, D is [images, label] -> logit, and the
            data yields (images, labels); fake labels are drawn uniformly. 0 is unconditional.
        info_categories / info_continuous: InfoGAN: G is [z, code, continuous] -> images and D is
            images -> [logit, q]; both players also minimise `info_weight` times the codes'
            reconstruction loss from q (a lower bound on the mutual information between codes and
            images, Chen et al. 2016).
        seed: seed of the noise; with it a run is reproducible.
    """

    def __init__(self, generator, discriminator, latent_dim, generator_loss=non_saturating_generator_loss,
                 discriminator_loss=non_saturating_discriminator_loss, d_steps=1, label_smoothing=0.0,
                 ema_decay=0.0, gradient_penalty_weight=0.0, r1_weight=0.0, clip_value=0.0, num_classes=0,
                 info_categories=0, info_continuous=0, info_weight=1.0, seed=0, **kwargs):
        super().__init__(**kwargs)
        if d_steps < 1:
            raise ValueError(f"d_steps must be at least 1, got {d_steps}")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.generator_loss = generator_loss
        self.discriminator_loss = discriminator_loss
        self.d_steps = d_steps
        self.label_smoothing = label_smoothing
        self.ema_decay = ema_decay
        self.gradient_penalty_weight = gradient_penalty_weight
        self.r1_weight = r1_weight
        self.clip_value = clip_value
        self.num_classes = num_classes
        self.info_categories = info_categories
        self.info_continuous = info_continuous
        self.info_weight = info_weight
        self.seed = seed
        self.info_loss_tracker = keras.metrics.Mean(name="info_loss") if self.is_info else None
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.real_score_tracker = keras.metrics.Mean(name="real_score")  # mean D(x)
        self.fake_score_tracker = keras.metrics.Mean(name="fake_score")  # mean D(G(z))
        self.generator_average = WeightAverage(generator, ema_decay) if ema_decay > 0 else None

    def compile(self, g_optimizer, d_optimizer, jit_compile=False, **kwargs):
        super().compile(jit_compile=jit_compile, **kwargs)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        g_optimizer.build(self.generator.trainable_variables)
        d_optimizer.build(self.discriminator.trainable_variables)
        self.built = True  # G and D are built; stops Keras from tracing a `call` this model lacks

    @property
    def is_info(self):
        return bool(self.info_categories or self.info_continuous)

    @property
    def metrics(self):
        trackers = [self.d_loss_tracker, self.g_loss_tracker, self.real_score_tracker, self.fake_score_tracker]
        return trackers + ([self.info_loss_tracker] if self.is_info else [])

    def _stateless_seed(self, stream, index):
        # Stateless randomness keyed by (seed, stream, step, replica, call): reproducible from the seed,
        # different on every replica, and free of random-state variables that replicas would have to sync.
        replica = tf.distribute.get_replica_context()
        replica_id = replica.replica_id_in_sync_group if replica is not None else 0
        step = ops.cast(self.g_optimizer.iterations, "int64")
        counter = step * 4096 + ops.cast(replica_id, "int64") * 64 + index
        return ops.stack([ops.cast(self.seed, "int64") * 16 + stream, counter])

    def _noise(self, batch_size, index):
        return tf.random.stateless_normal((batch_size, self.latent_dim), seed=self._stateless_seed(0, index))

    def _uniform(self, batch_size, index):
        return tf.random.stateless_uniform((batch_size, 1, 1, 1), seed=self._stateless_seed(1, index))

    def _generator_inputs(self, batch_size, index):
        """G's inputs for one batch, and the condition D must see with the fakes: (inputs, labels, codes)."""
        z = self._noise(batch_size, index)
        classes = self.num_classes or self.info_categories
        labels = None
        if classes:
            labels = tf.random.stateless_uniform((batch_size,), seed=self._stateless_seed(2, index),
                                                 maxval=classes, dtype="int32")
        if self.num_classes:
            return [z, labels], labels, None
        if not self.is_info:
            return z, None, None
        continuous = None
        if self.info_continuous:
            continuous = tf.random.stateless_uniform((batch_size, self.info_continuous), minval=-1.0,
                                                     maxval=1.0, seed=self._stateless_seed(3, index))
        inputs = [z] + [code for code in (labels, continuous) if code is not None]
        return inputs, None, (labels, continuous)

    def _critic(self, images, labels=None, training=True):
        """D's logits for images (given their labels when conditional), and Q's output for InfoGAN."""
        if self.num_classes:
            return self.discriminator([images, labels], training=training), None
        if self.is_info:
            logits, q = self.discriminator(images, training=training)
            return logits, q
        return self.discriminator(images, training=training), None

    def _info_loss(self, q, codes):
        """Per-example -log Q(c | G(z, c)) up to constants: cross-entropy for the categorical code,
        squared error for the continuous ones (a unit-variance Gaussian Q)."""
        labels, continuous = codes
        loss = 0.0
        if labels is not None:
            loss += keras.losses.sparse_categorical_crossentropy(
                labels, q[:, :self.info_categories], from_logits=True)
        if continuous is not None:
            loss += 0.5 * ops.sum(ops.square(q[:, self.info_categories:] - continuous), axis=-1)
        return self.info_weight * loss

    def _discriminator_penalty(self, real_images, fake_images, real_labels, index):
        def critic(images, training=True):
            return self._critic(images, real_labels, training)[0]

        penalty = 0.0
        if self.gradient_penalty_weight:
            epsilon = self._uniform(ops.shape(real_images)[0], index)
            penalty += self.gradient_penalty_weight * regularizers.gradient_penalty(
                critic, real_images, fake_images, epsilon)
        if self.r1_weight:
            penalty += self.r1_weight * regularizers.r1_penalty(critic, real_images)
        return penalty

    def _global_mean(self, per_example_loss):
        # Sum over the global batch, so gradients summed across replicas equal the single-device ones.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return ops.mean(per_example_loss) / replicas

    def train_step(self, data):
        if isinstance(data, (tuple, list)):
            real_images, real_labels = data[0], (data[1] if len(data) > 1 else None)
        else:
            real_images, real_labels = data, None
        if self.num_classes and real_labels is None:
            raise ValueError("a conditional GAN trains on (images, labels) batches")
        batch_size = ops.shape(real_images)[0]

        # 1. Train D, k times: push D(x) up and D(G(z)) down (InfoGAN: and read the codes back).
        for index in range(self.d_steps):
            inputs, fake_labels, codes = self._generator_inputs(batch_size, index)
            fake_images = self.generator(inputs, training=True)
            with tf.GradientTape() as tape:
                real_logits, _ = self._critic(real_images, real_labels)
                fake_logits, q = self._critic(fake_images, fake_labels)
                per_example = self.discriminator_loss(real_logits, fake_logits, self.label_smoothing)
                per_example += self._discriminator_penalty(real_images, fake_images, real_labels, index)
                if self.is_info:
                    per_example += self._info_loss(q, codes)
                d_loss = self._global_mean(per_example)
            gradients = tape.gradient(d_loss, self.discriminator.trainable_variables)
            self.d_optimizer.apply_gradients(zip(gradients, self.discriminator.trainable_variables))
            if self.clip_value:
                regularizers.clip_weights(self.discriminator, self.clip_value)

        # 2. Train G through D, whose weights this tape does not update: push D(G(z)) up.
        with tf.GradientTape() as tape:
            inputs, fake_labels, codes = self._generator_inputs(batch_size, self.d_steps)
            fake_logits_for_g, q = self._critic(self.generator(inputs, training=True), fake_labels)
            per_example = self.generator_loss(fake_logits_for_g)
            if self.is_info:
                info_loss = self._info_loss(q, codes)
                per_example += info_loss
            g_loss = self._global_mean(per_example)
        gradients = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(zip(gradients, self.generator.trainable_variables))

        # 3. Move the average of G towards G.
        if self.generator_average is not None:
            self.generator_average.update()

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.real_score_tracker.update_state(ops.mean(ops.sigmoid(real_logits)))
        self.fake_score_tracker.update_state(ops.mean(ops.sigmoid(fake_logits)))
        if self.is_info:
            self.info_loss_tracker.update_state(ops.mean(info_loss))
        return {metric.name: metric.result() for metric in self.metrics}

    def sampling_generator(self):
        """G with the averaged weights when EMA is on (a fresh copy), else G itself."""
        if self.generator_average is None:
            return self.generator
        return self.generator_average.averaged_model()
