"""
Title: Evaluating GANs: why a single number misleads
Author: gan-tf
Description: Score the pretrained generator with IS, FD, KID, precision/recall and density/coverage
on the digit classifier's features, next to a real held-out split, uniform noise, a "memoriser" that
returns training images, and a "mode dropper" that draws only three digits.
Time on a laptop CPU: about 15 seconds on 2 cores (`--quick`: 11 seconds).

What you will learn:
- what each metric rewards, and which failure each one is blind to;
- to always report a real baseline measured with the same features and the same n;
- that no single number separates "good" from "copied" or "collapsed": read several.
"""

import json
import os

import _prologue
import numpy as np
from matplotlib import pyplot as plt

from gan_tf import data, evaluation
from gan_tf import images as pixels
from gan_tf.sampling import load_generator, sample_unit_images

options = _prologue.parse(__doc__, model=_prologue.PRETRAINED_GENERATOR)
n = 500 if options.quick else 2000

## Real data, split in two: a reference, and a held-out set of the same size as every candidate
image_set = data.load("mnist-5k")
real = pixels.model_to_unit(pixels.bytes_to_model(image_set.images))
reference, held_out = evaluation.real_split(real, n, seed=0)
extract = evaluation.classifier_extractor()
reference_features, _ = extract(reference)

## Five candidates
rng = np.random.default_rng(1)
_, probabilities = extract(reference)
three_digits = reference[np.isin(probabilities.argmax(axis=1), [0, 1, 7])]
candidates = {
    "real held-out": held_out,
    "generator": sample_unit_images(load_generator(options.model), n, seed=0),
    "memoriser": reference[rng.choice(len(reference), n, replace=False)],  # copies of the reference set
    "three digits": three_digits[rng.choice(len(three_digits), n, replace=True)],
    "uniform noise": rng.uniform(0, 1, (n,) + real.shape[1:]).astype(np.float32),
}

## Every metric for every candidate
table = {}
for name, images in candidates.items():
    features, probabilities = extract(images)
    table[name] = evaluation.all_metrics(reference_features, features, probabilities,
                                         np.bincount(image_set.labels) / len(image_set.labels))
columns = ["fd", "kid", "is", "precision", "recall", "density", "coverage", "classes_covered"]
print(f"{'candidate':<16}" + "".join(f"{column:>11}" for column in columns))
for name, row in table.items():
    print(f"{name:<16}" + "".join(f"{row[column]:>11.3f}" if isinstance(row[column], float) else f"{row[column]:>11}"
                                  for column in columns))
with open(os.path.join(options.out, "metrics.json"), "w") as file:
    json.dump(table, file, indent=2)

## What the table says (computed from this run's numbers)
best_fd = min(table, key=lambda name: table[name]["fd"])
print(f"lowest FD: {best_fd} -- the memoriser copies training images, so FD cannot tell copying from learning")
print(f"IS of 'three digits' {table['three digits']['is']:.2f} vs real {table['real held-out']['is']:.2f}: "
      "IS drops with missing classes, but precision stays "
      f"{table['three digits']['precision']:.2f} (each image is fine) while recall falls to "
      f"{table['three digits']['recall']:.2f}")
print(f"generator vs real: FD {table['generator']['fd']:.1f} vs {table['real held-out']['fd']:.1f}, "
      f"precision {table['generator']['precision']:.2f} vs {table['real held-out']['precision']:.2f}, "
      f"recall {table['generator']['recall']:.2f} vs {table['real held-out']['recall']:.2f}")

## One figure: precision against recall, and FD
figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
for name, row in table.items():
    left.scatter(row["recall"], row["precision"], s=60)
    left.annotate(name, (row["recall"], row["precision"]), fontsize=8, xytext=(4, 4), textcoords="offset points")
left.set_xlabel("recall (coverage of the real data)")
left.set_ylabel("precision (realism of the samples)")
left.set_xlim(-0.05, 1.1)
left.set_ylim(-0.05, 1.1)
names = list(table)
right.barh(names, [table[name]["fd"] for name in names])
right.set_xscale("log")
right.set_xlabel("classifier FD (log scale, lower is closer to the reference)")
figure.tight_layout()
figure.savefig(os.path.join(options.out, "metrics.png"), dpi=90)
plt.close(figure)
print(f"figures and metrics.json in {options.out}")
