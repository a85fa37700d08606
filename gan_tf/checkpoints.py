"""Per-epoch training checkpoints, written atomically, and their restore.

A checkpoint is one `.npz` file holding every variable of G, D, both optimizers (step counts and
moment estimates included) and the EMA of G, plus a JSON blob of the trainer's own state (epoch,
noise generator). It is written to a temporary name and renamed with `os.replace`, which is atomic on
POSIX: a run killed at any moment leaves either the previous checkpoint or the new one, never half
of one. Works for both training styles, which expose the same attributes.
"""

import glob
import json
import os
import re

import numpy as np
from keras import ops

CHECKPOINT_DIR = "checkpoints"
_PATTERN = re.compile(r"epoch-(\d+)\.npz$")


def _groups(trainer):
    groups = {
        "generator": trainer.generator.weights,
        "discriminator": trainer.discriminator.weights,
        "g_optimizer": trainer.g_optimizer.variables,
        "d_optimizer": trainer.d_optimizer.variables,
    }
    if getattr(trainer, "generator_average", None) is not None:
        average = trainer.generator_average
        groups["generator_average"] = list(average.averages) + [average.updates]
    return groups


def save(trainer, run_dir, epoch, state=None, keep=2):
    """Write checkpoints/epoch-NNNN.npz for a finished `epoch` (1-based); keep the newest `keep`."""
    folder = os.path.join(run_dir, CHECKPOINT_DIR)
    os.makedirs(folder, exist_ok=True)
    arrays = {f"{group}/{index}": ops.convert_to_numpy(variable)
              for group, variables in _groups(trainer).items() for index, variable in enumerate(variables)}
    arrays["state"] = np.array(json.dumps(dict(state or {}, epoch=epoch)))
    path = os.path.join(folder, f"epoch-{epoch:04d}.npz")
    temporary = os.path.join(folder, f".epoch-{epoch:04d}.tmp-{os.getpid()}.npz")
    with open(temporary, "wb") as file:
        np.savez(file, **arrays)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    for old in list_checkpoints(run_dir)[:-keep]:
        os.remove(old)
    return path


def list_checkpoints(run_dir):
    """Finished checkpoints, oldest first (temporary files of an interrupted write are ignored)."""
    paths = glob.glob(os.path.join(run_dir, CHECKPOINT_DIR, "epoch-*.npz"))
    return sorted(path for path in paths if _PATTERN.search(path))


def latest(run_dir):
    paths = list_checkpoints(run_dir)
    return paths[-1] if paths else None


def restore(trainer, path):
    """Load a checkpoint into a trainer built with the same config; returns its saved state dict."""
    with np.load(path, allow_pickle=False) as archive:
        for group, variables in _groups(trainer).items():
            for index, variable in enumerate(variables):
                key = f"{group}/{index}"
                if key not in archive:
                    raise ValueError(f"{path} does not match this model ({key} missing); "
                                     "resume with the run's own config")
                value = archive[key]
                if tuple(value.shape) != tuple(variable.shape):
                    raise ValueError(f"{path} does not match this model ({key}: {value.shape} vs "
                                     f"{tuple(variable.shape)}); resume with the run's own config")
                variable.assign(value)
        return json.loads(str(archive["state"]))


def generator_steps(path):
    """How many generator updates a checkpoint has seen (G's optimizer step counter); 0 without one."""
    if not path:
        return 0
    with np.load(path, allow_pickle=False) as archive:
        return int(archive["g_optimizer/0"]) if "g_optimizer/0" in archive else 0
