"""Damaged checkpoints and full disks: a run falls back to its previous checkpoint, or stops with one line,
and never loses a finished file.

The full disk is simulated: `open` is patched so that writing the hidden temporary file of one chosen
target (see `gan_tf.runs.atomic_path`) fails with ENOSPC after a few bytes, as a real disk would.
"""

import builtins
import errno
import io
import os
import types
import warnings

import keras
import numpy as np
import pytest
from conftest import run_cli, tiny_config

from gan_tf import checkpoints, runs
from gan_tf.errors import UserError
from gan_tf.train import train

pytestmark = pytest.mark.faults


# Helpers -----------------------------------------------------------------------------------------

def _trainer(width=3):
    """G, D and their Adams as a checkpoint sees them, without the cost of a real trainer."""
    def model(name):
        z = keras.Input((width,), name="z")
        return keras.Model(z, keras.layers.Dense(width, name="dense")(z), name=name)

    generator, discriminator = model("generator"), model("discriminator")
    g_optimizer, d_optimizer = keras.optimizers.Adam(), keras.optimizers.Adam()
    g_optimizer.build(generator.trainable_variables)
    d_optimizer.build(discriminator.trainable_variables)
    return types.SimpleNamespace(generator=generator, discriminator=discriminator, g_optimizer=g_optimizer,
                                 d_optimizer=d_optimizer, ema=None)


def _save_epochs(trainer, run_dir, epochs, keep=2):
    """Checkpoints for `epochs`, each with G's kernel filled with its epoch number (to tell them apart)."""
    for epoch in epochs:
        trainer.generator.get_layer("dense").kernel.assign(np.full((3, 3), epoch, np.float32))
        checkpoints.save(trainer, run_dir, epoch, keep=keep)
    return os.path.join(run_dir, runs.CHECKPOINT_DIR)


def _files(folder):
    """{relative path: bytes} of every finished (not hidden) file under `folder`."""
    found = {}
    for root, _, names in os.walk(folder):
        for name in names:
            if not name.startswith("."):
                path = os.path.join(root, name)
                with open(path, "rb") as file:
                    found[os.path.relpath(path, folder)] = file.read()
    return found


def _assert_nothing_lost(before, folder, fault_tally):
    """Every file of `before` ({relative path: bytes}) is still in `folder`, byte-identical."""
    after = _files(folder)
    lost = [name for name in before if after.get(name) != before[name]]
    if lost:
        fault_tally.file_lost(len(lost))
    assert not lost, f"finished files lost or changed: {lost}"


def _leftovers(folder):
    """Hidden temporary files (`atomic_path`'s) anywhere under `folder`."""
    return [name for _, _, names in os.walk(folder) for name in names if ".tmp-" in name]


def _damage(path, how):
    """Damage one finished checkpoint the way a disk, a copy or a kill might."""
    with open(path, "rb") as file:
        content = file.read()
    if how == "truncated":
        content = content[:len(content) // 2]
    elif how == "flipped byte":  # in the middle of the arrays: only a checksum notices
        middle = len(content) // 2
        content = content[:middle] + bytes([content[middle] ^ 0x01]) + content[middle + 1:]
    elif how == "zero bytes":
        content = b""
    elif how == "manifest missing":
        os.remove(path + checkpoints.MANIFEST_SUFFIX)
        return
    elif how == "manifest garbled":
        path, content = path + checkpoints.MANIFEST_SUFFIX, b"\x00 not a digest\n"
    elif how == "data file missing":
        os.remove(path)
        return
    with open(path, "wb") as file:
        file.write(content)


def _latest_with_warnings(run_dir):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = checkpoints.latest(run_dir)
    return path, [str(warning.message) for warning in caught]


class _FullDisk(io.FileIO):
    """A file on a disk with `room` bytes left: writes past it are cut short, then fail with ENOSPC."""

    room = 16

    def write(self, data):
        left = self.room - self.tell()
        if left <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self.name)
        return super().write(memoryview(data).cast("B")[:left])


@pytest.fixture
def full_disk(monkeypatch):
    """`full_disk(target, armed=None, on_first_write=None, room=16)`: every write of `target`'s temporary
    file (once `armed()` says so) runs out of space after `room` bytes; `on_first_write()` runs once, just
    before the first; returns the list of the paths hit."""
    real_open = builtins.open

    def fill(target, armed=None, on_first_write=None, room=_FullDisk.room):
        folder, name = os.path.split(os.path.abspath(target))
        stem, extension = os.path.splitext(name)
        hits = []

        def victim(file):
            if not isinstance(file, (str, os.PathLike)):
                return False
            where, base = os.path.split(os.path.abspath(os.fspath(file)))
            return where == folder and base.startswith(f".{stem}.tmp-") and base.endswith(extension)

        def open_(file, mode="r", buffering=-1, encoding=None, errors=None, newline=None, closefd=True,
                  opener=None):
            if not any(flag in mode for flag in "wxa+") or not victim(file) or (armed and not armed()):
                return real_open(file, mode, buffering, encoding, errors, newline, closefd, opener)
            if not hits and on_first_write is not None:
                on_first_write()
            hits.append(os.fspath(file))
            raw = _FullDisk(file, mode.replace("b", "").replace("t", ""), closefd, opener=opener)
            raw.room = room
            buffered = io.BufferedRandom(raw) if "+" in mode else io.BufferedWriter(raw)
            return buffered if "b" in mode else io.TextIOWrapper(buffered, encoding or "utf-8", errors, newline)

        monkeypatch.setattr(builtins, "open", open_)
        monkeypatch.setattr(io, "open", open_)
        return hits

    return fill


# Item 3: a damaged checkpoint ----------------------------------------------------------------------

DAMAGES = ["truncated", "flipped byte", "zero bytes", "manifest missing", "manifest garbled", "data file missing"]


@pytest.mark.parametrize("how", DAMAGES)
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_with_one_warning(tmp_path, fault_tally, how):
    run_dir, trainer = str(tmp_path), _trainer()
    folder = _save_epochs(trainer, run_dir, [1, 2])
    before = _files(folder)
    _damage(os.path.join(folder, "epoch-0002.npz"), how)
    fault_tally.bad_input()
    path, messages = _latest_with_warnings(run_dir)
    assert path == os.path.join(folder, "epoch-0001.npz")
    assert len(messages) == 1 and "\n" not in messages[0], messages
    assert "epoch-0002.npz" in messages[0] and "using epoch-0001.npz" in messages[0]
    restored = _trainer()
    assert checkpoints.restore(restored, path)["epoch"] == 1
    np.testing.assert_array_equal(np.asarray(restored.generator.get_layer("dense").kernel), np.ones((3, 3)))
    _assert_nothing_lost({name: data for name, data in before.items() if "0001" in name}, folder, fault_tally)


def test_two_checkpoints_are_kept_even_when_asked_for_one(tmp_path):
    folder = _save_epochs(_trainer(), str(tmp_path), [1, 2, 3], keep=1)
    assert sorted(os.listdir(folder)) == ["epoch-0002.npz", "epoch-0002.npz.sha256",
                                          "epoch-0003.npz", "epoch-0003.npz.sha256"]


def test_a_manifest_left_without_its_checkpoint_is_removed_by_the_next_save(tmp_path):
    """A run killed between removing an old checkpoint and its manifest leaves the manifest alone."""
    folder = _save_epochs(_trainer(), str(tmp_path), (1, 2, 3))
    orphan = os.path.join(folder, "epoch-0001.npz" + checkpoints.MANIFEST_SUFFIX)
    with open(orphan, "w") as file:
        file.write("0" * 64 + "  epoch-0001.npz\n")
    _save_epochs(_trainer(), str(tmp_path), (4,))
    assert sorted(os.listdir(folder)) == [f"epoch-000{n}.npz{suffix}" for n in (3, 4)
                                          for suffix in ("", checkpoints.MANIFEST_SUFFIX)]


def test_no_usable_checkpoint_is_one_user_error_line(tmp_path, fault_tally):
    folder = _save_epochs(_trainer(), str(tmp_path), [1, 2])
    _damage(os.path.join(folder, "epoch-0002.npz"), "flipped byte")
    _damage(os.path.join(folder, "epoch-0001.npz"), "truncated")
    fault_tally.bad_input(2)
    with pytest.raises(UserError) as error:
        checkpoints.latest(str(tmp_path))
    message = str(error.value)
    assert "\n" not in message and "epoch-0002.npz" in message and "epoch-0001.npz" in message
    assert "fresh run" in message and "--run-name" in message


def _unseal(path):
    """Rewrite a checkpoint as a gan-tf without manifests wrote it: format 2, no manifest."""
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files}
    arrays["format"] = np.array(checkpoints.UNSEALED_FORMAT)
    np.savez(path, **arrays)
    os.remove(path + checkpoints.MANIFEST_SUFFIX)


@pytest.mark.parametrize("how", [None, "flipped byte", "truncated"])
def test_a_checkpoint_from_before_manifests_resumes_and_is_checked_by_loading(tmp_path, fault_tally, how):
    run_dir = str(tmp_path)
    folder = _save_epochs(_trainer(), run_dir, [1, 2])
    for name in ("epoch-0001.npz", "epoch-0002.npz"):
        _unseal(os.path.join(folder, name))
    if how:
        _damage(os.path.join(folder, "epoch-0002.npz"), how)
        fault_tally.bad_input()
    path, messages = _latest_with_warnings(run_dir)
    assert os.path.basename(path) == ("epoch-0001.npz" if how else "epoch-0002.npz")
    assert len(messages) == (1 if how else 0), messages
    assert checkpoints.restore(_trainer(), path)["epoch"] == (1 if how else 2)


def test_the_next_save_replaces_an_unusable_checkpoint_whole(tmp_path, fault_tally):
    run_dir, trainer = str(tmp_path), _trainer()
    folder = _save_epochs(trainer, run_dir, [1, 2])
    _damage(os.path.join(folder, "epoch-0002.npz"), "truncated")
    fault_tally.bad_input()
    assert os.path.basename(_latest_with_warnings(run_dir)[0]) == "epoch-0001.npz"
    _save_epochs(trainer, run_dir, [2])  # the resumed run finishes epoch 2 again
    path, messages = _latest_with_warnings(run_dir)
    assert os.path.basename(path) == "epoch-0002.npz" and messages == []
    assert checkpoints.restore(_trainer(), path)["epoch"] == 2


def test_train_resumes_from_the_checkpoint_before_a_corrupt_one(tmp_path, digits_npz, fault_tally):
    config = tiny_config(tmp_path, digits_npz, epochs=2, ema_decay=0.0)  # no EMA: a faster run
    run_dir = train(config, verbose=False).run_dir
    folder = os.path.join(run_dir, runs.CHECKPOINT_DIR)
    first = _files(folder)["epoch-0001.npz"]
    _damage(os.path.join(folder, "epoch-0002.npz"), "flipped byte")
    fault_tally.bad_input()
    with pytest.warns(UserWarning) as caught:  # epochs=1: restore epoch 1 and stop, without a second fit
        result = train(config.replace(resume=True, epochs=1), verbose=False)
    assert [str(warning.message) for warning in caught if "checkpoint" in str(warning.message)] == [
        f"checkpoint {folder}/epoch-0002.npz does not match its sha256 manifest (truncated or changed on disk); "
        "using epoch-0001.npz instead"]
    generator = runs.load_generator(result.generator_path)  # G as restored from epoch 1
    with np.load(os.path.join(folder, "epoch-0001.npz")) as archive:
        for weight in generator.weights:
            np.testing.assert_array_equal(np.asarray(weight), archive[f"generator/{weight.path}"])
    _assert_nothing_lost({"epoch-0001.npz": first}, folder, fault_tally)


# Item 5: a full disk -----------------------------------------------------------------------------

def _write_png(path, value):
    from gan_tf import images

    images.save_png(np.full((6, 6, 1), value, np.uint8), path)


def _write_gif(path, value):
    from gan_tf import images

    frames = [os.path.join(os.path.dirname(path), f"frame{value}-{index}.png") for index in range(2)]
    for index, frame in enumerate(frames):
        _write_png(frame, value * 100 + index * 50)  # frames that differ: PIL merges equal ones
    images.save_gif(frames, path)


def _write_history(path, value):
    runs.write_history(os.path.dirname(path), [{"epoch": 1, "d_loss": value}])


def _write_config(path, value):
    from gan_tf.config import TrainConfig

    runs.write_config(os.path.dirname(path), TrainConfig(seed=value))


def _write_model(path, value):
    z = keras.Input((2,), name="z")
    model = keras.Model(z, keras.layers.Dense(2, name="dense", bias_initializer=keras.initializers.Constant(value))(z))
    runs.save_model(model, path)


WRITERS = {"samples/epoch_0002.png": _write_png, "training.gif": _write_gif, "history.csv": _write_history,
           "config.json": _write_config, "generator.keras": _write_model}


# imageio retries a failed GIF write when its writer is garbage-collected; that second ENOSPC is ignored.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("name, room", [(name, 16) for name in WRITERS] + [("generator.keras", 3000)])
def test_a_full_disk_keeps_the_previous_artifact_and_says_so_in_one_line(tmp_path, full_disk, fault_tally, name, room):
    """Room 16: the first bytes fail; 3000: a .keras archive fails partway through."""
    path = os.path.join(str(tmp_path), name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    WRITERS[name](path, 1)
    before = _files(str(tmp_path))
    hits = full_disk(path, room=room)
    fault_tally.bad_input()
    with pytest.raises(runs.DiskFull) as error:
        WRITERS[name](path, 2)
    assert hits, "the simulated full disk was never written to"
    assert str(error.value) == (f"no space left on device while writing {path}; free space on that disk and "
                                "run the command again")
    assert not _leftovers(str(tmp_path))
    _assert_nothing_lost(before, str(tmp_path), fault_tally)


@pytest.mark.parametrize("stage", ["data", "manifest", "rename", "fsync"])
def test_a_full_disk_while_checkpointing_leaves_the_previous_checkpoint_as_latest(
        tmp_path, full_disk, monkeypatch, fault_tally, stage):
    run_dir, trainer = str(tmp_path), _trainer()
    folder = _save_epochs(trainer, run_dir, [1, 2])
    before = _files(folder)
    target = os.path.join(folder, "epoch-0003.npz")
    if stage in ("data", "manifest"):
        full_disk(target + (checkpoints.MANIFEST_SUFFIX if stage == "manifest" else ""))
    else:  # the rename or the fsync of the finished temporary file runs out of space (a journal, metadata)
        real = getattr(os, "replace" if stage == "rename" else "fsync")

        def failing(*args):
            if stage == "fsync" or os.path.basename(args[1]) == "epoch-0003.npz":
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real(*args)
        monkeypatch.setattr(os, "replace" if stage == "rename" else "fsync", failing)
    fault_tally.bad_input()
    with pytest.raises(runs.DiskFull, match=r"^no space left on device while writing .*epoch-0003\.npz"):
        checkpoints.save(trainer, run_dir, 3)
    monkeypatch.undo()
    assert sorted(os.listdir(folder)) == sorted(before)  # nothing of epoch 3, epoch 1 not pruned
    _assert_nothing_lost(before, folder, fault_tally)
    path, messages = _latest_with_warnings(run_dir)
    assert os.path.basename(path) == "epoch-0002.npz" and messages == []


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # imageio, as above
def test_a_run_on_a_full_disk_stops_with_one_line_and_keeps_every_finished_file(
        tmp_path, digits_npz, full_disk, monkeypatch, fault_tally):
    """Epoch 2's GIF meets a full disk; --resume (as the line says) trains epoch 2 again, and its checkpoint
    meets a full disk. Each time: one line, the files finished before intact, epoch 1's checkpoint latest."""
    run_dir = str(tmp_path / "runs" / "t")
    first_checkpoint = os.path.join(run_dir, runs.CHECKPOINT_DIR, "epoch-0001.npz")
    flags = ["train", "--dataset", digits_npz, "--epochs", "2", "--batch-size", "16", "--latent-dim", "8",
             "--generator-width", "4", "--discriminator-width", "4", "--sample-grid", "2", "--ema-decay", "0",
             "--output-dir", tmp_path / "runs", "--run-name", "t"]
    for victim, extra in [(runs.GIF_FILE, []), (f"{runs.CHECKPOINT_DIR}/epoch-0002.npz", ["--resume"])]:
        snapshot = {}  # the run folder as it was when the disk filled up
        hits = full_disk(os.path.join(run_dir, victim), armed=lambda: os.path.exists(first_checkpoint),
                         on_first_write=lambda: snapshot.update(_files(run_dir)))
        fault_tally.bad_input()
        failed = run_cli(*flags, *extra)
        monkeypatch.undo()
        assert hits and failed.returncode == 2, failed.stderr
        assert [line for line in failed.stderr.splitlines() if "error" in line] == [
            f"gan-tf: error: no space left on device while writing {os.path.join(run_dir, victim)}; "
            "free space on that disk and resume with --resume"]
        _assert_nothing_lost(snapshot, run_dir, fault_tally)
        assert set(_files(run_dir)) == set(snapshot) and not _leftovers(run_dir)
        path, messages = _latest_with_warnings(run_dir)
        assert path == first_checkpoint and messages == []
