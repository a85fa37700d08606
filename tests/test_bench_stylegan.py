"""bench/stylegan_ablation.py: the configurations A-F, the test-time mixing draws and a --quick run end to end."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO

sys.path.insert(0, os.path.join(REPO, "bench"))


def _changed(first, second):
    return {name for name, value in vars(first).items() if getattr(second, name) != value}


def test_each_configuration_adds_one_idea_and_f_is_the_papers_stylegan():
    from stylegan_ablation import configurations

    from gan_tf.config import preset_config

    common = dict(epochs=3, seed=1, growth_images=100)
    configs = configurations(**common)
    assert configs["A"] == preset_config("progan", **common)  # the preset's own nearest resampling
    assert configs["F"] == preset_config("stylegan", style_modulation="adain", r1_weight=1.0, **common)
    assert configs["C"].r1_weight == configs["A"].r1_weight  # the recipe of A and B
    assert _changed(configs["A"], configs["B"]) == {"resample"}
    assert _changed(configs["B"], configs["C"]) >= {"architecture", "preset"}
    assert _changed(configs["C"], configs["F"]) == {"constant_input", "noise_inputs", "style_mixing"}
    assert _changed(configs["C"], configs["D"]) == {"constant_input"}
    assert _changed(configs["D"], configs["E"]) == {"noise_inputs"}
    assert _changed(configs["E"], configs["F"]) == {"style_mixing"}


@pytest.mark.parametrize("latents", [1, 2, 3, 4])
def test_crossover_sources_give_each_of_k_latents_a_run_of_style_layers(latents):
    from stylegan_ablation import crossover_sources

    sources = crossover_sources(500, 8, latents, np.random.default_rng(0))
    assert sources.shape == (500, 8)
    assert np.all(sources[:, 0] == 0) and np.all(sources[:, -1] <= latents - 1)
    steps = np.diff(sources, axis=1)
    assert set(np.unique(steps)) <= {0, 1}  # latent j takes over from j - 1 at a crossover
    assert np.all(steps.sum(axis=1) == latents - 1)  # k - 1 distinct crossovers: every latent is used
    if latents > 1:  # crossovers uniform over 1..7: every layer is a crossover somewhere
        assert set(np.nonzero(steps)[1] + 1) == set(range(1, 8))


def test_best_fd_is_the_lowest_measured_fd_and_its_epoch():
    from stylegan_ablation import best_fd

    history = [{"epoch": "1", "fd": ""}, {"epoch": "2", "fd": "30.5"}, {"epoch": "3", "fd": ""},
               {"epoch": "4", "fd": "12.25"}, {"epoch": "5", "fd": "20"}]
    assert best_fd(history) == (12.25, 4)
    assert best_fd([{"epoch": "1", "d_loss": "0.5"}]) == (None, None)


@pytest.mark.slow
def test_quick_run_writes_both_tables_and_the_figure(tmp_path):
    result = subprocess.run([sys.executable, os.path.join(REPO, "bench", "stylegan_ablation.py"), "--quick",
                             "--out-dir", str(tmp_path)], capture_output=True, text=True, timeout=600,
                            env=dict(os.environ, PYTHONPATH=REPO, MPLBACKEND="Agg"), cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("stylegan_ablation.md", "stylegan_ablation.json", "stylegan_ablation.png"):
        assert (tmp_path / name).is_file(), name
    with open(tmp_path / "stylegan_ablation.json") as file:
        results = json.load(file)
    assert [row["name"] for row in results["configs"]] == ["A", "B", "C", "D", "E", "F"]
    for row in results["configs"]:
        for key in ("fd", "kid", "precision", "recall", "mean_confidence", "smallest_class_share", "train_seconds"):
            assert math.isfinite(row[key]), (row["name"], key, row[key])
    assert [row["style_mixing"] for row in results["mixing"]] == [0.0, 0.5, 0.9, 1.0]
    assert [row["model"] for row in results["mixing"]] == ["E", "mix50", "F", "mix100"]
    assert all(len(row["fd"]) == 4 and all(map(math.isfinite, row["fd"])) for row in results["mixing"])
    # One latent at test time is plain sampling: E's first column is its Table 1 FD.
    assert results["mixing"][0]["fd"][0] == pytest.approx(results["configs"][4]["fd"], rel=1e-6)
    table = (tmp_path / "stylegan_ablation.md").read_text()
    assert "| F + mixing 90% | 5.17 | 4.40 |" in table and "(17.41)" in table
