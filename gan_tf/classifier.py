"""A small CNN classifier of real digits: the judge of generated ones.

Pretrained Inception weights cannot be downloaded offline, and Inception features say little about
28x28 digits anyway. TF-GAN measured MNIST GANs with a domain classifier instead; so does this
project: its softmax gives confidence, the class histogram and the Inception Score, and its
penultimate layer gives the features for Frechet distance, KID and precision/recall.
"""

import json
import os

import keras
import numpy as np
from keras import layers

from gan_tf import images as pixels
from gan_tf import runs
from gan_tf.errors import UserError

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSIFIERS_DIR = os.path.join(PACKAGE_ROOT, "saved_models", "classifiers")
FEATURES_LAYER = "features"


def build_classifier(image_size=28, channels=1, classes=10, seed=0):
    """Two conv blocks -> 128 features -> softmax. Takes images in [0, 1]."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((image_size, image_size, channels), name="images")
    x = layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=seed)(inputs)
    x = layers.RandomRotation(0.04, fill_mode="constant", seed=seed)(x)
    for filters in (32, 64):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu", name=FEATURES_LAYER)(x)
    x = layers.Dropout(0.4)(x)
    outputs = layers.Dense(classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="classifier")


def stratified_split(labels, held_out_fraction=0.1, seed=0):
    """Indices (train, held_out) with the same share of every class in both."""
    rng = np.random.default_rng(seed)
    train, held_out = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        cut = int(round(len(members) * held_out_fraction))
        held_out.extend(members[:cut])
        train.extend(members[cut:])
    return rng.permutation(train), np.sort(held_out)


def train_classifier(image_set, epochs=20, batch_size=64, seed=0, output_dir=None, verbose=1):
    """Train on 90% of a labelled `ImageSet`, report accuracy on the other 10%, optionally save.

    Returns (model, held_out_accuracy).
    """
    if image_set.labels is None:
        raise UserError(f"{image_set.name} has no labels; a classifier needs a labelled data set")
    unit_images = pixels.model_to_unit(pixels.bytes_to_model(image_set.images))
    train, held_out = stratified_split(image_set.labels, seed=seed)
    classes = int(image_set.labels.max()) + 1
    model = build_classifier(image_set.images.shape[1], image_set.images.shape[-1], classes, seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(unit_images[train], image_set.labels[train], batch_size=batch_size, epochs=epochs,
              verbose=verbose, callbacks=[keras.callbacks.ReduceLROnPlateau("loss", patience=2)])
    _, accuracy = model.evaluate(unit_images[held_out], image_set.labels[held_out], verbose=0)
    if output_dir:
        runs.save_model(model, os.path.join(output_dir, "classifier.keras"))
        runs.write_text(os.path.join(output_dir, "metadata.json"), json.dumps(
            {"dataset": image_set.name, "held_out_accuracy": round(float(accuracy), 4),
             "held_out_images": int(len(held_out)), "train_images": int(len(train)), "epochs": epochs,
             "seed": seed, "command": f"gan-tf train-classifier --dataset {image_set.name} --epochs {epochs}"},
            indent=2))
    return model, float(accuracy)


def load_classifier(dataset="mnist-5k", directory=None):
    """The shipped classifier for `dataset` (saved_models/classifiers/<dataset>/classifier.keras), loaded
    in Keras' safe mode (gan-tf writes it; it never needs --unsafe)."""
    if directory is None:
        runs.check_folder_name(dataset, "--classifier-dataset", f"one of the folders in {CLASSIFIERS_DIR}")
    path = os.path.join(directory or os.path.join(CLASSIFIERS_DIR, dataset), "classifier.keras")
    if not os.path.exists(path):
        raise UserError(f"no classifier at {path}; train one with "
                                f"`gan-tf train-classifier --dataset {dataset}`")
    return runs.load_keras_model(path, compile=True)


def features_and_probabilities(classifier, unit_images, batch_size=500):
    """Penultimate features [n, 128] (float64) and class probabilities [n, classes] for [0, 1] images."""
    expected = tuple(classifier.inputs[0].shape[1:])
    if tuple(np.shape(unit_images)[1:]) == (expected[0] + 4, expected[1] + 4, expected[2]):
        unit_images = np.asarray(unit_images)[:, 2:-2, 2:-2]  # 32x32 digits are 28x28 ones padded (gan_tf.data)
    if tuple(np.shape(unit_images)[1:]) != expected:
        raise UserError(f"the classifier judges {'x'.join(map(str, expected))} images, these are "
                        f"{'x'.join(map(str, np.shape(unit_images)[1:]))}; use --features inception (or a "
                        "classifier trained on this data, --classifier-dataset)")
    both = keras.Model(classifier.inputs,
                       [classifier.get_layer(FEATURES_LAYER).output, classifier.outputs[0]])
    features, probabilities = [], []
    for start in range(0, len(unit_images), batch_size):
        batch_features, batch_probabilities = both([np.asarray(unit_images[start:start + batch_size],
                                                               np.float32)], training=False)
        features.append(np.asarray(batch_features, np.float64))
        probabilities.append(np.asarray(batch_probabilities, np.float64))
    return np.concatenate(features), np.concatenate(probabilities)
