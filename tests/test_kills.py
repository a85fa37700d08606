"""SIGKILL at seeded random moments (issue 15 item 2): a run is killed 20 times (mid-step, while it writes
a checkpoint, its manifest, a sample grid, the GIF, history.csv, the loss plot, its config or its final
models, and while `gan-tf export` writes a version) and resumed with --resume after each kill. After
every kill the latest checkpoint loads, every file present is whole, no temporary is taken for a
finished file, no export version is partial, and nothing finished before the kill is gone.

How the kills land: writes go through `gan_tf.runs.atomic_path`, whose GAN_TF_KILL_AT_WRITE=PATTERN:K
makes the process SIGKILL itself in its K-th matching write, its temporary cut to half its bytes. A
mid-step kill is a timer armed at a seeded batch, a seeded fraction of a second before it fires.
`random.Random(SEED)` draws the order of the kinds and each one's moment; the schedule is printed (and
repeated in any failure), and GAN_TF_KILL_SEED=N replays another one.

Cost: every kill ends a process, and a fresh Python spends ~4 s importing TensorFlow. So one helper
process imports it once (and never runs an op: TensorFlow's thread pools do not survive a fork) and
forks a child per command, which runs `gan_tf.cli.main` exactly as `gan-tf` would. A training child
runs its steps eagerly (`tf.config.run_functions_eagerly`: tracing and optimising the step takes ~3 s
per process, an eager step of these tiny models well under one) and skips the MFU's two measurements
(the matmul peak and the step's FLOPs, ~1 s together, which only fill history's `mfu` column). Neither
changes which files are written, or when. With one step per epoch and EMA off, the fork server and its
24 children use 37-44 s of CPU (printed at the end under -s; 2 shared cores, 2026-11-27).
"""

import csv
import hashlib
import json
import os
import random
import re
import resource
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO

from gan_tf import checkpoints, export, runs

pytestmark = pytest.mark.faults

SEED = int(os.environ.get("GAN_TF_KILL_SEED", "15"))
BATCH_SIZE = 128  # one step per epoch of the 128 digits: each epoch costs one eager step
STEPS_PER_EPOCH = 128 // BATCH_SIZE
MODEL_NAME = "kills"

# Each kind of kill: the command it interrupts, the file names (fnmatch) whose write it interrupts
# (a mid-step kill is a timer instead; an export's is drawn), and how many of the 20 kills are of that kind.
KINDS = {
    "mid-step": ("train", None, 6),
    "checkpoint": ("train", "epoch-*.npz", 2),
    "manifest": ("train", "epoch-*.npz.sha256", 1),
    "sample grid": ("train", "epoch_*.png", 1),
    "gif": ("train", runs.GIF_FILE, 2),
    "history": ("train", runs.HISTORY_FILE, 1),
    "loss plot": ("train", runs.LOSS_PLOT_FILE, 1),
    "config": ("train", runs.CONFIG_FILE, 1),  # written as training starts
    "generator": ("train", runs.GENERATOR_FILE, 1),  # the final models, after the last epoch
    "discriminator": ("train", runs.DISCRIMINATOR_FILE, 1),
    "export": ("export", None, 2),  # the version folder, or its assets.extra/config.json inside it (drawn)
    "models.config": ("export", "models.config", 1),
}

# One process that imports TensorFlow once and forks a child per command (JSON lines on stdin):
# {"argv", "env", "log", "kill_at_batch", "delay"} -> {"code": the child's exit code, -9 when killed}.
FORK_SERVER = r"""
import json, os, signal, sys, threading, time, traceback
from gan_tf.cli import import_tensorflow_quietly, main
import_tensorflow_quietly()
import keras
import tensorflow as tf
import matplotlib
matplotlib.use("Agg")
import imageio.v3, matplotlib.pyplot, numpy, PIL.Image, tqdm  # noqa: F401 (imported once, before any fork)
import gan_tf.callbacks, gan_tf.export, gan_tf.images, gan_tf.throughput, gan_tf.train

# Warm what every child would otherwise set up again (Pillow's plugins, fonts, the GIF writer): no TF here.
warm = os.path.join(sys.argv[1], "warm")
gan_tf.images.save_png(numpy.zeros((4, 4, 1), numpy.uint8), warm + ".png")
gan_tf.images.save_gif([warm + ".png"], warm + ".gif")
gan_tf.callbacks.plot_history([{"epoch": 1, "d_loss": 1, "g_loss": 1, "real_score": 0.5, "fake_score": 0.5}],
                              warm + "-plot.png")


class KillMidStep(keras.callbacks.Callback):
    def __init__(self, batch, delay):
        super().__init__()
        self.batch, self.delay, self.seen, self.timer = batch, delay, 0, None

    def on_train_batch_begin(self, batch, logs=None):
        if self.seen == self.batch:
            print(f"kill armed at batch {self.seen}, firing in {self.delay:.3f} s", flush=True)
            self.timer = threading.Timer(self.delay, os.kill, (os.getpid(), signal.SIGKILL))
            self.timer.start()
        self.seen += 1


def child(order):
    log = os.open(order["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    signal.alarm(120)  # a hung child dies (SIGALRM) instead of hanging the test
    os.environ.update(order["env"])
    tf.config.run_functions_eagerly(order["argv"][0] == "train")
    gan_tf.throughput.run_peak_flops = lambda strategy, precision: (1e11, "float32")
    gan_tf.throughput.training_step_flops = lambda *args, **kwargs: 1e6
    killer = None
    if order.get("kill_at_batch") is not None:
        killer = KillMidStep(order["kill_at_batch"], order["delay"])
        train = gan_tf.train.train
        gan_tf.train.train = lambda config, verbose=True, extra_callbacks=(): train(
            config, verbose, [*extra_callbacks, killer])
    code = main(order["argv"])
    if killer is not None and killer.timer is not None:
        killer.timer.join()  # a kill armed late lands after the run, never not at all
    return code


print("ready", flush=True)
for line in sys.stdin:
    order = json.loads(line)
    started = time.time()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = child(order)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"code": os.waitstatus_to_exitcode(status), "seconds": round(time.time() - started, 2)}),
          flush=True)
"""


class ForkServer:
    def __init__(self, log_dir):
        environment = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
                           TF_CPP_MIN_LOG_LEVEL="2")
        environment.pop(runs.KILL_AT_WRITE, None)
        self.log_dir, self.count = log_dir, 0
        with open(os.path.join(log_dir, "server.log"), "w") as log:
            self.process = subprocess.Popen([sys.executable, "-c", FORK_SERVER, log_dir], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=log, text=True, env=environment, cwd=REPO)
        assert self.process.stdout.readline().strip() == "ready", self._server_log()

    def _server_log(self):
        with open(os.path.join(self.log_dir, "server.log"), errors="replace") as file:
            return f"the fork server stopped; its output:\n{file.read()[-3000:]}"

    def run(self, argv, label, env=None, kill_at_batch=None, delay=0.0):
        """Run `gan-tf ARGV` in a forked child; returns (exit code, seconds, the child's output)."""
        self.count += 1
        log = os.path.join(self.log_dir, f"{self.count:02d}-{label.replace(' ', '-')}.log")
        order = {"argv": [str(arg) for arg in argv], "env": env or {}, "log": log,
                 "kill_at_batch": kill_at_batch, "delay": delay}
        self.process.stdin.write(json.dumps(order) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        assert answer, self._server_log()
        answer = json.loads(answer)
        with open(log, errors="replace") as file:
            return answer["code"], answer["seconds"], file.read()

    def close(self):
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def draw_schedule(rng):
    """The kills, in a seeded order, each with its seeded moment (in epochs from the checkpoint it
    resumes from: `span` more epochs to train, the kill in the `nth` matching write or at `batch`)."""
    kinds = [kind for kind, (_, _, count) in KINDS.items() for _ in range(count)]
    rng.shuffle(kinds)
    schedule = []
    for kind in kinds:
        command, pattern, _ = KINDS[kind]
        kill = {"kind": kind, "command": command}
        if kind == "mid-step":
            kill["span"] = rng.choice([1, 1, 1, 2])
            kill.update(batch=rng.randrange(kill["span"] * STEPS_PER_EPOCH), delay=round(rng.uniform(0, 0.3), 3))
        elif command == "export":
            kill.update(pattern=pattern or rng.choice(["[0-9]*", "config.json"]), nth=1)
        elif kind in ("generator", "discriminator", "config"):  # no epoch to train: the final models' or
            kill.update(span=0 if kind != "config" else 1, pattern=pattern, nth=1)  # the config's first write
        else:  # once per epoch, at the end of the nth one
            kill["span"] = rng.choice([1, 1, 1, 2])
            kill.update(pattern=pattern, nth=rng.randint(1, kill["span"]))
        schedule.append(kill)
    return schedule


# What must hold after every kill -------------------------------------------------------------------

_TEMPORARY = re.compile(r"\..+\.tmp-\d+(\.[^.]*)?")  # atomic_path's names: .<stem>.tmp-<pid><extension>
_HIDDEN_OK = re.compile(rf"\.lock|{_TEMPORARY.pattern}")  # and the run folder's lock


class Ledger:
    """What a run has finished so far, to check after each kill that it is all still there and whole."""

    def __init__(self, run_dir, model_dir):
        self.run_dir, self.model_dir = run_dir, model_dir
        self.epoch = 0  # the newest finished epoch: its checkpoint is in place
        self.rows = {}  # finished epoch -> its history.csv row
        self.grids = {}  # finished epoch -> sha256 of samples/epoch_NNNN.png
        self.versions = set()  # export versions seen complete
        self.models = set()  # final model files written so far (generator.keras, discriminator.keras)
        self.checked = set()  # (path, inode, mtime, size) of files already read back whole
        self.trainer = None  # built once, to restore checkpoints into

    def check(self):
        """Every problem found, as lines (empty when all holds)."""
        problems = []
        problems += self._check_files(self.run_dir)
        problems += self._check_checkpoints()
        problems += self._check_history_and_samples()
        problems += self._check_models()
        problems += self._check_exports()
        return problems

    def _check_files(self, folder):
        """Every file is either a finished file that reads back whole, the lock, or a hidden temporary."""
        problems = []
        for root, folders, names in os.walk(folder):
            folders[:] = [name for name in folders if not _HIDDEN_OK.fullmatch(name)]
            for name in names:
                path = os.path.join(root, name)
                if name.startswith("."):
                    if not _HIDDEN_OK.fullmatch(name):
                        problems.append(f"{path}: a hidden file that is not a temporary")
                    continue
                status = os.stat(path)  # a file is only ever replaced whole: read each version once
                key = (path, status.st_ino, status.st_mtime_ns, status.st_size)
                if key in self.checked:
                    continue
                error = _unreadable(path)
                if error:
                    problems.append(f"{path} is unreadable: {error}")
                else:
                    self.checked.add(key)
        return problems

    def _check_checkpoints(self):
        """The latest checkpoint loads; it is no older than before; the one before it is still kept."""
        listed = checkpoints.list_checkpoints(self.run_dir)
        problems = [f"{path}: a temporary listed as a checkpoint" for path in listed
                    if os.path.basename(path).startswith(".")]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # skipping a newest one whose write was cut off is allowed
                latest = checkpoints.latest(self.run_dir)
        except Exception as error:  # noqa: BLE001 (any failure here is the finding)
            return problems + [f"no usable checkpoint: {error}"]
        if latest is None:
            return problems + ["no checkpoint at all"]
        epoch = int(re.search(r"epoch-(\d+)\.npz$", latest)[1])
        if epoch < self.epoch:
            problems.append(f"finished epoch {self.epoch}'s checkpoint is gone: the latest is {latest}")
        if self.trainer is None:
            self.trainer = _trainer_for(self.run_dir)
        state = checkpoints.restore(self.trainer, latest)
        if state["epoch"] != epoch:
            problems.append(f"{latest} says it is epoch {state['epoch']}")
        if epoch >= 2:
            previous = os.path.join(self.run_dir, runs.CHECKPOINT_DIR, f"epoch-{epoch - 1:04d}.npz")
            reason = checkpoints.problem(previous)
            if reason:
                problems.append(f"the checkpoint before the latest, {previous}, {reason}")
        self.epoch = max(self.epoch, epoch)
        return problems

    def _check_history_and_samples(self):
        """Every finished epoch has one history row and one grid, as they were when it finished."""
        problems = []
        rows = runs.read_history(self.run_dir)
        epochs = [int(row["epoch"]) for row in rows]
        if epochs != list(range(1, len(epochs) + 1)) or not self.epoch <= len(epochs) <= self.epoch + 1:
            problems.append(f"history.csv has epochs {epochs} after finished epoch {self.epoch}")
        for row in rows:
            epoch, values = int(row["epoch"]), {name: _value(text) for name, text in row.items()}
            if epoch <= self.epoch and self.rows.setdefault(epoch, values) != values:
                problems.append(f"history.csv's row of finished epoch {epoch} changed: {self.rows[epoch]} -> {values}")
        for epoch in range(1, self.epoch + 1):
            path = os.path.join(self.run_dir, runs.SAMPLES_DIR, f"epoch_{epoch:04d}.png")
            if not os.path.isfile(path):
                problems.append(f"{path} of finished epoch {epoch} is missing")
                continue
            with open(path, "rb") as file:
                digest = hashlib.sha256(file.read()).hexdigest()
            if self.grids.setdefault(epoch, digest) != digest:
                problems.append(f"{path} of finished epoch {epoch} changed")
        gif = os.path.join(self.run_dir, runs.GIF_FILE)
        frames = _gif_frames(gif) if os.path.exists(gif) else 0
        if frames < self.epoch:  # the GIF is written before the checkpoint, each epoch
            problems.append(f"{gif} has {frames} frames after finished epoch {self.epoch}")
        return problems

    def _check_models(self):
        """A final model, once written, stays (replaced whole by a later run's, never removed)."""
        present = {name for name in (runs.GENERATOR_FILE, runs.DISCRIMINATOR_FILE)
                   if os.path.exists(os.path.join(self.run_dir, name))}
        problems = [f"{self.run_dir}/{name} was written before, and is gone" for name in sorted(self.models - present)]
        self.models |= present
        return problems

    def _check_exports(self):
        """Every numbered version is a whole SavedModel, none disappears, and temporaries stay hidden."""
        if not os.path.isdir(self.model_dir):
            return []
        problems = []
        found = set(export.versions(self.model_dir))
        for name in os.listdir(self.model_dir):
            if not (name.isdigit() or _HIDDEN_OK.fullmatch(name)):
                problems.append(f"{self.model_dir}/{name}: neither a version nor a hidden temporary")
        for version in sorted(found - self.versions):  # a new version: whole, and it loads
            folder = os.path.join(self.model_dir, str(version))
            missing = [part for part in ("saved_model.pb", "variables/variables.index", "assets.extra/config.json")
                       if not os.path.isfile(os.path.join(folder, part))]
            if missing:
                problems.append(f"version {folder} is partial: it lacks {', '.join(missing)}")
                continue
            try:
                signatures = set(tf.saved_model.load(folder).signatures)
            except Exception as error:  # noqa: BLE001 (any failure to load is the finding)
                problems.append(f"version {folder} does not load: {type(error).__name__}: {error}")
                continue
            if not {"serving_default", "sample"} <= signatures:
                problems.append(f"version {folder} lacks a signature: it has {sorted(signatures)}")
                continue
            self.versions.add(version)
        problems += [f"export version {version} was complete before, and is gone" for version in self.versions - found]
        problems += self._check_files(os.path.dirname(self.model_dir))  # every file of every version, models.config
        return problems


def _unreadable(path):
    """Why a finished file does not read back whole, or None."""
    try:
        if path.endswith((".png", ".gif")):
            _gif_frames(path)
        elif path.endswith(".csv"):
            with open(path, newline="") as file:
                if any(None in row or None in row.values() for row in csv.DictReader(file)):
                    return "a row of the wrong length"
        elif path.endswith(".json"):
            with open(path) as file:
                json.load(file)
        elif path.endswith(".npz"):
            reason = checkpoints.problem(path) if runs.CHECKPOINT_DIR in path else None
            if reason:
                return reason
            with np.load(path, allow_pickle=False) as archive:
                [archive[key] for key in archive.files]
        elif path.endswith(".sha256"):
            with open(path) as file:
                if not re.fullmatch(r"[0-9a-f]{64}  epoch-\d+\.npz\n", file.read()):
                    return "not a manifest line"
        elif path.endswith(".keras"):
            runs.load_keras_model(path)
        elif path.endswith(".config"):
            with open(path) as file:
                text = file.read()
            if not (text.startswith("model_config_list {") and text.endswith("}\n")):
                return "not a whole model config list"
        elif (path.endswith(".pb") or os.sep + "variables" + os.sep in path) and os.path.getsize(path) == 0:
            return "empty"
    except Exception as error:  # noqa: BLE001 (any failure to read is the finding)
        return f"{type(error).__name__}: {error}"
    return None


def _value(text):
    """A history.csv cell as a number where it is one, so rewriting a row may format it differently."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return text


def _gif_frames(path):
    """How many frames a PNG or GIF holds, each decoded."""
    from PIL import Image, ImageSequence

    with Image.open(path) as picture:
        count = 0
        for frame in ImageSequence.Iterator(picture):
            frame.load()
            count += 1
    return count


def _temporaries(folder):
    return [os.path.join(root, name) for root, folders, names in os.walk(folder)
            for name in folders + names if _TEMPORARY.fullmatch(name)]


def _trainer_for(run_dir):
    """A trainer built from the run's own config, for `checkpoints.restore` to load into."""
    from gan_tf.train import build_trainer

    return build_trainer(runs.saved_config(run_dir), 28, 1, 0)


# The harness ---------------------------------------------------------------------------------------

def test_seeded_kills_at_random_moments_lose_nothing(tmp_path, digits_npz, fault_tally):
    rng = random.Random(SEED)
    schedule = draw_schedule(rng)
    described = "\n".join(f"  kill {number}: {kill}" for number, kill in enumerate(schedule, 1))
    print(f"kill schedule (GAN_TF_KILL_SEED={SEED}):\n{described}")
    run_dir, base_dir = tmp_path / "runs" / "killed", tmp_path / "saved_models"
    train = ["train", "--dataset", digits_npz, "--batch-size", BATCH_SIZE, "--latent-dim", 8, "--ema-decay", 0,
             "--generator-width", 4, "--discriminator-width", 4, "--sample-grid", 2,
             "--output-dir", run_dir.parent, "--run-name", run_dir.name]
    export_command = ["export", "--run", run_dir, "--base-dir", base_dir, "--name", MODEL_NAME]
    ledger = Ledger(str(run_dir), str(base_dir / MODEL_NAME))
    (tmp_path / "logs").mkdir()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server = ForkServer(str(tmp_path / "logs"))

    def expect(code, seconds, output, wanted, what):
        if code != wanted:  # the message alone: the schedule and the child's output say what happened
            pytest.fail(f"{what}: exit code {code}, expected {wanted} (seed {SEED})\n"
                        f"schedule:\n{described}\n--- its output ---\n{output[-3000:]}", pytrace=False)
        print(f"{what}: exit {code} in {seconds} s")

    def check(what, output=""):
        started = time.time()
        problems = ledger.check()
        print(f"  checked in {time.time() - started:.2f} s")
        if problems:
            fault_tally.file_lost(len(problems))
            pytest.fail(f"after {what} (seed {SEED}):\n  " + "\n  ".join(problems) + f"\nschedule:\n{described}"
                        f"\n--- the killed process's output ---\n{output[-3000:]}", pytrace=False)

    try:
        # A clean start and a clean export: a checkpoint to resume from, a generator and a version to keep.
        expect(*server.run(train + ["--epochs", 1], "start"), 0, "epoch 1, uninterrupted")
        expect(*server.run(export_command, "export"), 0, "export 1, uninterrupted")
        check("the clean start")
        for number, kill in enumerate(schedule, 1):
            what = f"kill {number} ({kill})"
            if kill["command"] == "export":
                argv = export_command
            else:
                argv = train + ["--epochs", ledger.epoch + kill["span"], "--resume"]
            env = {runs.KILL_AT_WRITE: f"{kill['pattern']}:{kill['nth']}"} if "pattern" in kill else {}
            code, seconds, output = server.run(argv, kill["kind"], env, kill.get("batch"), kill.get("delay", 0.0))
            expect(code, seconds, output, -9, what)
            check(what, output)
            fault_tally.kill_survived()
        final = ledger.epoch + 1
        expect(*server.run(train + ["--epochs", final, "--resume"], "finish"), 0, f"epochs to {final}, uninterrupted")
        expect(*server.run(export_command, "export"), 0, "a last export, uninterrupted")
        check("the uninterrupted end")
    finally:
        server.close()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the fork server and every child it waited for
    print(f"CPU of the fork server and its children: {sum(after[:2]) - sum(before[:2]):.1f} s")

    # The run completed: every epoch once, every grid, the last two checkpoints, no temporary left behind.
    assert [int(row["epoch"]) for row in runs.read_history(str(run_dir))] == list(range(1, final + 1))
    assert sorted(os.listdir(run_dir / runs.SAMPLES_DIR)) == [f"epoch_{epoch:04d}.png" for epoch in range(1, final + 1)]
    assert [os.path.basename(path) for path in checkpoints.list_checkpoints(str(run_dir))] == [
        f"epoch-{final - 1:04d}.npz", f"epoch-{final:04d}.npz"]
    assert _gif_frames(str(run_dir / runs.GIF_FILE)) == final
    assert _temporaries(str(run_dir)) == [] and _temporaries(str(base_dir / MODEL_NAME)) == []
    assert len(ledger.versions) >= 2 and max(ledger.versions) == max(export.versions(str(base_dir / MODEL_NAME)))
    assert fault_tally.kills_survived == len(schedule) >= 20


def test_the_kill_hook_is_inert_unless_set_and_leaves_half_a_temporary(tmp_path, monkeypatch):
    """Unset, writes are plain; set, the process dies in the named write (a child here, not pytest)."""
    monkeypatch.delenv(runs.KILL_AT_WRITE, raising=False)
    runs.write_text(str(tmp_path / "a.txt"), "whole\n")
    assert (tmp_path / "a.txt").read_text() == "whole\n"
    script = ("import sys; from gan_tf import runs\n"
              "for n in range(3): runs.write_text(sys.argv[1] + f'/n{n}.txt', 'x' * 100)\n"
              "runs.write_text(sys.argv[1] + '/never.txt', 'x' * 100)\n")
    child = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=REPO, capture_output=True,
                           env=dict(os.environ, PYTHONPATH=REPO, **{runs.KILL_AT_WRITE: "n*.txt:2"}))
    assert child.returncode == -9, child.stderr
    finished = sorted(name for name in os.listdir(tmp_path) if not name.startswith("."))
    temporaries = [name for name in os.listdir(tmp_path) if name.startswith(".")]
    assert finished == ["a.txt", "n0.txt"] and len(temporaries) == 1, os.listdir(tmp_path)  # n1: only its temporary
    temporary = tmp_path / temporaries[0]
    assert re.fullmatch(r"\.n1\.tmp-\d+\.txt", temporary.name) and temporary.stat().st_size == 50
    live = tmp_path / f".being-written.tmp-{os.getpid()}.txt"  # this process's: still being written
    live.write_text("x")
    assert runs.remove_stale_temporaries(str(tmp_path)) == [str(temporary)]  # its writer is gone
    assert sorted(os.listdir(tmp_path)) == [live.name, "a.txt", "n0.txt"]
