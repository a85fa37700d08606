"""Per-epoch training checkpoints keyed by variable name, written atomically, and their restore.

A checkpoint is one `.npz` file holding every variable of G, D, both optimizers (step counts and
moment estimates included; a translator's `checkpoint_models()` and `checkpoint_optimizers()` add
CycleGAN's F, second D and their optimizers) and the EMA of G, each under `<group>/<variable path>` (for example
`generator/up1_conv/kernel`, `g_optimizer/up1_conv_kernel_momentum`), plus a JSON blob of the
trainer's own state (epoch, the classic style's noise generator). Restoring matches by name and
checks every shape and dtype before it assigns anything: a checkpoint of other models fails with one
line naming the first mismatch, never a silent or partial restore, and two same-shaped variables
created in another order still land in their own places.

Why not `tf.train.Checkpoint`: it keys variables by their position in each layer's attribute lists
(`layer_with_weights-3`), which is exactly the positional matching this format replaces, and its
mismatch reports are warnings at exit rather than an error before any assignment. A single `.npz`
also stays readable with numpy alone.

The positions of the layers' random streams (Dropout, DiffAugment, StyleGAN's noise: Keras keeps
them outside `model.weights`) are saved too, under `rng/<model>/<layer>/seed`, and the noise of G is
keyed by the step: a resumed run draws the same dropout masks, augmentations and noise as an
uninterrupted one, and ends with the same weights bit for bit (`tests/test_resume_exact.py` checks
both styles with DiffAugment, Dropout and the EMA on).

Written to a hidden temporary name, fsynced and renamed (`gan_tf.runs.atomic_path`): a run killed at
any moment leaves either the previous checkpoint or the new one, never half of one. Works for both
training styles, which expose the same attributes.

A rename protects against a kill, not against the disk: a file can still be truncated, zeroed or
changed afterwards (a copy cut short, a disk that failed, a file edited by hand). So each checkpoint
gets a manifest beside it, `epoch-NNNN.npz.sha256` (`sha256sum -c` reads it), written just before the
checkpoint is renamed into place; a checkpoint is usable only with a manifest that matches. `latest`
skips an unusable newest checkpoint for the one before it with one warning line (so two are always
kept) and fails with one line when none is usable. Checkpoints of gan-tf versions without manifests
(format 2) are checked by reading every array instead (the zip's CRC-32s).
"""

import glob
import hashlib
import json
import os
import re
import warnings
import zipfile

import numpy as np
from keras import ops

from gan_tf import runs
from gan_tf.errors import UserError

FORMAT = "gan-tf checkpoint 3 (variables by name, sha256 manifest)"
UNSEALED_FORMAT = "gan-tf checkpoint 2 (variables by name)"  # the same, written before manifests existed
MANIFEST_SUFFIX = ".sha256"
_PATTERN = re.compile(r"epoch-(\d+)\.npz$")


def variable_groups(trainer):
    """{group: {name: variable}} for everything a checkpoint holds, keyed by stable names.

    A model's weights are keyed by their paths (`layer/weight`), which the builders make stable by
    naming every layer. An optimizer's or the EMA's variables carry their owner's auto-numbered name
    first (`adam_3/...`); the key drops it.
    """
    models = (trainer.checkpoint_models() if hasattr(trainer, "checkpoint_models")
              else {"generator": trainer.generator, "discriminator": trainer.discriminator})
    groups = {group: _by_name(model.weights, group) for group, model in models.items()}
    groups[RNG_GROUP] = _random_streams(models)
    optimizers = (trainer.checkpoint_optimizers() if hasattr(trainer, "checkpoint_optimizers")
                  else {"g_optimizer": trainer.g_optimizer, "d_optimizer": trainer.d_optimizer})
    groups.update({group: _optimizer_variables(optimizer, group) for group, optimizer in optimizers.items()})
    if getattr(trainer, "ema", None) is not None:
        groups["ema"] = _by_name(list(trainer.ema.averages) + [trainer.ema.updates], "ema", owner_prefix=True)
    return groups


# The positions of the layers' random streams (`keras.random.SeedGenerator`: DiffAugment, Dropout,
# StyleGAN's noise), which Keras keeps outside `model.weights`. Optional on restore: a checkpoint of a
# gan-tf that did not save them resumes with the streams where a fresh build puts them (as it always
# did), and a resume may add or drop --augment or --dropout.
RNG_GROUP = "rng"


def _random_streams(models):
    """{"<model>/<layer>/seed": the state variable} of every SeedGenerator in the models' layers.

    A generator's own name is numbered by how many the process built before (`seed_generator_7`), so
    the key is its layer's name, which the builders make stable.
    """
    named, seen = {}, set()
    for group, model in models.items():
        for layer in model._flatten_layers(include_self=True, recursive=True):
            for index, generator in enumerate(getattr(layer, "_seed_generators", ())):
                if id(generator) in seen:  # a layer shared by two models: saved once, under the first
                    continue
                seen.add(id(generator))
                name = f"{group}/{layer.name}/seed{f'_{index}' if index else ''}"
                if name in named:
                    raise ValueError(f"two random layers of {group} share the name {layer.name!r}; name the "
                                     "layers of the model uniquely so a checkpoint can tell them apart")
                named[name] = generator.state
    return named


# A float16 run's loss scale: optional on restore, so a run can change --precision when it resumes
# (the weights are float32 in every policy); a missing scale starts afresh.
LOSS_SCALE_PREFIX = "loss_scale/"


def _optimizer_variables(optimizer, group):
    """An optimizer's variables by name; a float16 run's `LossScaleOptimizer` keeps its inner optimizer's
    names (so `g_optimizer/iteration` counts G's applied updates) and adds its scale under `loss_scale/`."""
    inner = getattr(optimizer, "inner_optimizer", None)
    if inner is None:
        return _by_name(optimizer.variables, group, owner_prefix=True)
    named = _by_name(inner.variables, group, owner_prefix=True)
    named.update({f"{LOSS_SCALE_PREFIX}dynamic_scale": optimizer.dynamic_scale,
                  f"{LOSS_SCALE_PREFIX}step_counter": optimizer.step_counter})
    return named


def _by_name(variables, group, owner_prefix=False):
    named = {}
    for variable in variables:
        name = variable.path.split("/", 1)[1] if owner_prefix and "/" in variable.path else variable.path
        if name in named:
            raise ValueError(f"two variables of {group} share the name {name!r}; name the layers of the "
                             "model uniquely so a checkpoint can tell them apart")
        named[name] = variable
    return named


def save(trainer, run_dir, epoch, state=None, keep=2):
    """Write checkpoints/epoch-NNNN.npz for a finished `epoch` (1-based) and its manifest; keep the
    newest `keep` (at least two, so a newest one found corrupt has a previous one to fall back to).

    If either write fails (a full disk: `gan_tf.runs.DiskFull`), nothing of this epoch is left behind
    and no older checkpoint has been removed.
    """
    arrays = {f"{group}/{name}": ops.convert_to_numpy(variable)
              for group, variables in variable_groups(trainer).items() for name, variable in variables.items()}
    arrays["format"] = np.array(FORMAT)
    arrays["state"] = np.array(json.dumps(dict(state or {}, epoch=epoch)))
    path = os.path.join(run_dir, runs.CHECKPOINT_DIR, f"epoch-{epoch:04d}.npz")
    _discard(path)  # an earlier, unusable epoch-NNNN (a resume fell back past it): never pair it with a new half
    try:
        with runs.atomic_path(path, sync=True) as temporary:
            with open(temporary, "wb") as file:
                np.savez(file, **arrays)
            # The manifest first, the checkpoint renamed into place after it: a checkpoint never lacks one.
            with runs.atomic_path(path + MANIFEST_SUFFIX, sync=True) as manifest, open(manifest, "w") as file:
                file.write(f"{_sha256(temporary)}  {os.path.basename(path)}\n")
    except BaseException:
        _discard(path)
        raise
    for old in list_checkpoints(run_dir)[:-max(keep, 2)]:
        _discard(old)
    # A manifest whose checkpoint is gone (a run killed between the two removals of `_discard`).
    for manifest in glob.glob(os.path.join(run_dir, runs.CHECKPOINT_DIR, f"epoch-*.npz{MANIFEST_SUFFIX}")):
        if not os.path.exists(manifest[:-len(MANIFEST_SUFFIX)]):
            _discard(manifest[:-len(MANIFEST_SUFFIX)])
    return path


def _discard(path):
    """Remove a checkpoint and then its manifest, whichever exist."""
    for name in (path, path + MANIFEST_SUFFIX):
        try:
            os.remove(name)
        except FileNotFoundError:
            pass


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def list_checkpoints(run_dir):
    """Checkpoint files, oldest first (temporary files of an interrupted write are hidden); see `latest`
    for the newest one that is usable."""
    paths = glob.glob(os.path.join(run_dir, runs.CHECKPOINT_DIR, "epoch-*.npz"))
    return sorted(path for path in paths if _PATTERN.search(path))


def problem(path):
    """Why the checkpoint at `path` cannot be restored (a short phrase), or None when it is usable.

    With a manifest: the file's sha256 must match it. Without one: a format-3 checkpoint has lost it
    (the manifest is written first), so it cannot be trusted; an older one must read back whole.
    """
    manifest = path + MANIFEST_SUFFIX
    if not os.path.exists(path):
        return "is missing (only its manifest is left: its write was cut off, or it was deleted)"
    if os.path.getsize(path) == 0:
        return "is empty (0 bytes)"
    if os.path.exists(manifest):
        with open(manifest, errors="replace") as file:
            expected = file.read().split(" ", 1)[0].strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", expected):
            return f"has an unreadable manifest ({os.path.basename(manifest)})"
        if _sha256(path) != expected:
            return "does not match its sha256 manifest (truncated or changed on disk)"
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()  # reads every member and checks its CRC-32
            if damaged is not None:
                return f"cannot be read ({damaged} fails its CRC check)"
        with np.load(path, allow_pickle=False) as archive:
            written = str(archive["format"]) if "format" in archive.files else None
    except Exception as error:  # zipfile, zlib and numpy each have their own ways to fail on a bad file
        return f"cannot be read ({type(error).__name__}: {error})".replace("\n", " ")
    if written == FORMAT:
        return f"has lost its manifest ({os.path.basename(manifest)}), so it cannot be checked"
    return None  # an older gan-tf's checkpoint, whole; `restore` judges its format


def latest(run_dir):
    """The newest usable checkpoint of a run (see `problem`), or None when it has none at all.

    Skipping an unusable one takes one warning line naming it and the one used instead; when none is
    usable, a `UserError`.
    """
    folder = os.path.join(run_dir, runs.CHECKPOINT_DIR)
    manifests = glob.glob(os.path.join(folder, f"epoch-*.npz{MANIFEST_SUFFIX}"))
    candidates = sorted(set(list_checkpoints(run_dir)) | {
        path[:-len(MANIFEST_SUFFIX)] for path in manifests if _PATTERN.search(path[:-len(MANIFEST_SUFFIX)])})
    skipped = []
    for path in reversed(candidates):
        reason = problem(path)
        if reason is None:
            if skipped:
                _warn(f"{_describe(skipped)}; using {os.path.basename(path)} instead", folder)
            return path
        skipped.append((path, reason))
    if skipped:
        raise UserError(f"no usable checkpoint in {folder}: {_describe(skipped)}; start a fresh run (without "
                        "--resume, or under another --run-name)")
    return None


def _describe(skipped):
    (first, reason), others = skipped[0], skipped[1:]
    return f"checkpoint {first} {reason}" + "".join(
        f", and {os.path.basename(path)} {why}" for path, why in others)


def _warn(message, folder):
    """A warning shown as one line: attributed to the checkpoint folder, which has no source line to
    print under it (a plain `warnings.warn` adds the calling line of code)."""
    warnings.warn_explicit(message, UserWarning, filename=folder, lineno=0)


def restore(trainer, path):
    """Load a checkpoint into a trainer built with the same config; returns its saved state dict.

    Every variable is matched by name and checked for shape and dtype first; any difference raises a
    `UserError` naming the first one, and then nothing has been assigned.
    """
    groups = variable_groups(trainer)
    with np.load(path, allow_pickle=False) as archive:
        if "format" not in archive or str(archive["format"]) not in (FORMAT, UNSEALED_FORMAT):
            raise UserError(f"{path} was written by an older gan-tf that stored variables by position; "
                            "it cannot be restored safely: start a new run (or use that gan-tf version)")
        expected = {f"{group}/{name}": variable for group, variables in groups.items()
                    for name, variable in variables.items()}
        stored = set(archive.files) - {"format", "state"}
        optional = {key for key in set(expected) | stored
                    if key.split("/", 1)[-1].startswith(LOSS_SCALE_PREFIX) or key.startswith(f"{RNG_GROUP}/")}
        stored -= optional - set(expected)  # a float16 checkpoint resumed in another precision; a dropped stream
        for key, variable in expected.items():
            if key not in stored and key in optional:
                continue
            if key not in stored:
                raise UserError(f"{path} does not match these models: it has no {key}; resume with the "
                                "run's own config (or start a new run)")
            shape, dtype = archive[key].shape, archive[key].dtype
            if tuple(shape) != tuple(variable.shape) or dtype != np.dtype(variable.dtype):
                raise UserError(f"{path} does not match these models: {key} is {dtype}{list(shape)} there "
                                f"and {variable.dtype}{list(variable.shape)} here; resume with the run's own config")
        extra = sorted(stored - set(expected))
        if extra:
            raise UserError(f"{path} does not match these models: it has {extra[0]}, which they lack"
                            f"{f' (and {len(extra) - 1} more)' if len(extra) > 1 else ''}; resume with the "
                            "run's own config")
        for key, variable in expected.items():
            if key in stored:
                variable.assign(archive[key])
        return json.loads(str(archive["state"]))


def generator_steps(path):
    """How many generator updates a checkpoint has seen (G's optimizer step counter); 0 without one."""
    if not path:
        return 0
    with np.load(path, allow_pickle=False) as archive:
        return int(archive["g_optimizer/iteration"]) if "g_optimizer/iteration" in archive else 0
