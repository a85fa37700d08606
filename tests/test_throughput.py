import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_tf import throughput
from gan_tf.config import TrainConfig
from gan_tf.train import build_trainer


def _dense(inputs, units, name):
    model = keras.Sequential([keras.Input((inputs,), name=f"{name}_in"), keras.layers.Dense(units, use_bias=False)],
                             name=name)
    return model


def test_forward_flops_of_a_dense_layer_are_two_per_weight():
    assert throughput.forward_flops(_dense(8, 16, "g")) == 2 * 8 * 16


def test_a_step_counts_d_steps_times_g_plus_6_d_and_3_g_plus_2_d():
    generator, discriminator = _dense(8, 32, "g"), _dense(32, 1, "d")
    g, d = 2 * 8 * 32, 2 * 32 * 1
    assert throughput.training_step_flops(generator, discriminator) == 4 * g + 8 * d
    assert throughput.training_step_flops(generator, discriminator, d_steps=3) == 3 * (g + 6 * d) + 3 * g + 2 * d
    # reusing D's last fakes for G's update saves G's forward pass
    assert throughput.training_step_flops(generator, discriminator, reuse_fakes=True) == 3 * g + 8 * d


@pytest.mark.parametrize("reuse_fakes", [True, False])
def test_the_formula_is_within_5_percent_of_the_profiled_train_step(reuse_fakes):
    config = TrainConfig(latent_dim=8, generator_width=8, discriminator_width=8, reuse_fakes=reuse_fakes)
    trainer = build_trainer(config, 28, 1)
    graph = tf.function(trainer.train_step).get_concrete_function(tf.TensorSpec((8, 28, 28, 1))).graph
    profiled = throughput.graph_flops(graph) / 8
    formula = throughput.training_step_flops(trainer.generator, trainer.discriminator, reuse_fakes=reuse_fakes)
    assert formula == pytest.approx(profiled, rel=0.05)


def test_mfu_is_model_flops_per_second_over_the_peak():
    assert throughput.mfu(100.0, 4e8, 2e11) == pytest.approx(0.2)
    peak = throughput.matmul_peak_flops(size=256, repeats=2, trials=1)
    assert 1e8 < peak < 1e16 and np.isfinite(peak)
    assert throughput.peak_dtype("mixed_bfloat16", on_gpu=True) == "bfloat16"
    assert throughput.peak_dtype("mixed_float16", on_gpu=False) == "float32"  # CPU float16 kernels are slow


def test_replicas_on_one_cpu_share_its_peak():
    # conftest splits the CPU into two logical devices: a mirrored run's two replicas use the same cores.
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    peak, dtype = throughput.run_peak_flops(strategy, "mixed_bfloat16")
    assert dtype == "float32" and peak == throughput.process_peak_flops("float32", 1024)
