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
process killed at any moment leaves the old file or the new one, never half of one. A write that runs
out of disk space fails the same way, leaving the old file, and raises `DiskFull`: one line naming
the file. A killed writer's temporary stays behind, hidden; the next process to hold the run folder
deletes it (`remove_stale_temporaries`), as the next export does in its model's folder.

Fault injection, for tests/test_kills.py: with `GAN_TF_KILL_AT_WRITE=PATTERN:K` in its environment a
process SIGKILLs itself in the middle of its K-th atomic write whose file name matches PATTERN (fnmatch;
`K` alone: any write): its temporary is cut to half its bytes, what a kill halfway through leaves, and
the rename never happens. Unset, it costs one environment lookup per write.
"""

import contextlib
import csv
import errno
import fnmatch
import json
import os
import re
import shutil
import signal

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
KILL_AT_WRITE = "GAN_TF_KILL_AT_WRITE"  # fault injection (module docstring); never set outside tests
_TEMPORARY = re.compile(r"\..+\.tmp-(\d+)(\.[^.]*)?")  # atomic_path's names: .<stem>.tmp-<pid><extension>


class DiskFull(UserError):
    """No space left on the device (or over quota) while writing `path`; the file is as it was before."""

    def __init__(self, path, then="run the command again"):
        super().__init__(f"no space left on device while writing {path}; free space on that disk and {then}")
        self.path = path


def _is_disk_full(error):
    """ENOSPC or EDQUOT anywhere in an exception's chain: writers such as Keras' or PIL's may wrap it."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        error = error.__cause__ or error.__context__
    return False


@contextlib.contextmanager
def hold_run_dir(run_dir, create=False):
    """One writer per run folder: create it (`create`), then hold an exclusive lock on its .lock file
    for the duration, or fail with one line if another process holds it.

    An flock belongs to the open file, so the operating system drops it when its process ends in any
    way, SIGKILL included: a crashed run never leaves its folder locked. (Without fcntl, on Windows,
    the folder is not locked.) A `DiskFull` while it is held says to resume the run with --resume.
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
        with _resume_when_disk_full():
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
        remove_stale_temporaries(run_dir)  # no other process writes here now
        with _resume_when_disk_full():
            yield  # closing the file releases the lock


@contextlib.contextmanager
def _resume_when_disk_full():
    try:
        yield
    except DiskFull as error:
        raise DiskFull(error.path, then="resume with --resume") from None


@contextlib.contextmanager
def atomic_path(path, sync=False):
    """Yield a temporary path beside `path`; on success rename it to `path`, on failure delete it.

    The temporary name is hidden (a leading dot) and keeps `path`'s extension, so writers that pick
    the format from the extension (PIL, Keras' `.keras`, numpy's `.npz`) work unchanged, and globs
    such as `epoch-*.npz` never see a half-written file. A folder is renamed too, but never over an
    existing one (TF Serving must never see a half-written version). `sync` fsyncs a file first.
    Running out of space anywhere in this (writing, fsync, rename) raises `DiskFull`.
    """
    folder, name = os.path.split(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    stem, extension = os.path.splitext(name)
    temporary = os.path.join(folder, f".{stem}.tmp-{os.getpid()}{extension}")
    try:
        yield temporary
        _kill_if_asked(temporary, path)
        if os.path.isdir(temporary):
            os.rename(temporary, path)  # fails if `path` exists and is not empty: versions never change
        else:
            if sync:
                with open(temporary, "rb") as file:
                    os.fsync(file.fileno())
            os.replace(temporary, path)
    except Exception as error:
        if _is_disk_full(error) and not isinstance(error, UserError):  # a nested write's DiskFull names its file
            raise DiskFull(path) from None
        raise
    finally:
        if os.path.isdir(temporary):
            shutil.rmtree(temporary, ignore_errors=True)
        elif os.path.exists(temporary):
            os.remove(temporary)


_matching_writes = 0  # this process's writes that matched GAN_TF_KILL_AT_WRITE's pattern


def _kill_if_asked(temporary, path):
    """The fault injection of the module docstring: SIGKILL this process at the write it names."""
    spec = os.environ.get(KILL_AT_WRITE)
    if not spec:
        return
    global _matching_writes
    pattern, _, count = spec.rpartition(":")
    if not fnmatch.fnmatch(os.path.basename(path), pattern or "*"):
        return
    _matching_writes += 1
    if _matching_writes == int(count):
        written = ([os.path.join(root, name) for root, _, names in os.walk(temporary) for name in names]
                   if os.path.isdir(temporary) else [temporary])
        for name in written:  # a folder (an export) is cut file by file
            os.truncate(name, os.path.getsize(name) // 2)
        os.kill(os.getpid(), signal.SIGKILL)


def remove_stale_temporaries(folder):
    """Delete `atomic_path` temporaries under `folder` whose writer is gone (killed mid-write); return
    their paths. A temporary's name carries its writer's pid, so one still being written (by a process on
    this machine) stays. POSIX only (elsewhere, nothing): os.kill(pid, 0) only asks there."""
    removed = []
    if os.name != "posix":
        return removed
    for root, folders, names in os.walk(folder):
        for name in folders + names:
            match = _TEMPORARY.fullmatch(name)
            if match and not _process_alive(int(match[1])):
                path = os.path.join(root, name)
                if os.path.isdir(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(path)
                removed.append(path)
        folders[:] = [name for name in folders if not _TEMPORARY.fullmatch(name)]
    return removed


def _process_alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


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

def check_folder_name(name, flag="--run-name", parent="the parent folder with --output-dir"):
    """`name` if it is one plain folder name, else a UserError: a user-given name becomes a path
    component, and `../x`, `/tmp/x` or `a/b` would put the folder outside its parent."""
    if (not name or name in (".", "..") or os.path.isabs(name) or any(sep in name for sep in "/\\")
            or "\0" in name):
        raise UserError(f"{flag} {name!r} must be a plain folder name (no '/', '..' or absolute path); "
                        f"choose {parent}")
    return name


def resolve_run_dir(config):
    """The run folder: a new numbered one for a fresh run, the existing one for --resume."""
    if config.run_name is not None:
        check_folder_name(config.run_name)
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

def load_keras_model(path, unsafe=False, compile=False):
    """`keras.models.load_model` in Keras' safe mode unless `unsafe`.

    A `Lambda` layer (or any other Python code serialized into the file) runs when the model is
    loaded, so safe mode refuses it; gan-tf's own layers are registered classes and load in safe
    mode. `safe_mode=` is passed per call: `keras.config.enable_unsafe_deserialization()` would
    switch it off for the whole process.
    """
    import keras

    import gan_tf.models  # noqa: F401 (registers gan-tf's own layers, which progan/stylegan models use)

    try:
        return keras.models.load_model(path, compile=compile, safe_mode=not unsafe)
    except (ValueError, TypeError) as error:  # Keras wraps the refusal of a nested layer in a TypeError
        message = str(error)
        unknown = re.search(r"Could not locate (class|function) '([^']*)'", message)
        if unknown:  # code from outside Keras and gan-tf, e.g. a Lambda of `os.system`: never loaded
            raise UserError(f"{path} uses the {unknown[1]} {unknown[2]!r}, which neither Keras nor gan-tf defines; "
                            "load it in Python after importing the code that registers it "
                            "(keras.saving.register_keras_serializable)") from None
        if unsafe or "safe_mode=False" not in message:
            raise
        what = ("a Lambda layer" if "`Lambda` layer" in message else
                "a TFSMLayer (an external SavedModel)" if "TFSMLayer" in message else "a Python lambda")
        raise UserError(f"{path} contains {what}, which runs arbitrary Python code when loaded; load it only "
                        "if you trust its source, with --unsafe") from None


def load_generator(path, unsafe=False):
    """A generator saved by a run: a `.keras` file, or a run folder (its generator.keras)."""
    if os.path.isdir(path) and os.path.isfile(os.path.join(path, GENERATOR_FILE)):
        path = os.path.join(path, GENERATOR_FILE)
    if not os.path.exists(path):
        raise UserError(f"no such generator file: {path}")
    if not path.endswith(".keras"):
        raise UserError(f"{path} is not a .keras file; pass runs/<name>/{GENERATOR_FILE}")
    import zipfile

    if not zipfile.is_zipfile(path):  # a .keras file is a zip archive; anything else is not one
        raise UserError(f"{path} is not a Keras model file (not a .keras archive); pass runs/<name>/{GENERATOR_FILE}")
    return load_keras_model(path, unsafe)
