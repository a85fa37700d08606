"""Data augmentation with a conditional GAN: do its digits help a classifier that has few labels?

    python bench/augmentation.py [--per-class 10 50 100] [--seeds 0 1 2] [--gan-images 100000]
                                 [--generated-per-class 500] [--classifier-epochs 10] [--quick]
                                 [--out-dir bench/results]

Test set: the 500 held-out mnist-5k digits of `stratified_split(labels, 0.1, seed=0)`, the shipped
classifier's own split, which nothing here trains on. For every number of labelled digits per class and
every seed:
1. draw that many digits of each class from the other 4,500 (seeded; nested: a seed's 10 are among its
   50, which are among its 100);
2. train the `cgan` preset (conditional DCGAN) on that subset only, for `--gan-images` images whatever
   the subset's size: 100,000 by default, 3,120 steps of 32. Batch 32 is the preset's own and no larger
   than the smallest subset (100), and one batch size for all keeps the number of updates equal. The
   subset is repeated to about 5,000 images per epoch (20 epochs): a run writes a sample grid, history
   and checkpoint after every epoch, which at 3 steps per epoch (100 digits) took longer than the steps.
   A repeated subset puts the same digit twice in some batches (about 5 pairs per batch of 32 at 100
   digits), which D's minibatch features see; 1,000 epochs over the bare 100 digits would avoid that,
   but their callbacks (about 2 s an epoch on 2 busy cores) would cost several times the training;
3. draw `--generated-per-class` digits of each class from its G (the EMA weights), labelled with the
   class asked for, and let the shipped mnist-5k classifier (trained on all 4,500 labelled training
   digits, so for diagnosis only, never for filtering) say how many it reads as asked: the label accuracy;
4. train the same small CNN (`train_and_test` of bench/domain_adaptation.py: `build_classifier`, Adam
   1e-3, batch 64, `--classifier-epochs` epochs) twice from the same seed: on the real subset alone, and
   on the real subset plus the generated digits. Both take the same optimizer steps: the real subset is
   repeated (fresh seeded order each pass) to the length of the augmented set, so both get the same
   steps per epoch and epochs (and so the same chances for ReduceLROnPlateau); only the data differ.
   At 500 generated per class the generated digits outnumber the real ones 50:1 (10 per class) to 5:1
   (100 per class).
Prints and writes augmentation.{md,json} to --out-dir: held-out accuracy, mean and spread (numpy's std,
ddof 0) over the seeds, each seed's pair, the cGAN's label accuracy and a verdict per row, whatever it is.
"""

import argparse
import math
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gan_tf.cli import import_tensorflow_quietly  # noqa: E402

CLASSES = 10
GAN_BATCH_SIZE = 32
GAN_EPOCH_IMAGES = 5000  # the subset repeated to about mnist-5k's size: per-epoch callbacks stay cheap
QUICK = dict(per_class=(10,), seeds=(0,), gan_images=2000, generated_per_class=20, classifier_epochs=1)


def draw_subset(labels, pool, per_class, seed):
    """`per_class` indices of each class from `pool`, in class order; the same seed gives nested subsets."""
    from gan_tf.errors import UserError

    rng = np.random.default_rng(seed)
    pool = np.sort(pool)
    chosen = []
    for label in range(CLASSES):
        members = pool[labels[pool] == label]
        if len(members) < per_class:
            raise UserError(f"class {label} has {len(members)} digits in the training pool and --per-class "
                            f"asks for {per_class}; ask for at most {len(members)}")
        chosen.append(rng.permutation(members)[:per_class])
    return np.concatenate(chosen)


def repeat_indices(size, count, seed):
    """`count` indices into `size` items: whole seeded permutations one after the other, the last cut."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.permutation(size) for _ in range(math.ceil(count / size))])[:count]


def gan_schedule(subset_size, gan_images, batch_size=GAN_BATCH_SIZE):
    """(copies of the subset per epoch, epochs, images G's steps see) for a budget of `gan_images`."""
    copies = max(1, round(min(GAN_EPOCH_IMAGES, gan_images) / subset_size))
    epochs = max(1, math.ceil(gan_images / (copies * subset_size)))
    return copies, epochs, epochs * (copies * subset_size // batch_size) * batch_size


def train_cgan(images, labels, seed, gan_images, quick, output_dir, data_dir):
    """A `cgan` run on these uint8 digits only; returns (generator path, schedule facts)."""
    from gan_tf.config import preset_config
    from gan_tf.train import train

    copies, epochs, seen = gan_schedule(len(images), gan_images)
    path = os.path.join(data_dir, f"mnist-5k-{len(images) // CLASSES}-per-class-seed{seed}.npz")
    np.savez(path, images=np.tile(images, (copies, 1, 1, 1)), labels=np.tile(labels, copies))
    widths = dict(generator_width=8, discriminator_width=8) if quick else {}
    config = preset_config("cgan", dataset=path, epochs=epochs, batch_size=GAN_BATCH_SIZE, seed=seed,
                           output_dir=output_dir, fd_every=0, sample_grid=1 if quick else 4, **widths)
    result = train(config, verbose=not quick)
    return result.generator_path, {"copies_per_epoch": copies, "epochs": epochs, "images_seen": seen}


def label_accuracy(judge, unit_images, asked):
    """Mean over classes of the share of digits asked for class k that the judge reads as k."""
    from gan_tf import metrics
    from gan_tf.classifier import features_and_probabilities

    predicted = np.argmax(features_and_probabilities(judge, unit_images)[1], axis=1)
    return metrics.per_class_accuracy(asked, predicted, CLASSES)[0]


def run(per_class=(10, 50, 100), seeds=(0, 1, 2), gan_images=100_000, generated_per_class=500,
        classifier_epochs=10, quick=False, output_dir=None):
    from domain_adaptation import train_and_test

    from gan_tf import images as pixels
    from gan_tf.classifier import load_classifier, stratified_split
    from gan_tf.conditioning import Conditioning
    from gan_tf.data import load
    from gan_tf.sampling import generate_unit_images, load_generator

    started = time.time()
    digits = load("mnist-5k")
    pool, held_out = stratified_split(digits.labels, 0.1, seed=0)
    test_images = pixels.model_to_unit(pixels.bytes_to_model(digits.images[held_out]))
    test_labels = digits.labels[held_out]
    judge = load_classifier("mnist-5k")
    rows = {}
    with tempfile.TemporaryDirectory() as data_dir:  # the subsets' .npz files (and --quick's GAN runs)
        output_dir = output_dir or data_dir
        for count in per_class:
            rows[count] = []
            for seed in seeds:
                subset = draw_subset(digits.labels, pool, count, seed)
                real_images = pixels.model_to_unit(pixels.bytes_to_model(digits.images[subset]))
                real_labels = digits.labels[subset]
                clock = time.time()
                generator_path, schedule = train_cgan(digits.images[subset], real_labels, seed, gan_images,
                                                      quick, output_dir, data_dir)
                gan_seconds = time.time() - clock
                generator = load_generator(generator_path)
                asked = np.repeat(np.arange(CLASSES), generated_per_class).astype(np.int32)
                fake_images = generate_unit_images(generator, Conditioning.of(generator).noise(len(asked), seed),
                                                   labels=asked)
                run_row = {"seed": seed, "gan_run": os.path.dirname(generator_path),
                           "gan_seconds": round(gan_seconds, 1), **schedule,
                           "label_accuracy": round(label_accuracy(judge, fake_images, asked), 4)}
                augmented = (np.concatenate([real_images, fake_images]), np.concatenate([real_labels, asked]))
                repeated = repeat_indices(len(real_images), len(augmented[0]), seed)
                for name, (images, labels) in {"real only": (real_images[repeated], real_labels[repeated]),
                                               "real + cGAN": augmented}.items():
                    clock = time.time()
                    accuracy = train_and_test(images, labels, test_images, test_labels, classifier_epochs, seed)
                    run_row[name] = round(accuracy, 4)
                    run_row[f"{name} seconds"] = round(time.time() - clock, 1)
                run_row["classifier_steps"] = math.ceil(len(augmented[0]) / 64) * classifier_epochs
                print(f"{count} per class, seed {seed}: real only {run_row['real only']:.4f}, real + cGAN "
                      f"{run_row['real + cGAN']:.4f}, cGAN label accuracy {run_row['label_accuracy']:.4f} "
                      f"(GAN {gan_seconds:.0f} s)", flush=True)
                rows[count].append(run_row)
    return {"per_class": list(per_class), "seeds": list(seeds), "gan_images": gan_images,
            "gan_batch_size": GAN_BATCH_SIZE, "generated_per_class": generated_per_class,
            "classifier_epochs": classifier_epochs, "test_images": int(len(held_out)), "quick": quick,
            "rows": {str(count): summarize(runs) for count, runs in rows.items()},
            "seconds": round(time.time() - started, 1)}


def summarize(runs):
    """Mean and std over seeds of each arm, the paired differences and the runs themselves."""
    summary = {"runs": runs}
    for name in ("real only", "real + cGAN", "label_accuracy"):
        values = [run[name] for run in runs]
        summary[name] = {"mean": round(float(np.mean(values)), 4), "std": round(float(np.std(values)), 4)}
    differences = [run["real + cGAN"] - run["real only"] for run in runs]
    summary["difference"] = {"mean": round(float(np.mean(differences)), 4),
                             "std": round(float(np.std(differences)), 4),
                             "better": sum(value > 0 for value in differences),
                             "worse": sum(value < 0 for value in differences)}
    return summary


def verdict(count, summary):
    difference, runs = summary["difference"], len(summary["runs"])
    if difference["better"] == runs:
        word = "helps in every run"
    elif difference["worse"] == runs:
        word = "hurts in every run"
    else:
        word = f"is mixed ({difference['better']} of {runs} runs better)"
    return (f"{count} per class: adding the cGAN's digits {word}: {100 * difference['mean']:+.1f} points on "
            f"average (+- {100 * difference['std']:.1f} over seeds, paired by seed).")


def markdown(result):
    def pair(value):
        return f"{100 * value['mean']:.1f}% +- {100 * value['std']:.1f}"

    lines = [f"| labelled digits per class | real only (mean +- std over {len(result['seeds'])} seeds) | "
             f"real + cGAN samples ({result['generated_per_class']} per class) | runs (real only -> real + cGAN) | "
             "cGAN label accuracy |", "|---|---|---|---|---|"]
    for count, summary in result["rows"].items():
        runs = ", ".join(f"{100 * run['real only']:.1f} -> {100 * run['real + cGAN']:.1f}" for run in summary["runs"])
        lines.append(f"| {count} | {pair(summary['real only'])} | {pair(summary['real + cGAN'])} | {runs} | "
                     f"{pair(summary['label_accuracy'])} |")
    lines.append("")
    lines += [verdict(count, summary) for count, summary in result["rows"].items()]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, nargs="+", default=None, help="default 10 50 100")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="default 0 1 2")
    parser.add_argument("--gan-images", type=int, default=None, help="images each cGAN trains on (100,000)")
    parser.add_argument("--generated-per-class", type=int, default=None, help="cGAN digits added per class (500)")
    parser.add_argument("--classifier-epochs", type=int, default=None, help="epochs of the augmented set (10)")
    parser.add_argument("--quick", action="store_true", help="one tiny cGAN and classifier pair: checks that it runs")
    parser.add_argument("--out-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = parser.parse_args()
    given = {name: getattr(args, name) for name in ("per_class", "seeds", "gan_images", "generated_per_class",
                                                    "classifier_epochs") if getattr(args, name) is not None}
    import_tensorflow_quietly()
    result = run(**{**(QUICK if args.quick else {}), **given}, quick=args.quick,
                 output_dir=None if args.quick else os.path.join(args.out_dir, "runs"))
    table = markdown(result)
    print(table)
    print(f"total {result['seconds']:.0f} s")
    if not args.quick:
        from gan_tf import runs  # atomic writes, folders created

        runs.write_json(os.path.join(args.out_dir, "augmentation.json"), result)
        runs.write_text(os.path.join(args.out_dir, "augmentation.md"), table + "\n")


if __name__ == "__main__":
    main()
