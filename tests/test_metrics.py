import numpy as np
import pytest
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
