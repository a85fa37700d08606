"""Where the training step runs: the tf.distribute strategy and whether XLA compiles it."""

import tensorflow as tf

_MIRRORED = []


def make_strategy(name):
    """The default (one-device) strategy, or `tf.distribute.MirroredStrategy` for "mirrored".

    Mirrored runs one replica per local GPU; on a machine without a GPU it runs one replica per logical
    CPU device, which is a single replica unless the process split its CPU (the tests do, to exercise
    the cross-replica code on a laptop); that trains correctly but no faster than "default".

    One instance per process: two MirroredStrategy objects in one process can hand out clashing
    collective-op keys, and their all-reduces then fail with "Shape mismatch in the collective instance".
    """
    if name == "default":
        return tf.distribute.get_strategy()
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
