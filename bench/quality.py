"""Train with the default config in each style and measure the digits against the project's bar.

    python bench/quality.py [--styles fit combined] [--epochs N] [--n 1000]
    python bench/quality.py --presets progan stylegan      # each preset's own default budget

Prints, per style: wall time of the whole `train()` call, and on 1,000 samples of the final generator
the classifier's mean confidence, the share of every digit, and the Frechet distance in the
classifier's features relative to a real-vs-real split of the same size. The bar (issue 2): confidence
>= 0.90, every digit >= 5%, FD ratio <= 5, within 10 minutes on 2 cores. With --presets, each
preset trains with its own values (progan and stylegan: 32x32, judged on the centre 28x28) and
`passes` is the bar alone; compare the wall time with the budget in reference minutes
(`python ../shared/machine_peak.py WALL_SECONDS`).
"""

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gan_tf.cli import import_tensorflow_quietly  # noqa: E402


def measure(style, epochs=None, n=1000, output_dir=None, seed=42, preset=""):
    from gan_tf import evaluation
    from gan_tf.config import TrainConfig, preset_config
    from gan_tf.train import train

    changes = {"style": style, "output_dir": output_dir or tempfile.mkdtemp(), "seed": seed}
    if epochs:
        changes["epochs"] = epochs
    config = preset_config(preset, **changes) if preset else TrainConfig(**changes)
    started = time.time()
    result = train(config, verbose=False)
    seconds = time.time() - started
    quality = measure_generator(result.generator_path, n)
    in_time = seconds <= 600 or bool(preset)
    quality.update(style=style, preset=preset, epochs=config.epochs, train_seconds=round(seconds, 1),
                   passes=evaluation.passes_digit_bar(quality) and in_time, run_dir=result.run_dir)
    return quality


def measure_generator(path, n=1000, seed=0):
    """The bar's numbers for an existing generator (.keras or SavedModel), without training."""
    from gan_tf import data, evaluation
    from gan_tf import images as pixels
    from gan_tf.sampling import load_generator, sample_unit_images

    real = data.load("mnist-5k")
    real_unit = pixels.model_to_unit(pixels.bytes_to_model(real.images))
    fakes = sample_unit_images(load_generator(path), n, seed=seed)
    quality = evaluation.digit_quality(fakes, real_unit, evaluation.classifier_extractor())
    quality.update(generator=path, passes=evaluation.passes_digit_bar(quality))
    return quality


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--styles", nargs="+", default=["fit", "combined"])
    parser.add_argument("--presets", nargs="+", default=None, help="train these presets (fit style) instead")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--output-dir", default=None)
    parser.add_argument("--generator", default=None,
                        help="measure this generator (.keras or SavedModel) instead of training")
    args = parser.parse_args()
    import_tensorflow_quietly()
    if args.generator:
        print(json.dumps(measure_generator(args.generator, args.n)))
        return
    if args.presets:
        for preset in args.presets:
            print(json.dumps(measure("fit", args.epochs, args.n, args.output_dir, preset=preset)), flush=True)
        return
    for style in args.styles:
        quality = measure(style, args.epochs, args.n, args.output_dir)
        print(json.dumps(quality), flush=True)


if __name__ == "__main__":
    main()
