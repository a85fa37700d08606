"""`gan-tf evaluate`: sample a generator, extract features, compute every metric, compare with real data.

Two feature extractors:
- "classifier" (default, offline): the project's digit classifier (`gan_tf.classifier`); its
  penultimate layer gives features, its softmax the class probabilities.
- "inception": Inception-v3 from `keras.applications` (ImageNet weights, downloaded once), images
  resized to 299x299 and gray repeated to RGB, the paper-standard FID/IS features.

The real baseline (`--real-baseline`) runs the same metrics on a held-out real split against the
reference split: the floor a generator is compared with. Numbers from different extractors, or from
different sample counts, are not comparable.
"""

import json

import numpy as np

from gan_tf import classifier as digit_classifier
from gan_tf import images as pixels
from gan_tf import metrics, runs
from gan_tf.conditioning import Conditioning
from gan_tf.errors import UserError
from gan_tf.sampling import generate_unit_images, image_shape_of, sample_noise, unit_image_batches

FEATURE_KINDS = ("classifier", "inception")


def inception_extractor(weights="imagenet"):
    """A function [0, 1] images -> (pool features [n, 2048], class probabilities [n, 1000]).

    `weights=None` gives a randomly initialised network (tests use it: no download). A failed download
    raises a UserError that names the offline alternative.
    """
    import keras
    import tensorflow as tf

    try:
        network = keras.applications.InceptionV3(include_top=True, weights=weights)
    except Exception as error:  # urllib/ssl/socket errors: no network
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UserError(f"could not download Inception-v3 weights ({reason}); use --features "
                              "classifier (offline) or run once with network access") from None
    both = keras.Model(network.inputs, [network.get_layer("avg_pool").output, network.outputs[0]])

    def extract(unit_images, batch_size=50):
        features, probabilities = [], []
        for start in range(0, len(unit_images), batch_size):
            batch = np.asarray(unit_images[start:start + batch_size], np.float32)
            if batch.shape[-1] == 1:
                batch = np.repeat(batch, 3, axis=-1)
            batch = tf.image.resize(batch, (299, 299), method="bilinear")
            pool, probability = both([pixels.unit_to_model(batch)], training=False)  # Inception takes [-1, 1]
            features.append(np.asarray(pool, np.float64))
            probabilities.append(np.asarray(probability, np.float64))
        return np.concatenate(features), np.concatenate(probabilities)

    return extract


def classifier_extractor(dataset="mnist-5k", directory=None):
    model = digit_classifier.load_classifier(dataset, directory)
    return lambda unit_images: digit_classifier.features_and_probabilities(model, unit_images)


def make_extractor(kind, dataset="mnist-5k", inception_weights="imagenet"):
    if kind == "classifier":
        return classifier_extractor(dataset)
    if kind == "inception":
        return inception_extractor(inception_weights)
    raise UserError(f"unknown --features {kind!r}; choose from {', '.join(FEATURE_KINDS)}")


def all_metrics(real_features, fake_features, fake_probabilities, real_class_shares=None, seed=0):
    """Every metric of `gan_tf.metrics` for one fake set against one real set, as a flat dict."""
    kid_mean, kid_std = metrics.kernel_inception_distance(real_features, fake_features, seed=seed)
    is_mean, is_std = metrics.inception_score(fake_probabilities)
    precision, recall = metrics.precision_recall(real_features, fake_features)
    density, coverage = metrics.density_coverage(real_features, fake_features)
    modes = metrics.mode_coverage(fake_probabilities, real_class_shares)
    return {
        "fd": metrics.frechet_distance(real_features, fake_features),
        "kid": kid_mean, "kid_std": kid_std,
        "is": is_mean, "is_std": is_std,
        "precision": precision, "recall": recall, "density": density, "coverage": coverage,
        "mean_confidence": float(np.max(fake_probabilities, axis=1).mean()),
        "classes_covered": modes["classes_covered"], "smallest_class_share": modes["smallest_class_share"],
        "class_kl": modes["kl_to_real"], "class_histogram": modes["histogram"],
    }


def real_split(unit_images, count, seed=0):
    """(reference, held_out): `count` random held-out real images and the rest as the reference set."""
    order = np.random.default_rng(seed).permutation(len(unit_images))
    return unit_images[order[count:]], unit_images[order[:count]]


def evaluate(fake_unit_images, real_unit_images, extractor, real_baseline=False, real_labels=None,
             seed=0, noise_baseline=False, batch_size=500):
    """Metrics of fake images against real ones; with `real_baseline`, also a held-out real split's.

    FD is biased by the sample count, so the baseline must use the same n as the generator: with
    `real_baseline`, n = min(fake count, half the real set); that many real images are held out, the
    rest is the reference for both, and the generator is scored on its first n samples. With
    `noise_baseline`, n uniform-noise images are scored against the same reference ("uniform_noise").
    Features are extracted `batch_size` images at a time; `evaluate_generator` also draws the fakes so.
    """
    fake_unit_images = np.asarray(fake_unit_images)
    count, reference, held_out = _reference_split(len(fake_unit_images), real_unit_images, real_baseline, seed)
    fake_batches = (fake_unit_images[start:min(start + batch_size, count)] for start in range(0, count, batch_size))
    return _evaluate_batches(fake_batches, count, fake_unit_images.shape[1:], reference, held_out, extractor,
                             real_labels, seed, noise_baseline, batch_size)


def evaluate_generator(generator, count, real_unit_images, extractor, real_baseline=False, real_labels=None,
                       seed=0, noise_baseline=False, batch_size=500):
    """`evaluate(sample_unit_images(generator, count, seed), ...)`, the same numbers, in bounded memory.

    Draws and extracts `batch_size` samples at a time, so only their features accumulate: at
    count = 50,000, 51 MB of classifier features instead of the images (157 MB at 28x28x1, 2.4 GB at
    64x64x3) and their copies.
    """
    n, reference, held_out = _reference_split(count, real_unit_images, real_baseline, seed)
    # The first n rows of the count-sample z (and of the cycled labels): the same fakes as slicing images.
    fake_batches = unit_image_batches(generator, sample_noise(generator, count, seed)[:n], seed=seed + 1,
                                      batch_size=batch_size)
    return _evaluate_batches(fake_batches, n, image_shape_of(generator), reference, held_out, extractor,
                             real_labels, seed, noise_baseline, batch_size)


def _reference_split(fake_count, real_unit_images, real_baseline, seed):
    """(n, reference, held_out or None): see `evaluate`."""
    if not real_baseline:
        return fake_count, real_unit_images, None
    count = min(fake_count, len(real_unit_images) // 2)
    reference, held_out = real_split(real_unit_images, count, seed)
    return count, reference, held_out


def _batch_features(extractor, batches, count):
    """(features, probabilities) of `count` images given as batches, extracted one batch at a time."""
    features = probabilities = None
    filled = 0
    for batch in batches:
        batch_features, batch_probabilities = extractor(batch)
        if features is None:
            features = np.empty((count, batch_features.shape[1]), batch_features.dtype)
            probabilities = np.empty((count, batch_probabilities.shape[1]), batch_probabilities.dtype)
        features[filled:filled + len(batch)] = batch_features
        probabilities[filled:filled + len(batch)] = batch_probabilities
        filled += len(batch)
    return features, probabilities


def _uniform_noise_batches(count, image_shape, seed=0, batch_size=500):
    """Uniform [0, 1] float32 images in batches: those of one draw of `(count, *image_shape)` from `seed`."""
    rng = np.random.default_rng(seed)
    for start in range(0, count, batch_size):
        yield rng.uniform(0, 1, (min(batch_size, count - start),) + tuple(image_shape)).astype(np.float32)


def _evaluate_batches(fake_batches, count, image_shape, reference, held_out, extractor, real_labels, seed,
                      noise_baseline, batch_size):
    reference_features, _ = extractor(reference)
    fake_features, fake_probabilities = _batch_features(extractor, fake_batches, count)
    shares = None if real_labels is None else np.bincount(real_labels) / len(real_labels)
    report = {"n": int(count), "reference_n": int(len(reference)),
              "generator": all_metrics(reference_features, fake_features, fake_probabilities, shares, seed)}
    if held_out is not None:
        held_features, held_probabilities = extractor(held_out)
        report["real_baseline"] = all_metrics(reference_features, held_features, held_probabilities, shares,
                                              seed)
    if noise_baseline:
        noise = _uniform_noise_batches(count, image_shape, seed, batch_size)
        noise_features, noise_probabilities = _batch_features(extractor, noise, count)
        report["uniform_noise"] = all_metrics(reference_features, noise_features, noise_probabilities, shares,
                                              seed)
    return report


def format_table(report):
    columns = [name for name in ("generator", "real_baseline", "uniform_noise") if name in report]
    rows = ["fd", "kid", "is", "precision", "recall", "density", "coverage", "mean_confidence",
            "classes_covered", "smallest_class_share", "class_kl"]
    lines = [f"{'metric':<22}" + "".join(f"{name:>16}" for name in columns)]
    for row in rows:
        values = "".join(f"{report[name][row]:>16.4f}" if isinstance(report[name][row], float)
                         else f"{report[name][row]:>16}" for name in columns)
        lines.append(f"{row:<22}{values}")
    return "\n".join(lines)


def write_report(report, path):
    runs.write_text(path, json.dumps(report, indent=2))


def digit_quality(fake_unit_images, real_unit_images, extractor, seed=0):
    """The project's bar for "recognisable digits", for n fake images (n = 1,000 in the acceptance test).

    - mean top-class confidence of the classifier on the fakes (bar: >= 0.90);
    - share of each class among the fakes (bar: every class >= 5%);
    - FD of the fakes against the real images minus a random real split of the same n, divided by the
      FD of that real split against the same reference (bar: ratio <= 5). Same n, same reference: the
      ratio does not depend on FD's small-sample bias.
    """
    count = len(fake_unit_images)
    reference, held_out = real_split(real_unit_images, count, seed)
    reference_features, _ = extractor(reference)
    held_features, _ = extractor(held_out)
    fake_features, fake_probabilities = extractor(np.asarray(fake_unit_images))
    real_vs_real = metrics.frechet_distance(reference_features, held_features)
    fake_vs_real = metrics.frechet_distance(reference_features, fake_features)
    shares = metrics.class_histogram(fake_probabilities)
    # The same ratio against a reference of only n images (FD(fake, R_n) / FD(real_n, R_n)): both FDs
    # then carry more small-sample bias, so this ratio is smaller; reported, not used by the bar.
    small_reference = reference_features[:count]
    equal_n_ratio = (metrics.frechet_distance(small_reference, fake_features)
                     / metrics.frechet_distance(small_reference, held_features))
    return {"n": count, "mean_confidence": float(np.max(fake_probabilities, axis=1).mean()),
            "fd_ratio_equal_n_reference": equal_n_ratio,
            "class_shares": [round(float(share), 4) for share in shares],
            "smallest_class_share": float(shares.min()), "fd": fake_vs_real, "fd_real_vs_real": real_vs_real,
            "fd_ratio": fake_vs_real / real_vs_real}


def passes_digit_bar(quality):
    return (quality["mean_confidence"] >= 0.90 and quality["smallest_class_share"] >= 0.05
            and quality["fd_ratio"] <= 5.0)


def class_control(generator, classifier_model, per_class=100, seed=0):
    """How well a conditional or InfoGAN generator's class input controls the digit it draws.

    Draws `per_class` samples for every label (conditional) or categorical code (InfoGAN) and classifies
    them. Conditional: the mean over classes of the share classified as asked (`label_accuracy`).
    InfoGAN: the agreement after the best one-to-one matching of codes to classes (`code_agreement`).
    """
    conditioning = Conditioning.of(generator)
    if not conditioning.classes:
        raise UserError("this generator has no class input (train with --conditional or --info-categories)")
    asked = np.repeat(np.arange(conditioning.classes), per_class)
    z = conditioning.noise(len(asked), seed)
    images = generate_unit_images(generator, z, labels=asked, seed=seed + 1)
    predicted = np.argmax(digit_classifier.features_and_probabilities(classifier_model, images)[1], axis=1)
    if conditioning.num_classes:
        accuracy, shares = metrics.per_class_accuracy(asked, predicted, conditioning.classes)
        return {"label_accuracy": accuracy, "per_class": [round(float(share), 3) for share in shares]}
    agreement, mapping = metrics.matched_agreement(asked, predicted, max(conditioning.classes, 10))
    return {"code_agreement": agreement, "code_to_class": {int(k): int(v) for k, v in mapping.items()}}


def translation_quality(output_unit_images, target_unit_images=None, labels=None, classifier_model=None,
                        reference_unit_images=None):
    """How good translated (or upscaled) images are, all in [0, 1]:

    - against the aligned targets (paired tasks): mean L1, PSNR and SSIM (`tf.image.psnr`/`ssim`,
      max value 1; SSIM's 11x11 window needs images of at least 11 pixels);
    - with a classifier of the target domain and the inputs' labels: `accuracy`, the share of outputs
      that keep their class;
    - with real images of the target domain: `fd`, the Frechet distance in that classifier's features.
    """
    import tensorflow as tf

    outputs = np.asarray(output_unit_images, np.float32)
    report = {"n": int(len(outputs))}
    if target_unit_images is not None:
        targets = np.asarray(target_unit_images, np.float32)
        if targets.shape != outputs.shape:
            raise UserError(f"outputs {outputs.shape} and targets {targets.shape} differ in shape")
        report["l1"] = float(np.abs(outputs - targets).mean())
        report["psnr"] = float(tf.reduce_mean(tf.image.psnr(outputs, targets, max_val=1.0)))
        report["ssim"] = float(tf.reduce_mean(tf.image.ssim(outputs, targets, max_val=1.0)))
    if classifier_model is not None:
        features, probabilities = digit_classifier.features_and_probabilities(classifier_model, outputs)
        if labels is not None:
            report["accuracy"] = float(np.mean(np.argmax(probabilities, axis=1) == np.asarray(labels)))
        if reference_unit_images is not None:
            reference, _ = digit_classifier.features_and_probabilities(classifier_model, reference_unit_images)
            report["fd"] = metrics.frechet_distance(reference, features)
    return report
