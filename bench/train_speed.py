"""Training throughput of the two styles and of XLA, as ratios to the fit style measured in the same run.

    python bench/train_speed.py [--steps 150] [--batch-size 32]

Each variant trains the default MNIST DCGAN on random images for a warm-up, then `--steps` timed
steps. The reference is the `fit` style without XLA; every line prints images per second and the
ratio to the reference. (On this project's 2-core CPU machines XLA is expected to lose: it is for GPUs.)
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gan_tf.cli import import_tensorflow_quietly  # noqa: E402


def images_per_second(style, xla, steps, batch_size):
    import numpy as np
    import tensorflow as tf

    from gan_tf.config import TrainConfig
    from gan_tf.train import build_trainer

    config = TrainConfig(style=style, xla="on" if xla else "off", batch_size=batch_size)
    trainer = build_trainer(config, 28, 1)
    images = np.random.default_rng(0).uniform(-1, 1, (batch_size * steps, 28, 28, 1)).astype(np.float32)
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(batch_size, drop_remainder=True).cache()
    trainer.fit(dataset.take(5), epochs=1, verbose=0)  # trace and compile
    started = time.perf_counter()
    trainer.fit(dataset, epochs=1, verbose=0)
    return batch_size * steps / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    import_tensorflow_quietly()
    reference = images_per_second("fit", False, args.steps, args.batch_size)
    print(f"{'variant':<22}{'images/s':>10}{'ratio':>8}")
    print(f"{'fit (reference)':<22}{reference:>10.0f}{1.0:>8.2f}")
    for name, style, xla in (("combined", "combined", False), ("fit + XLA", "fit", True)):
        rate = images_per_second(style, xla, args.steps, args.batch_size)
        print(f"{name:<22}{rate:>10.0f}{rate / reference:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
