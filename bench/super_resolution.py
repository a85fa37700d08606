"""Super-resolution at small scale (SRGAN, Ledig et al. 2017): 7x7 -> 28x28 digits, with and without D.

    python bench/super_resolution.py [--epochs N] [--quick] [--out-dir bench/results]
    python bench/super_resolution.py --target FOLDER [--image-size 64] [--photo-tiles] [--epochs N]

Trains the upscaling generator (`gan-tf train-translator --task super-resolution`) twice on the same
4,500 training digits, seed and budget:
  - content only: pixel L1 + the content loss in the digit classifier's features, no discriminator
    (`--adversarial-weight 0`), SRResNet's role in the paper;
  - SRGAN: the same plus the adversarial term of a PatchGAN (weight 1e-3, the paper's).
Both are measured on the 500 held-out digits against bicubic upscaling of the same 7x7 inputs: PSNR,
SSIM and L1 to the real 28x28 digit (distortion) and the digit classifier's accuracy and FD on the
upscaled images (perception). Writes super_resolution.{md,json,png}: the table and a figure with rows
input (7x7, enlarged), bicubic, content only, SRGAN, the real digit.

`--target FOLDER` runs the same comparison on a folder of images (16x16 -> 64x64 with the default
`--image-size 64`). No classifier is shipped for a folder, so the content loss measures in D's own
features (`--content-features discriminator`, which needs D): the baseline is then pixel L1 alone
("L1 only", no D) and the table has PSNR, SSIM and L1 but no classifier columns. `--photo-tiles` first
writes an offline folder there: non-overlapping tiles of the three colour photographs that
scikit-learn and matplotlib ship, at scales 1, 0.75 and 0.5. Its results go to
super_resolution_folder.{md,json,png}.
"""

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gan_tf.cli import import_tensorflow_quietly  # noqa: E402

VARIANTS = {"content only": {"adversarial_weight": 0.0}, "SRGAN": {}}
FOLDER_VARIANTS = {"L1 only": {"adversarial_weight": 0.0, "content_weight": 0.0},
                   "SRGAN (D features)": {"content_features": "discriminator"}}


def write_photo_tiles(folder, size=64, scales=(1.0, 0.75, 0.5)):
    """Non-overlapping size x size PNG tiles of the colour photographs scikit-learn and matplotlib ship."""
    import matplotlib.cbook
    import numpy as np
    from PIL import Image

    from gan_tf.data import photographs as shipped_photographs

    photographs = [Image.fromarray(image) for image in shipped_photographs()]
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as file:
        photographs.append(Image.open(file).convert("RGB"))
    os.makedirs(folder, exist_ok=True)
    count = 0
    for number, photograph in enumerate(photographs):
        for scale in scales:
            width, height = round(photograph.width * scale), round(photograph.height * scale)
            scaled = np.asarray(photograph.resize((width, height), Image.LANCZOS))
            for top in range(0, height - size + 1, size):
                for left in range(0, width - size + 1, size):
                    tile = scaled[top:top + size, left:left + size]
                    Image.fromarray(tile).save(os.path.join(folder, f"photo{number}_x{scale}_{top}_{left}.png"))
                    count += 1
    return count


def run(epochs=None, quick=False, output_dir=None, target=None, image_size=None):
    from gan_tf.config import TranslationConfig
    from gan_tf.train import train_translator

    output_dir = output_dir or tempfile.mkdtemp()
    rows, generators = {}, {}
    for name, changes in (FOLDER_VARIANTS if target else VARIANTS).items():
        if quick:
            changes = dict(changes, epochs=1, generator_width=4, discriminator_width=4, residual_blocks=1)
        elif epochs:
            changes = dict(changes, epochs=epochs)
        if target:
            changes = dict(changes, target=target, image_size=image_size or 64)
        started = time.time()
        config = TranslationConfig(task="super-resolution", output_dir=output_dir,
                                   run_name=name.split()[0].lower(), **changes)
        result = train_translator(config, verbose=not quick)
        report = json.load(open(os.path.join(result.run_dir, "metrics.json")))
        rows[name] = dict(report["translator"], seconds=round(time.time() - started, 1), run=result.run_dir)
        rows["bicubic"] = report["bicubic"]
        generators[name] = result.generator_path
    return {"rows": {"bicubic": rows.pop("bicubic"), **rows}, "generators": generators,
            "epochs": epochs, "config": config.resolved().to_json()}


def figure(result, path, count=20):
    """Rows: the 7x7 input enlarged, bicubic, each model, the real digit (held-out digits)."""
    import keras
    import numpy as np

    from gan_tf import images as pixels
    from gan_tf.config import TranslationConfig
    from gan_tf.train import translation_data
    from gan_tf.translate import translate_images

    pieces = translation_data(TranslationConfig.from_dict(json.loads(result["config"])))
    shown = np.linspace(0, len(pieces.held_out_sources) - 1, count).astype(int)  # sorted by class: spread
    sources, targets = pieces.held_out_sources[shown], pieces.held_out_targets[shown]
    side = targets.shape[1]
    rows = [pixels.model_to_unit(sources),
            pixels.bicubic_upscale(pixels.model_to_unit(sources), side)]
    for path_to_model in result["generators"].values():
        rows.append(pixels.model_to_unit(translate_images(keras.models.load_model(path_to_model), sources)))
    rows.append(pixels.model_to_unit(targets))
    pixels.save_png(pixels.unit_to_bytes(pixels.grid(pixels.comparison_rows(rows), count)), path, scale=3)


def markdown(result):
    config = json.loads(result["config"])
    size, low = config["image_size"], config["image_size"] // config["scale_factor"]
    judged = "accuracy" in result["rows"]["bicubic"]  # a classifier is shipped for the target
    held_out = result["rows"]["bicubic"]["n"]
    what = "digits" if judged else f"images of {config['target']}"
    lines = [f"| upscaling {low}x{low} -> {size}x{size} ({held_out} held-out {what}) | PSNR (dB) | SSIM | L1 | "
             + ("classifier accuracy | classifier FD | " if judged else "") + "train time |",
             "|---|---|---|---|" + ("---|---|" if judged else "") + "---|"]
    for name, row in result["rows"].items():
        seconds = f"{row['seconds'] / 60:.1f} min" if "seconds" in row else "-"
        judgement = f"{100 * row['accuracy']:.1f}% | {row['fd']:.1f} | " if judged else ""
        lines.append(f"| {name} | {row['psnr']:.2f} | {row['ssim']:.3f} | {row['l1']:.4f} | {judgement}{seconds} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="epochs per model (default: the task's)")
    parser.add_argument("--target", default=None, help="a folder of images to upscale instead of the digits")
    parser.add_argument("--image-size", type=int, default=None, help="with --target: side of the output (64)")
    parser.add_argument("--photo-tiles", action="store_true",
                        help="first write tiles of the photographs scikit-learn and matplotlib ship into --target")
    parser.add_argument("--quick", action="store_true", help="tiny models, one epoch: checks that it runs")
    parser.add_argument("--out-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = parser.parse_args()
    import_tensorflow_quietly()
    if args.photo_tiles:
        if not args.target:
            parser.error("--photo-tiles writes into the folder --target names; give --target")
        print(f"{write_photo_tiles(args.target, args.image_size or 64)} tiles written to {args.target}")
    started = time.time()
    result = run(args.epochs, args.quick, None if args.quick else os.path.join(args.out_dir, "runs"),
                 args.target, args.image_size)
    table = markdown(result)
    print(table)
    print(f"total {time.time() - started:.0f} s")
    if not args.quick:
        from gan_tf import runs  # atomic writes, folders created

        name = "super_resolution_folder" if args.target else "super_resolution"
        figure(result, os.path.join(args.out_dir, f"{name}.png"))
        runs.write_json(os.path.join(args.out_dir, f"{name}.json"), result)
        runs.write_text(os.path.join(args.out_dir, f"{name}.md"), table + "\n")


if __name__ == "__main__":
    main()
