"""The shipped digit classifier: the judge behind every quality number in the README."""

import json
import os

import numpy as np
import pytest

from gan_tf import classifier, data
from gan_tf import images as pixels

SHIPPED = os.path.join(classifier.CLASSIFIERS_DIR, "mnist-5k")


@pytest.fixture(scope="module")
def metadata():
    with open(os.path.join(SHIPPED, "metadata.json")) as file:
        return json.load(file)


def test_stratified_split_holds_out_the_same_share_of_every_class():
    labels = np.repeat(np.arange(10), 50)
    train, held_out = classifier.stratified_split(labels, seed=0)
    assert len(held_out) == 50 and len(train) == 450 and not set(train) & set(held_out)
    np.testing.assert_array_equal(np.bincount(labels[held_out]), np.full(10, 5))


def test_shipped_classifier_scores_its_held_out_digits(metadata):
    """The split is re-drawn with the training seed, so these 500 digits were never trained on; the
    accuracy must match the one metadata.json (and the README) reports."""
    image_set = data.load(metadata["dataset"])
    _, held_out = classifier.stratified_split(image_set.labels, seed=metadata["seed"])
    assert len(held_out) == metadata["held_out_images"]
    model = classifier.load_classifier(metadata["dataset"])
    unit_images = pixels.model_to_unit(pixels.bytes_to_model(image_set.images[held_out]))
    features, probabilities = classifier.features_and_probabilities(model, unit_images)
    assert features.shape == (len(held_out), 128) and probabilities.shape == (len(held_out), 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    accuracy = float(np.mean(probabilities.argmax(axis=1) == image_set.labels[held_out]))
    assert accuracy >= 0.95
    assert accuracy == pytest.approx(metadata["held_out_accuracy"], abs=0.01)
