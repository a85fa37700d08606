"""Sample-quality measures on feature arrays (float64 throughout).

They take features, not models, so any extractor works: the project's digit classifier
(`gan_tf.classifier`) offline, Inception-v3 where its weights can be downloaded. Numbers computed on
different features are not comparable: a classifier-feature FD is not the Inception FID of papers.
"""

import warnings

import numpy as np
from scipy import linalg

from gan_tf.errors import UserError


def _moments(features):
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise UserError(f"features must be [n >= 2, d], got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(features_a, features_b):
    """Frechet distance between Gaussians fitted to two feature sets (Heusel et al. 2017, FID).

    ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)). Biased upwards at small n (the covariance
    estimate is noisy), so compare only numbers computed with the same n.
    """
    mean_a, covariance_a = _moments(features_a)
    mean_b, covariance_b = _moments(features_b)
    with warnings.catch_warnings():
        warnings.simplefilter("error", linalg.LinAlgWarning)
        try:
            root = linalg.sqrtm(covariance_a @ covariance_b)
        except (linalg.LinAlgError, linalg.LinAlgWarning):
            root = np.full_like(covariance_a, np.nan)
    if not np.isfinite(root).all():
        # A singular product (dead feature units): nudge both covariances, as the FID reference
        # implementation does.
        offset = np.eye(len(covariance_a)) * 1e-6
        root = linalg.sqrtm((covariance_a + offset) @ (covariance_b + offset))
    root = np.real(root)
    distance = np.sum((mean_a - mean_b) ** 2) + np.trace(covariance_a + covariance_b - 2.0 * root)
    return float(max(distance, 0.0))


def class_histogram(probabilities, classes=None):
    """Share of samples whose top class is each class."""
    probabilities = np.asarray(probabilities)
    classes = classes or probabilities.shape[1]
    counts = np.bincount(np.argmax(probabilities, axis=1), minlength=classes)
    return counts / max(len(probabilities), 1)


def kernel_inception_distance(features_a, features_b, subsets=10, subset_size=1000, seed=0):
    """KID: unbiased MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3 (Binkowski et al. 2018).

    Unbiased, so its mean is ~0 for two samples of one distribution at any n (unlike FD), and it may
    come out slightly negative. Averaged over `subsets` random subsets of `subset_size` (capped at the
    smaller set); returns (mean, std).
    """
    features_a = np.asarray(features_a, np.float64)
    features_b = np.asarray(features_b, np.float64)
    size = min(subset_size, len(features_a), len(features_b))
    if size < 2:
        raise UserError("KID needs at least 2 samples in each set")
    dimension = features_a.shape[1]
    rng = np.random.default_rng(seed)
    estimates = []
    for _ in range(subsets):
        a = features_a[rng.choice(len(features_a), size, replace=False)]
        b = features_b[rng.choice(len(features_b), size, replace=False)]
        k_aa = (a @ a.T / dimension + 1.0) ** 3
        k_bb = (b @ b.T / dimension + 1.0) ** 3
        k_ab = (a @ b.T / dimension + 1.0) ** 3
        off_diagonal = size * (size - 1)
        estimates.append((k_aa.sum() - np.trace(k_aa)) / off_diagonal
                         + (k_bb.sum() - np.trace(k_bb)) / off_diagonal - 2.0 * k_ab.mean())
    return float(np.mean(estimates)), float(np.std(estimates))


def inception_score(probabilities, splits=10):
    """IS = exp(E_x KL(p(y|x) || p(y))) (Salimans et al. 2016); returns (mean, std) over splits.

    Ranges from 1 (every sample gets the same prediction) to the number of classes (confident and
    evenly spread). Blind to what real data looks like: a generator that draws one perfect sample per
    class scores the maximum.
    """
    probabilities = np.asarray(probabilities, np.float64)
    splits = max(1, min(splits, len(probabilities)))
    scores = []
    for part in np.array_split(probabilities, splits):
        marginal = part.mean(axis=0, keepdims=True)
        kl = np.sum(part * (np.log(part + 1e-12) - np.log(marginal + 1e-12)), axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def _pairwise_distances(a, b):
    squared = (np.sum(a ** 2, axis=1)[:, None] + np.sum(b ** 2, axis=1)[None, :] - 2.0 * a @ b.T)
    return np.sqrt(np.maximum(squared, 0.0))


def _radii(features, k):
    if len(features) <= k:
        raise UserError(f"precision/recall and density/coverage need more than {k} samples per set, got "
                        f"{len(features)}; use a larger --n")
    distances = _pairwise_distances(features, features)
    # k+1-th smallest, since the smallest is each point's distance to itself.
    return np.partition(distances, k, axis=1)[:, k]


def precision_recall(real_features, fake_features, k=3):
    """Improved precision and recall (Kynkaanniemi et al. 2019).

    Each set's manifold is the union of balls around its points with radius the distance to the k-th
    nearest neighbour. Precision: share of fake samples inside the real manifold (quality). Recall:
    share of real samples inside the fake manifold (coverage). Both in [0, 1].
    """
    real = np.asarray(real_features, np.float64)
    fake = np.asarray(fake_features, np.float64)
    real_radii, fake_radii = _radii(real, k), _radii(fake, k)
    distances = _pairwise_distances(fake, real)  # [fake, real]
    precision = np.mean(np.any(distances <= real_radii[None, :], axis=1))
    recall = np.mean(np.any(distances.T <= fake_radii[None, :], axis=1))
    return float(precision), float(recall)


def density_coverage(real_features, fake_features, k=5):
    """Density and coverage (Naeem et al. 2020), sturdier than precision/recall against outliers.

    Density: mean over fake samples of how many real k-NN balls contain it, divided by k (about 1 when
    the distributions match; can exceed 1). Coverage: share of real samples whose ball holds at least
    one fake sample.
    """
    real = np.asarray(real_features, np.float64)
    fake = np.asarray(fake_features, np.float64)
    real_radii = _radii(real, k)
    inside = _pairwise_distances(fake, real) <= real_radii[None, :]  # [fake, real]
    density = inside.sum() / (k * len(fake))
    coverage = np.mean(inside.any(axis=0))
    return float(density), float(coverage)


def mode_coverage(probabilities, real_class_shares=None, minimum_share=0.01):
    """Mode collapse, seen through a classifier: class histogram, classes covered, KL to the real mix.

    A class counts as covered when at least `minimum_share` of the samples fall in it. KL(real || fake)
    of the class mix is 0 for a perfect match and grows as modes go missing.
    """
    histogram = class_histogram(probabilities)
    classes = len(histogram)
    real = (np.full(classes, 1.0 / classes) if real_class_shares is None
            else np.asarray(real_class_shares, np.float64))
    kl = float(np.sum(real * (np.log(real + 1e-12) - np.log(histogram + 1e-12))))
    return {"histogram": histogram.tolist(), "classes_covered": int(np.sum(histogram >= minimum_share)),
            "smallest_class_share": float(histogram.min()), "kl_to_real": kl}


def paired_comparison(correct_before, correct_after):
    """Two classifiers on the same test items, compared item by item (McNemar's test).

    Args:
        correct_before, correct_after: booleans per test item, whether each classifier got it right.

    Returns:
        (gained, lost, verdict): the items right only after, those right only before, and "better" or
        "worse" when |gained - lost| > 2 sqrt(gained + lost) (a coin toss per disagreement would pass
        that about 5% of the time), "within chance" otherwise, "the same" when they never disagree.
        Test items are paired, so this is tighter than comparing two accuracies as independent.
    """
    before, after = np.asarray(correct_before, bool), np.asarray(correct_after, bool)
    gained, lost = int(np.sum(after & ~before)), int(np.sum(before & ~after))
    if gained + lost == 0:
        return gained, lost, "the same"
    if abs(gained - lost) > 2 * np.sqrt(gained + lost):
        return gained, lost, "better" if gained > lost else "worse"
    return gained, lost, "within chance"


def per_class_accuracy(asked, predicted, classes):
    """Share of samples asked for class k that a classifier calls k, per k, and their mean.

    The measure of a conditional generator: the mean over classes (not over samples) weighs every
    class the same, so one class drawn badly cannot hide behind nine drawn well.
    """
    asked, predicted = np.asarray(asked), np.asarray(predicted)
    shares = np.array([np.mean(predicted[asked == k] == k) if np.any(asked == k) else np.nan
                       for k in range(classes)])
    return float(np.nanmean(shares)), shares


def matched_agreement(codes, predicted, classes):
    """Agreement of a categorical code with classifier labels under the best one-to-one matching.

    InfoGAN's categorical code is unsupervised: code 3 may draw sevens. The Hungarian algorithm
    (scipy's linear_sum_assignment) finds the code-to-class assignment with the most agreeing samples.
    Returns (agreement in [0, 1], mapping {code: class}).
    """
    from scipy.optimize import linear_sum_assignment

    counts = np.zeros((classes, classes), np.int64)
    np.add.at(counts, (np.asarray(codes), np.asarray(predicted)), 1)
    rows, columns = linear_sum_assignment(-counts)
    return float(counts[rows, columns].sum() / max(len(codes), 1)), dict(zip(rows.tolist(), columns.tolist()))
