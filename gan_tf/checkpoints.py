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

Not saved: the positions of the random streams of Dropout and DiffAugment layers (Keras keeps them
outside `model.weights`), so a resumed run with those layers draws other dropout masks and
augmentations than an uninterrupted one would; the noise of G is stateless and does continue.

Written to a hidden temporary name, fsynced and renamed (`gan_tf.runs.atomic_path`): a run killed at
any moment leaves either the previous checkpoint or the new one, never half of one. Works for both
training styles, which expose the same attributes.
"""

import glob
import json
import os
import re

import numpy as np
from keras import ops

from gan_tf import runs
from gan_tf.errors import UserError

FORMAT = "gan-tf checkpoint 2 (variables by name)"
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
    optimizers = (trainer.checkpoint_optimizers() if hasattr(trainer, "checkpoint_optimizers")
                  else {"g_optimizer": trainer.g_optimizer, "d_optimizer": trainer.d_optimizer})
    groups.update({group: _optimizer_variables(optimizer, group) for group, optimizer in optimizers.items()})
    if getattr(trainer, "ema", None) is not None:
        groups["ema"] = _by_name(list(trainer.ema.averages) + [trainer.ema.updates], "ema", owner_prefix=True)
    return groups


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
    """Write checkpoints/epoch-NNNN.npz for a finished `epoch` (1-based); keep the newest `keep`."""
    arrays = {f"{group}/{name}": ops.convert_to_numpy(variable)
              for group, variables in variable_groups(trainer).items() for name, variable in variables.items()}
    arrays["format"] = np.array(FORMAT)
    arrays["state"] = np.array(json.dumps(dict(state or {}, epoch=epoch)))
    path = os.path.join(run_dir, runs.CHECKPOINT_DIR, f"epoch-{epoch:04d}.npz")
    with runs.atomic_path(path, sync=True) as temporary, open(temporary, "wb") as file:
        np.savez(file, **arrays)
    for old in list_checkpoints(run_dir)[:-keep]:
        os.remove(old)
    return path


def list_checkpoints(run_dir):
    """Finished checkpoints, oldest first (temporary files of an interrupted write are hidden)."""
    paths = glob.glob(os.path.join(run_dir, runs.CHECKPOINT_DIR, "epoch-*.npz"))
    return sorted(path for path in paths if _PATTERN.search(path))


def latest(run_dir):
    paths = list_checkpoints(run_dir)
    return paths[-1] if paths else None


def restore(trainer, path):
    """Load a checkpoint into a trainer built with the same config; returns its saved state dict.

    Every variable is matched by name and checked for shape and dtype first; any difference raises a
    `UserError` naming the first one, and then nothing has been assigned.
    """
    groups = variable_groups(trainer)
    with np.load(path, allow_pickle=False) as archive:
        if "format" not in archive or str(archive["format"]) != FORMAT:
            raise UserError(f"{path} was written by an older gan-tf that stored variables by position; "
                            "it cannot be restored safely: start a new run (or use that gan-tf version)")
        expected = {f"{group}/{name}": variable for group, variables in groups.items()
                    for name, variable in variables.items()}
        stored = set(archive.files) - {"format", "state"}
        optional = {key for key in set(expected) | stored if key.split("/", 1)[-1].startswith(LOSS_SCALE_PREFIX)}
        stored -= optional - set(expected)  # a float16 checkpoint resumed in another precision
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
