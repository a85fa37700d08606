"""Sample-quality measures on feature arrays (float64 throughout).

They take features, not models, so any extractor works: the project's digit classifier
(`gan_tf.classifier`) offline, Inception-v3 where its weights can be downloaded. Numbers computed on
different features are not comparable: a classifier-feature FD is not the Inception FID of papers.
"""

import numpy as np
from scipy import linalg


def _moments(features):
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"features must be [n >= 2, d], got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(features_a, features_b):
    """Frechet distance between Gaussians fitted to two feature sets (Heusel et al. 2017, FID).

    ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)). Biased upwards at small n (the covariance
    estimate is noisy), so compare only numbers computed with the same n.
    """
    mean_a, covariance_a = _moments(features_a)
    mean_b, covariance_b = _moments(features_b)
    root, _ = linalg.sqrtm(covariance_a @ covariance_b, disp=False)
    if not np.isfinite(root).all():
        # A singular product: nudge both covariances, as the FID reference implementation does.
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
