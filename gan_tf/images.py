"""Pixel ranges, grids, PNG and GIF writing: the one place pixels change range.

Three ranges appear in this project, and every function says which it takes and returns:
- "model" range [-1, 1] (float32): what G's tanh produces and D consumes;
- "unit" range [0, 1] (float32): what exports, `.npz` samples and metrics use;
- "byte" range 0..255 (uint8): what files on disk hold.
"""

import math

import numpy as np

from gan_tf import runs


def bytes_to_model(images):
    """uint8 0..255 -> float32 [-1, 1]."""
    return np.asarray(images, np.float32) / 127.5 - 1.0


def model_to_unit(images):
    """[-1, 1] -> [0, 1], clipped (tanh never quite reaches the ends; noise might)."""
    return np.clip((np.asarray(images, np.float32) + 1.0) / 2.0, 0.0, 1.0)


def unit_to_model(images):
    """[0, 1] -> [-1, 1]."""
    return np.asarray(images, np.float32) * 2.0 - 1.0


def bicubic_upscale(unit_images, side):
    """[0, 1] images resized to side x side by bicubic interpolation, clipped to [0, 1] (it overshoots).

    The reference every super-resolution model is measured against.
    """
    import tensorflow as tf

    resized = tf.image.resize(np.asarray(unit_images, np.float32), (side, side), method="bicubic")
    return np.clip(resized.numpy(), 0.0, 1.0)


def unit_to_bytes(images):
    """[0, 1] -> uint8 0..255, rounded."""
    return np.round(np.clip(np.asarray(images, np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)


def model_to_bytes(images):
    """[-1, 1] -> uint8 0..255."""
    return unit_to_bytes(model_to_unit(images))


def grid(images, columns=None, padding=2):
    """Tile [n, H, W, C] images (any range, any dtype) into one [rows*H, columns*W, C] picture.

    Padding between tiles takes the images' minimum value, so digits sit on a black background.
    """
    images = np.asarray(images)
    count, height, width, channels = images.shape
    columns = columns or int(math.ceil(math.sqrt(count)))
    rows = int(math.ceil(count / columns))
    fill = images.min() if images.size else 0
    canvas = np.full((rows * (height + padding) + padding, columns * (width + padding) + padding, channels),
                     fill, dtype=images.dtype)
    for index, image in enumerate(images):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        canvas[top:top + height, left:left + width] = image
    return canvas


def _pil(image_bytes):
    from PIL import Image

    if image_bytes.ndim == 3 and image_bytes.shape[-1] == 1:
        return Image.fromarray(image_bytes[..., 0], mode="L")
    return Image.fromarray(image_bytes)


def save_png(image_bytes, path, scale=1):
    """Write one uint8 [H, W, C] picture, enlarged `scale` times with nearest-neighbour pixels.

    Written atomically (`gan_tf.runs.atomic_path`), so a reader never sees half a file.
    """
    from PIL import Image

    picture = _pil(np.asarray(image_bytes, np.uint8))
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    with runs.atomic_path(path) as temporary:
        picture.save(temporary, format="PNG")  # PNG whatever the name says (a temporary name has no .png)


def save_gif(frame_paths, path, seconds_per_frame=0.4):
    """Stitch PNG files into a looping GIF (imageio), holding the last frame four times as long."""
    import imageio.v3 as imageio

    frames = [imageio.imread(frame) for frame in frame_paths]
    if not frames:
        return
    milliseconds = int(seconds_per_frame * 1000)
    durations = [milliseconds] * (len(frames) - 1) + [milliseconds * 4]
    with runs.atomic_path(path) as temporary:
        imageio.imwrite(temporary, np.stack(frames), extension=".gif", loop=0,
                        duration=durations if len(frames) > 1 else durations[0])


def comparison_rows(rows):
    """Stack equal-length image batches as rows of one grid: each enlarged (nearest) to the largest side
    and given the most channels (gray -> RGB), so inputs, outputs and targets line up."""
    side = max(row.shape[1] for row in rows)
    channels = max(row.shape[-1] for row in rows)
    fitted = []
    for row in rows:
        factor = side // row.shape[1]
        row = np.repeat(np.repeat(row, factor, axis=1), factor, axis=2) if factor > 1 else row
        fitted.append(np.repeat(row, channels, axis=-1) if row.shape[-1] < channels else row)
    return np.concatenate(fitted)


LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601, as PIL's convert("L")


def convert_channels(images, channels):
    """[n, H, W, 1|3] images (any range) with `channels` channels: gray repeated to RGB, RGB to luma.
    Keeps the dtype; uint8 luma is rounded."""
    images = np.asarray(images)
    if images.shape[-1] == channels:
        return images
    if channels == 3:
        return np.repeat(images, 3, axis=-1)
    gray = images.astype(np.float32) @ np.array(LUMA_WEIGHTS, np.float32)
    return (np.round(gray) if images.dtype == np.uint8 else gray)[..., None].astype(images.dtype)
