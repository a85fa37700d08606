"""Run folders: where a run lives, what it wrote, and the one way every file gets written.

    runs/<name>/config.json            the final config (--resume reads it back)
    runs/<name>/history.csv            one row per finished epoch
    runs/<name>/samples/epoch_NNNN.png a grid from fixed noise after every epoch
    runs/<name>/training.gif           those grids as an animation
    runs/<name>/loss_curves.png        losses and D's mean outputs per epoch
    runs/<name>/checkpoints/           the last two epochs' full state (gan_tf.checkpoints)
    runs/<name>/generator.keras        the final generator (EMA weights when EMA is on)
    runs/<name>/generator_best.keras   the generator with the lowest FD seen (with --fd-every)
    runs/<name>/discriminator.keras    the final discriminator

Every file a run (or an export, a sample, a report) writes goes through `atomic_path`: written under a
hidden temporary name in the same folder and renamed into place, which is atomic on POSIX, so a
process killed at any moment leaves the old file or the new one, never half of one.
"""

import contextlib
import csv
import json
import os
import shutil

from gan_tf.config import TrainConfig, TranslationConfig
from gan_tf.errors import UserError

CONFIG_FILE = "config.json"
HISTORY_FILE = "history.csv"
GENERATOR_FILE = "generator.keras"
BEST_GENERATOR_FILE = "generator_best.keras"
DISCRIMINATOR_FILE = "discriminator.keras"
SAMPLES_DIR = "samples"
GIF_FILE = "training.gif"
TENSORBOARD_DIR = "tensorboard"  # event files of --tensorboard
LOSS_PLOT_FILE = "loss_curves.png"
CHECKPOINT_DIR = "checkpoints"
LOCK_FILE = ".lock"  # held (flock) by the process writing the run; holds its pid


@contextlib.contextmanager
def hold_run_dir(run_dir, create=False):
    """One writer per run folder: create it (`create`), then hold an exclusive lock on its .lock file
    for the duration, or fail with one line if another process holds it.

    An flock belongs to the open file, so the operating system drops it when its process ends in any
    way, SIGKILL included: a crashed run never leaves its folder locked. (Without fcntl, on Windows,
    the folder is not locked.)
    """
    if create:
        try:
            os.makedirs(run_dir)
        except FileExistsError:
            raise UserError(f"run folder {run_dir} already exists; pass --resume to continue it or choose "
                            "another --run-name") from None
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(os.path.join(run_dir, LOCK_FILE), "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            raise UserError(f"run folder {run_dir} is being written by another gan-tf process"
                            f"{f' (pid {holder})' if holder.isdigit() else ''}; wait for it to finish, or "
                            "use another --run-name") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield  # closing the file releases the lock


@contextlib.contextmanager
def atomic_path(path, sync=False):
    """Yield a temporary path beside `path`; on success rename it to `path`, on failure delete it.

    The temporary name is hidden (a leading dot) and keeps `path`'s extension, so writers that pick
    the format from the extension (PIL, Keras' `.keras`, numpy's `.npz`) work unchanged, and globs
    such as `epoch-*.npz` never see a half-written file. A folder is renamed too, but never over an
    existing one (TF Serving must never see a half-written version). `sync` fsyncs a file first.
    """
    folder, name = os.path.split(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    stem, extension = os.path.splitext(name)
    temporary = os.path.join(folder, f".{stem}.tmp-{os.getpid()}{extension}")
    try:
        yield temporary
        if os.path.isdir(temporary):
            os.rename(temporary, path)  # fails if `path` exists and is not empty: versions never change
        else:
            if sync:
                with open(temporary, "rb") as file:
                    os.fsync(file.fileno())
            os.replace(temporary, path)
    finally:
        if os.path.isdir(temporary):
            shutil.rmtree(temporary, ignore_errors=True)
        elif os.path.exists(temporary):
            os.remove(temporary)


def write_text(path, text):
    """Write a text file atomically."""
    with atomic_path(path) as temporary, open(temporary, "w") as file:
        file.write(text)
    return path


def write_json(path, value):
    return write_text(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


def save_model(model, path):
    """`model.save(path)` (a `.keras` file), atomically."""
    with atomic_path(path) as temporary:
        model.save(temporary)
    return path


# Run folders -------------------------------------------------------------------------------------

def resolve_run_dir(config):
    """The run folder: a new numbered one for a fresh run, the existing one for --resume."""
    base = config.run_name or _default_run_name(config)
    if config.resume:
        if config.run_name:
            candidates = [os.path.join(config.output_dir, config.run_name)]
        else:  # the most recently written run of this dataset and style
            candidates = sorted(
                (os.path.join(config.output_dir, name) for name in _listdir(config.output_dir)
                 if name == base or name.startswith(f"{base}-")),
                key=os.path.getmtime, reverse=True)
        for candidate in candidates:
            if _has_checkpoint(candidate):
                return candidate
        where = candidates[0] if config.run_name else os.path.join(config.output_dir, f"{base}*")
        raise UserError(f"--resume: no checkpoint found in {where}; train without --resume "
                        "first, or name the run with --run-name")
    run_dir = os.path.join(config.output_dir, base)
    if config.run_name and os.path.exists(run_dir):
        raise UserError(f"run folder {run_dir} already exists; pass --resume to continue it or "
                        "choose another --run-name")
    number = 2
    while os.path.exists(run_dir):
        run_dir = os.path.join(config.output_dir, f"{base}-{number}")
        number += 1
    return run_dir


def _default_run_name(config):
    if hasattr(config, "task"):  # a TranslationConfig
        source = "" if config.task == "super-resolution" else f"{_dataset_label(config.source)}-to-"
        return f"{source}{_dataset_label(config.target)}-{config.task}"
    return f"{_dataset_label(config.dataset)}-{config.preset or config.style}"


def _has_checkpoint(run_dir):
    folder = os.path.join(run_dir, CHECKPOINT_DIR)
    return any(name.startswith("epoch-") and name.endswith(".npz") for name in _listdir(folder))


def _listdir(folder):
    return os.listdir(folder) if os.path.isdir(folder) else []


def _dataset_label(dataset):
    return os.path.splitext(os.path.basename(os.path.normpath(dataset)))[0] or "data"


def write_config(run_dir, config):
    return write_text(os.path.join(run_dir, CONFIG_FILE), config.to_json() + "\n")


def saved_config(run_dir, config_class=None):
    """The config a run was trained with (its config.json): `config_class`'s, by default a
    `TranslationConfig` for a translator's run (it has a `task`) and a `TrainConfig` otherwise."""
    path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.exists(path):
        raise UserError(f"{path} is missing; cannot tell how {run_dir} was trained (is it a run folder?)")
    with open(path) as file:
        try:
            values = json.load(file)
        except ValueError as error:
            raise UserError(f"{path} is not valid JSON ({error}); restore it or start a new run") from None
    if config_class is None:
        config_class = TranslationConfig if "task" in values else TrainConfig
    return config_class.from_dict(values)


# History -----------------------------------------------------------------------------------------

def read_history(run_dir):
    """history.csv as a list of dicts of strings (one per finished epoch); [] if there is none."""
    path = os.path.join(run_dir, HISTORY_FILE)
    if not os.path.exists(path):
        return []
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def write_history(run_dir, rows):
    """Rewrite history.csv with `rows` (dicts; the columns are the union of their keys, in order)."""
    names = list(dict.fromkeys(name for row in rows for name in row))
    path = os.path.join(run_dir, HISTORY_FILE)
    with atomic_path(path) as temporary, open(temporary, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=names)
        writer.writeheader()
        writer.writerows(rows)
    return path


# Artifacts ---------------------------------------------------------------------------------------

def load_generator(path):
    """A generator saved by a run: a `.keras` file, or a run folder (its generator.keras)."""
    import keras

    if os.path.isdir(path) and os.path.isfile(os.path.join(path, GENERATOR_FILE)):
        path = os.path.join(path, GENERATOR_FILE)
    if not os.path.exists(path):
        raise UserError(f"no such generator file: {path}")
    if not path.endswith(".keras"):
        raise UserError(f"{path} is not a .keras file; pass runs/<name>/{GENERATOR_FILE}")
    import zipfile

    if not zipfile.is_zipfile(path):  # a .keras file is a zip archive; anything else is not one
        raise UserError(f"{path} is not a Keras model file (not a .keras archive); pass runs/<name>/{GENERATOR_FILE}")
    import gan_tf.models  # noqa: F401 (registers gan-tf's own layers, which progan/stylegan models use)

    return keras.models.load_model(path, compile=False)
