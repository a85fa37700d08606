"""`gan-tf` / `python -m gan_tf`: a thin layer of flags over the library.

`train`'s flags are generated from `TrainConfig`'s fields, so `--help` always shows every option with
the reason for its default. A user's mistake (`gan_tf.errors.UserError`) becomes one line on stderr and
exit code 2; any other exception is a bug in gan-tf and keeps its traceback (exit code 1).
"""

import argparse
import json
import os
import sys
import types
import typing

from gan_tf.config import CONFIG_FIELDS, TRANSLATION_FIELDS, TrainConfig, TranslationConfig, preset_config
from gan_tf.errors import UserError


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        raise SystemExit(_fail(f"{message} (see `{self.prog} --help`)"))


# TensorFlow is an extra of the package (pyproject.toml says why), so a bare `pip install -e .` lacks it.
MISSING_TENSORFLOW = ("TensorFlow is not installed: run `pip install -r requirements.txt` (CPU) or "
                      "`pip install -r requirements-gpu.txt` (NVIDIA GPU), or pip install -e \".[cpu]\" / \".[gpu]\"")


def import_tensorflow_quietly():
    """Import TensorFlow with its C++ start-up chatter (oneDNN, absl notices) kept off stderr.

    TensorFlow 2.21 writes those lines before `TF_CPP_MIN_LOG_LEVEL` is read, and they would bury
    the one line a user mistake gets. Python-level errors still surface: stderr is restored first.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if sys.modules.get("tensorflow") is not None:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow  # noqa: F401
    except ModuleNotFoundError as error:
        if error.name != "tensorflow":
            raise
        raise UserError(MISSING_TENSORFLOW) from None
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def seed_type(text):
    """argparse type of a seed: numpy's and Keras' generators take only non-negative integers."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"a seed must be 0 or a positive integer, got {value}")
    return value


def _fail(message):
    print(f"gan-tf: error: {message}", file=sys.stderr)
    return 2


def _field_type(annotation):
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        annotation = next(arg for arg in typing.get_args(annotation) if arg is not type(None))
    return annotation


def _add_config_flags(parser, config_class=TrainConfig, fields=CONFIG_FIELDS):
    hints = typing.get_type_hints(config_class)
    for name, field in fields.items():
        flag = f"--{name.replace('_', '-')}"
        kind = _field_type(hints[name])
        default, help_text = field.default, field.metadata["help"]
        if default is not None:  # a None default depends on the data or the run; its help says how
            help_text += f" (default: {default if default != '' else 'none'})"
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            choices = field.metadata.get("choices")
            choices = [choice for choice in choices if choice is not None] if choices else None
            parser.add_argument(flag, type=kind, default=None, metavar=name.upper(), help=help_text,
                                choices=choices)


def config_from_args(args):
    """The TrainConfig for parsed flags: defaults, overridden by every flag given.

    With --resume the base is the run's own config.json instead of the defaults, so
    `--resume --epochs 80` changes the epoch count and nothing else.
    """
    given = {name: getattr(args, name) for name in CONFIG_FIELDS if getattr(args, name) is not None}
    config = preset_config(given.pop("preset"), **given) if given.get("preset") else TrainConfig(**given)
    if not config.resume:
        return config
    from gan_tf import runs

    run_dir = runs.resolve_run_dir(config)
    given.update(run_name=os.path.basename(run_dir), output_dir=os.path.dirname(run_dir))
    return runs.saved_config(run_dir).replace(**given)


def _add_unsafe_flag(parser):
    parser.add_argument("--unsafe", action="store_true",
                        help="load a .keras file even if it holds Python code (a Lambda layer) that runs when "
                        "it loads; only for files whose source you trust (default: off, Keras' safe mode)")


def build_parser():
    parser = _OneLineParser(prog="gan-tf", description="Train, sample and inspect GANs (Keras 3 / TF).")
    commands = parser.add_subparsers(dest="command", parser_class=_OneLineParser)

    train = commands.add_parser("train", help="train a GAN and write a run folder")
    _add_config_flags(train)

    translator = commands.add_parser("train-translator", help="train pix2pix, CycleGAN or super-resolution "
                                     "and write a run folder (measured on held-out images: metrics.json)")
    _add_config_flags(translator, TranslationConfig, TRANSLATION_FIELDS)
    for name, verb, what in (("translate", "translate", "a translator (pix2pix, CycleGAN)"),
                             ("upscale", "upscale", "a super-resolution generator")):
        command = commands.add_parser(name, help=f"{verb} images with {what}")
        command.add_argument("--model", required=True, help="a run folder, its generator .keras file, or an "
                             "exported SavedModel (saved_models/NAME[/VERSION])")
        command.add_argument("--input", required=True,
                             help="an image file, a folder of images, an .npz/.npy, or a named data set")
        command.add_argument("--out", default=f"{verb}d.png",
                             help=f"a grid .png (inputs above outputs), an .npz of images in [0, 1], or a "
                             f"folder for one PNG per image (default: {verb}d.png)")
        command.add_argument("--n", type=int, default=None, help="only the first N images (default: all)")
        _add_unsafe_flag(command)

    sample = commands.add_parser("sample", help="draw images from a trained generator")
    sample.add_argument("--model", required=True,
                        help="a generator .keras file (runs/NAME/generator.keras) or a SavedModel "
                        "(saved_models/NAME for the newest version, or saved_models/NAME/VERSION)")
    sample.add_argument("--n", type=int, default=64, help="number of images (default: 64)")
    sample.add_argument("--seed", type=seed_type, default=0, help="seed of the noise (default: 0)")
    sample.add_argument("--label", type=int, default=None,
                        help="conditional or InfoGAN generators: draw only this class (or categorical "
                        "code); default: all classes in turn")
    sample.add_argument("--truncation", type=float, default=None, metavar="PSI",
                        help="style-based generators: the truncation trick, w = w_avg + PSI (w - w_avg); "
                        "0.5-0.8 trades variety for cleaner images (default: 1, none)")
    sample.add_argument("--out", default="samples.png",
                        help="a grid .png, an .npz of images in [0, 1], or a folder for PNGs")
    _add_unsafe_flag(sample)

    mix = commands.add_parser("style-mix", help="StyleGAN's style-mixing grid: coarse, middle and fine "
                              "styles of row seeds copied into column seeds' images")
    mix.add_argument("--model", required=True, help="a style-based generator .keras file or run folder")
    mix.add_argument("--row-seeds", type=seed_type, nargs="+", default=[1, 2, 3],
                     help="seeds whose styles are copied (default: 1 2 3)")
    mix.add_argument("--column-seeds", type=seed_type, nargs="+", default=[4, 5, 6, 7, 8],
                     help="seeds whose images receive them (default: 4 5 6 7 8)")
    mix.add_argument("--truncation", type=float, default=1.0, metavar="PSI",
                     help="truncation of every latent (default: 1, none)")
    mix.add_argument("--out", default="style_mixing.png", help="the grid .png (default: style_mixing.png)")
    _add_unsafe_flag(mix)

    classifier = commands.add_parser("train-classifier",
                                      help="train the digit classifier used to judge samples")
    classifier.add_argument("--dataset", default="mnist-5k", help="a labelled data set (default: mnist-5k)")
    classifier.add_argument("--epochs", type=int, default=20, help="training epochs (default: 20)")
    classifier.add_argument("--seed", type=seed_type, default=0, help="seed (default: 0)")
    classifier.add_argument("--out", default=None,
                            help="folder to save to (default: saved_models/classifiers/<dataset>)")
    export = commands.add_parser("export", help="write a versioned SavedModel for TensorFlow Serving")
    source = export.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", help="a run folder (runs/NAME): exports its generator with its config")
    source.add_argument("--model", help="a generator .keras file")
    export.add_argument("--name", default=None, help="model name (default: the run's folder name)")
    export.add_argument("--version", type=int, default=None, help="version number (default: the next free one)")
    export.add_argument("--base-dir", default="saved_models", help="where models live (default: saved_models)")
    _add_unsafe_flag(export)

    interpolate = commands.add_parser("interpolate", help="walk the latent space between seeds")
    interpolate.add_argument("--model", required=True, help="a generator .keras file or a SavedModel")
    interpolate.add_argument("--seeds", type=seed_type, nargs="+", default=[0, 1],
                             help="seeds of the points to pass through (default: 0 1)")
    interpolate.add_argument("--steps", type=int, default=10, help="images per segment (default: 10)")
    interpolate.add_argument("--method", default="slerp", choices=("slerp", "lerp"),
                             help="spherical (default) or linear interpolation")
    interpolate.add_argument("--out", default="interpolation.png",
                             help="the strip PNG; a GIF and a <name>_frames/ folder of frames are written "
                             "beside it (default: interpolation.png)")
    _add_unsafe_flag(interpolate)

    client = commands.add_parser("serve-client", help="call a TensorFlow Serving server that serves a generator")
    client.add_argument("--url", default="http://localhost:8501", help="REST address (default: http://localhost:8501)")
    client.add_argument("--grpc", default=None, metavar="HOST:PORT",
                        help="use gRPC at this address instead of REST (TF Serving's default port is 8500)")
    client.add_argument("--model", required=True, help="the served model's name")
    client.add_argument("--version", type=int, default=None, help="a specific version (default: the newest)")
    client.add_argument("--n", type=int, default=16, help="images to request from the `sample` signature (default: 16)")
    client.add_argument("--seed", type=seed_type, default=0, help="seed for the `sample` signature (default: 0)")
    client.add_argument("--label", type=int, default=None,
                        help="conditional or InfoGAN models: the class to draw, -1 for all in turn")
    client.add_argument("--truncation", type=float, default=None, metavar="PSI",
                        help="style-based models (their `sample` signature needs it): psi, 1 for none")
    client.add_argument("--out", default="served.png", help="a grid .png, an .npz or a folder of PNGs")
    client.add_argument("--status", action="store_true", help="print the model's status and metadata (REST) and stop")
    client.add_argument("--timeout", type=float, default=30.0,
                        help="seconds one request may take in all, however slowly the server answers (default: 30)")
    client.add_argument("--max-answer-mb", type=float, default=256.0, metavar="MB",
                        help="refuse a larger answer before decoding it (default: 256; 4096 28x28 images are ~70)")

    evaluate = commands.add_parser("evaluate", help="measure a generator: FD, KID, IS, precision/recall, "
                                   "density/coverage, mode coverage")
    evaluate.add_argument("--model", required=True, help="a generator .keras file or a SavedModel")
    evaluate.add_argument("--dataset", default="mnist-5k", help="the real data to compare with (default: mnist-5k)")
    evaluate.add_argument("--n", type=int, default=5000, help="generated samples (default: 5000; papers use "
                          "50000: bounded memory, minutes on 2 cores)")
    evaluate.add_argument("--features", default="classifier", choices=("classifier", "inception"),
                          help="feature extractor: the offline digit classifier or Inception-v3 (download)")
    evaluate.add_argument("--classifier-dataset", default="mnist-5k",
                          help="which shipped classifier gives the features (default: mnist-5k)")
    evaluate.add_argument("--real-baseline", action="store_true",
                          help="also score a held-out real split: the best a generator can do")
    evaluate.add_argument("--noise-baseline", action="store_true",
                          help="also score uniform noise images: the worst")
    evaluate.add_argument("--seed", type=seed_type, default=0, help="seed of the noise and the split (default: 0)")
    evaluate.add_argument("--out", default=None, help="write the report as JSON here")
    _add_unsafe_flag(evaluate)
    return parser


def _evaluate(args):
    from gan_tf import data, evaluation
    from gan_tf import images as pixels
    from gan_tf.conditioning import Conditioning
    from gan_tf.sampling import image_shape_of, load_generator

    generator = load_generator(args.model, args.unsafe)
    height, _, channels = image_shape_of(generator)
    real = data.load(args.dataset, height, channels)
    real_unit = pixels.model_to_unit(pixels.bytes_to_model(real.images))
    extractor = evaluation.make_extractor(args.features, args.classifier_dataset)
    report = evaluation.evaluate_generator(generator, args.n, real_unit, extractor, args.real_baseline, real.labels,
                                           args.seed, noise_baseline=args.noise_baseline)
    report.update(model=args.model, dataset=args.dataset, features=args.features)
    print(f"{report['n']} samples vs {report['reference_n']} real images of {args.dataset}, "
          f"{args.features} features")
    print(evaluation.format_table(report))
    if Conditioning.of(generator).classes and args.features == "classifier":
        from gan_tf import classifier

        control = evaluation.class_control(generator, classifier.load_classifier(args.classifier_dataset),
                                           seed=args.seed)
        report["class_control"] = control
        key = "label_accuracy" if "label_accuracy" in control else "code_agreement"
        print(f"{key.replace('_', ' ')} (100 samples per class, classifier): {control[key]:.3f}")
    if args.out:
        evaluation.write_report(report, args.out)
        print(f"report written to {args.out}")


def _export(args):
    from gan_tf import checkpoints, runs
    from gan_tf.conditioning import Conditioning
    from gan_tf.export import export_generator, is_translator

    metadata = {"export_command": " ".join(["gan-tf", *args.argv])}
    if args.run:
        run_dir = os.path.normpath(args.run)
        config = runs.saved_config(run_dir)
        generator = runs.load_generator(os.path.join(run_dir, runs.GENERATOR_FILE), args.unsafe)
        history = runs.read_history(run_dir)
        metadata.update(training_command=config.command_line(),
                        training_config=json.loads(config.to_json()),
                        dataset=getattr(config, "dataset", None) or getattr(config, "target", None),
                        epochs_trained=len(history),
                        steps_trained=checkpoints.generator_steps(checkpoints.latest(run_dir)),
                        final_epoch={key: float(value) for key, value in (history[-1] if history else {}).items()
                                     if value not in ("", None)})
        name = args.name or os.path.basename(run_dir)
    else:
        generator, name = runs.load_generator(args.model, args.unsafe), args.name or "generator"
    path = export_generator(generator, name, args.base_dir, args.version, metadata)
    if is_translator(generator):
        print(f"exported {path} (serving_default: images in [0, 1] -> images; translate_png: "
              "images_png_bytes -> images, PNGs)")
        return
    names = Conditioning.of(generator).names
    label = ", label" if len(names) > 1 else ""
    print(f"exported {path} (serving_default: {', '.join(names)} -> images; "
          f"sample: num_samples, seed{label} -> images, PNGs)")


def _interpolate(args):
    from gan_tf import images as pixels
    from gan_tf import latent
    from gan_tf.sampling import generate_unit_images, latent_dim_of, load_generator

    generator = load_generator(args.model, args.unsafe)
    points = latent.seeded_points(args.seeds, latent_dim_of(generator))
    walk = latent.path(points, args.steps, args.method)
    frames = generate_unit_images(generator, walk)
    columns = args.steps if len(args.seeds) == 2 else len(frames)
    strip = pixels.unit_to_bytes(pixels.grid(frames, columns))
    pixels.save_png(strip, args.out, scale=2)
    gif = os.path.splitext(args.out)[0] + ".gif"
    folder = os.path.splitext(args.out)[0] + "_frames"
    os.makedirs(folder, exist_ok=True)
    frame_paths = []
    for index, frame in enumerate(pixels.unit_to_bytes(frames)):
        frame_paths.append(os.path.join(folder, f"frame_{index:03d}.png"))
        pixels.save_png(frame, frame_paths[-1], scale=4)
    pixels.save_gif(frame_paths + frame_paths[::-1], gif, seconds_per_frame=0.1)
    print(f"wrote {len(frames)} images along a {args.method} path: {args.out}, {gif}")


def _serve_client(args):
    from gan_tf import serving
    from gan_tf.sampling import write_samples

    limits = dict(timeout=args.timeout, max_bytes=args.max_answer_mb * 2**20)
    if args.status:
        client = serving.RestClient(args.url, args.model, args.version, **limits)
        print(json.dumps({"status": client.status(), "metadata": client.metadata()}, indent=2))
        return
    if args.grpc:
        client = serving.GrpcClient(args.grpc, args.model, args.version, **limits)
    else:
        client = serving.RestClient(args.url, args.model, args.version, **limits)
    images, png_bytes = client.sample(args.n, args.seed, args.label, args.truncation)
    out = write_samples(images, args.out)
    average = sum(map(len, png_bytes)) // max(len(png_bytes), 1)
    print(f"received {len(png_bytes)} images (PNGs of {average} bytes on average) from {args.model}; wrote {out}")


def _train(args):
    from gan_tf.train import train

    train(config_from_args(args))


def _train_translator(args):
    from gan_tf import runs
    from gan_tf.train import train_translator

    given = {name: getattr(args, name) for name in TRANSLATION_FIELDS if getattr(args, name) is not None}
    config = TranslationConfig(**given)
    if config.resume:
        run_dir = runs.resolve_run_dir(config.resolved())
        given.update(run_name=os.path.basename(run_dir), output_dir=os.path.dirname(run_dir))
        config = runs.saved_config(run_dir, TranslationConfig).replace(**given)
    train_translator(config)


def _translate(args):
    from gan_tf import data, translate
    from gan_tf import images as pixels

    generator = translate.load_translator(args.model, upscaler=args.command == "upscale", unsafe=args.unsafe)
    side, _, channels = translate.shapes_of(generator)[0]
    image_set = data.load_inputs(args.input, side, channels)
    if args.n is not None and args.n < 1:
        raise UserError(f"--n must be a positive integer, got {args.n}")
    sources = pixels.bytes_to_model(image_set.images[:args.n])
    outputs = translate.translate_images(generator, sources)
    out = translate.write_translations(sources, outputs, args.out)
    shape = "x".join(map(str, outputs.shape[1:]))
    print(f"{args.command}d {len(outputs)} image(s) of {'x'.join(map(str, sources.shape[1:]))} -> {shape}; "
          f"wrote {out}")


def _sample(args):
    from gan_tf.sampling import load_generator, sample_unit_images, write_samples

    generator = load_generator(args.model, args.unsafe)
    unit_images = sample_unit_images(generator, args.n, args.seed, labels=args.label, truncation=args.truncation)
    out = write_samples(unit_images, args.out)
    which = f" of class {args.label}" if args.label is not None else ""
    truncated = f" at truncation {args.truncation}" if args.truncation is not None else ""
    print(f"wrote {args.n} samples{which}{truncated} to {out}")


def _style_mix(args):
    from gan_tf import images as pixels
    from gan_tf import mixing, runs

    generator = runs.load_generator(args.model, args.unsafe)
    grid, ranges = mixing.mixing_grid(generator, args.row_seeds, args.column_seeds, args.truncation)
    pixels.save_png(grid, args.out, scale=2)
    rows = len(args.row_seeds)
    parts = [f"rows {2 + index * rows}-{1 + (index + 1) * rows}: {name} styles (layers {first}-{stop - 1})"
             for index, (name, (first, stop)) in enumerate(ranges)]
    print(f"wrote {args.out}: top row the column seeds {args.column_seeds}; {'; '.join(parts)} "
          f"from the row seeds {args.row_seeds}")


def _train_classifier(args):
    from gan_tf import classifier, data

    if args.epochs < 1:
        raise UserError(f"--epochs must be a positive integer, got {args.epochs}")
    output_dir = args.out or os.path.join(classifier.CLASSIFIERS_DIR, os.path.basename(args.dataset))
    _, accuracy = classifier.train_classifier(data.load(args.dataset), epochs=args.epochs, seed=args.seed,
                                              output_dir=output_dir, verbose=2)
    print(f"held-out accuracy {accuracy:.4f}; saved to {output_dir}")


COMMANDS = {"train": _train, "train-translator": _train_translator, "translate": _translate,
            "upscale": _translate, "sample": _sample, "train-classifier": _train_classifier,
            "evaluate": _evaluate, "export": _export, "interpolate": _interpolate, "style-mix": _style_mix,
            "serve-client": _serve_client}


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        import_tensorflow_quietly()
        COMMANDS[args.command](args)
    except UserError as error:
        return _fail(str(error).splitlines()[0] if str(error) else type(error).__name__)
    except KeyboardInterrupt:
        return _fail("interrupted; the last finished epoch's checkpoint is kept (use --resume)")
    return 0
