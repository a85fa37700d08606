"""bench/train_throughput.py and bench/time_to_quality.py: quick runs end to end, and the pieces they rest on."""

import json
import os
import sys

import numpy as np
import pytest
from conftest import REPO

sys.path.insert(0, os.path.join(REPO, "bench"))


@pytest.mark.slow  # ~30 s on an idle machine: three models traced, two 2048 matmul peaks
def test_throughput_bench_times_the_three_loops_and_prints_their_mfu(capsys):
    import train_throughput

    best, flops, peak = train_throughput.main(["--steps", "3", "--rounds", "1"])
    assert set(best) == {"plain loop", "fit", "combined"} and all(rate > 0 for rate in best.values())
    assert 1.5e8 < flops < 2e8 and peak > 1e9  # the default models: ~174 MFLOP per image
    out = capsys.readouterr().out
    for name in best:
        assert name in out
    assert "MFU" in out and "%" in out.splitlines()[-1]


def test_the_plain_loop_trains_the_same_models_with_the_same_losses():
    import tensorflow as tf
    import train_throughput

    from gan_tf.config import TrainConfig

    config = TrainConfig(batch_size=4, xla="off")
    trainer = train_throughput.build(config)
    step = train_throughput.plain_step_function(trainer, config)
    weights = trainer.discriminator.trainable_weights + trainer.generator.trainable_weights
    before = [np.array(weight) for weight in weights]
    d_loss, g_loss = step(tf.random.uniform((4, 28, 28, 1), -1, 1))
    after = trainer.discriminator.trainable_weights + trainer.generator.trainable_weights
    assert all(not np.allclose(old, np.asarray(new)) for old, new in zip(before, after))
    assert np.isfinite(float(d_loss)) and np.isfinite(float(g_loss))
    assert float(trainer.ema.updates) == 1.0


def test_tutorial_models_have_the_tensorflow_tutorials_shapes():
    import time_to_quality

    generator, discriminator = time_to_quality.tutorial_models()
    assert generator.inputs[0].name == "z" and generator.output_shape == (None, 28, 28, 1)
    assert discriminator.output_shape == (None, 1)
    assert generator.count_params() == 2_330_944 and discriminator.count_params() == 212_865  # as on tensorflow.org


@pytest.mark.slow  # ~1 minute: two recipes on the reference clock, classifier measurements
def test_time_to_quality_quick_run_measures_both_recipes_on_the_reference_clock(tmp_path, capsys):
    import time_to_quality

    results = time_to_quality.main(["--quick", "--output-dir", str(tmp_path)])
    assert [result["recipe"] for result in results] == ["default", "tf-tutorial"]
    for result in results:
        minutes = [row["reference_minutes"] for row in result["measurements"]]
        assert len(minutes) >= 2 and minutes == sorted(minutes) and minutes[0] >= 0.02
        assert all(0 <= row["mean_confidence"] <= 1 and row["fd_ratio"] > 0 for row in result["measurements"])
    saved = json.load(open(tmp_path / "time_to_quality_quick.json"))
    assert [result["recipe"] for result in saved["results"]] == ["default", "tf-tutorial"]
    assert "| default |" in (tmp_path / "time_to_quality_quick.md").read_text()
    assert "first passes the bar" in capsys.readouterr().out


def test_the_quality_clock_measures_at_each_mark_across_epochs_and_stops_at_the_budget(monkeypatch):
    """Simulated time: 1 wall s per step, 10 steps per epoch, reference factor 0.5, a mark every 10
    reference s (20 steps), a budget of 30 reference s: rows at 10, 20 and 30, then the run stops."""
    import types

    import time_to_quality

    now = [0.0]
    monkeypatch.setattr(time_to_quality.time, "perf_counter", lambda: now[0])
    trainer = types.SimpleNamespace(g_optimizer=types.SimpleNamespace(
        iterations=types.SimpleNamespace(numpy=lambda: 0)))
    rows = []
    clock = time_to_quality.make_clock_callback(trainer, 0.5, 10.0, 30.0, lambda model: {"passes": False},
                                                rows, lambda row: None)
    clock.set_model(types.SimpleNamespace(stop_training=False))
    clock.on_train_begin()
    for epoch in range(20):
        for batch in range(10):
            now[0] += 1.0
            clock.on_train_batch_end(batch)
            if clock.model.stop_training:
                break
        if clock.model.stop_training:
            break
    assert [row["wall_seconds"] for row in rows] == [20.0, 40.0, 60.0]  # the tracing step is not counted
    assert clock.model.stop_training and epoch == 6


@pytest.mark.slow  # ~15 s: a run of tiny models on mnist-5k with every callback timed
def test_epoch_overhead_bench_times_every_callback_and_the_steps(capsys):
    import epoch_overhead

    seconds, per_epoch = epoch_overhead.main(["--epochs", "2", "--batch-size", "250", "--latent-dim", "8",
                                              "--generator-width", "4", "--discriminator-width", "4"])
    assert per_epoch > 0
    for name in ("FrechetDistanceMonitor", "RunHistory", "EpochCheckpoint", "SampleGrid", "StopOnDivergence",
                 "ProgressBar", "sampling generator", "start (before the first step)"):
        assert seconds[name] > 0, name
    assert "all callbacks" in capsys.readouterr().out
