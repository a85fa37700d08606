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


@pytest.mark.parametrize("kind", ["dcgan", "infogan"])
def test_streamed_evaluation_of_a_generator_gives_the_numbers_of_the_in_memory_one(kind, real_digits):
    from gan_tf.models import build_generator, conditional
    from gan_tf.sampling import sample_unit_images

    generator = (build_generator(8, width=4) if kind == "dcgan"
                 else conditional.build_info_generator(10, 2, 8, width=4))  # labels cycle, codes drawn from seed
    images, labels = real_digits
    real = images[:260]
    classifier = evaluation.classifier_extractor()
    largest = []

    def extract(unit_images):  # the classifier, recording how many images each call holds
        largest.append(len(unit_images))
        return classifier(unit_images)

    options = {"real_baseline": True, "real_labels": labels[:260], "seed": 3, "noise_baseline": True}
    # real_baseline: n = min(170, 260 // 2) = 130 of the 170 samples, in batches of 32 and a last of 2.
    in_memory = evaluation.evaluate(sample_unit_images(generator, 170, seed=3, batch_size=32), real, classifier,
                                    batch_size=32, **options)
    streamed = evaluation.evaluate_generator(generator, 170, real, extract, batch_size=32, **options)
    assert streamed == in_memory and streamed["n"] == 130
    assert sorted(set(largest)) == [2, 32, 130]  # fakes and noise in batches; the real split whole


def test_unit_image_batches_are_the_generated_images_in_pieces():
    from gan_tf.models import build_generator
    from gan_tf.sampling import generate_unit_images, sample_noise, unit_image_batches

    generator = build_generator(8, width=4)
    z = sample_noise(generator, 45, seed=1)
    batches = list(unit_image_batches(generator, z, batch_size=20))
    assert [len(batch) for batch in batches] == [20, 20, 5]
    np.testing.assert_array_equal(np.concatenate(batches), generate_unit_images(generator, z, batch_size=20))
    noise = list(evaluation._uniform_noise_batches(45, (4, 4, 1), seed=2, batch_size=20))
    np.testing.assert_array_equal(np.concatenate(noise),
                                  np.random.default_rng(2).uniform(0, 1, (45, 4, 4, 1)).astype(np.float32))
