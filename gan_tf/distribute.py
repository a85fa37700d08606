"""Where the training step runs: the tf.distribute strategy, whether XLA compiles it, and in what precision."""

import contextlib
import json
import os

import keras
import tensorflow as tf

from gan_tf.errors import UserError

_MIRRORED = []
_MULTI_WORKER = []


def make_strategy(name):
    """The default (one-device) strategy, `tf.distribute.MirroredStrategy` for "mirrored", or
    `tf.distribute.MultiWorkerMirroredStrategy` for "multi-worker" (the cluster and this process's
    place in it from the `TF_CONFIG` environment variable, as TensorFlow documents it; create it before
    any other TensorFlow op, as `gan_tf.train.train` does).

    Mirrored runs one replica per local GPU; on a machine without a GPU it runs one replica per logical
    CPU device, which is a single replica unless the process split its CPU (the tests do, to exercise
    the cross-replica code on a laptop); that trains correctly but no faster than "default".

    One instance per process: two MirroredStrategy objects in one process can hand out clashing
    collective-op keys, and their all-reduces then fail with "Shape mismatch in the collective instance".
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "multi-worker":
        if not _MULTI_WORKER:
            check_tf_config()
            _MULTI_WORKER.append(tf.distribute.MultiWorkerMirroredStrategy())
        return _MULTI_WORKER[0]
    if not _MIRRORED:
        if tf.config.list_physical_devices("GPU"):
            _MIRRORED.append(tf.distribute.MirroredStrategy())
        else:
            cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
            _MIRRORED.append(tf.distribute.MirroredStrategy(devices=cpus))
    return _MIRRORED[0]


def resolve_xla(mode):
    """XLA pays off on GPUs; on CPUs it is about 2x slower, so "auto" means "where a GPU is"."""
    if mode == "auto":
        return bool(tf.config.list_physical_devices("GPU"))
    return mode == "on"


@contextlib.contextmanager
def precision_policy(name):
    """Build models under Keras' dtype policy `name` ("float32", "mixed_float16", "mixed_bfloat16").

    Layers keep the policy they were built with, so the global policy is set only while building and
    restored after: later models in the same process (a classifier, another run) are not affected.
    """
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def scale_losses(optimizer, precision):
    """`optimizer`, wrapped in its own `LossScaleOptimizer` under float16.

    float16's range is narrow: small gradients underflow to zero unless the loss is multiplied first.
    `compile()` would wrap only the one optimizer it is given, so a GAN wraps both of its own; the
    wrapper halves the scale and skips the step when gradients overflow, and doubles it after 2,000
    finite steps. bfloat16 has float32's range and needs no scaling.
    """
    if precision == "mixed_float16":
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def check_tf_config():
    """One line on what is wrong with `TF_CONFIG` before TensorFlow fails deep inside its start-up."""
    text = os.environ.get("TF_CONFIG")
    example = ('TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", '
               '"index": 0}}\'')
    if not text:
        raise UserError(f"--strategy multi-worker reads the cluster from TF_CONFIG, which is not set; set it on "
                        f"every machine, for example {example} (index 1 on the second)")
    try:
        config = json.loads(text)
        cluster, task = config["cluster"], config["task"]
        members = cluster[task["type"]]
        if not 0 <= int(task["index"]) < len(members):
            raise KeyError("index")
    except (ValueError, KeyError, TypeError) as error:
        raise UserError(f"TF_CONFIG must be JSON with a cluster and this process's task in it ({error}); for "
                        f"example {example}") from None


def is_multi_worker(strategy=None):
    """Whether `strategy` (default: the current one) spans several processes."""
    strategy = strategy or tf.distribute.get_strategy()
    in_multi_worker_mode = getattr(strategy.extended, "_in_multi_worker_mode", None)
    return bool(in_multi_worker_mode and in_multi_worker_mode())


def is_chief(strategy=None):
    """Whether this process writes the run's artifacts: the `chief` task, or worker 0 where there is none
    (TensorFlow's convention). Always true on one machine."""
    strategy = strategy or tf.distribute.get_strategy()
    if not is_multi_worker(strategy):
        return True
    resolver = strategy.cluster_resolver
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief
