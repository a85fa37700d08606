"""Draw images from a trained generator and write them as a grid, a folder of PNGs or an `.npz`."""

import os

import numpy as np

from gan_tf import images as pixels
from gan_tf.conditioning import GeneratorInputs

MAX_SAMPLES = 100_000  # above this an .npz of 28x28 floats passes 300 MB: sample in several calls


class SavedModelGenerator:
    """A SavedModel export used like a generator: named inputs -> images in [0, 1], with TensorFlow only."""

    def __init__(self, path):
        import tensorflow as tf

        from gan_tf.export import read_metadata, resolve_saved_model

        self.path = resolve_saved_model(path)
        self.function = tf.saved_model.load(self.path).signatures["serving_default"]
        specs = self.function.structured_input_signature[1]
        metadata = read_metadata(self.path)
        self.generator_inputs = GeneratorInputs(
            latent_dim=int(specs["z"].shape[-1]),
            num_classes=int(metadata.get("num_classes", 0)) if "label" in specs else 0,
            categories=int(metadata.get("info_categories", 0)) if "code" in specs else 0,
            continuous=int(specs["continuous"].shape[-1]) if "continuous" in specs else 0)
        self.image_shape = tuple(int(size) for size in self.function.structured_outputs["images"].shape[1:])

    @property
    def latent_dim(self):
        return self.generator_inputs.latent_dim

    def unit_images(self, inputs):
        return np.asarray(self.function(**inputs)["images"])


def load_generator(path):
    """A `.keras` generator file or a SavedModel folder (saved_models/NAME[/VERSION])."""
    if os.path.isdir(path):
        return SavedModelGenerator(path)
    from gan_tf.train import load_generator as load_keras_generator

    return load_keras_generator(path)


def latent_dim_of(generator):
    return GeneratorInputs.of(generator).latent_dim


def image_shape_of(generator):
    """(height, width, channels) of a generator's images."""
    if isinstance(generator, SavedModelGenerator):
        return generator.image_shape
    return tuple(int(size) for size in generator.outputs[0].shape[1:])


def generate_unit_images(generator, z, labels=None, continuous=None, seed=0, batch_size=500):
    """Images in [0, 1] for latent vectors z, from a Keras generator or a SavedModel.

    labels / continuous: a conditional or InfoGAN generator's other inputs (see
    `GeneratorInputs.build`: by default labels cycle through the classes).
    """
    signature = GeneratorInputs.of(generator)
    inputs = signature.build(z, labels, continuous, seed)
    batches = []
    for start in range(0, len(inputs["z"]), batch_size):
        batch = {name: value[start:start + batch_size] for name, value in inputs.items()}
        if isinstance(generator, SavedModelGenerator):
            batches.append(generator.unit_images(batch))
        else:
            output = generator(signature.call_arguments(batch), training=False)
            batches.append(pixels.model_to_unit(np.asarray(output)))
    return np.concatenate(batches)


def sample_unit_images(generator, count, seed=0, labels=None, batch_size=500):
    """`count` images in [0, 1], z ~ N(0, I) drawn from `seed` (the same z for .keras and SavedModel)."""
    if not 0 < count <= MAX_SAMPLES:
        raise ValueError(f"--n must be between 1 and {MAX_SAMPLES}, got {count}")
    noise = np.random.default_rng(seed).standard_normal((count, latent_dim_of(generator))).astype(np.float32)
    return generate_unit_images(generator, noise, labels, seed=seed + 1, batch_size=batch_size)


def write_samples(unit_images, out):
    """`.png` -> one grid; `.npz` -> array `images` in [0, 1]; anything else -> a folder of PNGs."""
    lowered = out.lower()
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    if lowered.endswith(".png"):
        pixels.save_png(pixels.unit_to_bytes(pixels.grid(unit_images)), out, scale=2)
    elif lowered.endswith(".npz"):
        temporary = f"{out[:-4]}.tmp-{os.getpid()}.npz"
        np.savez_compressed(temporary, images=np.asarray(unit_images, np.float32))
        os.replace(temporary, out)
    else:
        if os.path.exists(out) and not os.path.isdir(out):
            raise ValueError(f"--out {out} exists and is not a folder; give a .png, .npz or folder path")
        os.makedirs(out, exist_ok=True)
        width = len(str(len(unit_images) - 1))
        for index, image in enumerate(pixels.unit_to_bytes(unit_images)):
            pixels.save_png(image, os.path.join(out, f"sample_{index:0{width}d}.png"))
    return out
