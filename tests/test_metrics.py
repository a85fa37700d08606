import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO
from scipy import linalg

from gan_tf import metrics
from gan_tf.errors import UserError


def _gaussian(n, mean, scale, dimension=8, seed=0):
    return np.random.default_rng(seed).normal(mean, scale, (n, dimension))


def test_frechet_distance_of_identical_sets_is_zero():
    features = _gaussian(500, 0.0, 1.0)
    assert metrics.frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_matches_the_closed_form_for_gaussians():
    # Whole-population moments: pass sets whose sample moments are exactly known.
    rng = np.random.default_rng(1)
    base = rng.normal(size=(4000, 3))
    base = (base - base.mean(0)) @ linalg.inv(linalg.sqrtm(np.cov(base, rowvar=False)))  # mean 0, cov I
    a = base * np.array([1.0, 2.0, 3.0])               # cov diag(1, 4, 9), mean 0
    b = base * np.array([2.0, 2.0, 1.0]) + [1.0, 0, 0]  # cov diag(4, 4, 1), mean (1, 0, 0)
    # ||mu||^2 + sum (sigma_a - sigma_b)^2 for diagonal covariances.
    expected = 1.0 + (1 - 2) ** 2 + (2 - 2) ** 2 + (3 - 1) ** 2
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_agrees_with_a_scipy_sqrtm_reference():
    a, b = _gaussian(300, 0.0, 1.0, 16, seed=2), _gaussian(300, 0.3, 1.5, 16, seed=3)
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    reference = (np.sum((mean_a - mean_b) ** 2)
                 + np.trace(cov_a + cov_b - 2 * np.real(linalg.sqrtm(cov_a @ cov_b))))
    assert metrics.frechet_distance(a, b) == pytest.approx(reference, rel=1e-4)


def test_kid_is_about_zero_for_one_distribution_and_positive_when_shifted():
    same_mean, same_std = metrics.kernel_inception_distance(_gaussian(400, 0, 1, seed=4), _gaussian(400, 0, 1, seed=5),
                                                            subsets=20, subset_size=200)
    shifted_mean, _ = metrics.kernel_inception_distance(_gaussian(400, 0, 1, seed=4), _gaussian(400, 1, 1, seed=5),
                                                        subsets=20, subset_size=200)
    assert abs(same_mean) < 3 * same_std + 0.01
    assert shifted_mean > 0.5 and shifted_mean > 20 * abs(same_mean)


def test_inception_score_extremes():
    confident_uniform = np.eye(10)[np.arange(1000) % 10]
    assert metrics.inception_score(confident_uniform, splits=5)[0] == pytest.approx(10.0, rel=1e-6)
    identical = np.tile([0.3, 0.7], (100, 1))
    assert metrics.inception_score(identical)[0] == pytest.approx(1.0, abs=1e-6)


def test_precision_recall_and_density_coverage():
    real = _gaussian(300, 0.0, 1.0, seed=6)
    assert metrics.precision_recall(real, real) == (1.0, 1.0)
    density, coverage = metrics.density_coverage(real, real)
    assert coverage == 1.0 and density >= 1.0
    far = real + 100.0
    assert metrics.precision_recall(real, far) == (0.0, 0.0)
    assert metrics.density_coverage(real, far) == (0.0, 0.0)
    # Half the fake samples far away: precision halves, recall stays.
    half = np.concatenate([real[:150], far[150:]])
    precision, recall = metrics.precision_recall(real, half)
    assert precision == pytest.approx(0.5) and 0.4 < recall <= 1.0


# Full-matrix references: exact distances (sum of squared differences, so a duplicate is at 0), every
# pair at once, the papers' definitions written out. The library must match them at any block size.
def _reference_distances(a, b):
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2))


def _reference_radii(features, k):
    return np.partition(_reference_distances(features, features), k, axis=1)[:, k]


def _reference_precision_recall(real, fake, k=3):
    distances = _reference_distances(fake, real)  # [fake, real]
    precision = np.mean(np.any(distances <= _reference_radii(real, k)[None, :], axis=1))
    recall = np.mean(np.any(distances.T <= _reference_radii(fake, k)[None, :], axis=1))
    return float(precision), float(recall)


def _reference_density_coverage(real, fake, k=5):
    inside = _reference_distances(fake, real) <= _reference_radii(real, k)[None, :]
    return float(inside.sum() / (k * len(fake))), float(np.mean(inside.any(axis=0)))


def _sets_with_ties(kind, seed=1):
    """(real, fake) sets where a distance ties a radius and duplicates sit at distance 0."""
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        return rng.normal(size=(61, 8)), rng.normal(0.3, 1.2, size=(47, 8))
    if kind == "duplicates":
        # Repeated rows in each set, fakes that copy reals: the k-th neighbour is often at 0 and each
        # copied fake lies exactly on a real ball's edge. 128 features with a nonzero mean, like the
        # classifier's, where ||a||^2 + ||b||^2 - 2 a.b loses the last bits (a naive blocked version
        # of the previous code fails this case at several block sizes).
        real = np.maximum(rng.normal(size=(40, 128)), 0.0) + 3.0
        real = real[rng.permutation(np.concatenate([np.arange(40), np.arange(12), np.arange(6)]))]
        fake = np.concatenate([real[rng.choice(len(real), 25)], np.maximum(rng.normal(size=(24, 128)), 0.0) + 3.0])
        return real, fake[rng.permutation(len(fake))]
    if kind == "collapsed":  # a generator that draws one image, and a few copies of real samples
        real = rng.normal(size=(50, 8))
        return real, np.concatenate([np.repeat(rng.normal(size=(1, 8)), 40, axis=0), real[:4], real[:3]])
    # A small integer lattice: many equal distances, some radii 0, dead (all-zero) rows.
    return (rng.integers(0, 3, size=(53, 2)).astype(np.float64),
            rng.integers(0, 4, size=(45, 2)).astype(np.float64))


@pytest.mark.parametrize("kind", ["gaussian", "duplicates", "lattice", "collapsed"])
@pytest.mark.parametrize("block_size", [1, 7, 16, 45, 1000, None])  # 7, 16: do not divide n
def test_blocked_nearest_neighbour_metrics_equal_the_full_matrix_reference(kind, block_size):
    real, fake = _sets_with_ties(kind)
    for k in (1, 3, 5):
        np.testing.assert_array_equal(metrics._radii(real, k, block_size), _reference_radii(real, k))
        assert metrics.precision_recall(real, fake, k, block_size) == _reference_precision_recall(real, fake, k)
        assert metrics.precision_recall(fake, real, k, block_size) == _reference_precision_recall(fake, real, k)
        assert metrics.density_coverage(real, fake, k, block_size) == _reference_density_coverage(real, fake, k)
    if kind in ("duplicates", "lattice"):  # the ties make a difference: the sets are no easy case
        assert metrics.precision_recall(real, fake)[0] not in (0.0, 1.0)


def _previous_implementation(real, fake, k_recall=3, k_density=5):
    """The full-matrix code this module had before blocking (fast ||a||^2 + ||b||^2 - 2 a.b distances)."""
    def distances(a, b):
        return np.sqrt(np.maximum(np.sum(a ** 2, 1)[:, None] + np.sum(b ** 2, 1)[None, :] - 2.0 * a @ b.T, 0.0))

    def radii(features, k):
        return np.partition(distances(features, features), k, axis=1)[:, k]

    cross = distances(fake, real)
    precision = np.mean(np.any(cross <= radii(real, k_recall)[None, :], axis=1))
    recall = np.mean(np.any(cross.T <= radii(fake, k_recall)[None, :], axis=1))
    inside = cross <= radii(real, k_density)[None, :]
    return (float(precision), float(recall), float(inside.sum() / (k_density * len(fake))),
            float(np.mean(inside.any(axis=0))))


def test_blocked_metrics_give_the_previous_numbers_on_features_without_ties():
    rng = np.random.default_rng(7)
    real = np.maximum(rng.normal(size=(700, 128)), 0.0)
    fake = np.maximum(rng.normal(0.1, 1.1, size=(650, 128)), 0.0)
    blocked = metrics.precision_recall(real, fake, block_size=96) + metrics.density_coverage(real, fake, block_size=96)
    assert blocked == _previous_implementation(real, fake)


def test_blocks_keep_memory_bounded():
    # 2,000 x 2,000 float64 distances are 32 MB a matrix; with blocks of 100 rows, 1.6 MB each.
    import tracemalloc

    features = np.random.default_rng(8).normal(size=(2000, 16))
    tracemalloc.start()
    try:
        metrics.precision_recall(features, features[::-1], block_size=100)
        metrics.density_coverage(features, features[::-1], block_size=100)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16e6, f"peak {peak / 1e6:.1f} MB"


def test_mode_coverage_sees_a_missing_class():
    all_ten = np.eye(10)[np.arange(1000) % 10]
    report = metrics.mode_coverage(all_ten)
    assert report["classes_covered"] == 10 and report["kl_to_real"] == pytest.approx(0.0, abs=1e-9)
    collapsed = np.eye(10)[np.arange(1000) % 3]
    report = metrics.mode_coverage(collapsed)
    assert report["classes_covered"] == 3 and report["kl_to_real"] > 1.0


def test_bad_feature_shapes_are_explained():
    with pytest.raises(UserError, match="features must be"):
        metrics.frechet_distance(np.zeros(5), np.zeros(5))


def test_too_few_samples_for_the_nearest_neighbour_metrics_is_a_user_error():
    features = np.random.default_rng(0).normal(size=(3, 4))
    with pytest.raises(UserError, match="more than 3 samples.*--n"):
        metrics.precision_recall(features, features)


def test_paired_comparison_counts_disagreements_and_weighs_them_against_chance():
    before = np.array([True] * 50 + [False] * 50)
    assert metrics.paired_comparison(before, before) == (0, 0, "the same")
    after = before.copy()
    after[50:70] = True  # 20 gained, none lost: 20 > 2 sqrt(20)
    assert metrics.paired_comparison(before, after) == (20, 0, "better")
    assert metrics.paired_comparison(after, before) == (0, 20, "worse")
    after[:5] = False  # 20 gained, 5 lost: 15 > 2 sqrt(25) = 10
    assert metrics.paired_comparison(before, after)[2] == "better"
    after[5:15] = False  # 20 gained, 15 lost: 5 < 2 sqrt(35)
    assert metrics.paired_comparison(before, after) == (20, 15, "within chance")


def test_scale_bench_quick_run_prints_its_table_and_blocked_equals_full():
    result = subprocess.run([sys.executable, os.path.join(REPO, "bench", "metrics_scale.py"), "--quick"],
                            capture_output=True, text=True, timeout=300, cwd=REPO, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| 700 | 128 rows |" in result.stdout and "| 700 | one (full matrix) |" in result.stdout
    assert result.stdout.count("same numbers: True") == 2


def test_scale_bench_features_are_as_wide_as_the_classifiers():
    sys.path.insert(0, os.path.join(REPO, "bench"))
    from metrics_scale import FEATURE_WIDTH

    from gan_tf.classifier import FEATURES_LAYER, build_classifier

    assert build_classifier().get_layer(FEATURES_LAYER).units == FEATURE_WIDTH
