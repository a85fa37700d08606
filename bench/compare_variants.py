"""Train every preset for the same budget on mnist-5k and compare them on the same measures.

    python bench/compare_variants.py [--presets dcgan wgan ...] [--epochs 5] [--n 1000]   # about 10 minutes

For each preset of the DCGAN architecture (gan_tf.config.DCGAN_PRESETS; progan and stylegan grow
through their first 28,000 images and are compared by bench/stylegan_ablation.py): the classifier
Frechet distance of the generator at initialisation and after `--epochs` epochs, KID, precision,
recall, digit classes covered, how well the class input controls the digit (cgan: label accuracy;
infogan: matched code agreement), and the wall time of the training run. Writes
bench/results/compare_variants.{md,json} (the table the README quotes) and compare_variants.png (the
final sample grids side by side). Every preset gets the same data, seed, epochs and sample count;
their own recipes set everything else.
"""

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gan_tf.cli import import_tensorflow_quietly  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
COLUMNS = [("preset", "preset", "{}"), ("fd_init", "FD at init", "{:.1f}"), ("fd", "FD", "{:.1f}"),
           ("fd_reduction", "FD / FD at init", "{:.3f}"), ("kid", "KID", "{:.3f}"),
           ("precision", "precision", "{:.3f}"), ("recall", "recall", "{:.3f}"),
           ("classes_covered", "classes covered", "{}"), ("class_control", "class control", "{}"),
           ("train_seconds", "train time (s)", "{:.0f}")]


def compare_one(name, epochs, n, output_dir, seed, classifier_model, real_unit, real_labels):
    """Train preset `name` and measure it; returns one table row (a dict)."""
    import keras

    from gan_tf import evaluation
    from gan_tf.config import preset_config
    from gan_tf.sampling import load_generator, sample_unit_images
    from gan_tf.train import build_models, train

    config = preset_config(name, epochs=epochs, seed=seed, output_dir=output_dir, run_name=name, fd_every=0)

    def extractor(unit_images):
        from gan_tf import classifier

        return classifier.features_and_probabilities(classifier_model, unit_images)

    keras.utils.set_random_seed(seed)  # the same initial weights train() starts from
    initial, _ = build_models(config, 28, 1, num_classes=10)
    initial_report = evaluation.evaluate(sample_unit_images(initial, n, seed=seed), real_unit, extractor)

    started = time.time()
    result = train(config, verbose=False)
    seconds = time.time() - started
    generator = load_generator(result.generator_path)
    report = evaluation.evaluate(sample_unit_images(generator, n, seed=seed), real_unit, extractor,
                                 real_labels=real_labels)["generator"]
    row = {"preset": name, "epochs": epochs, "n": n, "fd_init": initial_report["generator"]["fd"],
           "fd": report["fd"], "kid": report["kid"], "precision": report["precision"],
           "recall": report["recall"], "classes_covered": report["classes_covered"],
           "smallest_class_share": report["smallest_class_share"], "train_seconds": seconds,
           "run_dir": result.run_dir, "class_control": "-"}
    row["fd_reduction"] = row["fd"] / row["fd_init"]
    if config.conditional or config.info_categories:
        control = evaluation.class_control(generator, classifier_model, per_class=100, seed=seed)
        key = "label_accuracy" if config.conditional else "code_agreement"
        row[key] = control[key]
        row["class_control"] = f"{control[key]:.1%} ({key.replace('_', ' ')})"
    return row


def compare(presets, epochs=5, n=1000, output_dir=None, seed=0, verbose=True):
    from gan_tf import classifier, data
    from gan_tf import images as pixels

    output_dir = output_dir or tempfile.mkdtemp(prefix="compare_variants-")
    real = data.load("mnist-5k")
    real_unit = pixels.model_to_unit(pixels.bytes_to_model(real.images))
    classifier_model = classifier.load_classifier("mnist-5k")
    rows = []
    for name in presets:
        row = compare_one(name, epochs, n, output_dir, seed, classifier_model, real_unit, real.labels)
        rows.append(row)
        if verbose:
            print(json.dumps({key: value for key, value in row.items() if key != "run_dir"}), flush=True)
    return rows


def markdown_table(rows):
    lines = ["| " + " | ".join(title for _, title, _ in COLUMNS) + " |",
             "|" + "---|" * len(COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join(form.format(row[key]) for key, _, form in COLUMNS) + " |")
    return "\n".join(lines)


def sample_figure(rows, path, seed=0):
    """Each preset's final samples (8 x 8 from the same noise; one class per column for cgan/infogan)."""
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gan_tf import images as pixels
    from gan_tf.conditioning import Conditioning
    from gan_tf.sampling import generate_unit_images, load_generator

    figure, axes = plt.subplots(1, len(rows), figsize=(2.6 * len(rows), 3.3))
    for axis, row in zip(list(getattr(axes, "flat", [axes])), rows):
        generator = load_generator(os.path.join(row["run_dir"], "generator.keras"))
        signature = Conditioning.of(generator)
        rng = np.random.default_rng(seed)
        if signature.classes:  # one class (code) per column, the same z along each row
            columns = min(signature.classes, 10)
            z = np.repeat(rng.standard_normal((8, signature.latent_dim)), columns, axis=0)
            images = generate_unit_images(generator, z, labels=np.tile(np.arange(columns), 8))
        else:
            columns = 8
            images = generate_unit_images(generator, rng.standard_normal((64, signature.latent_dim)))
        axis.imshow(pixels.grid(images, columns)[..., 0], cmap="gray", vmin=0, vmax=1)
        axis.set_title(f"{row['preset']}\nFD {row['fd']:.1f}", fontsize=10)
        axis.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


def main():
    from gan_tf.config import DCGAN_PRESETS, PRESET_NAMES

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=list(DCGAN_PRESETS), choices=PRESET_NAMES)
    parser.add_argument("--epochs", type=int, default=5, help="epochs per preset (default: 5)")
    parser.add_argument("--n", type=int, default=1000, help="samples per measurement (default: 1000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", default=None, help="where the runs go (default: a temporary folder)")
    parser.add_argument("--results", default=RESULTS, help="where the table and figure go")
    args = parser.parse_args()
    import_tensorflow_quietly()
    started = time.time()
    rows = compare(args.presets, args.epochs, args.n, args.output_dir, args.seed)
    os.makedirs(args.results, exist_ok=True)
    table = markdown_table(rows)
    header = (f"{args.epochs} epochs of mnist-5k per preset, seed {args.seed}, {args.n} samples; classifier "
              f"features; measured {time.strftime('%Y-%m-%d')} in {(time.time() - started) / 60:.0f} min on "
              f"{os.cpu_count()} CPU cores\n\n")
    with open(os.path.join(args.results, "compare_variants.md"), "w") as file:
        file.write(header + table + "\n")
    with open(os.path.join(args.results, "compare_variants.json"), "w") as file:
        json.dump(rows, file, indent=2)
    sample_figure(rows, os.path.join(args.results, "compare_variants.png"), args.seed)
    print(header + table)


if __name__ == "__main__":
    main()
