"""Image-to-image translation as one `keras.Model` with one `train_step`: pix2pix, CycleGAN and SRGAN.

The three papers differ in which losses G minimises, not in how a step runs, so one class holds them:

- paired (pix2pix, Isola et al. 2017; super-resolution, Ledig et al. 2017): G maps a source to its
  target. D judges targets against G's outputs (pix2pix's D also sees the source: it judges the pair).
  G adds an L1 to the target and, for super-resolution, a content loss: the squared distance in a
  frozen classifier's features (SRGAN used VGG's; a digit classifier works offline) or in D's own.
- unpaired (CycleGAN, Zhu et al. 2017): G maps domain A to B, F maps B to A, one D per domain; G and F
  add the cycle loss (F(G(a)) = a, G(F(b)) = b) and the identity loss (G(b) = b, F(a) = a).

Batches are (source, target) pairs either way: paired ones are aligned, unpaired ones are two
independently shuffled streams. Both generators share one optimizer and both discriminators another,
as in the papers' code (here as one Adam per model: the same update), so checkpoints, callbacks and
resume are those of `gan_tf.gan.GAN`: the trainer exposes `generator`, `discriminator`, `g_optimizer`,
`d_optimizer`, `state()` and `build_sampling_generator()`, and `checkpoint_models()` and
`checkpoint_optimizers()` name the extra models and optimizers of the unpaired case.
CycleGAN's 50-image history buffer for D is left out: with a batch of 32 the batch already mixes
many recent outputs.
"""

import keras
import tensorflow as tf
from keras import ops

from gan_tf import losses
from gan_tf.errors import UserError


class Translator(keras.Model):
    """G (and F) translating images, with PatchGAN discriminators; every loss weight is an argument.

    Args:
        generator: model source images -> target images in [-1, 1].
        discriminator: model target images (and, if `critic_sees_source`, [image, source]) -> logits
            of any shape; None trains G on its other losses alone (no adversarial term).
        backward_generator, backward_discriminator: CycleGAN's F (target -> source) and the source
            domain's D; given, the step is unpaired.
        loss: adversarial loss name from `gan_tf.losses.LOSSES`.
        adversarial_weight, reconstruction_weight, content_weight, cycle_weight, identity_weight:
            weights of G's terms (pix2pix: 1 and 100 x L1; SRGAN: 1e-3 and the content loss; CycleGAN:
            1, 10 x cycle, 5 x identity).
        content_model: model [0, 1] images -> features for the content loss (SRGAN's "VGG loss"): a
            frozen classifier, or D's layers, which only D's own step trains.
        critic_sees_source: pix2pix's conditional D, which takes [image, condition].
    """

    def __init__(self, generator, discriminator=None, backward_generator=None, backward_discriminator=None,
                 loss="non-saturating", adversarial_weight=1.0, reconstruction_weight=0.0, content_weight=0.0,
                 content_model=None, cycle_weight=0.0, identity_weight=0.0, critic_sees_source=False, **kwargs):
        super().__init__(**kwargs)
        if backward_discriminator is not None and backward_generator is None:
            raise UserError("a second discriminator needs the backward generator (CycleGAN's F)")
        if backward_generator is not None and (discriminator is None) != (backward_discriminator is None):
            raise UserError("unpaired translation (CycleGAN) takes both discriminators or neither")
        if (backward_generator is not None and identity_weight
                and generator.inputs[0].shape[-1] != generator.outputs[0].shape[-1]):
            raise UserError("the identity loss needs both domains in one channel count (load both as RGB), "
                            "or pass --identity-weight 0")
        if content_weight and content_model is None:
            raise UserError("a content loss needs a feature model (a classifier's or D's features)")
        self.generator = generator
        self.discriminator = discriminator
        self.backward_generator = backward_generator
        self.backward_discriminator = backward_discriminator
        self.generator_loss, self.discriminator_loss = losses.get_losses(loss)
        self.adversarial_weight = adversarial_weight if discriminator is not None else 0.0
        self.reconstruction_weight = reconstruction_weight
        self.content_weight = content_weight
        self.content_model = content_model
        self.cycle_weight = cycle_weight
        self.identity_weight = identity_weight
        self.critic_sees_source = critic_sees_source
        names = ["g_loss"] + (["d_loss"] if self.adversarial_weight else [])
        names += ["cycle_loss", "identity_loss"] if self.unpaired else []
        names += ["l1"] if self.paired else []
        names += ["content_loss"] if content_weight else []
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}

    @property
    def unpaired(self):
        return self.backward_generator is not None

    @property
    def paired(self):
        return not self.unpaired

    def compile(self, g_optimizer, d_optimizer=None, jit_compile=False, **kwargs):
        """G's and D's optimizers; when unpaired, F and D_A get copies of them (same settings).

        One Adam per model is the papers' one Adam over both models (Adam's update is per parameter),
        and keeps each optimizer's variables named after one model's layers, which G and F share.
        """
        super().compile(jit_compile=jit_compile, **kwargs)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer or keras.optimizers.Adam()
        self.backward_g_optimizer = self.backward_d_optimizer = None
        if self.unpaired:
            self.backward_g_optimizer = g_optimizer.__class__.from_config(g_optimizer.get_config())
            self.backward_d_optimizer = self.d_optimizer.__class__.from_config(self.d_optimizer.get_config())
        for _, model, optimizer in self._players():
            optimizer.build(model.trainable_variables)
        self.built = True

    def _players(self):
        """(role, model, optimizer) for every model that learns: "g" for generators, "d" for critics."""
        players = [("g", self.generator, self.g_optimizer)]
        if self.unpaired:
            players.append(("g", self.backward_generator, self.backward_g_optimizer))
        if self.adversarial_weight:
            players.append(("d", self.discriminator, self.d_optimizer))
            if self.unpaired:
                players.append(("d", self.backward_discriminator, self.backward_d_optimizer))
        return players

    def _apply(self, role, tape, loss):
        players = [(model, optimizer) for kind, model, optimizer in self._players() if kind == role]
        gradients = tape.gradient(loss, [model.trainable_variables for model, _ in players])
        for (model, optimizer), model_gradients in zip(players, gradients):
            optimizer.apply_gradients(zip(model_gradients, model.trainable_variables))

    def checkpoint_models(self):
        """{group name: model} for `gan_tf.checkpoints`: G and D first, then F and D_A when unpaired."""
        models = {"generator": self.generator}
        if self.discriminator is not None:
            models["discriminator"] = self.discriminator
        if self.unpaired:
            models.update(backward_generator=self.backward_generator,
                          backward_discriminator=self.backward_discriminator)
        return models

    def checkpoint_optimizers(self):
        """{group name: optimizer} for `gan_tf.checkpoints`."""
        optimizers = {"g_optimizer": self.g_optimizer, "d_optimizer": self.d_optimizer}
        if self.unpaired:
            optimizers.update(backward_g_optimizer=self.backward_g_optimizer,
                              backward_d_optimizer=self.backward_d_optimizer)
        return optimizers

    @property
    def metrics(self):
        return list(self.trackers.values())

    def _judge(self, critic, images, source):
        if self.critic_sees_source:
            return critic([images, source], training=True)
        return critic(images, training=True)

    @staticmethod
    def _global_mean(per_example):
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return ops.mean(per_example) / replicas

    def _content_loss(self, target, output):
        target_features = ops.stop_gradient(self.content_model(_to_unit(target), training=False))
        output_features = self.content_model(_to_unit(output), training=False)
        squared = ops.square(output_features - target_features)  # [batch, features] or D's [batch, h, w, c]
        return ops.mean(ops.reshape(squared, (ops.shape(squared)[0], -1)), axis=-1)

    def train_step(self, data):
        source, target, _ = keras.utils.unpack_x_y_sample_weight(data)  # fit: (x, y); train_on_batch adds None
        logs = {}
        if self.adversarial_weight:
            # 1. D (both Ds when unpaired): real targets up, G's outputs down.
            fake = self.generator(source, training=True)
            fake_back = self.backward_generator(target, training=True) if self.unpaired else None
            with tf.GradientTape() as tape:
                per_example = self.discriminator_loss(self._judge(self.discriminator, target, source),
                                                      self._judge(self.discriminator, fake, source))
                if self.unpaired:
                    per_example = 0.5 * (per_example + self.discriminator_loss(
                        self.backward_discriminator(source, training=True),
                        self.backward_discriminator(fake_back, training=True)))
                d_loss = self._global_mean(per_example)
            self._apply("d", tape, d_loss)
            logs["d_loss"] = d_loss

        # 2. G (and F): fool D, stay close to the target (paired) or to the input's content (unpaired).
        with tf.GradientTape() as tape:
            fake = self.generator(source, training=True)
            per_example = 0.0
            if self.adversarial_weight:
                per_example += self.adversarial_weight * self.generator_loss(
                    self._judge(self.discriminator, fake, source))
            if self.paired:
                l1 = losses.l1_loss(target, fake)
                logs["l1"] = ops.mean(l1)
                if self.reconstruction_weight:
                    per_example += self.reconstruction_weight * l1
                if self.content_weight:
                    content = self._content_loss(target, fake)
                    logs["content_loss"] = ops.mean(content)
                    per_example += self.content_weight * content
            else:
                fake_back = self.backward_generator(target, training=True)
                if self.adversarial_weight:
                    per_example += self.adversarial_weight * self.generator_loss(
                        self.backward_discriminator(fake_back, training=True))
                cycle = (losses.cycle_consistency_loss(source, self.backward_generator(fake, training=True))
                         + losses.cycle_consistency_loss(target, self.generator(fake_back, training=True)))
                identity = (losses.identity_loss(target, self.generator(target, training=True))
                            + losses.identity_loss(source, self.backward_generator(source, training=True)))
                logs.update(cycle_loss=ops.mean(cycle), identity_loss=ops.mean(identity))
                per_example += self.cycle_weight * cycle + self.identity_weight * identity
            g_loss = self._global_mean(per_example)
        self._apply("g", tape, g_loss)
        logs["g_loss"] = g_loss

        for name, value in logs.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def state(self):
        """A checkpoint's state beyond the variables: none (no noise; dropout is Keras')."""
        return {}

    def restore_state(self, state):
        del state

    def build_sampling_generator(self):
        """The model that translates: G itself (no EMA here)."""
        return self.generator


def _to_unit(images):
    return (images + 1.0) * 0.5


class SavedModelTranslator:
    """An exported translator (saved_models/NAME[/VERSION]) called like G: model-range images in and out.

    Needs TensorFlow only: the SavedModel's `serving_default` takes and returns [0, 1] images.
    """

    def __init__(self, path):
        from gan_tf.export import read_metadata, resolve_saved_model

        version_dir = resolve_saved_model(path)
        signature = tf.saved_model.load(version_dir).signatures.get("serving_default")
        inputs = signature.structured_input_signature[1] if signature is not None else {}
        if "images" not in inputs or len(inputs["images"].shape) != 4:
            raise UserError(f"{path} is a SavedModel of a noise-to-image generator (inputs: "
                            f"{', '.join(sorted(inputs))}); use `gan-tf sample` for it")
        self.signature = signature
        self.input_shape = tuple(int(size) for size in inputs["images"].shape[1:])
        metadata = read_metadata(version_dir)
        self.output_shape = tuple(metadata.get("image_shape") or
                                  signature.structured_outputs["images"].shape[1:])

    def __call__(self, images, training=False):
        del training
        unit = (tf.convert_to_tensor(images, tf.float32) + 1.0) / 2.0
        return self.signature(images=unit)["images"] * 2.0 - 1.0


def shapes_of(translator):
    """(input shape, output shape) without the batch axis, for a Keras G or a `SavedModelTranslator`."""
    if isinstance(translator, SavedModelTranslator):
        return translator.input_shape, translator.output_shape
    return (tuple(int(size) for size in translator.inputs[0].shape[1:]),
            tuple(int(size) for size in translator.outputs[0].shape[1:]))


def translate_images(generator, images, batch_size=256):
    """G's outputs for model-range images [n, H, W, C] in [-1, 1], in batches, as a float32 array."""
    import numpy as np

    expected = shapes_of(generator)[0]
    if tuple(np.shape(images)[1:]) != expected:
        raise UserError(f"this translator takes {'x'.join(map(str, expected))} images, these are "
                        f"{'x'.join(map(str, np.shape(images)[1:]))}")
    outputs = [ops.convert_to_numpy(generator(np.asarray(images[start:start + batch_size], np.float32),
                                              training=False))
               for start in range(0, len(images), batch_size)]
    return np.concatenate(outputs) if outputs else np.zeros((0,) + shapes_of(generator)[1], np.float32)


def load_translator(path, upscaler=False, unsafe=False):
    """The image-to-image generator of a run folder, a `.keras` file or an exported SavedModel
    (saved_models/NAME[/VERSION]), checked to be one; `unsafe` as in `runs.load_keras_model`.

    Raises:
        UserError: no such model, a noise-to-image generator, or (for `upscaler`) a model that does not
            enlarge its input, with what to use instead.
    """
    import os

    from gan_tf import runs

    if os.path.isdir(path) and os.path.exists(os.path.join(path, runs.GENERATOR_FILE)):
        path = os.path.join(path, runs.GENERATOR_FILE)
    if os.path.isdir(path):
        generator = SavedModelTranslator(path)
    elif os.path.isfile(path) and path.endswith(".keras"):
        generator = runs.load_generator(path, unsafe)
        if len(generator.inputs) != 1 or len(generator.inputs[0].shape) != 4:
            raise UserError(f"{path} draws images from noise (inputs: "
                            f"{', '.join(t.name for t in generator.inputs)}); use `gan-tf sample` for it, or "
                            "give a model trained by `gan-tf train-translator`")
    else:
        raise UserError(f"no translator at {path}; give a run folder of `gan-tf train-translator`, its "
                        "generator.keras, or an exported saved_models/NAME")
    input_shape, output_shape = shapes_of(generator)
    enlarges = output_shape[0] > input_shape[0]
    if upscaler and not enlarges:
        raise UserError(f"{path} keeps the image size ({input_shape[0]} -> {output_shape[0]}); it is a "
                        "translator: use `gan-tf translate`")
    if not upscaler and enlarges:
        raise UserError(f"{path} enlarges images ({input_shape[0]} -> {output_shape[0]}); use `gan-tf upscale`")
    return generator


def write_translations(source_images, output_images, out):
    """Write model-range inputs and outputs: `.png` -> a grid, inputs above their outputs; `.npz` ->
    `images` (outputs) and `inputs` in [0, 1]; anything else -> a folder of one PNG per output."""
    from gan_tf import images as pixels
    from gan_tf.sampling import write_samples

    return write_samples(pixels.model_to_unit(output_images), out, inputs=pixels.model_to_unit(source_images),
                         name="output")
