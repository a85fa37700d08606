"""Draw images from a trained generator and write them as a grid, a folder of PNGs or an `.npz`."""

import os

import numpy as np

from gan_tf import images as pixels

MAX_SAMPLES = 100_000  # above this an .npz of 28x28 floats passes 300 MB: sample in several calls


def sample_unit_images(generator, count, seed=0, batch_size=500):
    """`count` images in [0, 1] from a Keras generator, z ~ N(0, I) drawn from `seed`."""
    if not 0 < count <= MAX_SAMPLES:
        raise ValueError(f"--n must be between 1 and {MAX_SAMPLES}, got {count}")
    latent_dim = generator.inputs[0].shape[-1]
    noise = np.random.default_rng(seed).standard_normal((count, latent_dim)).astype(np.float32)
    batches = [np.asarray(generator(noise[start:start + batch_size], training=False))
               for start in range(0, count, batch_size)]
    return pixels.model_to_unit(np.concatenate(batches))


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
