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
        seed: seed of the noise; with it a run is reproducible.
    """

    def __init__(self, generator, discriminator, latent_dim, generator_loss=non_saturating_generator_loss,
                 discriminator_loss=non_saturating_discriminator_loss, d_steps=1, label_smoothing=0.0,
                 ema_decay=0.0, gradient_penalty_weight=0.0, r1_weight=0.0, clip_value=0.0, seed=0,
                 **kwargs):
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
        self.seed = seed
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
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.real_score_tracker,
                self.fake_score_tracker]

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

    def _discriminator_penalty(self, real_images, fake_images, index):
        penalty = 0.0
        if self.gradient_penalty_weight:
            epsilon = self._uniform(ops.shape(real_images)[0], index)
            penalty += self.gradient_penalty_weight * regularizers.gradient_penalty(
                self.discriminator, real_images, fake_images, epsilon)
        if self.r1_weight:
            penalty += self.r1_weight * regularizers.r1_penalty(self.discriminator, real_images)
        return penalty

    def _global_mean(self, per_example_loss):
        # Sum over the global batch, so gradients summed across replicas equal the single-device ones.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return ops.mean(per_example_loss) / replicas

    def train_step(self, data):
        real_images = data[0] if isinstance(data, (tuple, list)) else data
        batch_size = ops.shape(real_images)[0]

        # 1. Train D, k times: push D(x) up and D(G(z)) down.
        for index in range(self.d_steps):
            fake_images = self.generator(self._noise(batch_size, index), training=True)
            with tf.GradientTape() as tape:
                real_logits = self.discriminator(real_images, training=True)
                fake_logits = self.discriminator(fake_images, training=True)
                per_example = self.discriminator_loss(real_logits, fake_logits, self.label_smoothing)
                d_loss = self._global_mean(per_example + self._discriminator_penalty(real_images, fake_images,
                                                                                     index))
            gradients = tape.gradient(d_loss, self.discriminator.trainable_variables)
            self.d_optimizer.apply_gradients(zip(gradients, self.discriminator.trainable_variables))
            if self.clip_value:
                regularizers.clip_weights(self.discriminator, self.clip_value)

        # 2. Train G through D, whose weights this tape does not update: push D(G(z)) up.
        with tf.GradientTape() as tape:
            fake_images = self.generator(self._noise(batch_size, self.d_steps), training=True)
            g_loss = self._global_mean(
                self.generator_loss(self.discriminator(fake_images, training=True)))
        gradients = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(zip(gradients, self.generator.trainable_variables))

        # 3. Move the average of G towards G.
        if self.generator_average is not None:
            self.generator_average.update()

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.real_score_tracker.update_state(ops.mean(ops.sigmoid(real_logits)))
        self.fake_score_tracker.update_state(ops.mean(ops.sigmoid(fake_logits)))
        return {metric.name: metric.result() for metric in self.metrics}

    def sampling_generator(self):
        """G with the averaged weights when EMA is on (a fresh copy), else G itself."""
        if self.generator_average is None:
            return self.generator
        return self.generator_average.averaged_model()
