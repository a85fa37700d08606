"""The acceptance bar of the main job: default training gives recognisable, diverse digits in 10 minutes.

Slow (about 8 minutes per style on 2 cores): run with `python -m pytest -m slow tests/test_quality.py`.
"""

import os
import sys

import pytest
from conftest import REPO

sys.path.insert(0, os.path.join(REPO, "bench"))


@pytest.mark.slow
@pytest.mark.parametrize("style", ["fit", "combined"])
def test_default_training_gives_recognisable_diverse_digits(tmp_path, style):
    from quality import measure

    quality = measure(style, output_dir=str(tmp_path))
    assert quality["train_seconds"] <= 600, quality
    assert quality["mean_confidence"] >= 0.90, quality
    assert quality["smallest_class_share"] >= 0.05, quality
    assert quality["fd_ratio"] <= 5.0, quality
