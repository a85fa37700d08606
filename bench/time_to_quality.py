"""Time to quality: how soon the default recipe and the TensorFlow DCGAN tutorial's recipe make digits
that pass the project's bar, trained one after the other in one process on the same 5,000 digits.

    python bench/time_to_quality.py [--budget 10] [--every 1] [--n 1000]
    python bench/time_to_quality.py --quick        # seconds: what the tests run

Time is in reference minutes (the project's time budgets): training wall time x this machine's float32
matmul peak / 350 GFLOP/s, with the peak measured in this run (`../shared/machine_peak.py`'s benchmark,
before each recipe); the clock starts after the first (tracing) step. Every `--every` reference
minutes, at 5 and at the budget the clock stops, 1,000 digits are drawn from the generator
that sampling would use (the EMA of G where the recipe has one), and the project classifier measures
them (`gan_tf.evaluation.digit_quality`): mean confidence, the smallest digit's share and the FD ratio
to a real-vs-real split of the same n. The bar: confidence >= 0.90, every digit >= 5%, FD ratio <= 5.

The recipes, both trained by `gan_tf.gan.GAN.train_step`:
- `default`: `gan-tf train`'s defaults (`gan_tf.config.TrainConfig()`);
- `tf-tutorial`: tensorflow.org's "Deep Convolutional Generative Adversarial Network" tutorial's models
  and optimiser settings: G Dense(7x7x256) -> BatchNorm -> 5x5 Conv2DTranspose 128 / 64 / 1
  (BatchNorm, LeakyReLU, tanh), D 5x5 Conv2D 64 / 128 stride 2 with LeakyReLU and Dropout 0.3 ->
  Dense(1), noise of 100, binary cross-entropy, Adam(1e-4) for both, batch 256, no EMA. The tutorial
  updates G and D at once from one batch of fakes; here both learn from that one batch too
  (`reuse_fakes`), but in turn, G scoring it under D's new weights: D's one more forward pass (3 G + 8 D
  against 3 G + 7 D forward passes) and a slightly different game.

Prints a row per measurement and, per recipe, the first time it passed the bar (or that it did not within
the budget) and its FD ratio at 5 reference minutes; writes bench/results/time_to_quality.{md,json}.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gan_tf.cli import import_tensorflow_quietly  # noqa: E402

REFERENCE_FLOPS = 350e9
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def tutorial_models(latent_dim=100):
    """The TensorFlow DCGAN tutorial's G and D (G's input named `z`, as gan-tf's models name it)."""
    import keras
    from keras import layers

    z = keras.Input((latent_dim,), name="z")
    x = layers.Dense(7 * 7 * 256, use_bias=False)(z)
    x = layers.LeakyReLU()(layers.BatchNormalization()(x))
    x = layers.Reshape((7, 7, 256))(x)
    for filters, strides in ((128, 1), (64, 2)):
        x = layers.Conv2DTranspose(filters, 5, strides=strides, padding="same", use_bias=False)(x)
        x = layers.LeakyReLU()(layers.BatchNormalization()(x))
    images = layers.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False, activation="tanh")(x)
    generator = keras.Model(z, images, name="generator")

    real = keras.Input((28, 28, 1), name="images")
    x = real
    for filters in (64, 128):
        x = layers.Dropout(0.3)(layers.LeakyReLU()(layers.Conv2D(filters, 5, strides=2, padding="same")(x)))
    discriminator = keras.Model(real, layers.Dense(1)(layers.Flatten()(x)), name="discriminator")
    return generator, discriminator


def build_recipe(name, seed=42):
    """(trainer, batch_size) of a recipe, compiled and ready to fit."""
    import keras

    from gan_tf.config import TrainConfig
    from gan_tf.gan import GAN
    from gan_tf.train import build_trainer

    keras.utils.set_random_seed(seed)
    if name == "default":
        config = TrainConfig(seed=seed, xla="off")
        return build_trainer(config, 28, 1), config.batch_size
    generator, discriminator = tutorial_models()
    trainer = GAN(generator, discriminator, loss="non-saturating", seed=seed, reuse_fakes=True)
    trainer.compile(keras.optimizers.Adam(1e-4), keras.optimizers.Adam(1e-4))
    return trainer, 256


def make_clock_callback(trainer, factor, every, budget, measure, rows, echo):
    """A callback that measures quality every `every` reference seconds of training and stops the run at
    `budget`; the clock stops while it measures."""
    import keras

    class QualityClock(keras.callbacks.Callback):
        # Marks at every `every`, at 5 reference minutes (the issue's comparison point) and at the budget.
        marks = sorted({round(every * index, 6) for index in range(1, int(budget / every + 1e-9) + 1)}
                       | ({300.0} if budget >= 300 else set()) | {budget})

        def on_train_begin(self, logs=None):
            self.trained = 0.0  # wall seconds of training so far
            self.traced = False

        def on_train_batch_end(self, batch, logs=None):
            if not self.traced:  # the first step traces the step function: not training time
                self.traced = True
                self.resumed = time.perf_counter()
                return
            reference = (self.trained + time.perf_counter() - self.resumed) * factor
            if not self.marks or reference < self.marks[0]:
                return
            self.trained += time.perf_counter() - self.resumed
            while self.marks and self.marks[0] <= reference:  # a long step can pass several marks: one row
                self.marks.pop(0)
            row = {"reference_minutes": round(reference / 60, 2), "wall_seconds": round(self.trained, 1),
                   "steps": int(trainer.g_optimizer.iterations.numpy()), **measure(trainer)}
            rows.append(row)
            echo(row)
            if not self.marks:
                self.model.stop_training = True
            self.resumed = time.perf_counter()

    return QualityClock()


def run_recipe(name, budget, every, n, seed, echo=print):
    """Train recipe `name` for `budget` reference seconds, measuring every `every`; returns its summary."""
    from gan_tf import data, evaluation, throughput
    from gan_tf import images as pixels
    from gan_tf.sampling import sample_unit_images

    image_set = data.load("mnist-5k")
    real_unit = pixels.model_to_unit(pixels.bytes_to_model(image_set.images))
    extractor = evaluation.classifier_extractor()
    peak = throughput.benchmark_peak_flops()
    trainer, batch_size = build_recipe(name, seed)

    def measure(model):
        quality = evaluation.digit_quality(sample_unit_images(model.build_sampling_generator(), n, seed=seed),
                                           real_unit, extractor)
        return {"mean_confidence": round(quality["mean_confidence"], 4),
                "smallest_class_share": quality["smallest_class_share"], "fd_ratio": round(quality["fd_ratio"], 3),
                "passes": evaluation.passes_digit_bar(quality)}

    rows = []
    steps_per_epoch = len(image_set.images) // batch_size
    epochs = 100_000  # the clock stops the run
    dataset = data.to_dataset(image_set, batch_size, seed=seed, epochs=epochs)
    clock = make_clock_callback(trainer, peak / REFERENCE_FLOPS, every, budget, measure, rows,
                                lambda row: echo(_format_row(name, row)))
    trainer.fit(dataset, epochs=epochs, steps_per_epoch=steps_per_epoch, callbacks=[clock], verbose=0, shuffle=False)
    passed = next((row for row in rows if row["passes"]), None)
    at_five = min(rows, key=lambda row: abs(row["reference_minutes"] - 5.0))  # the 5-minute mark's row
    return {"recipe": name, "peak_gflops": round(peak / 1e9, 1), "batch_size": batch_size,
            "budget_reference_minutes": round(budget / 60, 2), "measurements": rows,
            "first_pass_reference_minutes": passed["reference_minutes"] if passed else None,
            "first_pass_wall_seconds": passed["wall_seconds"] if passed else None,
            "fd_ratio_at_5_reference_minutes": at_five["fd_ratio"] if budget >= 300 else None,
            "fd_ratio_measured_at_reference_minutes": at_five["reference_minutes"] if budget >= 300 else None}


def _format_row(name, row):
    return (f"{name:<12}{row['reference_minutes']:>8.2f}{row['wall_seconds']:>8.0f}{row['steps']:>7}"
            f"{row['mean_confidence']:>7.3f}{row['smallest_class_share']:>7.1%}{row['fd_ratio']:>7.2f}"
            f"{'  yes' if row['passes'] else '   no':>6}")


def summary_lines(results):
    lines = ["| recipe | peak GFLOP/s | first passes the bar | FD ratio at 5 ref. min | last FD ratio |",
             "|---|---|---|---|---|"]
    for result in results:
        passed = (f"{result['first_pass_reference_minutes']:.2f} ref. min ({result['first_pass_wall_seconds']:.0f} s)"
                  if result["first_pass_reference_minutes"] is not None
                  else f"not within {result['budget_reference_minutes']:g} ref. min")
        at_five = result["fd_ratio_at_5_reference_minutes"]
        lines.append(f"| {result['recipe']} | {result['peak_gflops']} | {passed} | "
                     f"{'-' if at_five is None else f'{at_five:.2f}'} | {result['measurements'][-1]['fd_ratio']:.2f} |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=10.0, help="reference minutes per recipe")
    parser.add_argument("--every", type=float, default=1.0, help="reference minutes between measurements")
    parser.add_argument("--n", type=int, default=1000, help="samples per measurement")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--recipes", nargs="+", default=["default", "tf-tutorial"],
                        choices=["default", "tf-tutorial"])
    parser.add_argument("--output-dir", default=RESULTS)
    parser.add_argument("--quick", action="store_true", help="a few seconds per recipe on 200 samples (tests)")
    args = parser.parse_args(argv)
    if args.quick:
        args.budget, args.every, args.n = 0.1, 0.05, 200
    import_tensorflow_quietly()

    print(f"{'recipe':<12}{'ref min':>8}{'wall s':>8}{'steps':>7}{'conf':>7}{'min %':>7}{'FD x':>7}{'bar':>6}",
          flush=True)
    results = [run_recipe(name, args.budget * 60, args.every * 60, args.n, args.seed,
                          echo=lambda line: print(line, flush=True)) for name in args.recipes]
    lines = summary_lines(results)
    print("\n".join(lines))
    os.makedirs(args.output_dir, exist_ok=True)
    stem = os.path.join(args.output_dir, "time_to_quality" + ("_quick" if args.quick else ""))
    with open(stem + ".json", "w") as file:
        json.dump({"date": time.strftime("%Y-%m-%d"), "results": results}, file, indent=2)
    with open(stem + ".md", "w") as file:
        file.write(f"Measured {time.strftime('%Y-%m-%d')} with `python bench/time_to_quality.py"
                   f"{' --quick' if args.quick else ''}`; n = {args.n} samples per measurement.\n\n")
        file.write("\n".join(lines) + "\n")
    return results


if __name__ == "__main__":
    main()
