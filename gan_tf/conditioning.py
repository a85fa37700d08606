"""What a generator takes besides z, and the one place G's inputs are built.

A generator's inputs are named: `z` always; `label` for a conditional GAN; `code` and `continuous`
for InfoGAN; `mix_z`, `crossover` and `truncation` for a style-based generator (StyleGAN).
`Conditioning` knows which of them a generator has and owns everything that depends on it, so no
other module builds G's inputs:

- training (`gan_tf.gan`, `gan_tf.combined`): `draw` makes one batch of inputs with stateless random
  ops keyed by (seed, stream, step, replica), and `critic` feeds D the condition the way this kind of
  model expects (a conditional D takes the label, an InfoGAN D answers with Q's code estimates too);
- sampling, the EMA's BatchNorm re-measurement and evaluation: `build` / `random_inputs` make numpy
  inputs by name and `generate` calls G with them;
- export and `gan-tf sample`: `tensor_specs`, `sample_inputs` and the metadata name the inputs of the
  serving signatures;
- the per-epoch grid: `grid_inputs` puts one class per column.

Style mixing regularisation lives here too (`draw` mixes two latents at a random crossover), so the
training step stays the same for every variant. New kinds of input (an input image for translation)
are new fields here, and every user of G's inputs follows.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

from gan_tf.errors import UserError

LABEL_EMBEDDING_LAYER = "label_embedding"
CODE_ONE_HOT_LAYER = "code_one_hot"
STYLE_MIX_LAYER = "style_mix"  # gan_tf.models.style.STYLE_MIX_LAYER: tells how many style layers G has
STYLE_INPUTS = ("mix_z", "crossover", "truncation")

# Streams of the stateless noise in a training step; the step's own randomness (the interpolation of
# WGAN-GP, stream 1) uses the same seed function.
NOISE_STREAM, LABEL_STREAM, CONTINUOUS_STREAM = 0, 2, 3
MIX_NOISE_STREAM, CROSSOVER_STREAM, MIXING_COIN_STREAM = 4, 5, 6


@dataclass(frozen=True)
class GeneratorDraw:
    """One batch drawn for G: its inputs (in G's order), D's condition and InfoGAN's codes."""

    inputs: list
    condition: object = None  # the labels D sees with the fakes (conditional GAN), else None
    codes: tuple | None = None  # InfoGAN: (categorical code or None, continuous codes or None)


@dataclass(frozen=True)
class Conditioning:
    """The inputs of a generator besides z.

    Args:
        latent_dim: width of z.
        num_classes: conditional GAN (input `label`, int32 [batch]); D takes [images, label]. 0 is off.
        categories: InfoGAN's categorical code (input `code`, int32 [batch]). 0 is off.
        continuous: InfoGAN's continuous codes (input `continuous`, float32 [batch, n], uniform in
            [-1, 1]). With either code, D returns [logit, q]. 0 is off.
        styles: a style-based G's number of style layers. It takes `mix_z` (a second latent),
            `crossover` (int32 [batch]: style layers from this index on take mix_z's style; `styles`
            means no mixing) and `truncation` (float32 [batch], psi; 1 is none). 0 is off.
        mixing: style mixing regularisation (Karras et al. 2019): the probability that a training
            draw mixes two latents at a uniformly drawn crossover. A training choice, not part of G:
            `GAN(style_mixing=p)` sets it.
    """

    latent_dim: int
    num_classes: int = 0
    categories: int = 0
    continuous: int = 0
    styles: int = 0
    mixing: float = 0.0

    def __post_init__(self):
        if self.num_classes and (self.categories or self.continuous):
            raise UserError("a generator takes either a class label or InfoGAN codes, not both")
        if self.styles and (self.num_classes or self.categories or self.continuous):
            raise UserError("style-based generators take no class label or InfoGAN codes in gan-tf")
        if not 0.0 <= self.mixing <= 1.0:
            raise UserError(f"--style-mixing must be a probability in [0, 1], got {self.mixing}")
        if self.mixing and self.styles < 2:
            raise UserError("--style-mixing needs a style-based generator (--architecture stylegan)")

    def with_mixing(self, probability):
        """This conditioning with style mixing at `probability` in training draws."""
        return dataclasses.replace(self, mixing=float(probability))

    @classmethod
    def of(cls, generator):
        """Read the inputs of a Keras generator (built by gan_tf.models) or a loaded SavedModel."""
        if hasattr(generator, "conditioning"):  # a SavedModelGenerator knows its own
            return generator.conditioning
        shapes = {tensor.name: tensor.shape for tensor in generator.inputs}
        if "z" not in shapes:
            if len(shapes) != 1:
                raise UserError(f"generator inputs {sorted(shapes)} have no `z`; name the noise input "
                                "keras.Input(..., name='z')")
            shapes = {"z": next(iter(shapes.values()))}
        if len(shapes["z"]) != 2:
            raise UserError(f"a generator takes noise shaped [batch, latent_dim], this model takes "
                            f"{list(shapes['z'])}: is it a generator?")
        unknown = sorted(set(shapes) - {"z", "label", "code", "continuous", *STYLE_INPUTS})
        if unknown:
            raise UserError(f"generator input(s) {unknown} are not z, label, code, continuous, mix_z, crossover "
                            "or truncation; gan-tf cannot tell what to feed them")
        layer_names = {layer.name for layer in generator.layers}
        styles = 0
        if set(STYLE_INPUTS) & set(shapes):
            if not set(STYLE_INPUTS) <= set(shapes) or STYLE_MIX_LAYER not in layer_names:
                raise UserError(f"a style-based generator takes all of {list(STYLE_INPUTS)} and mixes them in a "
                                f"StyleMix layer named {STYLE_MIX_LAYER!r} (gan_tf.models.style)")
            styles = int(generator.get_layer(STYLE_MIX_LAYER).num_styles)
        classes = {}
        for name, layer in (("label", LABEL_EMBEDDING_LAYER), ("code", CODE_ONE_HOT_LAYER)):
            if name in shapes:
                if layer not in layer_names:
                    raise UserError(f"the generator's `{name}` input must feed an Embedding named {layer!r} "
                                    "(gan_tf.models.conditional), which tells how many classes it takes")
                classes[name] = generator.get_layer(layer).input_dim
        return cls(latent_dim=int(shapes["z"][-1]), num_classes=classes.get("label", 0),
                   categories=classes.get("code", 0),
                   continuous=int(shapes["continuous"][-1]) if "continuous" in shapes else 0, styles=styles)

    @classmethod
    def from_metadata(cls, latent_dim, metadata, input_shapes):
        """For an exported SavedModel: its `serving_default` inputs {name: shape} and its
        assets.extra/config.json (which holds the class counts a signature's shapes cannot show)."""
        conditioning = cls(
            latent_dim=latent_dim,
            num_classes=int(metadata.get("num_classes", 0)) if "label" in input_shapes else 0,
            categories=int(metadata.get("info_categories", 0)) if "code" in input_shapes else 0,
            continuous=int(input_shapes["continuous"][-1]) if "continuous" in input_shapes else 0,
            styles=int(metadata.get("styles", 0)) if "truncation" in input_shapes else 0)
        if set(conditioning.serving_names) != set(input_shapes):
            raise UserError(f"the SavedModel takes {sorted(input_shapes)} but its assets.extra/config.json "
                            f"describes {conditioning.serving_names}; re-export it with gan-tf export")
        return conditioning

    def metadata(self):
        """What an export records so `from_metadata` can rebuild this object."""
        return {"latent_dim": self.latent_dim, "num_classes": self.num_classes,
                "info_categories": self.categories, "info_continuous": self.continuous, "styles": self.styles,
                "inputs": self.serving_names}

    # What exists ----------------------------------------------------------------------------------

    @property
    def names(self):
        """G's input names in the order G takes them."""
        return ["z"] + [name for name, used in (("label", self.num_classes), ("code", self.categories),
                                                 ("continuous", self.continuous)) if used] + \
            (list(STYLE_INPUTS) if self.styles else [])

    @property
    def serving_names(self):
        """The inputs an export's `serving_default` takes: G's, less the mixing ones (a served style-based
        G takes z and truncation; `expand` fills mix_z and crossover with "no mixing")."""
        return [name for name in self.names if name not in ("mix_z", "crossover")]

    @property
    def is_info(self):
        return bool(self.categories or self.continuous)

    @property
    def classes(self):
        """How many values the class-like input (label or categorical code) takes; 0 if none."""
        return self.num_classes or self.categories

    @property
    def class_input(self):
        """Name of the class-like input (`label` or `code`), or None."""
        return "label" if self.num_classes else "code" if self.categories else None

    # Training: graph-mode draws and D's view of the condition ------------------------------------

    def draw(self, batch_size, seed):
        """One batch of G's inputs with stateless random ops; `seed(stream)` gives each stream's seed.

        z ~ N(0, I); class labels (or codes) uniform over the classes; continuous codes uniform in
        [-1, 1]. Stateless ops keyed by the caller's (seed, step, replica) make a run reproducible from
        its seed and different on every replica, with no random state for replicas to synchronise.
        """
        import tensorflow as tf

        z = tf.random.stateless_normal((batch_size, self.latent_dim), seed=seed(NOISE_STREAM))
        labels = None
        if self.classes:
            labels = tf.random.stateless_uniform((batch_size,), seed=seed(LABEL_STREAM), maxval=self.classes,
                                                 dtype="int32")
        if self.num_classes:
            return GeneratorDraw([z, labels], condition=labels)
        if self.styles:
            return GeneratorDraw([z, *self._mixing_draw(z, seed)])
        if not self.is_info:
            return GeneratorDraw([z])
        continuous = None
        if self.continuous:
            continuous = tf.random.stateless_uniform((batch_size, self.continuous), minval=-1.0, maxval=1.0,
                                                     seed=seed(CONTINUOUS_STREAM))
        inputs = [z] + [code for code in (labels, continuous) if code is not None]
        return GeneratorDraw(inputs, codes=(labels, continuous))

    def _mixing_draw(self, z, seed):
        # Style mixing regularisation: with probability `mixing`, a second latent takes over the style
        # layers from a crossover drawn uniformly in 1..styles-1; otherwise crossover = styles (none).
        import tensorflow as tf

        batch_size = tf.shape(z)[0]
        mix_z = tf.random.stateless_normal((batch_size, self.latent_dim), seed=seed(MIX_NOISE_STREAM))
        crossover = tf.fill((batch_size,), self.styles)
        if self.mixing:
            cut = tf.random.stateless_uniform((batch_size,), seed=seed(CROSSOVER_STREAM), minval=1,
                                              maxval=self.styles, dtype="int32")
            mixed = tf.random.stateless_uniform((batch_size,), seed=seed(MIXING_COIN_STREAM)) < self.mixing
            crossover = tf.where(mixed, cut, crossover)
        return [mix_z, crossover, tf.ones((batch_size,), z.dtype)]

    def split_batch(self, data):
        """(images, labels or None) from a training batch; a conditional GAN needs the labels."""
        if isinstance(data, (tuple, list)):
            images, labels = data[0], (data[1] if len(data) > 1 else None)
        else:
            images, labels = data, None
        if self.num_classes and labels is None:
            raise UserError("a conditional GAN trains on (images, labels) batches; use a labelled data set")
        return images, (labels if self.num_classes else None)

    def critic(self, discriminator, images, condition=None, training=True):
        """D's logits for images (given their labels when conditional), and Q's output for InfoGAN."""
        if self.num_classes:
            return discriminator([images, condition], training=training), None
        if self.is_info:
            logits, q = discriminator(images, training=training)
            return logits, q
        return discriminator(images, training=training), None

    def code_loss(self, q, codes):
        """Per-example -log Q(c | G(z, c)) up to constants (Chen et al. 2016): cross-entropy for the
        categorical code, squared error for the continuous ones (a unit-variance Gaussian Q)."""
        import keras
        from keras import ops

        labels, continuous = codes
        loss = 0.0
        if labels is not None:
            loss += keras.losses.sparse_categorical_crossentropy(labels, q[:, :self.categories], from_logits=True)
        if continuous is not None:
            loss += 0.5 * ops.sum(ops.square(q[:, self.categories:] - continuous), axis=-1)
        return loss

    @staticmethod
    def call_arguments(inputs):
        """G's positional argument for a list of inputs in G's order: z alone, or the list."""
        return inputs[0] if len(inputs) == 1 else list(inputs)

    # Sampling: numpy inputs by name ---------------------------------------------------------------

    def build(self, z, labels=None, continuous=None, seed=0, truncation=None):
        """G's inputs as a dict by name, for latent vectors z [n, latent_dim].

        labels: class (or categorical code) per row; default 0, 1, ..., k-1, 0, 1, ...
        continuous: InfoGAN's continuous codes [n, c]; default uniform in [-1, 1] drawn from `seed`.
        truncation: a style-based G's psi (a number or one per row); default 1 (none). No mixing.
        """
        z = np.asarray(z, np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise UserError(f"z has shape {list(z.shape)}, but this generator takes [batch, {self.latent_dim}]")
        inputs = {"z": z}
        if self.classes:
            if labels is None:
                labels = np.arange(len(z)) % self.classes
            labels = np.broadcast_to(np.asarray(labels, np.int32), (len(z),))
            if labels.min(initial=0) < 0 or labels.max(initial=0) >= self.classes:
                raise UserError(f"labels must be in 0..{self.classes - 1}, got {sorted(set(labels.tolist()))}")
            inputs[self.class_input] = np.ascontiguousarray(labels)
        elif labels is not None:
            raise UserError("this generator is unconditional: it takes no labels (drop --label)")
        if self.continuous:
            if continuous is None:
                continuous = np.random.default_rng(seed).uniform(-1, 1, (len(z), self.continuous))
            inputs["continuous"] = np.asarray(continuous, np.float32).reshape(len(z), self.continuous)
        if self.styles:
            psi = np.broadcast_to(np.asarray(1.0 if truncation is None else truncation, np.float32), (len(z),))
            if not np.all(np.isfinite(psi)):
                raise UserError(f"--truncation must be a finite number, got {truncation}")
            inputs.update(mix_z=z, crossover=np.full(len(z), self.styles, np.int32), truncation=psi.copy())
        elif truncation is not None:
            raise UserError("this generator has no truncation input; only style-based generators "
                            "(--preset stylegan) take --truncation")
        return inputs

    def noise(self, count, seed):
        """z for `count` samples, float32 [count, latent_dim] ~ N(0, I) from numpy's generator of `seed`.

        The one numpy source of z: `gan-tf sample --seed S`, the FD monitor, class control and latent
        walks all draw here, so the same seed means the same z everywhere (the export's `sample`
        signature uses stateless TensorFlow draws instead, see `sample_inputs`).
        """
        if seed < 0:
            raise UserError(f"a seed must be 0 or a positive integer, got {seed}")
        return np.random.default_rng(seed).standard_normal((count, self.latent_dim)).astype(np.float32)

    def random_inputs(self, rng, batch_size, seed=0):
        """Training-like numpy inputs: z ~ N(0, I) and random classes from `rng` (a numpy Generator).

        A batch that cycles through the classes (the `build` default) is not a training batch; BatchNorm
        re-measurement and the classic style's noise use this instead.
        """
        inputs = self.build(rng.standard_normal((batch_size, self.latent_dim)), seed=seed)
        if self.classes:
            inputs[self.class_input] = rng.integers(0, self.classes, batch_size).astype(np.int32)
        return inputs

    def generate(self, generator, inputs, training=False):
        """Call a Keras generator on a dict of inputs by name; returns its output (model range)."""
        return generator(self.call_arguments([inputs[name] for name in self.names]), training=training)

    def grid_inputs(self, side, seed):
        """Fixed inputs for the per-epoch sample grid: (z, labels or None, columns).

        Unconditional: side x side samples. With a class input: one column per class, the same z along
        each of `side` rows, so each row shows one z drawn as every class.
        """
        noise = self.noise(side if self.classes else side * side, seed)
        if not self.classes:
            return noise, None, side
        return np.repeat(noise, self.classes, axis=0), np.tile(np.arange(self.classes), side), self.classes

    # Export: signatures ---------------------------------------------------------------------------

    def tensor_specs(self):
        """`serving_default`'s input specs, in G's order (their names are the request keys)."""
        import tensorflow as tf

        specs = {"z": tf.TensorSpec([None, self.latent_dim], tf.float32, name="z"),
                 "label": tf.TensorSpec([None], tf.int32, name="label"),
                 "code": tf.TensorSpec([None], tf.int32, name="code"),
                 "continuous": tf.TensorSpec([None, self.continuous], tf.float32, name="continuous"),
                 "truncation": tf.TensorSpec([None], tf.float32, name="truncation")}
        return [specs[name] for name in self.serving_names]

    def expand(self, serving_inputs):
        """G's inputs (tensors, G's order) from `serving_default`'s: a style-based G gets mix_z = z and a
        crossover past the last style layer (no mixing)."""
        import tensorflow as tf

        if not self.styles:
            return list(serving_inputs)
        z, truncation = serving_inputs
        return [z, z, tf.fill(tf.shape(z)[:1], self.styles), truncation]

    def sample_specs(self):
        """The `sample` signature's inputs, all scalars: num_samples, seed, label (with classes) and
        truncation (style-based G)."""
        import tensorflow as tf

        specs = [tf.TensorSpec([], tf.int32, name="num_samples"), tf.TensorSpec([], tf.int64, name="seed")]
        if self.classes:
            specs.append(tf.TensorSpec([], tf.int32, name="label"))
        if self.styles:
            specs.append(tf.TensorSpec([], tf.float32, name="truncation"))
        return specs

    def sample_inputs(self, num_samples, seed, label=None, truncation=None):
        """G's inputs inside the `sample` signature: stateless draws from `seed`, so the same seed gives
        the same images in any process and on any server replica; label -1 cycles through the classes."""
        import tensorflow as tf

        z = tf.random.stateless_normal(tf.stack([num_samples, self.latent_dim]),
                                       seed=tf.stack([seed, tf.constant(0, tf.int64)]))
        inputs = [z]
        if self.classes:
            message = f"label must be -1 (all) or 0..{self.classes - 1}"
            checks = [tf.debugging.assert_less(label, self.classes, message=message),
                      tf.debugging.assert_greater_equal(label, -1, message=message)]
            with tf.control_dependencies(checks):  # refuse before the embedding lookup fails obscurely
                cycled = tf.range(num_samples, dtype=tf.int32) % self.classes
                inputs.append(tf.where(label < 0, cycled, tf.fill([num_samples], label)))
        if self.continuous:
            inputs.append(tf.random.stateless_uniform(
                tf.stack([num_samples, self.continuous]), minval=-1.0, maxval=1.0,
                seed=tf.stack([seed, tf.constant(1, tf.int64)])))
        if self.styles:
            inputs = self.expand([z, tf.fill([num_samples], tf.cast(truncation, tf.float32))])
        return inputs
