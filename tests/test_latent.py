"""lerp, slerp and paths through latent space, against values worked out by hand."""

import numpy as np
import pytest

from gan_tf import latent
from gan_tf.errors import UserError

E1, E2 = np.array([1.0, 0.0]), np.array([0.0, 1.0])


def test_lerp_is_the_straight_line():
    np.testing.assert_allclose(latent.lerp([0, 0], [2, 4], 0.25), [0.5, 1.0])
    np.testing.assert_allclose(latent.lerp([1, -1], [3, 5], 0.0), [1, -1])
    np.testing.assert_allclose(latent.lerp([1, -1], [3, 5], 1.0), [3, 5])


@pytest.mark.parametrize("fraction, expected", [
    (0.0, [1.0, 0.0]),
    (0.5, [np.sqrt(0.5), np.sqrt(0.5)]),  # lerp would give [0.5, 0.5], norm 0.71
    (1 / 3, [np.cos(np.pi / 6), np.sin(np.pi / 6)]),  # a third of the 90 degree arc is 30 degrees
    (1.0, [0.0, 1.0]),
])
def test_slerp_follows_the_great_circle_between_orthogonal_unit_vectors(fraction, expected):
    np.testing.assert_allclose(latent.slerp(E1, E2, fraction), expected, atol=1e-12)


def test_slerp_keeps_the_norm_of_equal_norm_endpoints():
    """The reason for slerp: z ~ N(0, I) lives on a shell of radius ~sqrt(d), and lerp cuts inside it."""
    rng = np.random.default_rng(0)
    start, end = rng.normal(size=64), rng.normal(size=64)
    end *= np.linalg.norm(start) / np.linalg.norm(end)
    for fraction in np.linspace(0, 1, 7):
        assert np.linalg.norm(latent.slerp(start, end, fraction)) == pytest.approx(np.linalg.norm(start))
    assert np.linalg.norm(latent.lerp(start, end, 0.5)) < 0.9 * np.linalg.norm(start)


def test_slerp_of_parallel_vectors_falls_back_to_lerp():
    """The angle is 0 there, so the slerp formula would divide by sin(0)."""
    np.testing.assert_allclose(latent.slerp([1.0, 2.0], [2.0, 4.0], 0.5), [1.5, 3.0])
    assert np.all(np.isfinite(latent.slerp(E1, E1, 0.3)))


@pytest.mark.parametrize("method", ["lerp", "slerp"])
def test_path_visits_every_point_once_with_steps_per_segment(method):
    points = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    walk = latent.path(points, steps=4, method=method)
    assert walk.shape == (7, 2) and walk.dtype == np.float32  # 2 segments x 3 new vectors + the start
    np.testing.assert_allclose(walk[[0, 3, 6]], points, atol=1e-6)  # each point once, at its segment edge
    halfway = latent.slerp if method == "slerp" else latent.lerp
    np.testing.assert_allclose(walk[1], halfway(points[0], points[1], 1 / 3), atol=1e-6)


@pytest.mark.parametrize("arguments, message", [
    ({"points": [[0.0, 1.0], [1.0, 0.0]], "steps": 4, "method": "cubic"}, "lerp or slerp"),
    ({"points": [[0.0, 1.0], [1.0, 0.0]], "steps": 1}, "--steps must be at least 2"),
    ({"points": [[0.0, 1.0]], "steps": 4}, "at least two points"),
])
def test_bad_path_arguments_are_clear_errors(arguments, message):
    with pytest.raises(UserError, match=message):  # a user's flags: one line in the CLI
        latent.path(**arguments)
