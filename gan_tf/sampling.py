"""Draw images from a trained generator and write them as a grid, a folder of PNGs or an `.npz`."""

import os

import numpy as np

from gan_tf import images as pixels
from gan_tf import runs
from gan_tf.conditioning import Conditioning
from gan_tf.errors import UserError
from gan_tf.export import read_metadata, resolve_saved_model

MAX_SAMPLES = 100_000  # above this an .npz of 28x28 floats passes 300 MB: sample in several calls


class SavedModelGenerator:
    """A SavedModel export used like a generator: named inputs -> images in [0, 1], with TensorFlow only."""

    def __init__(self, path):
        import tensorflow as tf

        self.path = resolve_saved_model(path)
        self.function = tf.saved_model.load(self.path).signatures["serving_default"]
        specs = self.function.structured_input_signature[1]
        if "z" not in specs:
            raise UserError(f"{self.path}'s serving_default takes {sorted(specs)}, not z: not a gan-tf generator")
        self.conditioning = Conditioning.from_metadata(int(specs["z"].shape[-1]), read_metadata(self.path),
                                                       {name: spec.shape for name, spec in specs.items()})
        self.image_shape = tuple(int(size) for size in self.function.structured_outputs["images"].shape[1:])

    @property
    def latent_dim(self):
        return self.conditioning.latent_dim

    def unit_images(self, inputs):
        return np.asarray(self.function(**{name: inputs[name] for name in self.conditioning.serving_names})["images"])


def load_generator(path, unsafe=False):
    """A `.keras` generator file, a run folder, or a SavedModel folder (saved_models/NAME[/VERSION]).

    `unsafe`: let a `.keras` file run the Python code it holds (a `Lambda` layer) when it loads.
    """
    if os.path.isdir(path) and not os.path.isfile(os.path.join(path, runs.GENERATOR_FILE)):
        return SavedModelGenerator(path)
    return runs.load_generator(path, unsafe)


def latent_dim_of(generator):
    return Conditioning.of(generator).latent_dim


def image_shape_of(generator):
    """(height, width, channels) of a generator's images."""
    if isinstance(generator, SavedModelGenerator):
        return generator.image_shape
    return tuple(int(size) for size in generator.outputs[0].shape[1:])


def unit_image_batches(generator, z, labels=None, continuous=None, seed=0, batch_size=500, truncation=None):
    """The images of `generate_unit_images`, one [<= batch_size, h, w, c] array in [0, 1] at a time.

    Only one batch exists at a time, so measuring 50,000 samples need not hold 50,000 images.
    """
    conditioning = Conditioning.of(generator)
    inputs = conditioning.build(z, labels, continuous, seed, truncation)
    for start in range(0, len(inputs["z"]), batch_size):
        batch = {name: value[start:start + batch_size] for name, value in inputs.items()}
        if isinstance(generator, SavedModelGenerator):
            yield generator.unit_images(batch)
        else:
            output = conditioning.generate(generator, batch, training=False)
            yield pixels.model_to_unit(np.asarray(output, np.float32))  # mixed precision: 16-bit


def generate_unit_images(generator, z, labels=None, continuous=None, seed=0, batch_size=500, truncation=None):
    """Images in [0, 1] for latent vectors z, from a Keras generator or a SavedModel.

    labels / continuous: a conditional or InfoGAN generator's other inputs (see
    `Conditioning.build`: by default labels cycle through the classes). truncation: a style-based
    generator's psi (default 1, none).
    """
    images, filled = None, 0
    for batch in unit_image_batches(generator, z, labels, continuous, seed, batch_size, truncation):
        if images is None:  # filled in place: concatenating a list of batches would hold every image twice
            images = np.empty((len(z),) + batch.shape[1:], batch.dtype)
        images[filled:filled + len(batch)] = batch
        filled += len(batch)
    return images


def sample_noise(generator, count, seed=0):
    """The z of `sample_unit_images(generator, count, seed)`: [count, latent_dim] ~ N(0, I) from `seed`."""
    if not 0 < count <= MAX_SAMPLES:
        raise UserError(f"--n must be between 1 and {MAX_SAMPLES}, got {count}")
    return Conditioning.of(generator).noise(count, seed)


def sample_unit_images(generator, count, seed=0, labels=None, batch_size=500, truncation=None):
    """`count` images in [0, 1], z ~ N(0, I) drawn from `seed` (the same z for .keras and SavedModel)."""
    return generate_unit_images(generator, sample_noise(generator, count, seed), labels, seed=seed + 1,
                                batch_size=batch_size, truncation=truncation)


def write_samples(unit_images, out, inputs=None, name="sample"):
    """`.png` -> one grid; `.npz` -> array `images` in [0, 1]; anything else -> a folder of PNGs.

    With `inputs` (a translator's [0, 1] inputs, one per image) the grid shows each row of inputs above
    its outputs and the `.npz` holds them as `inputs` too. `name` prefixes the PNG files of a folder.
    """
    lowered = out.lower()
    if lowered.endswith(".png"):
        picture = pixels.grid(unit_images) if inputs is None else _inputs_above_outputs(inputs, unit_images)
        pixels.save_png(pixels.unit_to_bytes(picture), out, scale=2)
    elif lowered.endswith(".npz"):
        arrays = {"images": np.asarray(unit_images, np.float32)}
        if inputs is not None:
            arrays["inputs"] = np.asarray(inputs, np.float32)
        with runs.atomic_path(out) as temporary, open(temporary, "wb") as file:  # a file: numpy adds no suffix
            np.savez_compressed(file, **arrays)
    else:
        if os.path.exists(out) and not os.path.isdir(out):
            raise UserError(f"--out {out} exists and is not a folder; give a .png, .npz or folder path")
        os.makedirs(out, exist_ok=True)
        width = len(str(len(unit_images) - 1))
        for index, image in enumerate(pixels.unit_to_bytes(unit_images)):
            pixels.save_png(image, os.path.join(out, f"{name}_{index:0{width}d}.png"))
    return out


def _inputs_above_outputs(inputs, outputs, columns=16):
    """One grid: up to `columns` inputs per row, each row followed by their outputs (sides and channels
    matched by `gan_tf.images.comparison_rows`); the last rows are padded with black."""
    columns = min(len(outputs), columns)
    rows = []
    for start in range(0, len(outputs), columns):
        for batch in (inputs[start:start + columns], outputs[start:start + columns]):
            batch = np.asarray(batch, np.float32)
            padding = np.zeros((columns - len(batch),) + batch.shape[1:], np.float32)
            rows.append(np.concatenate([batch, padding]))
    return pixels.grid(pixels.comparison_rows(rows), columns)
