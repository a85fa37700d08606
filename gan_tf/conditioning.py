"""What a generator takes besides z (a class label, InfoGAN codes) and how to build those inputs.

A generator's inputs are named (`z`, `label`, `code`, `continuous`); `GeneratorInputs.of` reads them
from a Keras model, so sampling, grids, metrics, EMA and export handle plain, conditional and InfoGAN
generators with one code path. Labels default to cycling through the classes, which gives every class
the same share, and continuous codes to uniform draws from a seed.
"""

from dataclasses import dataclass

import numpy as np

LABEL_EMBEDDING_LAYER = "label_embedding"
CODE_ONE_HOT_LAYER = "code_one_hot"


@dataclass(frozen=True)
class GeneratorInputs:
    latent_dim: int
    num_classes: int = 0  # conditional GAN: input `label`
    categories: int = 0  # InfoGAN's categorical code: input `code`
    continuous: int = 0  # InfoGAN's continuous codes: input `continuous`

    @classmethod
    def of(cls, generator):
        """Read the inputs of a Keras generator (built by gan_tf.models)."""
        if hasattr(generator, "generator_inputs"):  # a SavedModelGenerator knows its own
            return generator.generator_inputs
        shapes = {tensor.name: tensor.shape for tensor in generator.inputs}
        if "z" not in shapes:
            if len(shapes) != 1:
                raise ValueError(f"generator inputs {sorted(shapes)} have no `z`")
            shapes = {"z": next(iter(shapes.values()))}
        layer_names = {layer.name for layer in generator.layers}
        return cls(
            latent_dim=int(shapes["z"][-1]),
            num_classes=(generator.get_layer(LABEL_EMBEDDING_LAYER).input_dim
                         if "label" in shapes and LABEL_EMBEDDING_LAYER in layer_names else 0),
            categories=(generator.get_layer(CODE_ONE_HOT_LAYER).input_dim
                        if "code" in shapes and CODE_ONE_HOT_LAYER in layer_names else 0),
            continuous=int(shapes["continuous"][-1]) if "continuous" in shapes else 0)

    @property
    def names(self):
        return ["z"] + [name for name, used in (("label", self.num_classes), ("code", self.categories),
                                                 ("continuous", self.continuous)) if used]

    @property
    def classes(self):
        """How many values the class-like input (label or categorical code) takes; 0 if none."""
        return self.num_classes or self.categories

    @property
    def class_input(self):
        """Name of the class-like input (`label` or `code`), or None."""
        return "label" if self.num_classes else "code" if self.categories else None

    def build(self, z, labels=None, continuous=None, seed=0):
        """The generator's inputs as a dict by name, for latent vectors z [n, latent_dim].

        labels: class (or categorical code) per row; default 0, 1, ..., k-1, 0, 1, ...
        continuous: InfoGAN's continuous codes [n, c]; default uniform in [-1, 1] drawn from `seed`.
        """
        z = np.asarray(z, np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z has shape {list(z.shape)}, but this generator takes [batch, {self.latent_dim}]")
        inputs = {"z": z}
        if self.classes:
            if labels is None:
                labels = np.arange(len(z)) % self.classes
            labels = np.broadcast_to(np.asarray(labels, np.int32), (len(z),))
            if labels.min(initial=0) < 0 or labels.max(initial=0) >= self.classes:
                raise ValueError(f"labels must be in 0..{self.classes - 1}, got {sorted(set(labels.tolist()))}")
            inputs[self.class_input] = np.ascontiguousarray(labels)
        elif labels is not None:
            raise ValueError("this generator is unconditional: it takes no labels (drop --label)")
        if self.continuous:
            if continuous is None:
                continuous = np.random.default_rng(seed).uniform(-1, 1, (len(z), self.continuous))
            inputs["continuous"] = np.asarray(continuous, np.float32).reshape(len(z), self.continuous)
        return inputs

    def call_arguments(self, inputs):
        """The Keras model's positional argument for a dict from `build`: z alone, or the input list."""
        if len(self.names) == 1:
            return inputs["z"]
        return [inputs[name] for name in self.names]
