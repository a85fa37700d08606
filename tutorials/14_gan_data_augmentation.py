"""
Title: GANs as data augmentation: do a conditional GAN's digits help when labels are scarce?
Author: gan-tf
Description: Keep only 10 (or 100) labelled digits per class. Train a conditional DCGAN on those
digits alone, ask it for hundreds more of each class, and train the same small classifier twice with
the same number of steps: on the real digits alone, and on the real plus the generated ones. Both
are tested on 500 held-out digits that nothing here trains on; the verdict is computed, not assumed.
Time on a laptop CPU: 364 s on 2 idle cores (two cGANs of 40,000 images and four classifiers,
2026-11-26); `--quick`: a tiny cGAN, 15 to 16 s of CPU time.

What you will learn:
- how to set up a fair augmentation experiment: a fixed held-out test set, seeded subsets, and the
  same optimizer steps for both classifiers, so that only the data differ;
- how to train gan-tf's `cgan` preset on a small labelled subset (a data set is just an `.npz`);
- label accuracy: how often an independent classifier reads a cGAN's digit as the class asked for,
  and why it is a diagnosis here and never a filter;
- how to compare two classifiers on one test set (McNemar's count of the digits that changed);
- why a GAN trained on the same few labelled digits tends to hurt rather than help.
"""

import math
import os
import tempfile
import time

import _prologue
import keras
import numpy as np
from matplotlib import pyplot as plt
from matplotlib.patches import Rectangle

from gan_tf import data, metrics
from gan_tf import images as pixels
from gan_tf.classifier import build_classifier, features_and_probabilities, load_classifier, stratified_split
from gan_tf.conditioning import Conditioning
from gan_tf.config import preset_config
from gan_tf.errors import UserError
from gan_tf.sampling import generate_unit_images, load_generator
from gan_tf.train import train

options = _prologue.parse(__doc__, per_class="10,100", gan_images=40_000, generated_per_class=500, seed=0)
started = time.time()
CLASSES = 10
per_class = [int(count) for count in options.per_class.split(",")]
gan_images = options.gan_images  # 40,000 images = 1,248 steps of 32, as bench/augmentation.py measured
generated_per_class = options.generated_per_class  # 5,000 generated digits: 50x the real ones at 10 per class
classifier_epochs = 5  # epochs over the augmented set (bench/augmentation.py's 5)
gan_widths = {}
if options.quick:  # one tiny case (whatever the flags say): the same code path in seconds, numbers that mean nothing
    per_class, gan_images, generated_per_class, classifier_epochs = [10], 1_000, 20, 1
    gan_widths = dict(generator_width=8, discriminator_width=8)

## The test set and the few labelled digits
# The test set is the 500 digits the shipped mnist-5k classifier held out (`stratified_split` with
# seed 0): 50 per class, never trained on by anything below. From the other 4,500 we draw `count`
# digits of each class with a seeded generator. The same seed gives nested subsets: the 10 per class
# are the first 10 of the 100, so the rows differ only in how many labels we have.
digits = data.load("mnist-5k")
pool, held_out = stratified_split(digits.labels, 0.1, seed=0)
test_images = pixels.model_to_unit(pixels.bytes_to_model(digits.images[held_out]))
test_labels = digits.labels[held_out]
smallest = int(np.bincount(digits.labels[pool]).min())
if not all(1 <= count <= smallest for count in per_class):
    raise UserError(f"--per-class {options.per_class}: the pool has {smallest} digits of its smallest class; "
                    f"ask for 1 to {smallest} per class")


def draw_subset(labels, pool, count, seed):
    """`count` indices of each class from `pool`, in class order (as bench/augmentation.py draws them)."""
    rng = np.random.default_rng(seed)
    pool = np.sort(pool)
    return np.concatenate([rng.permutation(pool[labels[pool] == label])[:count] for label in range(CLASSES)])


def repeat_indices(size, count, seed):
    """`count` indices into `size` items: whole seeded permutations one after another, the last one cut."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.permutation(size) for _ in range(math.ceil(count / size))])[:count]


print(f"test set: {len(held_out)} held-out mnist-5k digits; labelled pool: {len(pool)} digits, of which we keep "
      f"{' or '.join(map(str, per_class))} per class")

## A conditional GAN trained on the few digits only
# The `cgan` preset is the project's DCGAN recipe with the label fed to G (an embedding) and to D (a
# projection), so we can ask G for a seven. It trains on the small subset and nothing else: using the
# other 4,500 digits, even without their labels, would be a different experiment (semi-supervised).
# A 100-image data set would make 3 steps an epoch and the per-epoch callbacks (sample grid,
# checkpoint) would cost more than the steps, so the subset is repeated to about 5,000 images an
# epoch and written as an `.npz` with `images` and `labels`: any such file is a gan-tf data set.
# Every subset gets the same budget of images (so the same number of G and D updates), whatever its size.


def train_cgan(subset_images, subset_labels, count, folder):
    """Train the `cgan` preset on these uint8 digits; returns the path of its EMA generator."""
    copies = max(1, round(min(5_000, gan_images) / len(subset_images)))
    epochs = max(1, math.ceil(gan_images / (copies * len(subset_images))))
    path = os.path.join(folder, f"mnist-5k-{count}-per-class-seed{options.seed}.npz")  # names the run folder
    np.savez(path, images=np.tile(subset_images, (copies, 1, 1, 1)), labels=np.tile(subset_labels, copies))
    config = preset_config("cgan", dataset=path, epochs=epochs, batch_size=32, seed=options.seed,
                           output_dir=options.out, fd_every=0, sample_grid=1 if options.quick else 4, **gan_widths)
    result = train(config, verbose=not options.quick)
    print(f"{count} per class: cGAN trained on {len(subset_images)} digits x {copies} copies x {epochs} epochs "
          f"-> {os.path.dirname(result.generator_path)}")
    return result.generator_path


## Two classifiers, the same steps, different data
# The classifier is `build_classifier` (two conv blocks, 128 features, its own random shifts and
# rotations), Adam 1e-3, batch 64, the same seed for both. A fair comparison gives both the same
# number of optimizer steps: the real subset alone is repeated, in fresh seeded orders, to the length
# of the augmented set. Otherwise "more data" would secretly mean "more training".


def train_and_predict(images, labels):
    """Train the small classifier on [0, 1] digits; its predicted classes for the test digits."""
    model = build_classifier(images.shape[1], images.shape[-1], CLASSES, options.seed)
    # --quick's 5 steps run eagerly: tracing the graph costs more than they do (the results are the same).
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  run_eagerly=options.quick)
    model.fit(images, labels, batch_size=64, epochs=classifier_epochs, verbose=0,
              callbacks=[keras.callbacks.ReduceLROnPlateau("loss", patience=2)])
    return np.argmax(model.predict(test_images, batch_size=500, verbose=0), axis=1)


## Run every case: subset, cGAN, generated digits, both classifiers
# The judge is the shipped mnist-5k classifier, trained on all 4,500 labelled training digits: far
# more labels than this experiment pretends to have. So it may only *describe* the generated digits
# (the label accuracy: the share of digits asked for class k that it reads as k, averaged over the
# classes); dropping the digits it disagrees with would smuggle its 4,500 labels into the experiment.
judge = load_classifier("mnist-5k")
results = {}
with tempfile.TemporaryDirectory() as folder:  # the subsets' .npz files
    for count in per_class:
        subset = draw_subset(digits.labels, pool, count, options.seed)
        real_images = pixels.model_to_unit(pixels.bytes_to_model(digits.images[subset]))
        real_labels = digits.labels[subset]
        clock = time.time()
        generator = load_generator(train_cgan(digits.images[subset], real_labels, count, folder))
        gan_seconds = time.time() - clock

        # Ask for `generated_per_class` digits of each class; the label is the class asked for.
        asked = np.repeat(np.arange(CLASSES), generated_per_class).astype(np.int32)
        noise = Conditioning.of(generator).noise(len(asked), options.seed)
        fake_images = generate_unit_images(generator, noise, labels=asked)
        judged = np.argmax(features_and_probabilities(judge, fake_images)[1], axis=1)
        label_accuracy, per_class_shares = metrics.per_class_accuracy(asked, judged, CLASSES)
        worst = int(np.argmin(per_class_shares))

        clock = time.time()
        augmented_images = np.concatenate([real_images, fake_images])
        augmented_labels = np.concatenate([real_labels, asked])
        repeated = repeat_indices(len(real_images), len(augmented_images), options.seed)
        predictions = {"real only": train_and_predict(real_images[repeated], real_labels[repeated]),
                       "real + cGAN": train_and_predict(augmented_images, augmented_labels)}
        correct = {name: predicted == test_labels for name, predicted in predictions.items()}
        results[count] = dict(real_images=real_images, fake_images=fake_images, asked=asked, judged=judged,
                              label_accuracy=label_accuracy,
                              accuracy={name: float(right.mean()) for name, right in correct.items()},
                              comparison=metrics.paired_comparison(correct["real only"], correct["real + cGAN"]))
        row = results[count]
        print(f"{count} per class: the judge reads {100 * label_accuracy:.1f}% of the cGAN's digits as the class "
              f"asked (worst: {worst}s, {100 * per_class_shares[worst]:.0f}%); GAN {gan_seconds:.0f} s")
        print(f"{count} per class: held-out accuracy real only {100 * row['accuracy']['real only']:.1f}%, "
              f"real + {len(fake_images)} cGAN digits {100 * row['accuracy']['real + cGAN']:.1f}% "
              f"({100 * (row['accuracy']['real + cGAN'] - row['accuracy']['real only']):+.1f} points; "
              f"{len(augmented_images)} images x {classifier_epochs} epochs each, {time.time() - clock:.0f} s)")

## The subset and what the cGAN made of it
# Left: the real labelled digits (up to 10 per class, one class per row). Right: the first 10 digits
# the cGAN drew for each class; a red frame marks a digit the judge reads as another class. Look for
# near-copies of the real digits on the left (a G trained on 100 images can memorise them) and for
# malformed digits that still carry a confident label.
figure, axes = plt.subplots(len(per_class), 2, figsize=(10, 5.4 * len(per_class)), squeeze=False)
for (left, right), count in zip(axes, per_class):
    row = results[count]
    shown = min(count, 10)
    spread = np.linspace(0, count - 1, shown).astype(int)  # nested subsets: the first 10 of 100 are the 10
    real_shown = row["real_images"].reshape(CLASSES, count, *row["real_images"].shape[1:])[:, spread]
    fake_shown = row["fake_images"].reshape(CLASSES, generated_per_class, *row["fake_images"].shape[1:])[:, :10]
    misread = (row["judged"] != row["asked"]).reshape(CLASSES, generated_per_class)[:, :10]
    for axis, block, title in ((left, real_shown, f"{count} labelled digits per class" +
                                (f" ({shown} of them shown)" if shown < count else "")),
                               (right, fake_shown, f"the cGAN trained on them; red: read as another class "
                                                   f"(label accuracy {100 * row['label_accuracy']:.0f}%)")):
        columns, step = block.shape[1], block.shape[2] + 2  # pixels.grid pads every tile by 2 pixels
        axis.imshow(pixels.grid(block.reshape(-1, *block.shape[2:]), columns)[..., 0], cmap="gray", vmin=0, vmax=1)
        axis.set_title(title, fontsize=9)
        axis.set_xticks([])
        axis.set_yticks([2 + step * label + (step - 3) / 2 for label in range(CLASSES)], range(CLASSES))
    for label, column in zip(*np.nonzero(misread)):
        right.add_patch(Rectangle((1 + step * column - 0.5, 1 + step * label - 0.5), step, step,
                                  fill=False, edgecolor="red", linewidth=1.5))
figure.tight_layout()
figure.savefig(os.path.join(options.out, "subset_and_samples.png"), dpi=80)
plt.close(figure)

## Accuracy with and without the generated digits
figure, axis = plt.subplots(figsize=(2.6 + 1.8 * len(per_class), 4))
positions = np.arange(len(per_class))
for name, colour, marker in (("real only", "tab:gray", "o"), ("real + cGAN", "tab:orange", "s")):
    values = [100 * results[count]["accuracy"][name] for count in per_class]
    axis.plot(positions, values, marker=marker, color=colour, label=name)
    for position, value in zip(positions, values):
        axis.annotate(f"{value:.1f}", (position, value), xytext=(7, -3), textcoords="offset points", fontsize=8)
axis.set_xlim(-0.5, len(per_class) - 0.5)
axis.set_xticks(positions, [f"{count} labelled per class\n(label accuracy "
                            f"{100 * results[count]['label_accuracy']:.0f}%)" for count in per_class], fontsize=8)
axis.set_ylabel(f"accuracy on the {len(held_out)} held-out digits (%)")
axis.set_title(f"+ {generated_per_class} cGAN digits per class (seed {options.seed})", fontsize=10)
axis.grid(alpha=0.3)
axis.legend(fontsize=8)
figure.tight_layout()
figure.savefig(os.path.join(options.out, "accuracy.png"), dpi=90)
plt.close(figure)

## What the numbers say
# Both classifiers answer the same 500 test digits, so compare them digit by digit (McNemar's test):
# of the digits on which they disagree, `gained` are right only with the cGAN's digits and `lost`
# right only without. If augmentation made no difference, each disagreement would be a coin toss, and
# |gained - lost| > 2 sqrt(gained + lost) would happen by chance about 5% of the time. This covers the
# luck of the test digits, not the luck of training: another seed gives other classifiers and another
# cGAN, which is why bench/augmentation.py repeats everything over 3 seeds.
#
# What the bench measured (bench/results/augmentation.md; 3 seeds, 40,000 GAN images, 500 generated
# per class, 5 classifier epochs): real only -> real + cGAN 93.7% -> 86.3% at 10 per class, 96.4% ->
# 94.3% at 50, 96.6% -> 95.5% at 100. The cGAN's digits hurt in every one of the 9 runs. With its
# defaults this script repeats the bench's seed-0 runs at 10 and 100 per class (the same subsets, cGAN
# budget, generated digits and classifiers), so its numbers should land near that seed's: 94.0% -> 88.0%
# and 96.4% -> 95.6% (TensorFlow's multithreaded CPU kernels do not promise identical results).
#
# Why? The cGAN has seen exactly the digits the classifier already has, so it cannot tell it anything
# new about what a "4" may look like; at best it recombines those 10 or 100 digits, and at 10 per class
# its digits come close to copies of them (compare the two blocks of subset_and_samples.png). What it
# adds is its errors, with labels attached: about 6 generated digits in 100 read as another class (the
# label accuracy was 92% to 96% in the bench), and many more have broken strokes and specks that no
# real digit has. The generated digits outnumber the real ones 50:1 at 10 per class and 5:1 at 100, so
# the classifier mostly learns the cGAN's idea of a digit. To add information a generator must know
# more than the labelled digits, for instance by also learning from the 4,500 unlabelled ones
# (semi-supervised GANs, Salimans et al. 2016): another experiment, not measured here.
for count in per_class:
    row = results[count]
    gained, lost, verdict = row["comparison"]  # metrics.paired_comparison: the test above
    difference = 100 * (row["accuracy"]["real + cGAN"] - row["accuracy"]["real only"])
    word = {"the same": "changes nothing: both classifiers get the same test digits right",
            "better": "helps", "worse": "hurts",
            "within chance": "makes no difference this run can tell from chance"}[verdict]
    print(f"verdict, {count} per class: adding the cGAN's digits {word} ({difference:+.1f} points; of the "
          f"{gained + lost} test digits the two disagree on, {gained} are right only with them and {lost} only "
          f"without)")
print(f"done in {time.time() - started:.0f} s; figures subset_and_samples.png and accuracy.png in {options.out}")
