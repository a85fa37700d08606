"""StyleGAN's ablation (Karras et al. 2019, Tables 1 and 2) at small scale: 32x32 digits on a CPU.

    python bench/stylegan_ablation.py [--epochs N] [--n 1000] [--configs A B ...] [--mixing 0 0.5 0.9 1]
                                      [--quick] [--out-dir bench/results]

Table 1 adds StyleGAN's ideas one at a time. Every configuration trains on mnist-5k (28x28 digits padded
to 32x32) for the same number of epochs, with the same seed, batch size, growth schedule and training
recipe (the presets' non-saturating loss with R1 1, Adam(2e-3, 0, 0.99), EMA of G, widths 16); only the
generator and the resampling change:

    A  the `progan` preset with `resample nearest` (its own value): ProGAN's G, z -> pixel norm -> dense
       4x4, pixel norm after every conv; nearest upsampling in G, box downsampling in D.
    B  A with `resample bilinear` in G and D. That is all "tuning" means here: the paper's B also
       retuned hyperparameters and trained longer, which a same-budget ablation leaves out.
    C  the `stylegan` preset with AdaIN, R1 1, `constant_input False, noise_inputs False, style_mixing 0`: a mapping
       network z -> w and AdaIN styles in every layer instead of pixel norm; w still enters through the
       dense 4x4 layer (the traditional input). Bilinear resampling, as B.
    D  C with `constant_input True`: the synthesis starts from a learned 4x4 constant.
    E  D with `noise_inputs True`: per-pixel noise with learned scales in every layer.
    F  E with `style_mixing 0.9`: 90% of training draws mix two latents: the paper's StyleGAN. The
       `stylegan` preset is F with StyleGAN2's weight demodulation instead of AdaIN and R1 0.1 (C-F keep
       AdaIN and R1 1, the recipe of A and B).

The presets' `growth_images` (4,000 images per fade-in and per stable phase over 25 epochs) is scaled
to the budget, so every run reaches full resolution at the same share of its training (22%) as the
presets do.

For each: the classifier FD (the lowest of the run's own monitor, 1,000 samples against all 5,000 digits
every `fd_every` epochs, and the final generator's), KID, precision, recall, mean classifier confidence
and the smallest class share of `--n` samples against the 5,000 - n other digits, and the wall time.

Table 2: E's configuration trained with style mixing 0 (E itself), 0.5, 0.9 (F itself) and 1; each draws
`--n` samples with 1 to 4 latents mixed: per sample, k latents and k - 1 distinct crossover layers drawn
uniformly from 1..styles-1 (sorted), so style layer i takes latent j, j = crossovers <= i. Same latents
and crossovers for every model. Writes stylegan_ablation.{md,json,png} to --out-dir.
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gan_tf.cli import import_tensorflow_quietly  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
# Eight trainings (A-F, mixing 0.5 and 1) of the presets' width-16 models on 2 CPU cores; the presets'
# own 25 epochs would take hours. 5 epochs: 69 minutes on 2026-11-26 (2 cores shared with other jobs).
DEFAULT_EPOCHS = 5
CONFIGS = ("A", "B", "C", "D", "E", "F")
LABELS = {"A": "ProGAN baseline (nearest)", "B": "+ bilinear resampling", "C": "+ mapping and styles",
          "D": "+ constant input", "E": "+ noise inputs", "F": "+ mixing 90%"}
MIXING = (0.0, 0.5, 0.9, 1.0)
LATENT_COUNTS = (1, 2, 3, 4)
# Karras et al. 2019: Table 1 (FID, CelebA-HQ and FFHQ) and Table 2 (FFHQ FID with 1-4 latents mixed).
PAPER_TABLE1 = {"A": (7.79, 8.04), "B": (6.11, 5.25), "C": (5.34, 4.85), "D": (5.07, 4.88), "E": (5.06, 4.42),
                "F": (5.17, 4.40)}
PAPER_TABLE2 = {0.0: (4.42, 8.22, 12.88, 17.41), 0.5: (4.41, 6.10, 8.71, 11.61), 0.9: (4.40, 5.11, 6.88, 9.03),
                1.0: (4.83, 5.17, 6.63, 8.40)}
# --quick: tiny models on 256 digits for one epoch, end to end in about a minute. R1 is off because its
# double backward pass doubles the time to trace every training step.
QUICK = {"epochs": 1, "n": 100, "digits": 256, "latent_dim": 8, "generator_width": 4, "discriminator_width": 4,
         "mapping_layers": 2, "r1_weight": 0.0, "sample_grid": 2}


# The paper's AdaIN and the recipe of A and B (R1 1): the stylegan preset itself now demodulates its
# weights (StyleGAN2) with R1 0.1, which this table of the 2019 paper's ideas leaves out.
PAPER_STYLES = {"style_modulation": "adain", "r1_weight": 1.0}


def configurations(**common):
    """{"A".."F": TrainConfig}: the presets with the ablation's changes and `common` values on top."""
    from gan_tf.config import preset_config

    configs = {"A": preset_config("progan", resample="nearest", **common),
               "B": preset_config("progan", resample="bilinear", **common),
               "C": preset_config("stylegan", constant_input=False, noise_inputs=False, style_mixing=0.0,
                                  **PAPER_STYLES, **common)}
    configs["D"] = configs["C"].replace(constant_input=True)
    configs["E"] = configs["D"].replace(noise_inputs=True)
    configs["F"] = configs["E"].replace(style_mixing=0.9)
    return configs


def best_fd(history):
    """(lowest `fd` in a run's history rows, its epoch), or (None, None) where FD was not measured."""
    measured = [(float(row["fd"]), int(row["epoch"])) for row in history if row.get("fd") not in (None, "")]
    return min(measured) if measured else (None, None)


def crossover_sources(count, num_styles, latents, rng):
    """int [count, num_styles]: per row, `latents` - 1 distinct crossovers uniform in 1..num_styles-1, and
    style layer i takes latent j = the number of crossovers <= i (0 everywhere for one latent)."""
    if not 1 <= latents <= num_styles:
        raise ValueError(f"cannot mix {latents} latents over {num_styles} style layers")
    cuts = 1 + np.argsort(rng.random((count, num_styles - 1)), axis=1)[:, :latents - 1]
    return (cuts[:, None, :] <= np.arange(num_styles)[None, :, None]).sum(axis=-1)


class Judge:
    """The digit classifier's metrics of [0, 1] images against the 5,000 - n digits not held out.

    `gan_tf.evaluation.all_metrics` would recompute the reference's nearest-neighbour radii (a 4,000 x
    4,000 distance matrix, twice) for every fake set; here precision and recall use n reference digits,
    the equal sizes of Kynkaanniemi et al., and Table 2 asks for FD alone.
    """

    def __init__(self, n, seed):
        from gan_tf import classifier, data, evaluation
        from gan_tf import images as pixels

        model = classifier.load_classifier("mnist-5k")
        self.extract = lambda unit_images: classifier.features_and_probabilities(model, unit_images)
        real = pixels.model_to_unit(pixels.bytes_to_model(data.load("mnist-5k").images))
        reference, self.held_out = evaluation.real_split(real, n, seed)  # the reference comes shuffled
        self.reference_features, _ = self.extract(reference)
        self.seed = seed

    def fd(self, unit_images):
        from gan_tf import metrics

        return float(metrics.frechet_distance(self.reference_features, self.extract(unit_images)[0]))

    def __call__(self, unit_images):
        from gan_tf import metrics

        features, probabilities = self.extract(unit_images)
        kid, _ = metrics.kernel_inception_distance(self.reference_features, features, seed=self.seed)
        precision, recall = metrics.precision_recall(self.reference_features[:len(features)], features)
        shares = metrics.class_histogram(probabilities)
        return {"fd": float(metrics.frechet_distance(self.reference_features, features)), "kid": float(kid),
                "precision": float(precision), "recall": float(recall),
                "mean_confidence": float(np.max(probabilities, axis=1).mean()),
                "smallest_class_share": float(shares.min()), "class_shares": [round(float(x), 3) for x in shares]}


def train_and_measure(name, config, judge, n, seed):
    from gan_tf.runs import load_generator
    from gan_tf.sampling import sample_unit_images
    from gan_tf.train import train

    started = time.time()
    result = train(config.replace(run_name=name), verbose=False)
    seconds = time.time() - started
    fd_best, fd_best_epoch = best_fd(result.history)
    final = judge(sample_unit_images(load_generator(result.generator_path), n, seed=seed))
    return {"name": name, "fd_best": fd_best, "fd_best_epoch": fd_best_epoch, **final,
            "train_seconds": seconds, "epochs": result.epochs_trained, "generator_path": result.generator_path,
            "changes": {key: getattr(config, key) for key in ("architecture", "resample", "constant_input",
                                                               "noise_inputs", "style_mixing")}}


def mixing_fds(generator_path, judge, n, seed):
    """FD with 1, 2, 3 and 4 latents mixed (LATENT_COUNTS); the same latents and crossovers for any G."""
    from gan_tf import mixing
    from gan_tf.conditioning import Conditioning
    from gan_tf.runs import load_generator

    generator = load_generator(generator_path)
    conditioning = Conditioning.of(generator)
    latents = [conditioning.noise(n, seed + index) for index in range(max(LATENT_COUNTS))]
    fds = []
    for count in LATENT_COUNTS:
        sources = crossover_sources(n, conditioning.styles, count, np.random.default_rng([seed, count]))
        fds.append(judge.fd(mixing.mixed_unit_images(generator, latents[:count], sources)))
    return fds


def quick_digits(folder, count, seed):
    """`count` mnist-5k digits with labels as an .npz: a training set for --quick."""
    from gan_tf import data

    image_set = data.load("mnist-5k")
    picked = np.random.default_rng(seed).choice(len(image_set.images), count, replace=False)
    path = os.path.join(folder, "quick_digits.npz")
    np.savez(path, images=image_set.images[picked], labels=image_set.labels[picked])
    return path


def run(names=CONFIGS, mixing=MIXING, epochs=DEFAULT_EPOCHS, n=1000, seed=0, quick=False, runs_dir=None,
        verbose=True):
    """Train and measure; returns the results dict that the .json holds."""
    from gan_tf.config import PROGAN_VALUES

    started = time.time()
    runs_dir = runs_dir or tempfile.mkdtemp(prefix="stylegan_ablation-")
    os.makedirs(runs_dir, exist_ok=True)
    common = {"epochs": epochs, "seed": seed, "output_dir": runs_dir, "fd_every": max(1, epochs // 10)}
    if quick:
        common.update({key: value for key, value in QUICK.items() if key not in ("epochs", "n", "digits")})
        common["dataset"] = quick_digits(runs_dir, QUICK["digits"], seed)
    digits = QUICK["digits"] if quick else 5000
    batch_size = configurations(**common)["A"].batch_size  # the presets' own
    images = (digits // batch_size) * batch_size * epochs
    share = PROGAN_VALUES["growth_images"] / (PROGAN_VALUES["epochs"] * 5000)  # the presets' 4,000 of 125,000
    common["growth_images"] = max(1, round(share * images))
    configs = configurations(**common)
    judge = Judge(n, seed)
    results = {"settings": {**{key: value for key, value in common.items() if key != "output_dir"},
                            "n": n, "batch_size": batch_size, "quick": quick, "runs_dir": runs_dir},
               "configs": [], "mixing": [],
               "real_digits": judge(judge.held_out)}
    trained = {}  # config -> row, so Table 2 reuses E and F
    for name in names:
        row = {**train_and_measure(name, configs[name], judge, n, seed), "label": LABELS[name],
               "paper_celeba_hq": PAPER_TABLE1[name][0], "paper_ffhq": PAPER_TABLE1[name][1]}
        trained[configs[name]] = row
        results["configs"].append(row)
        if verbose:
            print({key: row[key] for key in ("name", "fd_best", "fd", "train_seconds")}, flush=True)
    for probability in mixing:
        config = configs["E"].replace(style_mixing=probability)
        if config not in trained:
            trained[config] = train_and_measure(f"mix{round(100 * probability)}", config, judge, n, seed)
        model = trained[config]
        row = {"style_mixing": probability, "model": model["name"], "train_seconds": model["train_seconds"],
               "fd": mixing_fds(model["generator_path"], judge, n, seed),
               "paper_ffhq": list(PAPER_TABLE2[probability]) if probability in PAPER_TABLE2 else None}
        results["mixing"].append(row)
        if verbose:
            print({key: row[key] for key in ("style_mixing", "model", "fd")}, flush=True)
    results["settings"].update(total_seconds=time.time() - started, date=time.strftime("%Y-%m-%d"),
                               cpu_cores=os.cpu_count())
    return results


def _number(value, form="{:.1f}"):
    return "-" if value is None else form.format(value)


def markdown(results):
    settings = results["settings"]
    data = f"{QUICK['digits']} digits (--quick: tiny models, not results)" if settings["quick"] else "mnist-5k"
    lines = ["# StyleGAN ablation at small scale (Karras et al. 2019, Tables 1 and 2)\n",
             f"{settings['epochs']} epoch{'s' * (settings['epochs'] != 1)} of {data} "
             f"at 32x32 per model, batch {settings['batch_size']}, seed {settings['seed']}, growth "
             f"{settings['growth_images']} images per phase, {settings['n']} samples, digit-classifier features; "
             f"measured {settings['date']} in {settings['total_seconds'] / 60:.0f} min on {settings['cpu_cores']} "
             "CPU cores (`python bench/stylegan_ablation.py`; what each configuration changes is in its docstring).\n",
             "The paper's numbers are Inception FIDs of 1024x1024 faces after weeks of GPU training; ours are "
             "Frechet distances in the digit classifier's features of 32x32 digits after minutes. Only the "
             "ordering compares, and at this budget differences of a few points are within seed noise.\n",
             "## Table 1: adding StyleGAN's ideas one by one\n",
             "| config | paper CelebA-HQ | paper FFHQ | best FD in training (epoch) | final FD | KID | precision | "
             "recall | confidence | smallest class | train time (s) |", "|" + "---|" * 11]
    for row in results["configs"]:
        best = "-" if row["fd_best"] is None else f"{row['fd_best']:.1f} ({row['fd_best_epoch']})"
        lines.append(f"| {row['name']} {row['label']} | {row['paper_celeba_hq']:.2f} | {row['paper_ffhq']:.2f} | "
                     f"{best} | {row['fd']:.1f} | {row['kid']:.3f} | {row['precision']:.3f} | {row['recall']:.3f} | "
                     f"{row['mean_confidence']:.3f} | {row['smallest_class_share']:.3f} | {row['train_seconds']:.0f} |")
    real = results["real_digits"]
    lines.append(f"| real digits (held out) | - | - | - | {real['fd']:.1f} | {real['kid']:.3f} | "
                 f"{real['precision']:.3f} | {real['recall']:.3f} | {real['mean_confidence']:.3f} | "
                 f"{real['smallest_class_share']:.3f} | - |")
    lines.append("\nBest FD in training: the run's own monitor (1,000 samples against all 5,000 digits; "
                 "none for --quick's .npz data). The "
                 "other columns: n samples of the final generator against the 5,000 - n digits not held out "
                 "(precision and recall against n of them); the last row: the n held-out real digits, the floor.\n")
    if results["mixing"]:
        lines += ["## Table 2: FD with 1 to 4 latents mixed at test time, ours (paper's FFHQ FID)\n",
                  "| mixing regularisation | model | " + " | ".join(f"{k} latent{'s' * (k > 1)}" for k in LATENT_COUNTS)
                  + " |", "|" + "---|" * (2 + len(LATENT_COUNTS))]
        for row in results["mixing"]:
            paper = row["paper_ffhq"] or [None] * len(LATENT_COUNTS)
            cells = [f"{ours:.1f} ({_number(theirs, '{:.2f}')})" for ours, theirs in zip(row["fd"], paper)]
            lines.append(f"| {row['style_mixing']:.0%} | {row['model']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def figure(results, path, seed=0):
    """Final samples of each configuration (6 x 6, the same noise) above Table 2's curves, ours and the paper's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gan_tf import images as pixels
    from gan_tf import runs
    from gan_tf.runs import load_generator
    from gan_tf.sampling import sample_unit_images

    rows, columns = (2 if results["mixing"] else 1), max(2, len(results["configs"]))
    plot = plt.figure(figsize=(2.4 * columns, 2.9 * rows))
    grid = plot.add_gridspec(rows, columns)
    for index, row in enumerate(results["configs"]):
        axis = plot.add_subplot(grid[0, index])
        images = sample_unit_images(load_generator(row["generator_path"]), 36, seed=seed)
        axis.imshow(pixels.grid(images, 6)[..., 0], cmap="gray", vmin=0, vmax=1)
        axis.set_title(f"{row['name']} {row['label']}\nFD {row['fd']:.1f}", fontsize=9)
        axis.axis("off")
    if results["mixing"]:
        half = columns // 2
        for axis, key, title in ((plot.add_subplot(grid[1, :half]), "fd", "ours: classifier FD, 32x32 digits"),
                                 (plot.add_subplot(grid[1, half:]), "paper_ffhq", "paper: FID, FFHQ 1024x1024")):
            for row in results["mixing"]:
                if row[key]:
                    axis.plot(LATENT_COUNTS, row[key], marker="o", label=f"mixing {row['style_mixing']:.0%}")
            axis.set(title=title, xlabel="latents mixed at test time", ylabel="FD (lower is better)",
                     xticks=LATENT_COUNTS)
            axis.legend(fontsize=8)
    plot.tight_layout()
    with runs.atomic_path(path) as temporary:
        plot.savefig(temporary, dpi=80)
    plt.close(plot)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=None, help=f"epochs per model (default: {DEFAULT_EPOCHS}; "
                        f"--quick: {QUICK['epochs']})")
    parser.add_argument("--n", type=int, default=None, help=f"samples per measurement (default: 1000; --quick: "
                        f"{QUICK['n']})")
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=CONFIGS, help="rows of Table 1")
    parser.add_argument("--mixing", nargs="*", type=float, default=list(MIXING),
                        help="style mixing probabilities of Table 2 (none: skip it)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny models on 256 digits, one epoch: a smoke test")
    parser.add_argument("--out-dir", default=None, help="where the .md/.json/.png go (default: bench/results; "
                        "--quick: a temporary folder)")
    parser.add_argument("--runs-dir", default=None, help="where the training runs go (default: a temporary "
                        "folder; --quick: OUT_DIR/runs)")
    args = parser.parse_args()
    epochs = args.epochs or (QUICK["epochs"] if args.quick else DEFAULT_EPOCHS)
    n = args.n or (QUICK["n"] if args.quick else 1000)
    if not 10 <= n <= 2500:
        parser.error(f"--n must be between 10 and 2500 (half of mnist-5k is held out at most), got {n}")
    if any(not 0 <= probability <= 1 for probability in args.mixing):
        parser.error(f"--mixing takes probabilities in [0, 1], got {args.mixing}")
    out_dir = args.out_dir or (tempfile.mkdtemp(prefix="stylegan_ablation-") if args.quick else RESULTS)
    runs_dir = args.runs_dir or (os.path.join(out_dir, "runs") if args.quick else None)
    import_tensorflow_quietly()
    from gan_tf import runs

    results = run(args.configs, args.mixing, epochs, n, args.seed, args.quick, runs_dir)
    text = markdown(results)
    runs.write_text(os.path.join(out_dir, "stylegan_ablation.md"), text)
    runs.write_json(os.path.join(out_dir, "stylegan_ablation.json"), results)
    figure(results, os.path.join(out_dir, "stylegan_ablation.png"), args.seed)
    print(text)
    print(f"total {results['settings']['total_seconds']:.0f} s; wrote {out_dir}/stylegan_ablation.{{md,json,png}}")


if __name__ == "__main__":
    main()
