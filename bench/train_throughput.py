"""Training throughput against the hardware: images/s and model FLOP utilisation (MFU) of the three
ways to train the default DCGAN, measured in one process on the same models and data.

    python bench/train_throughput.py [--steps 150] [--rounds 3] [--batch-size 32]

- `fit`: `gan_tf.gan.GAN.train_step` under `keras.Model.fit` (what `gan-tf train` runs);
- `combined`: the classic combined model with `discriminator.trainable = False` and `train_on_batch`;
- `plain loop`: a hand-written `tf.function` + `GradientTape` step over identical models, optimizers,
  losses, label smoothing, lazy R1, G's update on D's fakes and EMA, called from a Python loop over the
  same `tf.data` batches. It is the reference: what the same math costs with no framework around it.

Each variant is traced and warmed up, then timed for `--steps` steps, `--rounds` times in turn (the
machine's load drifts; the best round counts). FLOPs per image come from the models
(`gan_tf.throughput.training_step_flops`: TensorFlow's profiler on one forward pass of G and of D,
assembled as d_steps (G + 6 D) + 2 G + 2 D, as G's update reuses D's fakes). The peak is the float32
matmul benchmark of `../shared/machine_peak.py` (2048 x 2048, best of 5 x 10), run in the same process
before and after the timings; MFU uses their mean.
"""

import argparse
import contextlib
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gan_tf.cli import import_tensorflow_quietly  # noqa: E402


def build(config):
    from gan_tf.train import build_trainer

    return build_trainer(config, 28, 1)


def plain_step_function(trainer, config):
    """The default recipe's step written out by hand: the reference loop."""
    import tensorflow as tf

    from gan_tf.losses import get_losses

    generator, discriminator = trainer.generator, trainer.discriminator
    g_optimizer, d_optimizer = trainer.g_optimizer, trainer.d_optimizer
    generator_loss, discriminator_loss = get_losses(config.loss)
    latent_dim, smoothing, ema = config.latent_dim, config.label_smoothing, trainer.ema
    r1_weight, r1_interval, reuse_fakes = config.r1_weight, config.r1_interval, config.reuse_fakes

    def r1(real_images):  # 1/2 |grad_x D(x)|^2 per real image, times gamma and the lazy interval
        with tf.GradientTape() as inner:
            inner.watch(real_images)
            logits = discriminator(real_images, training=True)
        gradients = inner.gradient(logits, real_images)
        return r1_weight * r1_interval * 0.5 * tf.reduce_sum(tf.square(gradients), axis=(1, 2, 3))

    @tf.function
    def step(real_images):
        batch_size = tf.shape(real_images)[0]
        g_tape = tf.GradientTape()
        with g_tape if reuse_fakes else contextlib.nullcontext():  # G's forward pass, reused for G's update
            fake_images = generator(tf.random.normal((batch_size, latent_dim)), training=True)
        with tf.GradientTape() as tape:
            real_logits = discriminator(real_images, training=True)
            fake_logits = discriminator(fake_images, training=True)
            d_loss = tf.reduce_mean(discriminator_loss(real_logits, fake_logits, smoothing))
            if r1_weight:  # lazy R1 on every `r1_interval`-th update of D, as GAN.train_step does it
                d_loss += tf.reduce_mean(tf.cond(tf.equal(d_optimizer.iterations % r1_interval, 0),
                                                 lambda: r1(real_images), lambda: tf.zeros((batch_size,))))
        gradients = tape.gradient(d_loss, discriminator.trainable_variables)
        d_optimizer.apply_gradients(zip(gradients, discriminator.trainable_variables))
        with g_tape:
            if not reuse_fakes:
                fake_images = generator(tf.random.normal((batch_size, latent_dim)), training=True)
            g_loss = tf.reduce_mean(generator_loss(discriminator(fake_images, training=True)))
        gradients = g_tape.gradient(g_loss, generator.trainable_variables)
        g_optimizer.apply_gradients(zip(gradients, generator.trainable_variables))
        if ema is not None:
            ema.update()
        return d_loss, g_loss

    return step


class Variant:
    """One way to train, ready to be timed for a number of steps on `batches` (a repeated dataset)."""

    def __init__(self, name, config, batches):
        self.name, self.config = name, config
        self.trainer = build(config)
        self.batches = batches
        if name == "plain loop":
            self.step = plain_step_function(self.trainer, config)
        self.run(5)  # trace, compile and warm up

    def run(self, steps):
        dataset = self.batches.take(steps)
        if self.name == "plain loop":
            for images in dataset:
                losses = self.step(images)
            float(losses[0])  # wait for the last step
        elif self.name == "fit":
            self.trainer.fit(dataset, epochs=1, verbose=0, shuffle=False)
        else:
            self.trainer.fit(dataset, epochs=1)

    def images_per_second(self, steps):
        started = time.perf_counter()
        self.run(steps)
        return steps * self.config.batch_size / (time.perf_counter() - started)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=150, help="timed steps per variant and round")
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds; the best counts")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    import_tensorflow_quietly()
    import tensorflow as tf

    from gan_tf import data, throughput
    from gan_tf.config import TrainConfig
    from gan_tf.images import bytes_to_model

    gpus = tf.config.list_physical_devices("GPU")
    device = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU") if gpus else "CPU"
    peak_before = throughput.benchmark_peak_flops()
    images = bytes_to_model(data.load("mnist-5k").images)
    batches = (tf.data.Dataset.from_tensor_slices(images).batch(args.batch_size, drop_remainder=True)
               .repeat().prefetch(tf.data.AUTOTUNE))
    config = TrainConfig(batch_size=args.batch_size, xla="off")
    # The plain loop writes out this recipe's step: one D step, lazy R1 its only penalty, no augmentation.
    assert config.d_steps == 1 and not (config.gradient_penalty_weight or config.clip_value or config.augment)
    variants = [Variant(name, config.replace(style="combined" if name == "combined" else "fit"), batches)
                for name in ("plain loop", "fit", "combined")]
    flops = throughput.training_step_flops(variants[0].trainer.generator, variants[0].trainer.discriminator,
                                           config.d_steps, config.reuse_fakes)
    best = {variant.name: 0.0 for variant in variants}
    for _ in range(args.rounds):
        for variant in variants:
            best[variant.name] = max(best[variant.name], variant.images_per_second(args.steps))
    peak_after = throughput.benchmark_peak_flops()
    peak = (peak_before + peak_after) / 2

    print(f"device: {device}; default DCGAN, batch {args.batch_size}, {args.steps} steps x {args.rounds} rounds "
          "(best round)")
    print(f"model FLOPs of a training step: {flops / 1e6:.1f} MFLOP per image (G and D forward passes profiled, "
          f"d_steps (G + 6 D) + {2 if config.reuse_fakes else 3} G + 2 D)")
    print(f"float32 matmul peak: {peak / 1e9:.1f} GFLOP/s (before {peak_before / 1e9:.1f}, after "
          f"{peak_after / 1e9:.1f})")
    print(f"{'loop':<14}{'images/s':>10}{'vs plain':>10}{'MFU':>8}")
    reference = best["plain loop"]
    for name, rate in best.items():
        print(f"{name:<14}{rate:>10.1f}{rate / reference:>10.2f}{throughput.mfu(rate, flops, peak):>8.1%}")
    return best, flops, peak


if __name__ == "__main__":
    main()
