"""The classic training style: a combined model `D(G(z))` with D frozen, trained with `train_on_batch`.

This is the form of the original Keras GAN examples and many tutorials:

    discriminator.compile(...)              # (here: a two-input model around D, see below)
    discriminator.trainable = False
    gan = Model(z, discriminator(generator(z)))
    gan.compile(...)
    loop: discriminator.train_on_batch(real/fake) ; gan.train_on_batch(z, ones)

The Keras 3 pitfall: a model collects its trainable weights when its train function is first traced,
at its first `train_on_batch`, not at `compile()` as tf.keras 2 did. In the textbook order above D's
first train call happens while `trainable` is already False, so D's train function is traced with no
trainable weights and D never learns; the only sign is a "does not have any trainable weights"
warning. The fix, applied in `train_step`: set `discriminator.trainable = True` right before D's train
call and `False` right before the combined model's, so each model's train function is traced with the
flag it needs. (Once traced, each keeps its own variable list, so later flips cost nothing.)

Prefer the custom `train_step` style (`gan_tf.gan.GAN`) for real work: one compiled step, XLA,
`tf.distribute`. This style is here because it is how the idea is taught, and it works.
"""

import itertools

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from gan_tf import regularizers
from gan_tf.conditioning import Conditioning
from gan_tf.ema import EMAWeights
from gan_tf.errors import UserError


def _mean_prediction(y_true, y_pred):
    # As a "metric" of D's train_on_batch: the mean D output on that batch (D(x) or D(G(z))).
    return ops.mean(y_pred)


def _score_metrics():
    # Mean D(x) and D(G(z)) of a pair model's step, logged as real_score and fake_score.
    return {name: [keras.metrics.MeanMetricWrapper(_mean_prediction, name="score")] for name in ("real", "fake")}


def _penalty_as_loss(y_true, y_pred):
    # The R1 output of D's pair is already the per-image penalty: the "loss" is its mean.
    return ops.mean(y_pred)


class R1Penalty(keras.layers.Layer):
    """R1 of a sigmoid D, as an output of D's pair model: 1/2 ||grad_x logit D(x)||^2 per real image.

    `gan_tf.regularizers.r1_penalty` (the fit style's) on D's logit, log p - log(1 - p) of its
    probability p. Its gradient is taken inside the forward pass, so the pair's `train_on_batch`
    differentiates it once more, as the fit style's step does.
    """

    def __init__(self, discriminator, **kwargs):
        super().__init__(**kwargs)
        self.discriminator = discriminator

    def call(self, images):
        def logits(images, training=True):
            probability = ops.clip(self.discriminator(images, training=training), 1e-7, 1.0 - 1e-7)
            return ops.log(probability) - ops.log1p(-probability)

        return regularizers.r1_penalty(logits, images)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],)


def _minimax_generator_loss(y_true, y_pred):
    # log(1 - D(G(z))) to minimise, i.e. minus D's cross-entropy against the "fake" label 0.
    return -keras.losses.binary_crossentropy(ops.zeros_like(y_pred), y_pred)


class CombinedGAN:
    """G, a sigmoid D and the frozen-D combined model, with a `fit`-like loop driving Keras callbacks.

    Args:
        generator: z -> images in [-1, 1] (its input named `z`; no labels or codes in this style).
        discriminator: images -> P(real) (sigmoid).
        g_optimizer / d_optimizer: one optimizer each; the combined model owns G's.
        loss: "non-saturating" (binary cross-entropy against the label 1) or "minimax".
        d_steps, label_smoothing, ema_decay, seed, reuse_fakes: as in `gan_tf.gan.GAN`.
        r1_weight, r1_interval: R1's gamma and lazy interval, as `gan_tf.regularizers.Regularization`'s:
            on every `r1_interval`-th update of D (counted by D's optimizer, so a resumed run keeps the
            rhythm), D trains through a second pair model whose third output is the penalty, weighted
            gamma x interval.
        jit_compile: compile D's and the combined model's train steps (and G's forward pass and the EMA
            update) with XLA. Explicit, never Keras' "auto": `--xla on` must mean on in both styles.
    """

    def __init__(self, generator, discriminator, g_optimizer, d_optimizer, loss="non-saturating", d_steps=1,
                 label_smoothing=0.0, ema_decay=0.0, seed=0, jit_compile=False, r1_weight=0.0, r1_interval=1,
                 reuse_fakes=False):
        if loss not in ("non-saturating", "minimax"):
            raise UserError(f"the combined style supports the non-saturating and minimax losses, got {loss!r}")
        self.conditioning = Conditioning.of(generator)
        if self.conditioning.names != ["z"]:
            raise UserError("--style combined trains unconditional generators (input z only); use --style fit "
                            "for labels and InfoGAN codes")
        self.generator = generator
        self.discriminator = discriminator
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        self.d_steps = d_steps
        self.label_smoothing = label_smoothing
        self.rng = np.random.default_rng(seed)
        self.reuse_fakes = reuse_fakes
        self.stop_training = False

        # D's step sees a real and a fake batch in separate forward passes (so batch statistics such as
        # minibatch std are never mixed) and makes one update from the sum of both cross-entropies,
        # exactly as the custom train_step does.
        shape = tuple(discriminator.inputs[0].shape[1:])
        real_input = keras.Input(shape, name="real_images")
        fake_input = keras.Input(shape, name="fake_images")
        self.discriminator_pair = keras.Model(
            [real_input, fake_input],
            {"real": discriminator(real_input), "fake": discriminator(fake_input)}, name="discriminator_pair")
        self.discriminator_pair.compile(
            optimizer=d_optimizer, loss={"real": "binary_crossentropy", "fake": "binary_crossentropy"},
            metrics=_score_metrics(),
            jit_compile=jit_compile)
        self.r1_interval = r1_interval
        self.discriminator_pair_r1 = None
        if r1_weight:  # the same D and optimizer; the pair to train with on the updates R1 is due
            outputs = {"real": discriminator(real_input), "fake": discriminator(fake_input),
                       "r1": R1Penalty(discriminator, name="r1_penalty")(real_input)}
            self.discriminator_pair_r1 = keras.Model([real_input, fake_input], outputs, name="discriminator_pair_r1")
            self.discriminator_pair_r1.compile(
                optimizer=d_optimizer,
                loss={"real": "binary_crossentropy", "fake": "binary_crossentropy", "r1": _penalty_as_loss},
                loss_weights={"real": 1.0, "fake": 1.0, "r1": r1_weight * r1_interval},
                metrics=_score_metrics(),
                jit_compile=jit_compile)
        # Build both optimizers now, so a checkpoint can restore their state before the first step.
        d_optimizer.build(discriminator.trainable_variables)
        g_optimizer.build(generator.trainable_variables)
        # The combined model: D's weights take part in the forward pass but G's optimizer updates G only.
        discriminator.trainable = False
        z = keras.Input((self.conditioning.latent_dim,), name="z")
        self.combined = keras.Model(z, discriminator(generator(z)), name="combined")
        self.combined.compile(optimizer=g_optimizer,
                              loss="binary_crossentropy" if loss == "non-saturating" else _minimax_generator_loss,
                              jit_compile=jit_compile)
        self.ema = EMAWeights(generator, ema_decay, name="ema") if ema_decay > 0 else None
        self._update_ema = tf.function(self.ema.update, jit_compile=jit_compile) if self.ema else None
        self._generate = tf.function(lambda noise: generator(noise, training=True), jit_compile=jit_compile)
        self.jit_compile = jit_compile

    @property
    def latent_dim(self):
        return self.conditioning.latent_dim

    def noise(self, batch_size):
        """z for one batch, from this trainer's numpy generator (checkpointed with the run)."""
        return self.conditioning.random_inputs(self.rng, batch_size)["z"]

    def state(self):
        """What a checkpoint must keep beyond the variables: the noise generator's position."""
        return {"rng": self.rng.bit_generator.state}

    def restore_state(self, state):
        if "rng" in state:
            self.rng.bit_generator.state = state["rng"]

    def train_step(self, real_images):
        batch_size = len(real_images)
        real_targets = np.full((batch_size, 1), 1.0 - self.label_smoothing, np.float32)
        fake_targets = np.zeros((batch_size, 1), np.float32)

        # 1. Train D on a real and a fake batch (k times). trainable=True *before* the call: see above.
        self.discriminator.trainable = True
        for _ in range(self.d_steps):
            noise = self.noise(batch_size)
            fake_images = self._generate(noise)
            targets = {"real": real_targets, "fake": fake_targets}
            pair = self.discriminator_pair
            if self.discriminator_pair_r1 is not None and int(self.d_optimizer.iterations) % self.r1_interval == 0:
                pair, targets = self.discriminator_pair_r1, dict(targets, r1=np.zeros((batch_size,), np.float32))
            d_logs = pair.train_on_batch([real_images, fake_images], targets, return_dict=True)

        # 2. Train G through the frozen D: the combined model asks D to call G's images real.
        self.discriminator.trainable = False
        # `reuse_fakes`: the same z as D's last fakes (the combined model draws them again: no saving here).
        noise = noise if self.reuse_fakes else self.noise(batch_size)
        g_loss = self.combined.train_on_batch(noise, np.ones((batch_size, 1), np.float32))
        if self._update_ema is not None:
            self._update_ema()
        return {"d_loss": float(d_logs["loss"]), "g_loss": float(g_loss),
                "real_score": float(d_logs["real_score"]), "fake_score": float(d_logs["fake_score"])}

    def fit(self, dataset, epochs, initial_epoch=0, steps_per_epoch=None, callbacks=(), verbose=0):
        """Loop over `dataset` like `keras.Model.fit`, calling the same callbacks, returns the logs.

        Without `steps_per_epoch` each epoch is one pass over `dataset`; with it, epochs take that many
        batches each from one pass over a dataset that holds all of them (`gan_tf.data.to_dataset`)."""
        callback_list = keras.callbacks.CallbackList(list(callbacks), model=self)
        callback_list.on_train_begin()
        logs = {}
        batches = iter(dataset) if steps_per_epoch else None
        for epoch in range(initial_epoch, epochs):
            callback_list.on_epoch_begin(epoch)
            totals, steps = {}, 0
            epoch_batches = itertools.islice(batches, steps_per_epoch) if steps_per_epoch else dataset
            for step, batch in enumerate(epoch_batches):
                real_images = batch[0] if isinstance(batch, (tuple, list)) else batch
                step_logs = self.train_step(np.asarray(real_images))
                steps += 1
                for name, value in step_logs.items():
                    totals[name] = totals.get(name, 0.0) + float(value)
                logs = {name: value / steps for name, value in totals.items()}
                callback_list.on_train_batch_end(step, logs)
            callback_list.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        callback_list.on_train_end(logs)
        return logs

    def build_sampling_generator(self):
        """As `GAN.build_sampling_generator`: the EMA clone with re-measured BatchNorm, or G itself."""
        return self.ema.build_averaged_model() if self.ema else self.generator
