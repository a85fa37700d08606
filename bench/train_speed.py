"""Training throughput of the two styles, XLA and precision policies, as ratios to the plain fit style
measured in the same run.

    python bench/train_speed.py [--steps 150] [--batch-size 32]
    python bench/train_speed.py --precisions float32 mixed_float16 mixed_bfloat16   # the GPU table

Each variant trains the default MNIST DCGAN on random images for a warm-up, then `--steps` timed
steps. The reference is the `fit` style in float32 without XLA; every line prints images per second
and the ratio to the reference. Variants: both styles with XLA off and on, in each precision asked for.
(On this project's 2-core CPU machines XLA and 16-bit policies are expected to lose: they are for GPUs.)
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gan_tf.cli import import_tensorflow_quietly  # noqa: E402


def images_per_second(style, xla, steps, batch_size, precision="float32"):
    import numpy as np
    import tensorflow as tf

    from gan_tf.config import TrainConfig
    from gan_tf.train import build_trainer

    config = TrainConfig(style=style, xla="on" if xla else "off", batch_size=batch_size, precision=precision)
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
    parser.add_argument("--precisions", nargs="+", default=["float32"],
                        choices=["float32", "mixed_float16", "mixed_bfloat16"])
    args = parser.parse_args()
    import_tensorflow_quietly()
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    device = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU") if gpus else "CPU"
    print(f"device: {device}; batch {args.batch_size}, {args.steps} timed steps")
    reference = images_per_second("fit", False, args.steps, args.batch_size)
    print(f"{'variant':<40}{'images/s':>10}{'ratio':>8}")
    print(f"{'fit, float32 (reference)':<40}{reference:>10.0f}{1.0:>8.2f}", flush=True)
    for precision in args.precisions:
        for style in ("fit", "combined"):
            for xla in (False, True):
                if (style, xla, precision) == ("fit", False, "float32"):
                    continue
                rate = images_per_second(style, xla, args.steps, args.batch_size, precision)
                name = f"{style}, {precision}{', XLA' if xla else ''}"
                print(f"{name:<40}{rate:>10.0f}{rate / reference:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
