import json
import time

import numpy as np
import pytest
from conftest import run_cli

from gan_tf import data, evaluation
from gan_tf import images as pixels
from gan_tf.errors import UserError


@pytest.fixture(scope="module")
def real_digits():
    image_set = data.load("mnist-5k")
    return pixels.model_to_unit(pixels.bytes_to_model(image_set.images)), image_set.labels


def test_inception_path_runs_with_random_weights_on_a_few_images():
    extract = evaluation.inception_extractor(weights=None)  # no download
    gray = np.random.default_rng(0).uniform(0, 1, (3, 28, 28, 1)).astype(np.float32)
    features, probabilities = extract(gray)
    assert features.shape == (3, 2048) and probabilities.shape == (3, 1000)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-4)


def test_inception_download_failure_names_the_offline_option(monkeypatch):
    import keras

    def offline(**kwargs):
        raise Exception("URL fetch failure: Name or service not known")

    monkeypatch.setattr(keras.applications, "InceptionV3", offline)
    with pytest.raises(UserError, match="--features classifier"):
        evaluation.inception_extractor()


def test_real_data_scores_far_better_than_noise_and_evaluation_is_fast(real_digits):
    images, labels = real_digits
    extract = evaluation.classifier_extractor()
    started = time.time()
    report = evaluation.evaluate(images[::2], images, extract, real_baseline=True, real_labels=labels)
    seconds = time.time() - started
    assert report["n"] == 2500 and report["reference_n"] == 2500
    real = report["real_baseline"]
    assert real["mean_confidence"] > 0.95 and real["classes_covered"] == 10 and real["precision"] > 0.6
    noise = evaluation.evaluate(np.random.default_rng(0).uniform(0, 1, (500, 28, 28, 1)).astype(np.float32),
                                images, extract)["generator"]
    assert noise["fd"] > 20 * real["fd"] and noise["kid"] > 20 * max(real["kid"], 1e-4)
    assert noise["precision"] < 0.5 * real["precision"] and noise["classes_covered"] < 10
    assert seconds < 120, f"evaluating 2 x 2,500 images took {seconds:.0f} s"


def test_evaluate_command_prints_a_table_and_writes_json(tmp_path, digits_npz):
    trained = run_cli("train", "--dataset", digits_npz, "--epochs", "1", "--batch-size", "32", "--latent-dim", "8",
                      "--generator-width", "4", "--discriminator-width", "4", "--output-dir", str(tmp_path),
                      "--run-name", "e")
    assert trained.returncode == 0, trained.stderr[-2000:]
    result = run_cli("evaluate", "--model", str(tmp_path / "e" / "generator.keras"), "--n", "200",
                     "--real-baseline", "--noise-baseline", "--out", str(tmp_path / "report.json"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "real_baseline" in result.stdout and "uniform_noise" in result.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["n"] == 200 and {"generator", "real_baseline", "uniform_noise"} <= set(report)
    assert report["real_baseline"]["fd"] < report["uniform_noise"]["fd"]
