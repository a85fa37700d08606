"""Export a generator as a versioned SavedModel in TensorFlow Serving's layout.

    saved_models/<model-name>/<version>/saved_model.pb, variables/, assets.extra/config.json
    saved_models/models.config            TF Serving's model config file, listing every model

Two signatures, both self-contained (loading needs TensorFlow only, no gan_tf code):
- `serving_default`: z float32 [batch, latent_dim] (a conditional G also takes label int32 [batch]; an
  InfoGAN G code int32 [batch] and continuous float32 [batch, c]) -> images float32 [batch, H, W, C]
  in [0, 1];
- `sample`: num_samples int32 scalar, seed int64 scalar (conditional and InfoGAN: label int32 scalar,
  -1 for all classes in turn) -> images, and images_png_bytes (one PNG per image, so a REST client gets
  pictures without numpy). Its noise is drawn with stateless random ops, so the same seed gives the
  same images in any process, on any server replica.

Versions are never overwritten: an export is written to a hidden temporary folder (which TF Serving
ignores, since it is not a number) and renamed into place when complete.
"""

import json
import os
import re
import shutil

import tensorflow as tf

import gan_tf
from gan_tf.conditioning import GeneratorInputs

MAX_SAMPLES_PER_REQUEST = 4096  # caps the `sample` signature: 4,096 28x28 images are ~13 MB of floats
SERVING_MOUNT = "/models"  # where the README's `docker run` mounts saved_models/ in the container
_VERSION = re.compile(r"^\d+$")


def _unit_images(generator, z):
    # [-1, 1] (tanh) -> [0, 1]; the same conversion as gan_tf.images.model_to_unit.
    images = generator(z, training=False)
    return tf.clip_by_value((tf.cast(images, tf.float32) + 1.0) / 2.0, 0.0, 1.0)


def build_archive(generator):
    """A `keras.export.ExportArchive` holding G and the two serving endpoints.

    Keras' archive, not a hand-made tf.Module: it saves Keras 3 variables so that the TF1-style
    loader of TF Serving and `saved_model_cli run` finds every one of them (a plain
    `tf.saved_model.save` of a Module wrapping a Keras 3 model loses BatchNorm's moving statistics
    on that path).
    """
    from keras.export import ExportArchive

    signature = GeneratorInputs.of(generator)
    latent_dim, classes = signature.latent_dim, signature.classes
    archive = ExportArchive()
    archive.track(generator)

    specs = {"z": tf.TensorSpec([None, latent_dim], tf.float32, name="z"),
             "label": tf.TensorSpec([None], tf.int32, name="label"),
             "code": tf.TensorSpec([None], tf.int32, name="code"),
             "continuous": tf.TensorSpec([None, signature.continuous], tf.float32, name="continuous")}

    def serving_default(*inputs):
        arguments = inputs[0] if len(inputs) == 1 else list(inputs)
        return {"images": _unit_images(generator, arguments)}

    def sample(num_samples, seed, label=None):
        tf.debugging.assert_greater(num_samples, 0, message="num_samples must be at least 1")
        tf.debugging.assert_less_equal(num_samples, MAX_SAMPLES_PER_REQUEST,
                                       message=f"num_samples must be at most {MAX_SAMPLES_PER_REQUEST}")
        z = tf.random.stateless_normal(tf.stack([num_samples, latent_dim]),
                                       seed=tf.stack([seed, tf.constant(0, tf.int64)]))
        inputs = [z]
        if classes:  # -1: cycle through the classes, else every image of class `label`
            message = f"label must be -1 (all) or 0..{classes - 1}"
            checks = [tf.debugging.assert_less(label, classes, message=message),
                      tf.debugging.assert_greater_equal(label, -1, message=message)]
            with tf.control_dependencies(checks):  # refuse before the embedding lookup fails obscurely
                cycled = tf.range(num_samples, dtype=tf.int32) % classes
                inputs.append(tf.where(label < 0, cycled, tf.fill([num_samples], label)))
        if signature.continuous:
            inputs.append(tf.random.stateless_uniform(
                tf.stack([num_samples, signature.continuous]), minval=-1.0, maxval=1.0,
                seed=tf.stack([seed, tf.constant(1, tf.int64)])))
        images = _unit_images(generator, inputs[0] if len(inputs) == 1 else inputs)
        image_bytes = tf.cast(tf.round(images * 255.0), tf.uint8)
        png = tf.map_fn(tf.io.encode_png, image_bytes, fn_output_signature=tf.string)
        return {"images": images, "images_png_bytes": png}

    archive.add_endpoint("serving_default", serving_default,
                         input_signature=[specs[name] for name in signature.names])
    sample_specs = [tf.TensorSpec([], tf.int32, name="num_samples"), tf.TensorSpec([], tf.int64, name="seed")]
    if classes:
        sample_specs.append(tf.TensorSpec([], tf.int32, name="label"))
    archive.add_endpoint("sample", sample, input_signature=sample_specs)
    return archive, signature


def versions(model_dir):
    """Integer versions present under saved_models/<name>/, ascending."""
    if not os.path.isdir(model_dir):
        return []
    return sorted(int(name) for name in os.listdir(model_dir) if _VERSION.match(name))


def export_generator(generator, model_name, base_dir="saved_models", version=None, metadata=None):
    """Write `generator` as saved_models/<model_name>/<version>/ and return that path.

    Args:
        version: an integer; default the next free one. An existing version is an error.
        metadata: JSON-able dict stored as assets.extra/config.json (the training config, steps,
            metrics...); latent dim, image shape and the project version are added.
    """
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", model_name):
        raise ValueError(f"model name {model_name!r} must be letters, digits, '_', '.', '-' (a folder name)")
    model_dir = os.path.join(base_dir, model_name)
    existing = versions(model_dir)
    if version is None:
        version = (existing[-1] + 1) if existing else 1
    if version < 1:
        raise ValueError(f"--version must be a positive integer, got {version}")
    final = os.path.join(model_dir, str(version))
    if os.path.exists(final):
        raise FileExistsError(f"{final} already exists and exports never overwrite a version; "
                              f"omit --version to write version {(existing[-1] + 1) if existing else 1}")
    os.makedirs(model_dir, exist_ok=True)
    temporary = os.path.join(model_dir, f".tmp-{version}-{os.getpid()}")
    shutil.rmtree(temporary, ignore_errors=True)
    try:
        archive, signature = build_archive(generator)
        archive.write_out(temporary, verbose=False)
        info = dict(metadata or {})
        info.update(model_name=model_name, version=version, latent_dim=signature.latent_dim,
                    num_classes=signature.num_classes, info_categories=signature.categories,
                    info_continuous=signature.continuous, inputs=signature.names,
                    image_shape=[int(size) for size in generator.outputs[0].shape[1:]],
                    gan_tf_version=gan_tf.__version__, max_samples_per_request=MAX_SAMPLES_PER_REQUEST)
        os.makedirs(os.path.join(temporary, "assets.extra"))
        with open(os.path.join(temporary, "assets.extra", "config.json"), "w") as file:
            json.dump(info, file, indent=2, sort_keys=True)
        os.rename(temporary, final)  # atomic; fails rather than replace if `final` appeared meanwhile
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    write_models_config(base_dir)
    return final


def write_models_config(base_dir="saved_models", mount=SERVING_MOUNT):
    """saved_models/models.config: every exported model, for `--model_config_file` in TF Serving."""
    names = sorted(name for name in os.listdir(base_dir)
                   if versions(os.path.join(base_dir, name)))
    entries = "".join(
        f"  config {{\n    name: \"{name}\"\n    base_path: \"{mount}/{name}\"\n"
        f"    model_platform: \"tensorflow\"\n  }}\n" for name in names)
    path = os.path.join(base_dir, "models.config")
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w") as file:
        file.write(f"model_config_list {{\n{entries}}}\n")
    os.replace(temporary, path)
    return path


def resolve_saved_model(path):
    """saved_models/NAME -> its newest version folder; saved_models/NAME/N -> itself."""
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    found = versions(path)
    if found:
        return os.path.join(path, str(found[-1]))
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such model: {path}")
    raise ValueError(f"{path} is not a SavedModel (no saved_model.pb) nor a folder of numbered versions")


def read_metadata(version_dir):
    path = os.path.join(version_dir, "assets.extra", "config.json")
    if not os.path.exists(path):
        return {}
    with open(path) as file:
        return json.load(file)
