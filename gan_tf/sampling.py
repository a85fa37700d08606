"""Draw images from a trained generator and write them as a grid, a folder of PNGs or an `.npz`."""

import os

import numpy as np

from gan_tf import images as pixels

MAX_SAMPLES = 100_000  # above this an .npz of 28x28 floats passes 300 MB: sample in several calls


class SavedModelGenerator:
    """A SavedModel export used like a generator: z -> images in [0, 1], with TensorFlow only."""

    def __init__(self, path):
        import tensorflow as tf

        from gan_tf.export import resolve_saved_model

        self.path = resolve_saved_model(path)
        self.function = tf.saved_model.load(self.path).signatures["serving_default"]
        self.latent_dim = int(self.function.structured_input_signature[1]["z"].shape[-1])
        self.image_shape = tuple(int(size) for size in self.function.structured_outputs["images"].shape[1:])

    def unit_images(self, z):
        z = np.asarray(z, np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z has shape {list(z.shape)}, but this model takes [batch, {self.latent_dim}]")
        return np.asarray(self.function(z=z)["images"])


def load_generator(path):
    """A `.keras` generator file or a SavedModel folder (saved_models/NAME[/VERSION])."""
    import os

    if os.path.isdir(path):
        return SavedModelGenerator(path)
    from gan_tf.train import load_generator as load_keras_generator

    return load_keras_generator(path)


def latent_dim_of(generator):
    if isinstance(generator, SavedModelGenerator):
        return generator.latent_dim
    return int(generator.inputs[0].shape[-1])


def image_shape_of(generator):
    """(height, width, channels) of a generator's images."""
    if isinstance(generator, SavedModelGenerator):
        return generator.image_shape
    return tuple(int(size) for size in generator.outputs[0].shape[1:])


def generate_unit_images(generator, z, batch_size=500):
    """Images in [0, 1] for latent vectors z, from a Keras generator or a SavedModel."""
    z = np.asarray(z, np.float32)
    if isinstance(generator, SavedModelGenerator):
        batches = [generator.unit_images(z[start:start + batch_size]) for start in range(0, len(z), batch_size)]
        return np.concatenate(batches)
    batches = [np.asarray(generator(z[start:start + batch_size], training=False))
               for start in range(0, len(z), batch_size)]
    return pixels.model_to_unit(np.concatenate(batches))


def sample_unit_images(generator, count, seed=0, batch_size=500):
    """`count` images in [0, 1], z ~ N(0, I) drawn from `seed` (the same z for .keras and SavedModel)."""
    if not 0 < count <= MAX_SAMPLES:
        raise ValueError(f"--n must be between 1 and {MAX_SAMPLES}, got {count}")
    noise = np.random.default_rng(seed).standard_normal((count, latent_dim_of(generator))).astype(np.float32)
    return generate_unit_images(generator, noise, batch_size)


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
