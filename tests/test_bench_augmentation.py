"""bench/augmentation.py: the labelled subsets and equal-step schedules it trains on, and a --quick run end to end."""

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO

sys.path.insert(0, os.path.join(REPO, "bench"))


def test_subsets_hold_per_class_digits_of_each_class_outside_the_test_split_and_depend_only_on_the_seed():
    from augmentation import draw_subset

    from gan_tf.classifier import stratified_split
    from gan_tf.errors import UserError

    labels = np.random.default_rng(5).integers(0, 10, 2000).astype(np.int32)
    pool, held_out = stratified_split(labels, 0.1, seed=0)
    subsets = {count: draw_subset(labels, pool, count, seed=1) for count in (10, 50, 100)}
    for count, subset in subsets.items():
        assert len(subset) == len(set(subset.tolist())) == 10 * count
        np.testing.assert_array_equal(np.bincount(labels[subset], minlength=10), np.full(10, count))
        assert not set(subset.tolist()) & set(held_out.tolist())
    np.testing.assert_array_equal(draw_subset(labels, pool[::-1], 50, seed=1), subsets[50])  # pool order
    assert set(subsets[10].tolist()) < set(subsets[50].tolist()) < set(subsets[100].tolist())  # nested
    assert not np.array_equal(draw_subset(labels, pool, 50, seed=2), subsets[50])
    with pytest.raises(UserError, match="asks for 1000"):
        draw_subset(labels, pool, 1000, seed=1)


def test_real_set_is_repeated_in_whole_passes_and_every_subset_gets_the_same_gan_budget():
    from augmentation import gan_schedule, repeat_indices

    repeated = repeat_indices(100, 5100, seed=0)
    assert len(repeated) == 5100
    np.testing.assert_array_equal(np.bincount(repeated), np.full(100, 51))  # no digit weighs more
    assert not np.array_equal(repeated[:100], repeated[100:200])  # a fresh order each pass
    assert np.bincount(repeat_indices(7, 10, seed=0)).max() == 2
    schedules = [gan_schedule(size, 100_000) for size in (100, 500, 1000)]
    assert [schedule[:2] for schedule in schedules] == [(50, 20), (10, 20), (5, 20)]
    assert {schedule[2] for schedule in schedules} == {20 * 156 * 32}
    assert gan_schedule(100, 2000) == (20, 1, 62 * 32)


@pytest.mark.slow
def test_quick_run_prints_its_table_and_verdict():
    result = subprocess.run([sys.executable, os.path.join(REPO, "bench", "augmentation.py"), "--quick"],
                            capture_output=True, text=True, timeout=600, cwd=REPO,
                            env=dict(os.environ, PYTHONPATH=REPO, MPLBACKEND="Agg"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| labelled digits per class | real only" in result.stdout
    assert "| 10 | " in result.stdout
    assert "10 per class: adding the cGAN's digits" in result.stdout
