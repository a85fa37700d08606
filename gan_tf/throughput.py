"""How much of the machine a training run uses: FLOPs of a step, the matmul peak, and their ratio (MFU).

Model FLOP utilisation (MFU) = images/s x FLOPs per image of a training step / the machine's peak.
It says whether a faster run needs faster math (MFU near 1) or less time outside it (MFU low), which
images/s alone cannot.

FLOPs of a step are counted from the models: TensorFlow's graph profiler counts the float operations
of one traced forward pass of G and of D (convolutions, matmuls and the element-wise ops around
them), and a training step is assembled from those with the usual rule that a backward pass costs two
forward passes (one for the input gradients, one for the weight gradients):

    each D step:  G forward + D forward on reals and fakes + both backward       =  G + 6 D
    the G step:   G forward + D forward + D's input gradients + G backward       = 3 G + 2 D

so d_steps (G + 6 D) + 3 G + 2 D per image. (Profiling the whole traced `GAN.train_step` of the default
models gives 365 MFLOP per image against this formula's 358: the difference is the optimizers and
metrics.) Penalties that differentiate D twice (R1, WGAN-GP) are not model FLOPs and are not counted,
as MFU is usually defined; their cost shows as a lower MFU.
"""

import functools
import time

import tensorflow as tf

PROFILE_BATCH = 8  # images per profiled forward pass; FLOPs per image do not depend on it


def forward_flops(model, batch_size=PROFILE_BATCH):
    """Float operations of one forward pass of `model` (training mode), per example."""
    from tensorflow.python.profiler import model_analyzer, option_builder  # the graph profiler has no TF2 API

    specs = [tf.TensorSpec((batch_size, *tensor.shape[1:]), tensor.dtype) for tensor in model.inputs]
    names = [tensor.name.split(":")[0] for tensor in model.inputs]

    def forward(*inputs):
        arguments = dict(zip(names, inputs)) if len(inputs) > 1 else inputs[0]
        return model(arguments, training=True)

    graph = tf.function(forward).get_concrete_function(*specs).graph
    options = (option_builder.ProfileOptionBuilder(option_builder.ProfileOptionBuilder.float_operation())
               .with_empty_output().build())
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")  # the profiler warns that its own shape helper is deprecated
    try:
        return model_analyzer.profile(graph, options=options).total_float_ops / batch_size
    finally:
        logger.setLevel(level)


def training_step_flops(generator, discriminator, d_steps=1):
    """Model FLOPs of one training step per real image (the module docstring's formula)."""
    g, d = forward_flops(generator), forward_flops(discriminator)
    return d_steps * (g + 6 * d) + 3 * g + 2 * d


def matmul_peak_flops(size=1024, repeats=8, trials=3, dtype="float32"):
    """This machine's matmul peak in FLOP/s: the best of `trials` timings of `repeats` size x size
    matmuls on the default device (a GPU if there is one). The bench uses the larger
    `../shared/machine_peak.py` settings (size 2048, 10 x 5); these agree within a few percent on CPUs
    and cost about a second."""
    a = tf.random.normal((size, size), seed=1, dtype=dtype)
    b = tf.random.normal((size, size), seed=2, dtype=dtype)
    matmul = tf.function(tf.linalg.matmul)
    matmul(a, b).numpy()  # trace and warm up
    best = 0.0
    for _ in range(trials):
        started = time.perf_counter()
        for _ in range(repeats):
            product = matmul(a, b)
        product.numpy()
        best = max(best, 2 * size ** 3 * repeats / (time.perf_counter() - started))
    return best


@functools.lru_cache(maxsize=None)
def process_peak_flops(dtype="float32"):
    """`matmul_peak_flops` measured once per process (a training run's MFU; tests train many times)."""
    return matmul_peak_flops(dtype=dtype)


def peak_dtype(precision):
    """The dtype whose matmul peak a run in `precision` is measured against: its compute dtype."""
    return {"mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}.get(precision, "float32")


def mfu(images_per_second, flops_per_image, peak_flops):
    """Model FLOP utilisation: the fraction of the peak the training step's model FLOPs use."""
    return images_per_second * flops_per_image / peak_flops
