"""Where the training step runs: the tf.distribute strategy, whether XLA compiles it, and in what precision."""

import contextlib

import keras
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
