"""Export a generator as a versioned SavedModel in TensorFlow Serving's layout.

    saved_models/<model-name>/<version>/saved_model.pb, variables/, assets.extra/config.json
    saved_models/models.config            TF Serving's model config file, listing every model

Two signatures, both self-contained (loading needs TensorFlow only, no gan_tf code):
- `serving_default`: z float32 [batch, latent_dim] (a conditional G also takes label int32 [batch]; an
  InfoGAN G code int32 [batch] and continuous float32 [batch, c]; a style-based G truncation float32
  [batch], psi, 1 for none) -> images float32 [batch, H, W, C] in [0, 1];
- `sample`: num_samples int32 scalar, seed int64 scalar (conditional and InfoGAN: label int32 scalar,
  -1 for all classes in turn; style-based: truncation float32 scalar) -> images, and images_png_bytes
  (one PNG per image, so a REST client gets pictures without numpy). Its noise is drawn with
  stateless random ops, so the same seed gives the same images in any process, on any server replica.

A translator (pix2pix, CycleGAN, super-resolution: a G that takes an image) gets instead:
- `serving_default`: images float32 [batch, h, w, c] in [0, 1] -> images float32 [batch, H, W, C] in [0, 1];
- `translate_png`: images_png_bytes string [batch] (PNG or JPEG files of the input size) -> images and
  images_png_bytes, so a REST client sends and receives pictures.

Versions are never overwritten: an export is written to a hidden temporary folder (which TF Serving
ignores, since it is not a number) and renamed into place when complete; the folder of an export that
was killed midway stays hidden until the next export of that model deletes it.
"""

import json
import os
import re

import tensorflow as tf

import gan_tf
from gan_tf import runs
from gan_tf.conditioning import Conditioning
from gan_tf.errors import UserError

MAX_SAMPLES_PER_REQUEST = 4096  # caps the `sample` signature: 4,096 28x28 images are ~13 MB of floats
SERVING_MOUNT = "/models"  # where the README's `docker run` mounts saved_models/ in the container
_VERSION = re.compile(r"^\d+$")


def _model_to_unit(images):
    # [-1, 1] (tanh) -> [0, 1]: gan_tf.images.model_to_unit, in TensorFlow ops so it lives in the graph.
    return tf.clip_by_value((tf.cast(images, tf.float32) + 1.0) / 2.0, 0.0, 1.0)


def _unit_images(generator, inputs):
    return _model_to_unit(generator(Conditioning.call_arguments(inputs), training=False))


def build_archive(generator):
    """A `keras.export.ExportArchive` holding G and the two serving endpoints, and G's `Conditioning`.

    Keras' archive, not a hand-made tf.Module: it saves Keras 3 variables so that the TF1-style
    loader of TF Serving and `saved_model_cli run` finds every one of them (a plain
    `tf.saved_model.save` of a Module wrapping a Keras 3 model loses BatchNorm's moving statistics
    on that path). The inputs and their names come from `Conditioning`.
    """
    from keras.export import ExportArchive

    conditioning = Conditioning.of(generator)
    archive = ExportArchive()
    archive.track(generator)

    def serving_default(*inputs):
        return {"images": _unit_images(generator, conditioning.expand(inputs))}

    sample_names = [spec.name for spec in conditioning.sample_specs()]

    def sample(*arguments):
        named = dict(zip(sample_names, arguments))
        num_samples = named.pop("num_samples")
        checks = [tf.debugging.assert_greater(num_samples, 0, message="num_samples must be at least 1"),
                  tf.debugging.assert_less_equal(num_samples, MAX_SAMPLES_PER_REQUEST,
                                                 message=f"num_samples must be at most {MAX_SAMPLES_PER_REQUEST}")]
        with tf.control_dependencies(checks):  # every op below waits for the checks: a clear refusal first
            num_samples = tf.identity(num_samples)
        images = _unit_images(generator, conditioning.sample_inputs(num_samples, **named))
        image_bytes = tf.cast(tf.round(images * 255.0), tf.uint8)
        png = tf.map_fn(tf.io.encode_png, image_bytes, fn_output_signature=tf.string)
        return {"images": images, "images_png_bytes": png}

    archive.add_endpoint("serving_default", serving_default, input_signature=conditioning.tensor_specs())
    archive.add_endpoint("sample", sample, input_signature=conditioning.sample_specs())
    return archive, conditioning


def is_translator(model):
    """True for an image-to-image G (one input of rank 4), False for a noise-to-image one."""
    return len(model.inputs) == 1 and len(model.inputs[0].shape) == 4


def build_translator_archive(generator):
    """A `keras.export.ExportArchive` of an image-to-image G: `serving_default` on [0, 1] arrays and
    `translate_png` on encoded images (see the module docstring)."""
    from keras.export import ExportArchive

    height, width, channels = (int(size) for size in generator.inputs[0].shape[1:])
    archive = ExportArchive()
    archive.track(generator)

    def translate_unit(images):
        # [0, 1] -> [-1, 1] -> G -> [0, 1]: gan_tf.images' conversions, as graph ops.
        return _model_to_unit(generator(images * 2.0 - 1.0, training=False))

    def serving_default(images):
        return {"images": translate_unit(images)}

    def translate_png(encoded):
        def decode(one):
            image = tf.io.decode_image(one, channels=channels, expand_animations=False)
            check = tf.debugging.assert_equal(tf.shape(image)[:2], [height, width],
                                              message=f"every image must be {height}x{width} pixels")
            with tf.control_dependencies([check]):  # refuse before anything uses the image
                return tf.cast(image, tf.float32) / 255.0

        images = tf.map_fn(decode, encoded, fn_output_signature=tf.TensorSpec((height, width, channels)))
        outputs = translate_unit(images)
        png = tf.map_fn(tf.io.encode_png, tf.cast(tf.round(outputs * 255.0), tf.uint8), fn_output_signature=tf.string)
        return {"images": outputs, "images_png_bytes": png}

    archive.add_endpoint("serving_default", serving_default, input_signature=[
        tf.TensorSpec((None, height, width, channels), tf.float32, name="images")])
    archive.add_endpoint("translate_png", translate_png, input_signature=[
        tf.TensorSpec((None,), tf.string, name="images_png_bytes")])
    return archive


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
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", model_name or ""):  # one folder inside base_dir
        raise UserError(f"--name {model_name!r} must be one plain folder name of letters, digits, '_', '.', '-' "
                        "starting with a letter or digit (no '/', '..' or absolute path); --base-dir picks the parent")
    model_dir = os.path.join(base_dir, model_name)
    runs.remove_stale_temporaries(model_dir)  # half-written versions of killed exports
    existing = versions(model_dir)
    if version is None:
        version = (existing[-1] + 1) if existing else 1
    if version < 1:
        raise UserError(f"--version must be a positive integer, got {version}")
    final = os.path.join(model_dir, str(version))
    if os.path.exists(final):
        raise UserError(f"{final} already exists and exports never overwrite a version; "
                        f"omit --version to write version {(existing[-1] + 1) if existing else 1}")
    # A hidden temporary folder (TF Serving ignores it: not a number), renamed into place when complete.
    with runs.atomic_path(final) as temporary:
        info = dict(metadata or {})
        if is_translator(generator):
            build_translator_archive(generator).write_out(temporary, verbose=False)
            info.update(kind="translator", input_shape=[int(size) for size in generator.inputs[0].shape[1:]])
        else:
            archive, conditioning = build_archive(generator)
            archive.write_out(temporary, verbose=False)
            info.update(kind="generator", **conditioning.metadata(), max_samples_per_request=MAX_SAMPLES_PER_REQUEST)
        info.update(model_name=model_name, version=version, gan_tf_version=gan_tf.__version__,
                    image_shape=[int(size) for size in generator.outputs[0].shape[1:]])
        runs.write_json(os.path.join(temporary, "assets.extra", "config.json"), info)
    write_models_config(base_dir)
    return final


def write_models_config(base_dir="saved_models", mount=SERVING_MOUNT):
    """saved_models/models.config: every exported model, for `--model_config_file` in TF Serving."""
    names = sorted(name for name in os.listdir(base_dir)
                   if versions(os.path.join(base_dir, name)))
    entries = "".join(
        f"  config {{\n    name: \"{name}\"\n    base_path: \"{mount}/{name}\"\n"
        f"    model_platform: \"tensorflow\"\n  }}\n" for name in names)
    return runs.write_text(os.path.join(base_dir, "models.config"), f"model_config_list {{\n{entries}}}\n")


def resolve_saved_model(path):
    """saved_models/NAME -> its newest version folder; saved_models/NAME/N -> itself."""
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    found = versions(path)
    if found:
        return os.path.join(path, str(found[-1]))
    if not os.path.exists(path):
        raise UserError(f"no such model: {path}")
    raise UserError(f"{path} is not a SavedModel (no saved_model.pb) nor a folder of numbered versions")


def read_metadata(version_dir):
    path = os.path.join(version_dir, "assets.extra", "config.json")
    if not os.path.exists(path):
        return {}
    with open(path) as file:
        return json.load(file)
