"""The GAN as a `keras.Model` with a custom `train_step`: the training style to use.

One `fit()` call drives the whole adversarial game, so callbacks, progress bars, `tf.distribute` and
XLA all work as they do for any Keras model. Every noise-to-image variant (loss, number of
discriminator steps, label smoothing, penalties, an EMA of G, a class label or InfoGAN codes) is an
argument here or a kind of `Conditioning`, never a second loop.
"""

import contextlib

import keras
import tensorflow as tf
from keras import ops

from gan_tf import distribute, regularizers
from gan_tf.conditioning import Conditioning, GeneratorDraw
from gan_tf.ema import EMAWeights
from gan_tf.errors import UserError
from gan_tf.losses import get_losses

INTERPOLATION_STREAM = 1  # WGAN-GP's epsilon; streams 0, 2 and 3 are G's inputs (gan_tf.conditioning)


class GAN(keras.Model):
    """Holds a generator G, a discriminator D (logits out) and their two optimizers.

    What G takes besides z (a class label, InfoGAN codes) and how D sees it is read from G's named
    inputs (`gan_tf.conditioning.Conditioning.of`).

    Args:
        generator: model [z, ...] -> images in [-1, 1].
        discriminator: model images -> logits of any shape [batch, ...] (a conditional D takes
            [images, label]; an InfoGAN D returns [logits, q]).
        loss: a name from `gan_tf.losses.LOSSES`, or a pair (generator_loss, discriminator_loss) of
            per-example loss functions.
        d_steps: discriminator updates per generator update (Goodfellow et al.'s k). The k steps reuse
            the real batch with fresh noise.
        label_smoothing: one-sided smoothing of D's real targets (1 -> 1 - s).
        ema_decay: if > 0, keep an exponential moving average of G's weights (Karras et al. 2018;
            Yazici et al. 2019), which gives visibly cleaner samples than G itself; 0 disables it.
        regularization: `gan_tf.regularizers.Regularization` (gradient penalty, R1, weight clipping).
        info_weight: InfoGAN's lambda: both players also minimise it times the codes' reconstruction
            loss from Q (a lower bound on the mutual information between codes and images).
        seed: seed of the noise; with it a run is reproducible.
        style_mixing: a style-based G's mixing regularisation probability (Karras et al. 2019: 0.9);
            the draws mix, the step does not change (`Conditioning.with_mixing`).
        reuse_fakes: G's update scores the images G drew for D's last update (under D's new weights)
            instead of drawing fresh noise: one forward pass of G fewer per step, as PyTorch's DCGAN
            example does. False is Goodfellow et al.'s Algorithm 1, fresh noise for each update.
    """

    def __init__(self, generator, discriminator, loss="non-saturating", d_steps=1, label_smoothing=0.0,
                 ema_decay=0.0, regularization=None, info_weight=1.0, seed=0, style_mixing=0.0, reuse_fakes=False,
                 **kwargs):
        super().__init__(**kwargs)
        if d_steps < 1:
            raise UserError(f"--d-steps must be at least 1, got {d_steps}")
        self.generator = generator
        self.discriminator = discriminator
        self.conditioning = Conditioning.of(generator).with_mixing(style_mixing)
        self.generator_loss, self.discriminator_loss = get_losses(loss) if isinstance(loss, str) else loss
        self.d_steps = d_steps
        self.label_smoothing = label_smoothing
        self.regularization = regularization or regularizers.Regularization()
        self.info_weight = info_weight
        self.seed = seed
        self.reuse_fakes = reuse_fakes
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.real_score_tracker = keras.metrics.Mean(name="real_score")  # mean D(x)
        self.fake_score_tracker = keras.metrics.Mean(name="fake_score")  # mean D(G(z))
        self.info_loss_tracker = keras.metrics.Mean(name="info_loss") if self.conditioning.is_info else None
        self.ema = EMAWeights(generator, ema_decay, name="ema") if ema_decay > 0 else None

    @property
    def latent_dim(self):
        return self.conditioning.latent_dim

    def compile(self, g_optimizer, d_optimizer, jit_compile=False, **kwargs):
        super().compile(jit_compile=jit_compile, **kwargs)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        g_optimizer.build(self.generator.trainable_variables)
        d_optimizer.build(self.discriminator.trainable_variables)
        self.built = True  # G and D are built; stops Keras from tracing a `call` this model lacks

    @property
    def metrics(self):
        trackers = [self.d_loss_tracker, self.g_loss_tracker, self.real_score_tracker, self.fake_score_tracker]
        return trackers + ([self.info_loss_tracker] if self.info_loss_tracker is not None else [])

    def _seed(self, stream, index):
        # Stateless randomness keyed by (seed, stream, step, call): reproducible from the seed and free of
        # random-state variables that replicas would have to sync.
        step = ops.cast(self.g_optimizer.iterations, "int64")
        return ops.stack([ops.cast(self.seed, "int64") * 16 + stream, step * 4096 + index])

    def _replica_share(self, draw_global, batch_size):
        """This replica's rows of a draw made for the whole global batch: every replica draws the same
        global batch from the same seed and keeps its own slice, so n replicas (on one machine or on
        several) see exactly the noise one device sees with the same global batch."""
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas == 1:
            return draw_global(batch_size)
        replica_id = tf.distribute.get_replica_context().replica_id_in_sync_group
        start = ops.cast(replica_id, "int32") * batch_size
        return tf.nest.map_structure(lambda rows: None if rows is None else rows[start:start + batch_size],
                                     draw_global(batch_size * replicas))

    def _draw(self, batch_size, index):
        def draw_global(size):
            draw = self.conditioning.draw(size, lambda stream: self._seed(stream, index))
            return (draw.inputs, draw.condition, draw.codes)

        inputs, condition, codes = self._replica_share(draw_global, batch_size)
        return GeneratorDraw(inputs, condition, codes)

    def _generate(self, draw):
        images = self.generator(Conditioning.call_arguments(draw.inputs), training=True)
        return ops.cast(images, "float32")  # a mixed-precision G computes in 16 bits; D casts again

    def _critic(self, images, condition, training=True):
        # Logits (and Q's output) in float32 whatever D computes in: the losses and penalties need the range.
        logits, q = self.conditioning.critic(self.discriminator, images, condition, training)
        return ops.cast(logits, "float32"), (None if q is None else ops.cast(q, "float32"))

    def _discriminator_penalty(self, real_images, fake_images, real_condition, index):
        regularization = self.regularization

        def critic(images, training=True):  # D's logits alone, as the regularizers take them
            return self._critic(images, real_condition, training)[0]

        penalty = 0.0
        if regularization.gradient_penalty_weight:
            epsilon = self._replica_share(lambda size: tf.random.stateless_uniform(
                (size, 1, 1, 1), seed=self._seed(INTERPOLATION_STREAM, index)), ops.shape(real_images)[0])
            penalty += regularization.gradient_penalty_weight * regularizers.gradient_penalty(
                critic, real_images, fake_images, epsilon)
        if regularization.r1_weight:
            penalty += self._r1(critic, real_images)
        return penalty

    def _r1(self, critic, real_images):
        weight, interval = self.regularization.r1_weight, self.regularization.r1_interval
        if interval == 1:
            return weight * regularizers.r1_penalty(critic, real_images)
        # Lazy R1 on every `interval`-th update of D (StyleGAN2 counts D's minibatches too): only the taken
        # branch of the cond runs, forwards and backwards. A float16 step skipped for overflow does not
        # advance the count, so the penalty it lost is applied on the retry.
        due = ops.equal(self.d_optimizer.iterations % interval, 0)
        if self.jit_compile:
            # XLA cannot compile the gradient of a cond around R1's double backward pass (tf2xla: a
            # BroadcastTo of a shape that is not constant inside the branch): the same penalty, computed
            # every step and masked, so XLA runs get R1's effect without lazy R1's saving.
            return ops.where(due, weight * interval, 0.0) * regularizers.r1_penalty(critic, real_images)
        return tf.cond(due, lambda: weight * interval * regularizers.r1_penalty(critic, real_images),
                       lambda: tf.zeros(ops.shape(real_images)[:1]))

    def _global_mean(self, per_example_loss):
        # Sum over the global batch, so gradients summed across replicas equal the single-device ones.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return ops.mean(per_example_loss) / replicas

    def train_step(self, data):
        real_images, real_condition = self.conditioning.split_batch(data)
        batch_size = ops.shape(real_images)[0]

        # 1. Train D, k times: push D(x) up and D(G(z)) down (InfoGAN: and read the codes back). With
        # `reuse_fakes`, G's tape records G's last forward pass here, paused over D's update.
        g_tape = tf.GradientTape()
        for index in range(self.d_steps):
            draw = self._draw(batch_size, index)
            records_g = self.reuse_fakes and index == self.d_steps - 1
            with g_tape if records_g else contextlib.nullcontext():
                fake_images = self._generate(draw)
            with tf.GradientTape() as tape:
                real_logits, _ = self._critic(real_images, real_condition)
                fake_logits, q = self._critic(fake_images, draw.condition)
                per_example = self.discriminator_loss(real_logits, fake_logits, self.label_smoothing)
                per_example += self._discriminator_penalty(real_images, fake_images, real_condition, index)
                if draw.codes is not None:
                    per_example += self.info_weight * self.conditioning.code_loss(q, draw.codes)
                d_loss = self._global_mean(per_example)
                # A LossScaleOptimizer's scale times the loss under float16 (apply_gradients divides it
                # out again, and skips a step whose gradients overflowed); else the loss itself.
                scaled_d_loss = self.d_optimizer.scale_loss(d_loss)
            gradients = tape.gradient(scaled_d_loss, self.discriminator.trainable_variables)
            self.d_optimizer.apply_gradients(list(zip(gradients, self.discriminator.trainable_variables)))
            if self.regularization.clip_value:
                regularizers.clip_weights(self.discriminator, self.regularization.clip_value)

        # 2. Train G through D, whose weights this tape does not update: push D(G(z)) up.
        with g_tape:
            if not self.reuse_fakes:
                draw = self._draw(batch_size, self.d_steps)
                fake_images = self._generate(draw)
            fake_logits_for_g, q = self._critic(fake_images, draw.condition)
            per_example = self.generator_loss(fake_logits_for_g)
            if draw.codes is not None:
                info_loss = self.info_weight * self.conditioning.code_loss(q, draw.codes)
                per_example += info_loss
            g_loss = self._global_mean(per_example)
            scaled_g_loss = self.g_optimizer.scale_loss(g_loss)
        gradients = g_tape.gradient(scaled_g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(list(zip(gradients, self.generator.trainable_variables)))

        # 3. Move the average of G towards G.
        if self.ema is not None:
            self.ema.update()

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.real_score_tracker.update_state(ops.mean(ops.sigmoid(real_logits)))
        self.fake_score_tracker.update_state(ops.mean(ops.sigmoid(fake_logits)))
        if self.info_loss_tracker is not None:
            self.info_loss_tracker.update_state(ops.mean(info_loss))
        logs = {metric.name: metric.result() for metric in self.metrics}
        if distribute.is_multi_worker():
            # Keras reduces the logs of several workers with strategy.reduce(MEAN, axis=0), which fails on
            # scalars (keras-team/keras#20585); shape [1] reduces to the scalar mean over the replicas.
            logs = {name: ops.reshape(value, (1,)) for name, value in logs.items()}
        return logs

    def state(self):
        """A checkpoint's state beyond the variables: none, the noise is keyed by the optimizer's step."""
        return {}

    def restore_state(self, state):
        del state  # nothing to restore; see `state`

    def build_sampling_generator(self):
        """The generator to sample from: with EMA, a clone carrying the averaged weights whose BatchNorm
        statistics are re-measured (about a second; the same model until the average moves, so sample
        from it without changing it); without EMA, G itself."""
        if self.ema is None:
            return self.generator
        return self.ema.build_averaged_model()
