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


# Precision/recall and density/coverage compare every sample with every other one: at the papers'
# 50,000 samples a full distance matrix is 20 GB of float64. They run in row blocks instead: one
# block's distances to all columns at a time (BLOCK_ELEMENTS of them, 64 MB), k-NN radii and counts
# kept per row, so memory grows with n, not n^2. A sample exactly on a ball's edge (a copy of the
# sample that sets the radius, a duplicate) is decided on exact distances; the full-matrix code before
# left such ties to rounding, which is the only way its numbers and these can differ.
BLOCK_ELEMENTS = 2 ** 23


def _distance_blocks(a, b, block_size=None):
    """Yield (start, fast, error): squared distances a[start:start + rows] x b and a bound on their error.

    `fast` is ||a||^2 + ||b||^2 - 2 a.b (one matrix product), whose rounding depends on the block's
    shape (BLAS kernels differ at tile edges), so it can disagree with a full-matrix product in the
    last bits. `error` per row bounds |fast - exact| (with room to spare; exact: `_exact_squared`): a
    comparison closer than that is settled on exact distances, so the results do not depend on the
    block size, and a duplicate is at distance 0, not at a rounding error's square root.
    """
    squared_a, squared_b = np.sum(a ** 2, axis=1), np.sum(b ** 2, axis=1)
    error = 8 * (a.shape[1] + 4) * np.finfo(np.float64).eps * (squared_a + squared_b.max())
    rows = block_size or max(1, BLOCK_ELEMENTS // len(b))
    for start in range(0, len(a), rows):
        stop = start + rows
        fast = squared_a[start:stop, None] + squared_b[None, :]
        fast -= 2.0 * (a[start:stop] @ b.T)
        np.maximum(fast, 0.0, out=fast)
        yield start, fast, error[start:stop, None]


def _exact_squared(a, b, rows, columns, chunk=2 ** 16):
    """sum((a[row] - b[column])^2) for each listed pair: exact for duplicates, symmetric, block-free."""
    out = np.empty(len(rows))
    for start in range(0, len(rows), chunk):
        pairs = slice(start, start + chunk)
        out[pairs] = np.sum((a[rows[pairs]] - b[columns[pairs]]) ** 2, axis=1)
    return out


def _radii(features, k, block_size=None):
    """Distance of every sample to its k-th nearest neighbour in its own set, [n]."""
    if len(features) <= k:
        raise UserError(f"precision/recall and density/coverage need more than {k} samples per set, got "
                        f"{len(features)}; use a larger --n")
    # A sample with more than k identical copies (itself included) has radius 0: no ties to rank. (A
    # collapsed generator's samples are one point: ranking their n^2 ties exactly would take hours.)
    _, inverse, copies = np.unique(features, axis=0, return_inverse=True, return_counts=True)
    ranked = copies[inverse.reshape(-1)] <= k
    radii = np.zeros(len(features))
    for start, fast, error in _distance_blocks(features, features, block_size):
        block_rows = np.flatnonzero(ranked[start:start + len(fast)])
        if len(block_rows) < len(fast):
            fast, error = fast[block_rows], error[block_rows]
        # k+1-th smallest, since the smallest is each point's distance to itself.
        kth = np.partition(fast, k, axis=1)[:, k:k + 1]
        below = np.sum(fast < kth - 2 * error, axis=1)  # surely nearer than the k-th neighbour
        near = np.abs(fast - kth) <= 2 * error          # the k-th is among these: rank them exactly
        rows, columns = np.nonzero(near)
        exact = _exact_squared(features, features, start + block_rows[rows], columns)
        order = np.lexsort((exact, rows))
        first = np.concatenate([[0], np.cumsum(near.sum(axis=1))[:-1]]).astype(np.int64)
        radii[start + block_rows] = np.sqrt(exact[order[first + k - below]])
    return radii


def _inside(fast, error, radii, a, b, start):
    """Boolean [rows, len(b)]: whether each distance of a block of `a` to `b` is <= its ball's radius
    (`radii` broadcast to the block: one per row or one per column)."""
    squared = radii ** 2
    inside = fast <= squared - 2 * error
    rows, columns = np.nonzero(~inside & (fast <= squared + 2 * error))  # too close to call on `fast`
    exact = _exact_squared(a, b, rows + start, columns)
    inside[rows, columns] = np.sqrt(exact) <= np.broadcast_to(radii, fast.shape)[rows, columns]
    return inside


def precision_recall(real_features, fake_features, k=3, block_size=None):
    """Improved precision and recall (Kynkaanniemi et al. 2019).

    Each set's manifold is the union of balls around its points with radius the distance to the k-th
    nearest neighbour. Precision: share of fake samples inside the real manifold (quality). Recall:
    share of real samples inside the fake manifold (coverage). Both in [0, 1]. Computed in blocks of
    `block_size` rows (default: 64 MB of distances per block), with the same numbers at any size.
    """
    real = np.asarray(real_features, np.float64)
    fake = np.asarray(fake_features, np.float64)
    real_radii, fake_radii = _radii(real, k, block_size), _radii(fake, k, block_size)
    fake_inside_real = 0
    real_inside_fake = np.zeros(len(real), bool)
    for start, fast, error in _distance_blocks(fake, real, block_size):  # [fake rows, real]
        fake_inside_real += np.sum(_inside(fast, error, real_radii[None, :], fake, real, start).any(axis=1))
        ball_radii = fake_radii[start:start + len(fast), None]
        real_inside_fake |= _inside(fast, error, ball_radii, fake, real, start).any(axis=0)
    return float(fake_inside_real / len(fake)), float(np.mean(real_inside_fake))


def density_coverage(real_features, fake_features, k=5, block_size=None):
    """Density and coverage (Naeem et al. 2020), sturdier than precision/recall against outliers.

    Density: mean over fake samples of how many real k-NN balls contain it, divided by k (about 1 when
    the distributions match; can exceed 1). Coverage: share of real samples whose ball holds at least
    one fake sample. Blocked like `precision_recall`.
    """
    real = np.asarray(real_features, np.float64)
    fake = np.asarray(fake_features, np.float64)
    real_radii = _radii(real, k, block_size)
    balls_holding_fakes = 0
    covered = np.zeros(len(real), bool)
    for start, fast, error in _distance_blocks(fake, real, block_size):  # [fake rows, real]
        inside = _inside(fast, error, real_radii[None, :], fake, real, start)
        balls_holding_fakes += int(inside.sum())
        covered |= inside.any(axis=0)
    return float(balls_holding_fakes / (k * len(fake))), float(np.mean(covered))


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
