"""Pixel-level domain adaptation (Bousmalis et al. 2017) with the CycleGAN, MNIST -> MNIST-M, measured.

    python bench/domain_adaptation.py [--seeds 0 1 2] [--classifier-epochs 10] [--cyclegan RUN_DIR]
                                      [--quick] [--out-dir bench/results]

1. CycleGAN between mnist-5k (gray, shown as RGB) and mnist-m-5k, trained on disjoint halves of the
   training split (`gan-tf train-translator --task cyclegan`), unless `--cyclegan` names a finished run.
   Its own check: the share of the 500 held-out digits that keep their class when translated, under the
   shipped MNIST-M classifier (`metrics.json`), and the FD of the translations to real MNIST-M digits.
2. For each seed, the same small CNN (`gan_tf.classifier.build_classifier`) trained on the 4,500 labelled
   MNIST training digits three ways, each tested on the 500 held-out MNIST-M digits, which no model here
   has seen:
   - source only: the digits as they are (gray as RGB): the baseline;
   - adapted: the same digits translated into MNIST-M style by the CycleGAN's G: pixel-level adaptation;
   - target (oracle): the 4,500 labelled MNIST-M training digits, an upper bound the method cannot use.
Prints and writes domain_adaptation.{md,json} to --out-dir: accuracy mean and spread over the seeds.
"""

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gan_tf.cli import import_tensorflow_quietly  # noqa: E402


def train_and_test(train_images, train_labels, test_images, test_labels, epochs, seed):
    """Held-out accuracy of `gan_tf.classifier.build_classifier` trained on [0, 1] images; 32 -> 28 crop."""
    import keras
    import numpy as np

    from gan_tf.classifier import build_classifier

    def crop(images):
        return images[:, 2:-2, 2:-2] if images.shape[1] == 32 else images

    train_images, test_images = crop(train_images), crop(test_images)
    model = build_classifier(train_images.shape[1], train_images.shape[-1], 10, seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(train_images, train_labels, batch_size=64, epochs=epochs, verbose=0,
              callbacks=[keras.callbacks.ReduceLROnPlateau("loss", patience=2)])
    return float(np.mean(np.argmax(model.predict(test_images, verbose=0), axis=1) == test_labels))


def run(seeds=(0, 1, 2), classifier_epochs=10, cyclegan_dir=None, quick=False, output_dir=None):
    import numpy as np

    from gan_tf import images as pixels
    from gan_tf.classifier import stratified_split
    from gan_tf.config import TranslationConfig
    from gan_tf.data import load
    from gan_tf.runs import saved_config
    from gan_tf.train import train_translator, translation_data
    from gan_tf.translate import load_translator, translate_images

    started = time.time()
    if cyclegan_dir is None:
        changes = dict(epochs=1, generator_width=8, discriminator_width=8, residual_blocks=2) if quick else {}
        config = TranslationConfig(task="cyclegan", output_dir=output_dir or tempfile.mkdtemp(), **changes)
        cyclegan_dir = train_translator(config, verbose=not quick).run_dir
    cyclegan_seconds = time.time() - started
    config = saved_config(cyclegan_dir, TranslationConfig).resolved()
    translation_report = json.load(open(os.path.join(cyclegan_dir, "metrics.json")))
    generator = load_translator(cyclegan_dir)

    pieces = translation_data(config)  # the CycleGAN's own split: held-out pairs, never trained on
    size = config.image_size
    source = load(config.source, size, 3)
    target = load(config.target, size)
    train, held_out = stratified_split(source.labels, config.held_out, seed=0)
    if quick:
        train = train[:400]
    mnist = pixels.bytes_to_model(source.images[train])
    labels = source.labels[train]
    sets = {"source only": pixels.model_to_unit(mnist),
            "adapted (CycleGAN)": pixels.model_to_unit(translate_images(generator, mnist)),
            "target (oracle)": pixels.model_to_unit(pixels.bytes_to_model(target.images[train]))}
    test_images = pixels.model_to_unit(pixels.bytes_to_model(target.images[held_out]))
    test_labels = target.labels[held_out]
    assert np.array_equal(test_labels, pieces.held_out_labels)
    accuracies = {name: [] for name in sets}
    for seed in seeds:
        for name, images in sets.items():
            accuracy = train_and_test(images, labels, test_images, test_labels, classifier_epochs, seed)
            accuracies[name].append(accuracy)
            print(f"seed {seed}: {name:<20} MNIST-M held-out accuracy {accuracy:.4f}", flush=True)
    return {"cyclegan_run": cyclegan_dir, "cyclegan_seconds": round(cyclegan_seconds, 1),
            "cyclegan": translation_report, "seeds": list(seeds), "classifier_epochs": classifier_epochs,
            "train_images": int(len(train)), "test_images": int(len(held_out)),
            "accuracy": {name: {"runs": [round(value, 4) for value in values],
                                "mean": round(float(np.mean(values)), 4), "std": round(float(np.std(values)), 4)}
                         for name, values in accuracies.items()},
            "seconds": round(time.time() - started, 1)}


def markdown(result):
    translator = result["cyclegan"]["translator"]
    lines = [f"CycleGAN mnist-5k -> mnist-m-5k: {100 * translator['accuracy']:.1f}% of the "
             f"{result['cyclegan']['held_out']} held-out digits keep their class under the MNIST-M classifier; "
             f"FD to real MNIST-M {translator['fd']:.1f} (untranslated gray digits: "
             f"{result['cyclegan']['untranslated']['fd']:.1f}).", "",
             f"| classifier trained on (4,500 labelled digits) | MNIST-M held-out accuracy, mean +- std over "
             f"{len(result['seeds'])} seeds | runs |", "|---|---|---|"]
    for name, value in result["accuracy"].items():
        lines.append(f"| {name} | {100 * value['mean']:.1f}% +- {100 * value['std']:.1f} | "
                     f"{', '.join(f'{100 * run:.1f}' for run in value['runs'])} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--classifier-epochs", type=int, default=10)
    parser.add_argument("--cyclegan", default=None, help="a finished CycleGAN run folder to reuse")
    parser.add_argument("--quick", action="store_true", help="tiny models and data: checks that it runs")
    parser.add_argument("--out-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = parser.parse_args()
    import_tensorflow_quietly()
    result = run(args.seeds, args.classifier_epochs, args.cyclegan, args.quick,
                 None if args.quick else os.path.join(args.out_dir, "runs"))
    table = markdown(result)
    print(table)
    print(f"total {result['seconds']:.0f} s (CycleGAN {result['cyclegan_seconds']:.0f} s)")
    if not args.quick:
        from gan_tf import runs  # atomic writes, folders created

        runs.write_json(os.path.join(args.out_dir, "domain_adaptation.json"), result)
        runs.write_text(os.path.join(args.out_dir, "domain_adaptation.md"), table + "\n")


if __name__ == "__main__":
    main()
