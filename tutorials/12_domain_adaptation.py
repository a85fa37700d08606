"""
Title: Domain adaptation: a CycleGAN turns labelled MNIST into training data for MNIST-M
Author: gan-tf
Description: A classifier trained on plain MNIST digits fails on MNIST-M's coloured ones (domain shift),
and MNIST-M's labels are what we do not have. Pixel-level domain adaptation (Bousmalis et al. 2017)
uses a GAN to paint the labelled source images in the target's style: the labels carry over, and the
classifier trains on target-looking digits. The painter here is tutorial 11's CycleGAN; three copies
of one CNN (source only, adapted, and an oracle trained on real MNIST-M labels) are tested on the same
held-out MNIST-M digits.
Time on a laptop CPU: 251 s on 2 idle cores, training its own 6-epoch CycleGAN (2026-11-26; less
when tutorial 11's CycleGAN is there to reuse); `--quick`: tiny models, a few hundred digits.

What you will learn:
- domain shift, measured: the same digits on new backgrounds, and a good MNIST classifier misses about
  half of them;
- pixel-level adaptation: translate the labelled source set into the target domain with an unpaired
  GAN, keep the labels, train the classifier on the translations; no target label is used;
- the two reference points that frame an adaptation result: source only (the floor) and a classifier
  trained on labelled target data (the oracle, a ceiling the method may not use);
- how to read the gain: against the noise of a 500-digit test set, per class, and by what the
  translations lack (digits drawn darker than their background).
"""

import json
import os
import time

import _prologue
import keras
import matplotlib.pyplot as plt
import numpy as np

from gan_tf import data, metrics, runs
from gan_tf import images as pixels
from gan_tf.classifier import build_classifier, stratified_split
from gan_tf.config import TranslationConfig
from gan_tf.errors import UserError
from gan_tf.train import train_translator, translation_data
from gan_tf.translate import load_translator, translate_images

TUTORIAL_11_CYCLEGAN = os.path.join(_prologue.TUTORIALS, "out", "11", "cyclegan")
options = _prologue.parse(__doc__, cyclegan=TUTORIAL_11_CYCLEGAN)
started = time.time()
# The same code at two sizes: --quick (the tests) trains on 400 digits for one epoch, with tiny models.
training_digits = 400 if options.quick else None  # None: all 4,500 labelled training digits
classifier_epochs = 1 if options.quick else 5  # bench/domain_adaptation.py trains 10; 5 keeps this run short
if options.quick:
    print("--quick: tiny models and few steps; the numbers below only show that the code runs")


def unit(byte_images):
    """uint8 images -> [0, 1], what the classifier takes."""
    return pixels.model_to_unit(pixels.bytes_to_model(byte_images))


def train_classifier_on(unit_images, labels):
    """The same small CNN, seed and steps for every training set, so only the pixels differ.

    The 32x32 digits are 28x28 ones padded by 2 pixels (gan_tf.data); the classifier sees the middle.
    """
    model = build_classifier(image_size=28, channels=3, classes=10, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(unit_images[:, 2:-2, 2:-2], labels, batch_size=64, epochs=classifier_epochs, verbose=0,
              callbacks=[keras.callbacks.ReduceLROnPlateau("loss", patience=2)])
    return model


def predicted_classes(model, unit_images):
    # One eager call on the 500 test digits: cheaper than tracing `predict` for each classifier.
    return np.argmax(keras.ops.convert_to_numpy(model(unit_images[:, 2:-2, 2:-2], training=False)), axis=1)


def darker_strokes(unit_images, mnist_bytes):
    """Whether each digit is drawn darker than its background: mean brightness on the strokes of the
    aligned MNIST digit (pixels above 127) against its background (pixels at 0), in the 28x28 middle."""
    brightness = unit_images.mean(axis=-1)[:, 2:-2, 2:-2]
    digits = mnist_bytes[:, 2:-2, 2:-2, 0]

    def mean_over(mask):
        return (brightness * mask).sum(axis=(1, 2)) / mask.sum(axis=(1, 2))

    return mean_over(digits > 127) < mean_over(digits == 0)


## Domain shift: a digit classifier meets coloured digits
# mnist-5k's gray digits are repeated to RGB, so both domains share one input shape; image i of
# mnist-m-5k is digit i of mnist-5k on a photograph (tutorial 11), so they share their labels. The
# test digits are the split every model of this project holds out (10% per class, seed 0): the
# CycleGAN below never trained on them either (checked below).
mnist, mnist_m = data.load("mnist-5k", 32, 3), data.load("mnist-m-5k", 32)
assert np.array_equal(mnist.labels, mnist_m.labels)
train, held_out = stratified_split(mnist.labels, 0.1, seed=0)
train = train[:training_digits]
labels, test_labels = mnist.labels[train], mnist.labels[held_out]
mnist_m_test = unit(mnist_m.images[held_out])
print(f"{len(train)} labelled MNIST training digits; tests: the {len(held_out)} held-out digits of each domain")

source_only = train_classifier_on(unit(mnist.images[train]), labels)
accuracy = {"source only on MNIST": np.mean(predicted_classes(source_only, unit(mnist.images[held_out]))
                                            == test_labels)}
predictions = {"source only": predicted_classes(source_only, mnist_m_test)}
accuracy["source only"] = np.mean(predictions["source only"] == test_labels)
print(f"source only: {100 * accuracy['source only on MNIST']:.1f}% on held-out MNIST, "
      f"{100 * accuracy['source only']:.1f}% on held-out MNIST-M ({time.time() - started:.0f} s)")
# Same shapes, same labels, another distribution of pixels. An MNIST-M digit is |digit - photograph|:
# its strokes are bright on dark parts of the photograph and dark on bright ones, and its background
# is texture instead of black. Nothing in MNIST taught the network to ignore that.

## A CycleGAN paints the labelled digits in MNIST-M's style
# Bousmalis et al. (2017) train G: source -> target adversarially on unlabelled target images, then
# train the classifier on pairs (G(x), label of x). Any unpaired translator can be G; we use tutorial
# 11's CycleGAN (ResNet G, PatchGAN D, cycle and identity losses): its cycle loss is what keeps the
# digit, and so the label, inside G(x). It has seen MNIST-M images, never an MNIST-M label.
# By default the run tutorial 11 leaves behind is reused; without one a CycleGAN is trained here
# (6 epochs, as in tutorial 11), and --quick always trains a tiny one, so the test needs no other output.
cyclegan_dir = options.cyclegan
if options.quick or not os.path.isfile(os.path.join(cyclegan_dir, runs.GENERATOR_FILE)):
    # --quick: batches of 128, 17 steps instead of 70 (measured about a quarter faster on 2 cores).
    sizes = dict(epochs=1, generator_width=4, discriminator_width=4, residual_blocks=1, batch_size=128) \
        if options.quick else dict(epochs=6)
    if not options.quick:
        print(f"no {runs.GENERATOR_FILE} in {cyclegan_dir}: training a CycleGAN for 6 epochs (4-5 min on 2 cores)")
    config = TranslationConfig(task="cyclegan", output_dir=options.out,
                               run_name=_prologue.replace_previous(options.out, "cyclegan"), **sizes)
    cyclegan_dir = train_translator(config, verbose=not options.quick).run_dir
    if not options.quick:
        print(f"to reuse it next time: --cyclegan {cyclegan_dir}")
config = runs.saved_config(cyclegan_dir, TranslationConfig).resolved()
generator = load_translator(cyclegan_dir)
pieces = translation_data(config)  # what the CycleGAN trained on, and what it held out
if not np.array_equal(pixels.model_to_unit(pieces.held_out_targets), mnist_m_test):
    raise UserError(f"{cyclegan_dir} was trained {config.source} -> {config.target} at {config.image_size} "
                    "pixels; give a CycleGAN run of mnist-5k -> mnist-m-5k (tutorial 11 trains one)")
with open(os.path.join(cyclegan_dir, "metrics.json")) as file:
    report = json.load(file)
print(f"CycleGAN {cyclegan_dir} ({config.epochs}-epoch run): {100 * report['translator']['accuracy']:.1f}% of its "
      f"{report['held_out']} held-out digits keep their class under the shipped MNIST-M classifier")

mnist_train = pixels.bytes_to_model(mnist.images[train])
adapted_train = translate_images(generator, mnist_train)  # [-1, 1] in and out, the labels stay

# Training digits, the same digits through G, and real MNIST-M digits of the same classes (two of
# each class, from the test set: what the classifiers will be asked about).
shown = np.concatenate([np.flatnonzero(labels == digit)[:2] for digit in range(10)])
real = np.concatenate([np.flatnonzero(test_labels == digit)[:2] for digit in range(10)])
rows = pixels.comparison_rows([pixels.model_to_unit(mnist_train[shown]), pixels.model_to_unit(adapted_train[shown]),
                               mnist_m_test[real]])
pixels.save_png(pixels.unit_to_bytes(pixels.grid(rows, len(shown))), os.path.join(options.out, "adapted.png"),
                scale=3)
print("rows: MNIST training digits, the same digits adapted by G, real MNIST-M test digits -> adapted.png")

## Three classifiers, one test
# The same CNN, seed and steps, trained on three labelled versions of the same training digits:
# - source only: MNIST as it is (above);
# - adapted: the digits translated by G, with their MNIST labels: the method;
# - oracle: the MNIST-M versions of those digits with their labels. Adaptation assumes that these
#   labels do not exist; the oracle shows how far this CNN gets when they do.
adapted = train_classifier_on(pixels.model_to_unit(adapted_train), labels)
oracle = train_classifier_on(unit(mnist_m.images[train]), labels)
for name, model in (("adapted", adapted), ("oracle", oracle)):
    predictions[name] = predicted_classes(model, mnist_m_test)
    accuracy[name] = np.mean(predictions[name] == test_labels)
classifiers = ("source only", "adapted", "oracle")
for name in classifiers:
    print(f"{name:<11} on the {len(held_out)} held-out MNIST-M digits: {100 * accuracy[name]:.1f}%")

## Reading the result
# One seed and 500 test digits. Both classifiers answer the same digits, so compare them digit by
# digit (McNemar's test, `metrics.paired_comparison`): of the digits on which they disagree, `gained`
# are right only after adaptation and `lost` only before; with no real difference each disagreement is
# a coin toss, and |gained - lost| > 2 sqrt(gained + lost) happens by chance about 5% of the time. That
# covers the luck of the test digits; the classifier's seed adds its own spread, which is why
# bench/domain_adaptation.py repeats the comparison with 3 seeds, 10 classifier epochs and a 10-epoch
# CycleGAN (2026-11-26: source only 46.5% +- 1.6, adapted 54.5% +- 1.6, oracle 94.1% +- 1.0). This
# run's verdict, from its numbers:
gain = 100 * (accuracy["adapted"] - accuracy["source only"])
gained, lost, verdict = metrics.paired_comparison(predictions["source only"] == test_labels,
                                                  predictions["adapted"] == test_labels)
counts = f"{gained} test digits right only after adaptation, {lost} only before"
if verdict == "better":
    gap = 100 * (accuracy["oracle"] - accuracy["source only"])
    share = f"; it closes {100 * gain / gap:.0f}% of the gap to the oracle" if gap > 0 else ""
    print(f"adaptation beats source only by {gain:.1f} points ({counts}: more than chance){share}")
elif verdict == "worse":
    print(f"adaptation loses to source only by {-gain:.1f} points ({counts}: more than chance)")
else:
    print(f"adaptation vs source only: {gain:+.1f} points ({counts}): one run cannot tell this from chance "
          "(the bench's 3 seeds can)")

# Which digits gain? Per class, the share of the held-out MNIST-M digits each classifier gets right.
per_class = {name: np.array([np.mean(predictions[name][test_labels == digit] == digit) for digit in range(10)])
             for name in classifiers}
print("digit       " + "".join(f"{digit:>5}" for digit in range(10)))
for name in classifiers:
    print(f"{name:<12}" + "".join(f"{100 * value:>5.0f}" for value in per_class[name]))
change = 100 * (per_class["adapted"] - per_class["source only"])
print("adapted - source only, by digit, largest gain first: " +
      ", ".join(f"{digit} {change[digit]:+.0f}" for digit in np.argsort(-change, kind="stable")))

## What limits the gain
# Look at adapted.png. For tutorial 11's 6-epoch CycleGAN (and the bench's 10-epoch one) the middle
# row is one style: a light pink stroke on a dark teal-green texture, for every digit. The real row
# varies: red brick, orange, foliage, white and gray photographs, and on the bright ones the stroke is dark
# (|digit - photograph| inverts it). G has no noise input, so each digit gets exactly one translation,
# and no loss asks for variety: one dark style that D accepts and F can undo satisfies them all. The
# adapted classifier then never sees a digit drawn darker than its background.
# Measured on the aligned MNIST strokes (the translations keep the digit's outline):
dark_real = darker_strokes(unit(mnist_m.images[train]), mnist.images[train])
dark_adapted = darker_strokes(pixels.model_to_unit(adapted_train), mnist.images[train])
print(f"training digits drawn darker than their background: real MNIST-M {100 * dark_real.mean():.0f}%, "
      f"adapted {100 * dark_adapted.mean():.0f}%")
# If that is what limits the gain, the adapted classifier gains on the test digits with light strokes
# and stays near source only on those with dark strokes, which the oracle has seen in training:
dark_test = darker_strokes(mnist_m_test, mnist.images[held_out])
strokes = {"light strokes": ~dark_test, "dark strokes": dark_test}
by_stroke = {name: [np.mean(predictions[name][members] == test_labels[members]) for members in strokes.values()]
             for name in classifiers}
for index, (kind, members) in enumerate(strokes.items()):
    print(f"test digits with {kind} ({members.sum()}): " +
          ", ".join(f"{name} {100 * by_stroke[name][index]:.0f}%" for name in classifiers))
# What might help (not measured here): a noise input to G, as Bousmalis et al.'s generator has, so one
# digit can be painted on many backgrounds; or inverting the colours of some adapted digits.

## The picture of it all
figure, (overall, by_kind, by_class) = plt.subplots(1, 3, figsize=(15, 4), gridspec_kw={"width_ratios": [1, 0.7, 2.4]})
colours = {"source only": "tab:red", "adapted": "tab:blue", "oracle": "tab:green"}
bars = overall.bar(range(4), [100 * accuracy[name] for name in ("source only on MNIST",) + classifiers],
                   color=["0.6"] + list(colours.values()))
overall.bar_label(bars, fmt="%.1f")
overall.set_xticks(range(4), ["source only\non MNIST"] + [name.replace(" ", "\n") for name in classifiers])
overall.set_ylabel("held-out accuracy (%)")
overall.set_ylim(0, 105)
overall.set_title("on MNIST-M, unless marked")
for offset, name in zip((-0.27, 0.0, 0.27), classifiers):
    by_kind.bar(np.arange(2) + offset, 100 * np.array(by_stroke[name]), 0.27, color=colours[name])
    by_class.bar(np.arange(10) + offset, 100 * per_class[name], 0.27, color=colours[name], label=name)
by_kind.set_xticks(range(2), [f"{kind}\n({members.sum()} digits)" for kind, members in strokes.items()])
by_kind.set_ylim(0, 105)
by_kind.set_title("by stroke, MNIST-M")
by_class.set_xticks(range(10))
by_class.set_xlabel("digit")
by_class.set_ylim(0, 118)
by_class.set_title(f"per class, on the {len(held_out)} held-out MNIST-M digits")
by_class.legend(loc="upper center", ncol=3, frameon=False)
figure.tight_layout()
figure.savefig(os.path.join(options.out, "accuracy.png"), dpi=90)
plt.close(figure)
print(f"done in {time.time() - started:.0f} s -> adapted.png, accuracy.png in {options.out}")
